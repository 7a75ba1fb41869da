"""Sign-in sessions and viewer links through a real gateway (real uvicorn, real Redis, real HTTP
to the echo upstreams): sign in, the cookie on reads and on the event stream, the CSRF header on
writes, sign out, revoked/rotated keys and revoked links ending their sessions, expiry, and what
Redis keeps (hashes only)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from gateway.fallback import StoreHealth
from gateway.keys import BOOTSTRAP_ID, Principal, digest
from gateway.links import Links
from gateway.metrics import GatewayMetrics
from gateway.permissions import Role
from gateway.sessions import Sessions
from gateway.store import GatewayStore
from shelter_kit.store import connect
from tests.gateway.conftest import ADMIN, GatewayFactory, Keys, assert_problem, issue
from tests.gateway.test_keys import redis_contents
from tests.servers import RedisServer

CSRF = {"X-Requested-With": "shelter-watch"}
STAFF_PERMISSIONS = ["cameras:read", "shelter:read", "animals:write", "alerts:ack",
                     "predictions:feedback", "photos:classify"]  # fmt: skip


def sign_in(gateway: str, **body: Any) -> httpx.Response:
    return httpx.post(gateway + "/api/v1/session", json=body, headers=CSRF, timeout=10)


def cookie_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    token = response.cookies.get("sw_session")
    assert token
    return token


def call(gateway: str, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    """A request authenticated by the session cookie alone (no jar: the header is explicit)."""
    headers = {"Cookie": f"sw_session={token}", **kwargs.pop("headers", {})}
    return httpx.request(method, gateway + path, headers=headers, timeout=10, **kwargs)


def make_link(gateway: str, name: str = "lobby screen", **fields: Any) -> dict[str, Any]:
    made = httpx.post(gateway + "/api/v1/links", json={"name": name, **fields},
                      headers={"X-API-Key": ADMIN}, timeout=10)  # fmt: skip
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def test_sign_in_sets_an_opaque_http_only_cookie(gateway: str, keys: Keys, gateway_redis,
                                                 key_prefix: str):  # fmt: skip
    response = sign_in(gateway, key=keys.staff)
    token = cookie_of(response)
    body = response.json()
    assert (body["role"], body["name"]) == ("staff", "tests: staff")
    assert body["key_id"].startswith("key_")
    assert body["permissions"] == STAFF_PERMISSIONS
    assert time.time() + 43200 - 60 < body["expires_at"] <= time.time() + 43200
    assert response.headers["cache-control"] == "no-store"
    attributes = [a.strip().lower() for a in response.headers["set-cookie"].split(";")]
    assert {"httponly", "samesite=strict", "path=/", "max-age=43200"} <= set(attributes)
    assert "secure" not in attributes  # GATEWAY_SESSION_COOKIE_SECURE is off by default
    assert keys.staff not in response.headers["set-cookie"]
    assert keys.staff not in response.text
    dump = redis_contents(gateway_redis, key_prefix)
    assert token not in dump  # only its hash
    assert f"{key_prefix}session:{digest(token)}" in dump


def test_the_cookie_reads_like_the_key_and_is_not_forwarded(gateway: str, keys: Keys):
    token = cookie_of(sign_in(gateway, key=keys.viewer))
    response = call(gateway, "GET", "/api/v1/spaces", token)
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["service"] == "aggregator"
    assert seen["headers"]["x-key-id"] == sign_in(gateway, key=keys.viewer).json()["key_id"]
    assert "cookie" not in seen["headers"]  # the session never reaches an upstream
    events = call(gateway, "GET", "/api/v1/events?echo=1", token)  # EventSource sends it too
    assert events.status_code == 200
    assert events.json()["path"] == "/v1/events"


def test_a_cookie_write_needs_the_csrf_header(gateway: str, keys: Keys):
    token = cookie_of(sign_in(gateway, key=keys.staff))
    refused = call(gateway, "POST", "/api/v1/alerts/a-1/ack", token, json={})
    body = assert_problem(refused, 403, "csrf-header-missing")
    assert "X-Requested-With" in body["detail"] or "x-requested-with" in body["detail"]
    done = call(gateway, "POST", "/api/v1/alerts/a-1/ack", token, json={}, headers=CSRF)
    assert done.status_code == 200, done.text
    assert done.json()["path"] == "/v1/alerts/a-1/ack"
    # a header key needs no such header (not a browser's ambient credential)
    by_key = httpx.post(gateway + "/api/v1/alerts/a-1/ack", json={},
                        headers={"X-API-Key": keys.staff}, timeout=10)  # fmt: skip
    assert by_key.status_code == 200


def test_a_viewer_session_may_not_write(gateway: str, keys: Keys):
    token = cookie_of(sign_in(gateway, key=keys.viewer))
    response = call(gateway, "POST", "/api/v1/alerts/a-1/ack", token, json={}, headers=CSRF)
    assert_problem(response, 403, "permission-denied")


def test_who_am_i_by_cookie_and_by_header(gateway: str, keys: Keys):
    signed = sign_in(gateway, key=keys.staff)
    mine = call(gateway, "GET", "/api/v1/session", cookie_of(signed))
    assert mine.status_code == 200
    assert mine.json() == signed.json()
    by_header = httpx.get(gateway + "/api/v1/session", headers={"X-API-Key": keys.staff})
    assert by_header.json() == {**signed.json(), "expires_at": None}  # the key never expires
    boot = httpx.get(gateway + "/api/v1/session", headers={"X-API-Key": ADMIN}).json()
    assert (boot["role"], boot["key_id"], boot["name"]) == ("admin", BOOTSTRAP_ID, BOOTSTRAP_ID)
    assert_problem(httpx.get(gateway + "/api/v1/session"), 401, "missing-api-key")


def test_sign_out_ends_the_session_server_side(gateway: str, keys: Keys):
    token = cookie_of(sign_in(gateway, key=keys.staff))
    assert_problem(call(gateway, "DELETE", "/api/v1/session", token), 403, "csrf-header-missing")
    out = call(gateway, "DELETE", "/api/v1/session", token, headers=CSRF)
    assert out.status_code == 204
    cleared = out.headers["set-cookie"].lower()
    assert cleared.startswith('sw_session="";') or cleared.startswith("sw_session=;")
    assert "max-age=0" in cleared
    assert_problem(call(gateway, "GET", "/api/v1/spaces", token), 401, "invalid-session")
    assert_problem(call(gateway, "GET", "/api/v1/session", token), 401, "invalid-session")


def test_a_second_sign_in_replaces_the_first(gateway: str, keys: Keys):
    first = cookie_of(sign_in(gateway, key=keys.viewer))
    again = httpx.post(gateway + "/api/v1/session", json={"key": keys.staff},
                       headers={**CSRF, "Cookie": f"sw_session={first}"}, timeout=10)  # fmt: skip
    second = cookie_of(again)
    assert second != first
    assert_problem(call(gateway, "GET", "/api/v1/spaces", first), 401, "invalid-session")
    assert call(gateway, "GET", "/api/v1/session", second).json()["role"] == "staff"


@pytest.mark.parametrize("how", ["revoke", "rotate"])
def test_revoking_or_rotating_the_key_ends_its_sessions(gateway: str, how: str):
    key = issue(gateway, "staff", label=f"to {how}")
    token = cookie_of(sign_in(gateway, key=key["secret"]))
    assert call(gateway, "GET", "/api/v1/spaces", token).status_code == 200
    admin = {"X-API-Key": ADMIN}
    if how == "revoke":
        done = httpx.delete(f"{gateway}/api/v1/keys/{key['id']}", headers=admin)
    else:
        done = httpx.post(f"{gateway}/api/v1/keys/{key['id']}/rotate", headers=admin)
    assert done.status_code in (200, 204)
    assert_problem(call(gateway, "GET", "/api/v1/spaces", token), 401, "invalid-session")
    assert_problem(sign_in(gateway, key=key["secret"]), 401, "unknown-api-key")


def test_a_session_ends_no_later_than_its_key(gateway: str):
    key = issue(gateway, "viewer", expires_in_s=600)
    body = sign_in(gateway, key=key["secret"]).json()
    assert body["expires_at"] <= time.time() + 600


def test_refused_sign_ins_set_no_cookie(gateway: str, keys: Keys):
    cases = [
        (sign_in(gateway, key="sw_" + "w" * 32), 401, "unknown-api-key"),
        (sign_in(gateway, key="not even the shape"), 401, "unknown-api-key"),
        (sign_in(gateway), 401, "missing-api-key"),
        (sign_in(gateway, link="swl_" + "w" * 32), 401, "unknown-link"),
        (sign_in(gateway, key=keys.camera), 403, "permission-denied"),  # a device: no session
        (sign_in(gateway, key=keys.staff, link="swl_x"), 422, "validation-error"),
        (httpx.post(gateway + "/api/v1/session", json={"key": keys.staff}), 403,
         "csrf-header-missing"),
        (httpx.post(gateway + "/api/v1/session", content=b'{"key": "' + b"k" * (2 << 20) + b'"}',
                    headers={**CSRF, "Content-Type": "application/json"}), 413,
         "body-too-large"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert_problem(response, status, code)
        assert "set-cookie" not in response.headers
        assert keys.staff not in response.text
        assert keys.camera not in response.text


def test_a_viewer_link_signs_a_screen_in_read_only(gateway: str, keys: Keys):
    link = make_link(gateway, ttl_s=3600)
    assert link["id"].startswith("link_")
    assert link["name"] == "lobby screen"
    assert link["url"].startswith("/#link=swl_")
    assert time.time() + 3600 - 60 < link["expires_at"] <= time.time() + 3600
    token = link["url"].removeprefix("/#link=")
    listed = httpx.get(gateway + "/api/v1/links", headers={"X-API-Key": ADMIN}).json()["links"]
    mine = [entry for entry in listed if entry["id"] == link["id"]]
    assert len(mine) == 1
    assert mine[0] == {
        "id": link["id"],
        "name": "lobby screen",
        "created_by": BOOTSTRAP_ID,
        "created_at": mine[0]["created_at"],
        "expires_at": link["expires_at"],
    }
    assert token not in str(listed)
    signed = sign_in(gateway, link=token)
    session = cookie_of(signed)
    assert signed.json() == {"role": "viewer", "name": "lobby screen", "key_id": link["id"],
                             "expires_at": link["expires_at"],
                             "permissions": ["cameras:read", "shelter:read"]}  # fmt: skip
    assert call(gateway, "GET", "/api/v1/summary", session).status_code == 200
    write = call(gateway, "POST", "/api/v1/alerts/a-1/ack", session, json={}, headers=CSRF)
    assert_problem(write, 403, "permission-denied")
    gone = httpx.delete(f"{gateway}/api/v1/links/{link['id']}", headers={"X-API-Key": ADMIN})
    assert gone.status_code == 204
    assert_problem(call(gateway, "GET", "/api/v1/summary", session), 401, "invalid-session")
    assert_problem(sign_in(gateway, link=token), 401, "unknown-link")
    again = httpx.delete(f"{gateway}/api/v1/links/{link['id']}", headers={"X-API-Key": ADMIN})
    assert_problem(again, 404, "link-not-found")


def test_links_are_for_admins_and_validated(gateway: str, keys: Keys):
    staff = httpx.post(gateway + "/api/v1/links", json={"name": "x"},
                       headers={"X-API-Key": keys.staff})  # fmt: skip
    assert_problem(staff, 403, "permission-denied")
    admin = {"X-API-Key": ADMIN}
    for bad in ({"name": ""}, {"name": "x", "ttl_s": 1}, {"name": "x", "extra": 1}):
        response = httpx.post(gateway + "/api/v1/links", json=bad, headers=admin)
        assert_problem(response, 422, "validation-error")


def test_an_admin_session_makes_links_with_the_csrf_header(gateway: str):
    token = cookie_of(sign_in(gateway, key=ADMIN))
    made = call(gateway, "POST", "/api/v1/links", token, json={"name": "hall"}, headers=CSRF)
    assert made.status_code == 201, made.text
    assert_problem(call(gateway, "POST", "/api/v1/links", token, json={"name": "hall"}), 403,
                   "csrf-header-missing")  # fmt: skip


def test_a_bootstrap_session_ends_when_the_bootstrap_key_changes(
    gateway: str, gateway_factory: GatewayFactory
):
    token = cookie_of(sign_in(gateway, key=ADMIN))
    assert call(gateway, "GET", "/api/v1/keys", token).status_code == 200
    other = gateway_factory(bootstrap_admin_key="another-bootstrap-key-for-this-test")
    assert_problem(call(other, "GET", "/api/v1/keys", token), 401, "invalid-session")
    assert call(gateway, "GET", "/api/v1/keys", token).status_code == 200  # same key: still good


def expired_session(redis: RedisServer, prefix: str, secret: str, key_id: str) -> str:
    """A session begun two TTLs ago, through the session lifecycle itself."""

    async def make() -> str:
        client = connect(f"{redis.url}/2", decode_responses=True)
        try:
            store = GatewayStore(client, prefix=prefix)
            health = StoreHealth(retry_s=1, metrics=GatewayMetrics(CollectorRegistry()))
            past = time.time() - 7200
            sessions = Sessions(store, Links(store), health, ttl_s=3600, bootstrap_key=None,
                                clock=lambda: past)  # fmt: skip
            token, _ = await sessions.begin_with_key(secret, Principal(key_id, Role.STAFF))
            return token
        finally:
            await client.aclose()

    return asyncio.run(make())


def test_an_expired_session_is_refused(gateway: str, gateway_redis: RedisServer, key_prefix: str):
    key = issue(gateway, "staff")
    token = expired_session(gateway_redis, key_prefix, key["secret"], key["id"])
    assert_problem(call(gateway, "GET", "/api/v1/spaces", token), 401, "invalid-session")
    assert httpx.get(gateway + "/api/v1/spaces", headers={"X-API-Key": key["secret"]}).is_success
