"""The address rules every fetching service applies (the services' own tests cover their guards)."""

from __future__ import annotations

import ipaddress

import pytest

from shelter_kit.egress import allowed, literal, parse_networks, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("100.64.1.1", "a shared (CGNAT) address"),
        ("93.184.216.34", None),
    ],
)
def test_refusal_names_the_range(address: str, reason: str | None) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


def test_an_allowlist_permits_mapped_addresses_too() -> None:
    networks = parse_networks("127.0.0.1, 10.20.0.0/16")
    assert allowed(ipaddress.ip_address("::ffff:127.0.0.1"), networks)
    assert not allowed(ipaddress.ip_address("10.21.0.1"), networks)
    assert literal("[::1]") == ipaddress.ip_address("::1")
    assert literal("camera.local") is None
    with pytest.raises(ValueError, match="CIDR"):
        parse_networks("not-a-net")
