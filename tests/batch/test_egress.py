"""The server-side-request rules for URL jobs, checked after DNS resolution."""

from __future__ import annotations

import ipaddress

import pytest

from batch.egress import Guard, Refused, Unresolved, parse_networks, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.40.7", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.1.1", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
    ],
)
def test_internal_addresses_are_refused_by_default(address: str, reason: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None
    assert reason in found


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def resolver(answers: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("Name or service not known")
        return answers[host]

    return resolve


@pytest.mark.anyio
async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    guard = Guard(resolver=resolver({"localhost": ["127.0.0.1"], "mixed": ["8.8.8.8", "10.0.0.1"]}))
    with pytest.raises(Refused, match=r"localhost resolves to 127\.0\.0\.1, a loopback address"):
        await guard.resolve("http", "localhost", None)
    with pytest.raises(Refused, match=r"mixed resolves to 10\.0\.0\.1, a private address"):
        await guard.resolve("https", "mixed", 443)
    with pytest.raises(Unresolved, match="does not resolve"):
        await guard.resolve("http", "nowhere.invalid", None)


@pytest.mark.anyio
async def test_only_http_and_https_and_the_allowlist_opens_networks() -> None:
    guard = Guard(allow=parse_networks("127.0.0.1/32, 10.20.0.0/16"))
    assert await guard.resolve("http", "127.0.0.1", 8080) == [ipaddress.ip_address("127.0.0.1")]
    assert await guard.resolve("http", "10.20.3.4", None)
    with pytest.raises(Refused, match="private"):
        await guard.resolve("http", "10.21.0.1", None)
    with pytest.raises(Refused, match=r"169\.254\.169\.254 a cloud metadata address"):
        await guard.resolve("http", "169.254.169.254", None)
    with pytest.raises(Refused, match="scheme 'file'"):
        await guard.resolve("file", "127.0.0.1", None)


def test_a_bad_allowlist_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not a network"):
        parse_networks("10.0.0.0/33")
