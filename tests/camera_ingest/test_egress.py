"""No server-side request forgery: snapshot URLs are checked when registered (422) and at every
fetch, after DNS resolution, the connection pinned to the checked address; no redirects."""

from __future__ import annotations

import functools
import ipaddress
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from camera_ingest import egress, snapshots, wiring
from camera_ingest.config import Settings
from camera_ingest.egress import AddressGuard, parse_networks, refusal
from camera_ingest.errors import EgressRefused, HostUnresolved
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import (
    LOOPBACK,
    Downstream,
    SnapshotServer,
    add_camera,
    app_client,
    eventually,
    fast_settings,
)

PROBLEMS = "https://shelter-watch.example/problems/"

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.9", "a private address"),
    ("192.168.1.20", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("100.64.0.1", "a shared (CGNAT) address"),
    ("169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("169.254.10.10", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("224.0.0.251", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("192.0.2.10", "a private address"),  # documentation range
    ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
    ("2002:a00:1::", "a private address"),  # 6to4 of 10.0.0.1
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_ranges_say_why(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_allowlist_permits_exactly_its_networks() -> None:
    guard = AddressGuard(allow=parse_networks("192.168.40.0/24, 127.0.0.1"))
    guard.check(ipaddress.ip_address("192.168.40.7"), "192.168.40.7")
    guard.check(ipaddress.ip_address("127.0.0.1"), "cam.local")
    guard.check(ipaddress.ip_address("::ffff:127.0.0.1"), "cam.local")  # the same address
    for other in ("192.168.41.7", "127.0.0.2", "169.254.169.254", "::1"):
        with pytest.raises(EgressRefused):
            guard.check(ipaddress.ip_address(other), other)
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not a network"):
        parse_networks("10.0.0.0/8,10.0.0.0/33")
    assert parse_networks("") == ()


@pytest.mark.anyio
async def test_every_address_of_a_name_must_be_allowed() -> None:
    async def two_records(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.5"]  # a public and a private record

    guard = AddressGuard(resolver=two_records)
    with pytest.raises(EgressRefused, match=r"cam\.example resolves to 10\.0\.0\.5, a private"):
        await guard.resolve("cam.example", 80)

    async def nothing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(HostUnresolved):
        await AddressGuard(resolver=nothing).resolve("nowhere.invalid", 80)
    await AddressGuard(resolver=nothing).check_url("http://nowhere.invalid/x.jpg")  # accepted


def test_a_bad_allowlist_fails_at_start_up(redis_url: str) -> None:
    with pytest.raises(ValueError, match="not a network"):
        Settings(redis_url=redis_url, snapshot_allow_networks="127.0.0.1/32,localhost")


# ---- registration -------------------------------------------------------------------------

REFUSED_URLS = [
    "http://127.0.0.1:8003/v1/spaces",
    "http://10.20.30.40/snap.jpg",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8001/v1/outbox",
    "http://localhost:8003/v1/spaces",  # a name that resolves to loopback
    "http://[fd00:ec2::254]/latest",
    "http://100.64.1.1/snap.jpg",
    "http://0.0.0.0:8001/",
    "http://[::ffff:10.0.0.1]/snap.jpg",
    "https://user:pw-s3cr3t@127.0.0.1/snap.jpg",
]


def assert_refused(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEMS + "snapshot-url-refused"
    assert problem["title"] == "Snapshot url refused"
    assert "INGEST_SNAPSHOT_ALLOW_NETWORKS" in problem["detail"]
    assert "s3cr3t" not in response.text
    return str(problem["detail"])


@pytest.mark.anyio
@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_refused_urls_are_422_on_create_replace_and_patch(
    client: httpx.AsyncClient, redis_url: str, url: str
) -> None:
    body = {"space_id": "s", "mode": "poll", "snapshot_url": url}
    detail = assert_refused(await client.post("/v1/cameras", json={"id": "evil", **body}))
    assert "refused" in detail
    assert "address" in detail  # says which kind: loopback, private, metadata ...
    assert_refused(await client.put("/v1/cameras/evil", json=body))
    assert (await client.get("/v1/cameras/evil")).status_code == 404
    with redis.Redis.from_url(redis_url) as r:
        assert r.smembers("ingest:cameras") == set()
    await add_camera(client, "fine")
    assert_refused(await client.patch("/v1/cameras/fine", json=body))
    assert (await client.get("/v1/cameras/fine")).json()["snapshot_url"] is None


@pytest.mark.anyio
async def test_the_reason_names_the_address_and_its_range(client: httpx.AsyncClient) -> None:
    cases = {
        "http://localhost/x.jpg": "localhost resolves to ",
        "http://169.254.169.254/latest/": "169.254.169.254 is a cloud metadata address",
        "http://10.1.1.1/x.jpg": "10.1.1.1 is a private address",
        "http://[::1]/x.jpg": "::1 is a loopback address",
    }
    for url, said in cases.items():
        response = await client.post(
            "/v1/cameras", json={"id": "c", "space_id": "s", "mode": "poll", "snapshot_url": url}
        )
        assert said in assert_refused(response), url


@pytest.mark.anyio
async def test_only_http_and_https(client: httpx.AsyncClient) -> None:
    for url in ("ftp://cam.example/x.jpg", "file:///etc/passwd", "gopher://127.0.0.1:6379/_"):
        body = {"id": "c", "space_id": "s", "mode": "poll", "snapshot_url": url}
        assert (await client.post("/v1/cameras", json=body)).status_code == 422, url


@pytest.mark.anyio
async def test_an_allowlisted_loopback_camera_is_polled(loopback_settings: Settings) -> None:
    with SnapshotServer() as camera:
        async with app_client(create_app(loopback_settings)) as client:
            await add_camera(client, "lan", mode="poll", snapshot_url=camera.url(), interval_s=0.1)

            async def accepted() -> bool:
                status = (await client.get("/v1/cameras/lan")).json()["status"]
                return bool(status["frames"]["accepted"] >= 2 and status["state"] == "online")

            await eventually(accepted, what="allowlisted camera polled")
            refused = {"id": "other", "space_id": "s", "mode": "poll"}
            refused["snapshot_url"] = camera.url().replace("127.0.0.1", "127.0.0.2")
            assert_refused(await client.post("/v1/cameras", json=refused))  # /32: only .1


# ---- fetch time ---------------------------------------------------------------------------


async def camera_status(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any]:
    return (await client.get(f"/v1/cameras/{camera_id}")).json()["status"]  # type: ignore[no-any-return]


async def wait_offline(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any]:
    async def offline() -> dict[str, Any]:
        status = await camera_status(client, camera_id)
        return status if status["state"] == "offline" and status["consecutive_errors"] >= 2 else {}

    return await eventually(offline, what=f"{camera_id} offline")  # type: ignore[no-any-return]


@pytest.mark.anyio
async def test_a_url_allowed_once_is_refused_at_fetch_when_no_longer_allowed(
    redis_url: str, downstream: Downstream
) -> None:
    """Registered while loopback was allowed; then ingest runs with the default rules: the name
    is resolved at fetch, refused, never connected to, and the camera goes offline saying why."""
    allowing = fast_settings(
        redis_url, downstream.url, snapshot_allow_networks=f"{LOOPBACK},::1/128", poll_enabled=False
    )
    with SnapshotServer() as camera:
        async with app_client(create_app(allowing)) as client:
            url = camera.url().replace("127.0.0.1", "localhost")
            await add_camera(client, "old", mode="poll", snapshot_url=url, interval_s=0.1)
        default = fast_settings(redis_url, downstream.url, poll_offline_after=2)
        async with app_client(create_app(default)) as client:
            status = await wait_offline(client, "old")
        assert camera.requests == []
    assert status["frames"]["accepted"] == 0
    assert status["last_error"].startswith("snapshot refused: localhost resolves to ")
    assert "a loopback address" in status["last_error"]
    assert status["offline_since"]


@pytest.mark.anyio
async def test_a_name_that_re_resolves_to_a_refused_address_is_refused_at_the_next_poll(
    loopback_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved at every poll, and the connection goes to the address that was
    checked: `cam.shelter.test` exists only in this resolver, so a fetch that resolved again
    itself could not connect at all."""
    answers = {"cam.shelter.test": "127.0.0.1"}

    async def resolver(host: str, port: int) -> list[str]:
        return [answers[host]]

    monkeypatch.setattr(egress, "system_resolve", resolver)
    with SnapshotServer() as camera:
        url = f"http://cam.shelter.test:{camera.port}/snap.jpg"
        async with app_client(create_app(loopback_settings)) as client:
            await add_camera(client, "dns", mode="poll", snapshot_url=url, interval_s=0.1)

            async def polled() -> bool:
                return bool((await camera_status(client, "dns"))["frames"]["accepted"] >= 2)

            await eventually(polled, what="polls through the checked address")
            assert camera.requests[0]["headers"]["Host"] == f"cam.shelter.test:{camera.port}"
            answers["cam.shelter.test"] = "10.9.8.7"  # the next answer: a private address
            seen = len(camera.requests)
            status = await wait_offline(client, "dns")
            assert len(camera.requests) <= seen + 1  # at most one poll already under way
    assert "cam.shelter.test resolves to 10.9.8.7, a private address" in status["last_error"]


@pytest.mark.anyio
async def test_a_redirect_is_not_followed(loopback_settings: Settings) -> None:
    """The allowed camera answers 302 to a refused address (127.0.0.2: loopback, not in the
    /32 allowlist) that does serve a snapshot: it is never asked."""
    with SnapshotServer() as camera, SnapshotServer(host="127.0.0.2") as internal:
        camera.redirect_to = internal.url()
        async with app_client(create_app(loopback_settings)) as client:
            await add_camera(
                client, "hop", mode="poll", snapshot_url=camera.url("/moved"), interval_s=0.1
            )
            status = await wait_offline(client, "hop")
        assert internal.requests == []
        assert {r["path"] for r in camera.requests} == {"/moved"}
    assert status["last_error"] == "snapshot answered HTTP 302, a redirect (not followed)"
    assert status["frames"]["accepted"] == 0


def certificates(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A throw-away CA and a leaf certificate for `name` signed by it (the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    ca, ca_key, leaf, leaf_key = (folder / n for n in ("ca.pem", "ca.key", "leaf.pem", "leaf.key"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = functools.partial(subprocess.run, check=True, capture_output=True, cwd=folder)
    run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=shelter test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign"])  # fmt: skip
    run(["openssl", "req", *ec, "-keyout", leaf_key, "-out", folder / "leaf.csr",
         "-subj", f"/CN={name}"])  # fmt: skip
    (folder / "ext").write_text(f"subjectAltName=DNS:{name}\n")
    run(["openssl", "x509", "-req", "-in", folder / "leaf.csr", "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", leaf, "-days", "2", "-extfile", folder / "ext"])  # fmt: skip
    return ca, leaf, leaf_key


@pytest.mark.anyio
async def test_https_through_the_pinned_address_verifies_the_camera_name(
    loopback_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Connected to the checked 127.0.0.1, the TLS handshake still names the camera (SNI) and
    its certificate is verified against that name, as without pinning."""
    ca, leaf, leaf_key = certificates(tmp_path, "cam.shelter.test")
    names: list[str | None] = []
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(leaf, leaf_key)
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)
    trusting = ssl.create_default_context(cafile=str(ca))
    monkeypatch.setattr(
        wiring,
        "make_snapshot_client",
        functools.partial(snapshots.make_snapshot_client, verify=trusting),
    )

    async def resolver(host: str, port: int) -> list[str]:
        return {"cam.shelter.test": ["127.0.0.1"]}[host]

    monkeypatch.setattr(egress, "system_resolve", resolver)
    with SnapshotServer(tls=server_tls) as camera:
        url = f"https://cam.shelter.test:{camera.port}/snap.jpg"
        async with app_client(create_app(loopback_settings)) as client:
            await add_camera(client, "tls", mode="poll", snapshot_url=url, interval_s=0.1)

            async def polled() -> bool:
                return bool((await camera_status(client, "tls"))["frames"]["accepted"] >= 1)

            await eventually(polled, what="a snapshot over https")
            await add_camera(  # the same server under a name its certificate does not carry
                client, "ip", mode="poll", snapshot_url=camera.url(), interval_s=0.1
            )
            status = await wait_offline(client, "ip")
    assert set(names) == {"cam.shelter.test", None}  # the IP URL sends no SNI
    assert camera.requests[0]["headers"]["Host"] == f"cam.shelter.test:{camera.port}"
    assert "CERTIFICATE_VERIFY_FAILED" in status["last_error"]
