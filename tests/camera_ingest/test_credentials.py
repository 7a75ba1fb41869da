"""Snapshot credentials: stored apart from the URL, sent as HTTP basic auth, never answered (the
password shows as `***`), never logged, never in an error body or a camera's last_error."""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
import pytest
import redis

from camera_ingest.config import Settings
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import SnapshotServer, add_camera, app_client, eventually
from tests.servers import free_port

pytestmark = pytest.mark.anyio
PROBLEMS = "https://shelter-watch.example/problems/"
USER, PASSWORD = "shelter", "Pa55-w0rd:ta1l%"  # a colon and a percent sign: quoting matters
QUOTED = "Pa55-w0rd%3Ata1l%25"  # the password as it is written in a URL
SECRETS = (PASSWORD, QUOTED, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"the password is in {where}"


async def status_of(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any]:
    return (await client.get(f"/v1/cameras/{camera_id}")).json()["status"]  # type: ignore[no-any-return]


async def test_credentials_in_the_url_reach_the_camera_as_basic_auth_and_are_redacted(
    loopback_settings: Settings, redis_url: str
) -> None:
    with SnapshotServer(credentials=(USER, PASSWORD)) as camera:
        async with app_client(create_app(loopback_settings)) as client:
            url = camera.url(userinfo=f"{USER}:{QUOTED}")
            created = await add_camera(client, "kennel", mode="poll", snapshot_url=url)
            assert created["snapshot_url"] == camera.url()  # no userinfo
            assert created["snapshot_auth"] == {"username": USER, "password": "***"}

            async def accepted() -> bool:
                return bool((await status_of(client, "kennel"))["frames"]["accepted"] >= 1)

            await eventually(accepted, what="a snapshot fetched with basic auth")
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            assert camera.requests[0]["headers"]["Authorization"] == f"Basic {token}"
            assert camera.requests[0]["path"] == "/snap.jpg"
    with redis.Redis.from_url(redis_url) as r:  # stored apart: the config holds no secret
        stored = r.hgetall("ingest:camera:kennel")
    assert_no_secret(stored[b"config"].decode(), "the stored config")
    assert PASSWORD in stored[b"snapshot_auth"].decode()


async def test_credentials_as_fields_and_a_camera_that_refuses_them(
    loopback_settings: Settings,
) -> None:
    with SnapshotServer(credentials=(USER, PASSWORD)) as camera:
        async with app_client(create_app(loopback_settings)) as client:
            good = {"username": USER, "password": PASSWORD}
            await add_camera(
                client,
                "a",
                mode="poll",
                snapshot_url=camera.url(),
                snapshot_auth=good,
                interval_s=0.1,
            )
            wrong = {"username": USER, "password": "not-it"}
            await add_camera(
                client,
                "b",
                mode="poll",
                snapshot_url=camera.url(),
                snapshot_auth=wrong,
                interval_s=0.1,
            )

            async def settled() -> bool:
                a, b = await status_of(client, "a"), await status_of(client, "b")
                return bool(a["frames"]["accepted"] and b["consecutive_errors"] >= 2)

            await eventually(settled, what="a polled, b refused")
            b = await status_of(client, "b")
            assert b["last_error"] == "snapshot answered HTTP 401 (credentials missing or refused)"
            assert b["state"] == "offline"


async def test_the_password_is_in_no_answer(loopback_settings: Settings) -> None:
    """Create, get, list, replace, patch and their error bodies."""
    bare = "http://127.0.0.1:9/snap.jpg"  # the cameras are disabled: nothing is polled here
    url = f"http://{USER}:{QUOTED}@127.0.0.1:9/snap.jpg"
    body = {"space_id": "s", "mode": "poll", "snapshot_url": url, "enabled": False}
    async with app_client(create_app(loopback_settings)) as client:
        answers = [
            await client.post("/v1/cameras", json={"id": "c1", **body}),
            await client.post("/v1/cameras", json={"id": "c1", **body}),  # 409 exists
            await client.get("/v1/cameras/c1"),
            await client.get("/v1/cameras"),
            await client.put("/v1/cameras/c1", json=body),
            await client.put("/v1/cameras/c2", json=body),
            await client.patch("/v1/cameras/c1", json={"interval_s": 9}),
            await client.patch("/v1/cameras/c1", json={"snapshot_url": url}),
            await client.patch("/v1/cameras/c1", json={"snapshot_url": url, "interval_s": -1}),
            await client.patch(  # both ways at once: 422
                "/v1/cameras/c1",
                json={"snapshot_url": url, "snapshot_auth": {"username": USER, "password": "x"}},
            ),
            await client.post("/v1/cameras", json={"id": "bad id", **body}),  # 422 validation
            await client.post(  # refused address, 422
                "/v1/cameras",
                json={**body, "id": "c3", "snapshot_url": f"http://{USER}:{QUOTED}@10.0.0.9/"},
            ),
            await client.put(  # PUT replaces: credentials come from its body only (none here)
                "/v1/cameras/c2", json={**body, "snapshot_url": "http://127.0.0.1:8/x.jpg"}
            ),
            await client.patch(  # another host without credentials again: 422
                "/v1/cameras/c1", json={"snapshot_url": "http://127.0.0.1:8/x"}
            ),
        ]
        statuses = [a.status_code for a in answers]
        assert statuses == [201, 409, 200, 200, 200, 201, 200, 200, 422, 422, 422, 422, 200, 422]
        for answer in answers:
            assert_no_secret(answer.text, f"{answer.request.method} {answer.request.url}")
        camera_c1 = answers[2].json()
        assert camera_c1["snapshot_url"] == bare
        assert camera_c1["snapshot_auth"] == {"username": USER, "password": "***"}
        listed = answers[3].json()["cameras"]
        assert [c["snapshot_auth"] for c in listed] == [{"username": USER, "password": "***"}]
        assert answers[-1].json()["type"] == PROBLEMS + "invalid-camera"
        assert "snapshot_auth again" in answers[-1].json()["detail"]
        assert answers[9].json()["type"] == PROBLEMS + "validation-error"
        assert "credentials given twice" in answers[9].text
        assert (await client.get("/v1/cameras/c2")).json()["snapshot_auth"] is None  # PUT replaced


async def test_credentials_follow_a_patch_on_the_same_host_only(
    loopback_settings: Settings, redis_url: str
) -> None:
    async with app_client(create_app(loopback_settings)) as client:
        url = "http://u:pw1@127.0.0.1:9/a.jpg"
        await add_camera(client, "p", mode="poll", enabled=False, snapshot_url=url)
        same_host = await client.patch(
            "/v1/cameras/p", json={"snapshot_url": "http://127.0.0.1:9/b.jpg"}
        )
        assert same_host.json()["snapshot_auth"] == {"username": "u", "password": "***"}
        moved = await client.patch("/v1/cameras/p", json={"snapshot_url": "http://127.0.0.1:1/"})
        assert moved.status_code == 422
        dropped = await client.patch(
            "/v1/cameras/p", json={"snapshot_url": "http://127.0.0.1:1/", "snapshot_auth": None}
        )
        assert dropped.status_code == 200
        assert dropped.json()["snapshot_auth"] is None
        new = {"username": "v", "password": "pw2"}
        renewed = await client.patch("/v1/cameras/p", json={"snapshot_auth": new})
        assert renewed.json()["snapshot_auth"] == {"username": "v", "password": "***"}
        cleared = await client.patch("/v1/cameras/p", json={"mode": "push", "snapshot_url": None})
        assert cleared.json()["snapshot_auth"] is None
    with redis.Redis.from_url(redis_url) as r:
        assert not r.hexists("ingest:camera:p", "snapshot_auth")


async def test_a_url_stored_with_credentials_by_an_older_version_is_split_on_read(
    loopback_settings: Settings, redis_url: str
) -> None:
    url = f"http://{USER}:{QUOTED}@127.0.0.1:9/snap.jpg"
    legacy = {"id": "old", "space_id": "s", "mode": "poll", "snapshot_url": url, "enabled": False}
    with redis.Redis.from_url(redis_url) as r:
        r.sadd("ingest:cameras", "old")
        r.hset("ingest:camera:old", "config", httpx.Response(200, json=legacy).text)
    async with app_client(create_app(loopback_settings)) as client:
        answer = await client.get("/v1/cameras/old")
    assert answer.json()["snapshot_url"] == "http://127.0.0.1:9/snap.jpg"
    assert answer.json()["snapshot_auth"] == {"username": USER, "password": "***"}
    assert_no_secret(answer.text, "the answer")


async def test_no_log_line_and_no_last_error_holds_the_password(
    loopback_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A poll cycle with succeeding and failing snapshots (401, 500, 404, connection refused,
    a redirect), every logger at DEBUG, httpx's and httpcore's too (the kit holds them at
    WARNING; DEBUG shows that ingest never hands them the password: it is in no URL, and httpcore
    logs no request header values): neither the JSON lines on stdout nor any log record (message
    and extras) holds the password, and neither does any camera's status."""
    userinfo = f"{USER}:{QUOTED}"
    with SnapshotServer(credentials=(USER, PASSWORD)) as camera:
        camera.redirect_to = camera.url("/login")
        urls = {
            "ok": camera.url(userinfo=userinfo),
            "fails": camera.url("/boom", userinfo=userinfo),
            "missing": camera.url("/missing", userinfo=userinfo),
            "moved": camera.url("/moved", userinfo=userinfo),
            "wrong": camera.url(userinfo=f"{USER}:nope"),
            "refused": f"http://{userinfo}@127.0.0.1:{free_port()}/snap.jpg",
        }
        app = create_app(loopback_settings)
        caplog.set_level(logging.DEBUG)  # after create_app, which sets the kit's levels
        for name in ("httpx", "httpcore", "camera_ingest", "shelter_kit"):
            caplog.set_level(logging.DEBUG, logger=name)
        async with app_client(app) as client:
            for name, url in urls.items():
                await add_camera(client, name, mode="poll", snapshot_url=url, interval_s=0.1)

            async def cycle_done() -> list[dict[str, Any]]:
                statuses = [await status_of(client, name) for name in urls]
                ok, *bad = statuses
                done = ok["frames"]["accepted"] >= 2 and all(
                    s["consecutive_errors"] >= 2 for s in bad
                )
                return statuses if done else []

            statuses = await eventually(cycle_done, what="a poll cycle, good and bad")
            listing = (await client.get("/v1/cameras")).text
    errors = [s["last_error"] for s in statuses[1:]]
    assert all(errors), errors
    assert_no_secret(repr(statuses) + listing, "a camera status")
    out = capsys.readouterr().out
    assert '"msg": "poll failed"' in out  # the JSON log lines were captured
    assert_no_secret(out, "stdout (the JSON log lines)")
    assert_no_secret(caplog.text, "the log messages")
    for record in caplog.records:
        assert_no_secret(repr(record.__dict__), f"a log record of {record.name}")
    assert any(r.name.startswith("httpx") for r in caplog.records)  # really at DEBUG
