"""Where snapshot fetches may go: the rules against server-side request forgery (SSRF).

A snapshot URL comes from a client, and camera-ingest fetches it from inside the network, where
Redis, the aggregator and a cloud's metadata service answer. So by default a fetch reaches public
addresses only; `INGEST_SNAPSHOT_ALLOW_NETWORKS` (a comma list of CIDRs, default empty) permits
more, e.g. the cameras' LAN `192.168.40.0/24`, or `127.0.0.1/32` for `make run`'s simulator.

Refused unless allowed (the reason is the 422's detail, or the camera's `last_error`):

    a cloud metadata address  169.254.169.254, fd00:ec2::254 (before the two rules they fall in)
    a loopback address        127.0.0.0/8, ::1
    an unspecified address    0.0.0.0, ::
    a link-local address      169.254.0.0/16, fe80::/10
    a multicast address       224.0.0.0/4, ff00::/8
    a shared (CGNAT) address  100.64.0.0/10
    a reserved address        240.0.0.0/4, 255.255.255.255, ...
    a private address         10/8, 172.16/12, 192.168/16, 0/8, fc00::/7 (ULA), the documentation
                              and benchmarking ranges (Python's `is_private`)
    not a public address      anything else `ipaddress` does not call global

An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged, and allowed, as its IPv4 address; a 6to4
address (2002::/16) also by the IPv4 address it embeds.

When: at registration (create, replace, and a patch that sets snapshot_url), where a refused
address is a 422 and a name that does not resolve yet is accepted (the fetch checks again); and at
every fetch, after DNS resolution: every address the name resolves to must be allowed (a name with
one public and one private record is refused), and the fetch connects to one of exactly those
addresses (`snapshots` pins the connection), so the name cannot re-resolve in between.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import httpx

from camera_ingest.errors import EgressRefused, HostUnresolved
from shelter_kit.egress import (
    DEFAULT_PORTS,
    IPAddress,
    IPNetwork,
    Resolver,
    allowed,
    parse_networks,
    refusal,
    system_resolve,
)
from shelter_kit.egress import literal as _literal

__all__ = ["DEFAULT_PORTS", "AddressGuard", "IPAddress", "IPNetwork", "parse_networks", "refusal"]

SETTING = "INGEST_SNAPSHOT_ALLOW_NETWORKS"


class AddressGuard:
    """Checks hosts against the rules and the allowlist. `resolver` is the system's unless a test
    passes its own (to make a name re-resolve to another address between two polls)."""

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

    def allowed(self, ip: IPAddress) -> bool:
        return allowed(ip, self.allow)

    def check(self, ip: IPAddress, host: str) -> None:
        """EgressRefused, saying why, when `ip` (which `host` gave) may not be fetched."""
        reason = refusal(ip)
        if reason is None or self.allowed(ip):
            return
        named = f"{ip} is" if _literal(host) == ip else f"{host} resolves to {ip},"
        raise EgressRefused(f"{named} {reason}")

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, once, each checked (EgressRefused if any is
        refused, HostUnresolved if there is none). A literal address is not looked up."""
        literal = _literal(host)
        if literal is not None:
            self.check(literal, host)
            return [literal]
        try:
            async with asyncio.timeout(self.timeout_s):
                found = await self.resolver(host, port)
        except TimeoutError:
            raise HostUnresolved(f"{host} did not resolve within {self.timeout_s:g}s") from None
        except OSError as exc:  # socket.gaierror
            raise HostUnresolved(f"{host} does not resolve ({exc.strerror or exc})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in found))
        if not addresses:
            raise HostUnresolved(f"{host} resolves to no address")
        for ip in addresses:
            self.check(ip, host)
        return addresses

    async def check_url(self, url: str) -> None:
        """At registration: EgressRefused for a refused scheme or address. A host that does not
        resolve (yet) passes: every fetch resolves and checks again."""
        target = httpx.URL(url)
        if target.scheme not in DEFAULT_PORTS:
            raise EgressRefused(f"scheme {target.scheme!r} is not http or https")
        try:
            await self.resolve(target.host, target.port or DEFAULT_PORTS[target.scheme])
        except HostUnresolved:
            return
