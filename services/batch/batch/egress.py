"""Where URL fetches may go: the rules against server-side request forgery (SSRF).

A job's URLs come from a client, and the workers fetch them from inside the network, where Redis,
the classifier and a cloud's metadata service answer. So by default a fetch reaches public
addresses only, the same rules camera-ingest applies to snapshot URLs (`shelter_kit.egress`
holds them; this module is the batch service's guard around them).
`BATCH_FETCH_ALLOW_NETWORKS` (a comma list of CIDRs, default empty) permits more, e.g.
`192.168.40.0/24`, or `127.0.0.1/32` for a test server on loopback.

Refused unless allowed (the reason is the item's `detail`, its reason `egress-refused`):

    a cloud metadata address  169.254.169.254, fd00:ec2::254 (named before the rule they fall in)
    a loopback address        127.0.0.0/8, ::1 (so `localhost` too, once resolved)
    an unspecified address    0.0.0.0, ::
    a link-local address      169.254.0.0/16, fe80::/10
    a multicast address       224.0.0.0/4, ff00::/8
    a shared (CGNAT) address  100.64.0.0/10
    a reserved address        240.0.0.0/4, ...
    a private address         10/8, 172.16/12, 192.168/16, fc00::/7, documentation ranges
    not a public address      anything else `ipaddress` does not call global

An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as its IPv4 address, a 6to4 address also
by the IPv4 address it embeds. Only `http` and `https` are fetched.

When: at every fetch, after DNS resolution. Every address a name resolves to must be allowed (one
private record refuses the name), and the fetch then connects to one of exactly those addresses
(`fetch.py` pins the connection), so the name cannot re-resolve in between (DNS rebinding). A
redirect is followed only by the same rules: its target is checked like the first URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

from shelter_kit.egress import (
    DEFAULT_PORTS,
    IPAddress,
    IPNetwork,
    Resolver,
    allowed,
    literal,
    parse_networks,
    refusal,
    system_resolve,
)

__all__ = ["Guard", "IPAddress", "Refused", "Unresolved", "parse_networks", "refusal"]


class Refused(Exception):
    """The URL's scheme, or an address its host is or resolves to, is refused."""


class Unresolved(Exception):
    """The host does not resolve (or not in time)."""


class Guard:
    """The rules plus the allowlist; `resolver` is the system's unless a test passes its own."""

    def __init__(
        self,
        *,
        allow: Sequence[IPNetwork] = (),
        resolver: Resolver | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self.allow = tuple(allow)
        self.resolver = resolver or system_resolve
        self.timeout_s = timeout_s

    def check(self, ip: IPAddress, host: str) -> None:
        reason = refusal(ip)
        if reason is None or allowed(ip, self.allow):
            return
        named = str(ip) if literal(host) == ip else f"{host} resolves to {ip},"
        raise Refused(f"{named} {reason}")

    async def resolve(self, scheme: str, host: str, port: int | None) -> list[IPAddress]:
        """Every address `host` resolves to, each checked: Refused if any is refused (or the
        scheme is), Unresolved if there is none. A literal address is not looked up."""
        if scheme not in DEFAULT_PORTS:
            raise Refused(f"scheme {scheme!r} is not http or https")
        found_literal = literal(host)
        if found_literal is not None:
            self.check(found_literal, host)
            return [found_literal]
        try:
            async with asyncio.timeout(self.timeout_s):
                found = await self.resolver(host, port or DEFAULT_PORTS[scheme])
        except TimeoutError:
            raise Unresolved(f"{host} did not resolve within {self.timeout_s:g}s") from None
        except OSError as exc:  # socket.gaierror
            raise Unresolved(f"{host} does not resolve ({exc.strerror or exc})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in found))
        if not addresses:
            raise Unresolved(f"{host} resolves to no address")
        for ip in addresses:
            self.check(ip, host)
        return addresses
