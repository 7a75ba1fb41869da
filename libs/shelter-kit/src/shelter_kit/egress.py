"""Where a service's outbound fetches may go: the address rules against server-side request
forgery (SSRF), once, for every service that fetches a URL a client gave it (camera-ingest's
snapshot URLs, the batch service's image URLs).

Refused by default (`refusal` names the reason; an allowlist of networks permits more):

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
by the IPv4 address it embeds. Only `http` and `https` are fetched (`DEFAULT_PORTS`).

Pure rules and the resolver only: each service keeps its own guard (its errors, its messages) and
pins its connection to the addresses it checked. Our own lines: the stdlib's `ipaddress`
properties do the classifying; no library we found adds the metadata and mapped-address cases.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses it resolves to, as text; the default is the system's resolver.
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA = (ipaddress.ip_network("169.254.169.254/32"), ipaddress.ip_network("fd00:ec2::254/128"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`"192.168.40.0/24, 127.0.0.1"` -> networks (a bare address is its /32 or /128)."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            msg = f"{item!r} is not a network in CIDR form (e.g. 10.20.0.0/16)"
            raise ValueError(msg) from None
    return tuple(networks)


def judged(ip: IPAddress) -> list[IPAddress]:
    """The addresses a connection to `ip` reaches, for judging it."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return [ip.ipv4_mapped]
        if ip.sixtofour is not None:
            return [ip, ip.sixtofour]
    return [ip]


def _category(ip: IPAddress) -> str | None:
    if any(ip in network for network in METADATA):
        return "a cloud metadata address"
    tests = (
        ("a loopback address", ip.is_loopback),
        ("an unspecified address", ip.is_unspecified),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a shared (CGNAT) address", ip in CGNAT),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
        ("not a public address", not ip.is_global),
    )
    return next((reason for reason, refused in tests if refused), None)


def refusal(ip: IPAddress) -> str | None:
    """Why a fetch may not reach `ip` by default, or None for a public address."""
    return next((r for r in map(_category, judged(ip)) if r is not None), None)


def allowed(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    """Whether an allowlist permits `ip` (judged as the addresses it reaches)."""
    nets = tuple(networks)
    return any(a in network for a in judged(ip) for network in nets)


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (the loop's getaddrinfo)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def literal(host: str) -> IPAddress | None:
    """The address `host` is when it is a literal one (`[::1]` included), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
