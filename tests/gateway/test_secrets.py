"""No secret in the gateway's logs or error bodies. A real gateway process (its log captured to
a file) with known secrets everywhere they could leak from: a bootstrap admin key, issued,
rotated, revoked and wrong keys (in headers, as Bearer, in the query), a Redis password in its
Redis URL, and credentials in two upstream URLs (one live, one dead). Requests that end in
every kind of error go through it; then the log and every error body are searched."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from pydantic import SecretStr

from tests.gateway.conftest import as_env, gateway_settings
from tests.servers import RedisServer, ServiceProcess, free_port

pytestmark = pytest.mark.slow
BOOTSTRAP = "bootstrap-secret-7f3a9c1e5b"
REDIS_PASSWORD = "redis-password-4d8e2b6a"
UPSTREAM_PASSWORD = "upstream-password-1c9f"


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("locked-redis")).start()
    client = redis.Redis(port=server.port)
    client.config_set("requirepass", REDIS_PASSWORD)
    client.close()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secret_gateway(
    upstreams: dict[str, str], locked_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    ingest = upstreams["camera-ingest"].replace("http://", f"http://camera:{UPSTREAM_PASSWORD}@")
    fields = gateway_settings(
        upstreams, locked_redis, "gw-secrets:",
        redis_url=SecretStr(f"redis://:{REDIS_PASSWORD}@127.0.0.1:{locked_redis.port}/2"),
        bootstrap_admin_key=SecretStr(BOOTSTRAP),
        ingest_url=ingest,
        classifier_url=f"http://model:{UPSTREAM_PASSWORD}@127.0.0.1:{free_port()}",
        read_timeout_s=0.3, max_json_bytes=200, breaker_failures=2, log_level="DEBUG",
        rate_address_rps=0.001, rate_address_burst=60,
    )  # fmt: skip
    log_path = tmp_path_factory.mktemp("secret-gateway") / "gateway.log"
    gateway = ServiceProcess("gateway", as_env(fields), log_path=log_path)
    gateway.spawn()
    try:
        gateway.wait_ready(ready_path="/healthz", timeout=60)  # the classifier is dead on purpose
        yield gateway
    finally:
        gateway.stop()


def sessions_and_links(
    c: httpx.Client, call: Callable[..., httpx.Response], admin: str, old: str, new: str
) -> list[str]:
    """Sign in with keys and a viewer link, use and end the sessions; returns the cookie
    values and the link's token (which must appear nowhere either)."""
    csrf = {"X-Requested-With": "shelter-watch"}
    link = call("POST", "/api/v1/links", admin, json={"name": "lobby"}).json()
    token = link["url"].removeprefix("/#link=")
    cookies = []
    for body in ({"key": admin}, {"key": new}, {"link": token}, {"key": old}, {"link": "swl_x"}):
        signed = c.post("/api/v1/session", json=body, headers=csrf)
        c.cookies.clear()  # each request below names its cookie itself
        if signed.status_code != 200:
            continue
        cookie = signed.cookies["sw_session"]
        cookies.append(cookie)
        jar = {"Cookie": f"sw_session={cookie}"}
        c.get("/api/v1/spaces", headers=jar)
        c.post("/api/v1/alerts/a-1/ack", json={}, headers=jar)  # 403: no CSRF header
        c.delete("/api/v1/session", headers={**jar, **csrf})
        c.get("/api/v1/spaces", headers=jar)  # 401: signed out
    call("DELETE", f"/api/v1/links/{link['id']}", admin)
    assert len(cookies) == 3  # the old (rotated-away) key and the wrong link signed nobody in
    return [token, *cookies]


def exercise(url: str) -> tuple[list[str], list[httpx.Response]]:
    """Requests that end in every kind of answer; returns (the secrets, the error answers)."""
    errors: list[httpx.Response] = []
    with httpx.Client(base_url=url, timeout=10) as c:

        def call(method: str, path: str, key: str | None = None, how: str = "header",
                 **kwargs: object) -> httpx.Response:  # fmt: skip
            headers = {}
            if key and how == "header":
                headers["X-API-Key"] = key
            elif key and how == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            elif key and how == "query":
                path += ("&" if "?" in path else "?") + f"api_key={key}"
            response = c.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
            if response.status_code >= 400:
                errors.append(response)
            return response

        admin = BOOTSTRAP
        issued = call("POST", "/api/v1/keys", admin, json={"role": "viewer"}).json()
        camera = call("POST", "/api/v1/keys", admin, "bearer",
                      json={"role": "camera", "cameras": ["cam-1"]}).json()  # fmt: skip
        gone = call("POST", "/api/v1/keys", admin, json={"role": "staff"}).json()
        call("DELETE", f"/api/v1/keys/{gone['id']}", admin)
        rotated = call("POST", f"/api/v1/keys/{issued['id']}/rotate", admin).json()
        wrong, odd = "sw_" + "W" * 32, "a-wrong-key-of-another-shape-9d2c"
        secrets = [admin, issued["secret"], rotated["secret"], camera["secret"], gone["secret"],
                   wrong, odd]  # fmt: skip
        secrets += sessions_and_links(c, call, admin, issued["secret"], rotated["secret"])
        for key in secrets:
            for how in ("header", "bearer", "query"):
                call("GET", "/api/v1/spaces", key, how)  # 200, 401 (old, revoked, wrong, query)
                call("GET", "/api/v1/events?echo=1", key, how)
                call("DELETE", "/api/v1/cameras/cam-1", key, how)  # 403 for most
                call("GET", "/api/v1/kennels", key, how)  # 404
        cam = camera["secret"]
        call("PUT", "/api/v1/cameras/cam-2/frame", cam, content=b"j")  # 403: another camera
        call("GET", "/api/v1/cameras/x/%2e%2e/outbox", admin)  # 400
        call("POST", "/api/v1/keys", admin, json={"role": "viewer", "label": "x" * 300})  # 413
        call("POST", "/api/v1/keys", admin, json={"role": cam})  # 422 on the secret itself
        call("GET", "/api/v1/spaces/hang", admin)  # 504
        for _ in range(3):
            call("GET", "/api/v1/classifier/models", admin)  # 502, 502, then 503 (open)
        call("GET", "/api/v1/cameras/cam-1", cam)  # 200 through the credentialed upstream
        for _ in range(60):
            call("GET", "/api/v1/spaces", wrong)  # 401s, then 429
    return secrets, errors


def test_no_secret_in_the_log_or_any_error_body(secret_gateway: ServiceProcess):
    secrets, errors = exercise(secret_gateway.url)
    statuses = {r.status_code for r in errors}
    assert {400, 401, 403, 404, 413, 422, 429, 502, 503, 504} <= statuses  # every kind was hit
    assert secret_gateway.log_path is not None
    log = Path(secret_gateway.log_path).read_text()
    assert '"logger": "gateway.audit"' in log
    assert "key issued" in log
    creds = base64.b64encode(f"camera:{UPSTREAM_PASSWORD}".encode()).decode()
    for secret in [*secrets, REDIS_PASSWORD, UPSTREAM_PASSWORD, creds]:
        assert secret not in log, f"{secret[:6]}... is in the gateway's log"
        for response in errors:
            assert secret not in response.text, (response.status_code, response.text)
            assert secret not in str(response.headers)
