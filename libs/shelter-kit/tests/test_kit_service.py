"""The kit on a real FastAPI app over ASGI: one problem dialect, request context, HEAD, metrics."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel

from shelter_kit import install
from shelter_kit.context import outbound_headers, request_id_var, traceparent_var
from shelter_kit.logs import configure_logging
from shelter_kit.ops import run_checks

pytestmark = pytest.mark.anyio


class ThingNotFound(Exception):
    pass


class Busy(Exception):
    retry_after_s = 7


class Body(BaseModel):
    name: str
    size: int


def make_app(ready: list[str | None]) -> tuple[FastAPI, CollectorRegistry]:
    app = FastAPI()
    registry = CollectorRegistry()

    async def check() -> str | None:
        return ready[0]

    install(
        app,
        status_map={ThingNotFound: 404, Busy: 503},
        registry=registry,
        checks=lambda: {"thing": check},
    )

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise ThingNotFound(f"no thing {thing_id!r}")
        if thing_id == "busy":
            raise Busy("try later")
        if thing_id == "bug":
            raise RuntimeError("a bug with a secret s3cr3t")
        return {"id": thing_id, "context": outbound_headers().get("traceparent", "")}

    @app.post("/v1/things")
    async def post_thing(body: Body) -> Body:
        return body

    return app, registry


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app, _ = make_app([None])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://shelter-watch.example/problems/{code}"
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert set(body) >= {"type", "title", "status", "detail", "instance", "request_id"}
    return dict(body)


async def test_domain_error_is_one_dialect(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/things/missing"), 404, "thing-not-found")
    assert body["title"] == "Thing not found"
    assert body["instance"] == "/v1/things/missing"
    assert "missing" in str(body["detail"])


async def test_retry_after_agrees_with_the_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/things/busy")
    assert_problem(response, 503, "busy")
    assert response.headers["retry-after"] == "7"


async def test_unexpected_error_is_a_500_problem_with_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/v1/things/bug", headers={"x-request-id": "req-42"})
    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "req-42"
    assert "s3cr3t" not in response.text  # the exception text stays in the log
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged
    assert logged[0].exc_info is not None


async def test_framework_errors_share_the_dialect(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404, "not-found")
    assert_problem(await client.delete("/v1/things/x"), 405, "method-not-allowed")
    invalid = await client.post("/v1/things", json={"name": 1})
    body = assert_problem(invalid, 422, "validation-error")
    assert body["title"] == "Validation error"


async def test_validation_errors_are_capped(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things", json=[{"x": i} for i in range(5000)])
    body = assert_problem(response, 422, "validation-error")
    assert len(response.content) < 10_000
    assert isinstance(body["errors"], list)
    assert len(body["errors"]) <= 20


async def test_instance_is_the_public_path_from_the_gateway(client: httpx.AsyncClient) -> None:
    headers = {"x-forwarded-uri": "/api/v1/things/missing?x=1"}
    response = await client.get("/v1/things/missing", headers=headers)
    body = assert_problem(response, 404, "thing-not-found")
    assert body["instance"] == "/api/v1/things/missing"
    junk = {"x-forwarded-uri": "not a path"}
    response = await client.get("/v1/things/missing", headers=junk)
    body = assert_problem(response, 404, "thing-not-found")
    assert body["instance"] == "/v1/things/missing"


async def test_request_id_kept_when_sane_replaced_when_not(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"x-request-id": "abc.1"})).headers[
        "x-request-id"
    ] == "abc.1"
    replaced = (await client.get("/healthz", headers={"x-request-id": "a b\x01"})).headers
    assert replaced["x-request-id"] != "a b\x01"
    assert len(replaced["x-request-id"]) == 32


async def test_traceparent_passes_through_when_valid(client: httpx.AsyncClient) -> None:
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.get("/v1/things/t", headers={"traceparent": good})
    assert response.json()["context"] == good
    response = await client.get("/v1/things/t", headers={"traceparent": "00-zz-yy-01"})
    assert response.json()["context"] == ""


async def test_head_works_wherever_get_does(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/v1/things/t", "/metrics", "/openapi.json"):
        response = await client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
    assert (await client.head("/v1/things/missing")).status_code == 404


async def test_readyz_names_the_failing_check() -> None:
    ready: list[str | None] = ["warming up"]
    app, _ = make_app(ready)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        response = await c.get("/readyz")
        body = assert_problem(response, 503, "not-ready")
        assert body["checks"] == {"thing": "warming up"}
        assert response.headers["retry-after"] == "1"
        ready[0] = None
        ok = await c.get("/readyz")
        assert ok.status_code == 200
        assert ok.json() == {"status": "ready", "checks": {"thing": "ok"}}


async def test_http_metrics_per_route_template() -> None:
    app, registry = make_app([None])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        for thing in ("a", "b", "missing"):
            await c.get(f"/v1/things/{thing}")
        await c.get("/nowhere/else")
    text = generate_latest(registry).decode()
    route = 'method="GET",route="/v1/things/{thing_id}"'
    assert f'http_requests_total{{{route},status="200"}} 2.0' in text
    assert f'http_requests_total{{{route},status="404"}} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "/v1/things/a" not in text


async def test_openapi_documents_the_problem_schema(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "Problem" in document["components"]["schemas"]
    readyz = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert list(readyz["content"]) == ["application/problem+json"]


def test_log_lines_are_json_with_service_and_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("kit-test", "INFO")
    token = request_id_var.set("rid-7")
    trace = traceparent_var.set("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    try:
        logging.getLogger("kit.test").info("hello %s", "world", extra={"frame_id": "f1"})
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("httpx").info("HTTP Request: GET http://user:pw@cam/x")
    finally:
        request_id_var.reset(token)
        traceparent_var.reset(trace)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ours = next(line for line in lines if line["logger"] == "kit.test")
    assert ours["msg"] == "hello world"
    assert ours["service"] == "kit-test"
    assert ours["request_id"] == "rid-7"
    assert ours["frame_id"] == "f1"
    assert ours["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ours["level"] == "INFO"
    assert ours["ts"].endswith("+00:00")
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    assert not any("pw@" in json.dumps(line) for line in lines)  # httpx at INFO is held back


class NeedsKey(Exception):
    problem_headers = {"WWW-Authenticate": 'Bearer realm="test"'}


async def test_edge_ignores_a_clients_forwarded_uri_and_keeps_its_method() -> None:
    app = FastAPI()
    install(app, status_map={NeedsKey: 401}, registry=CollectorRegistry(), edge=True)
    seen: list[str] = []

    @app.get("/v1/locked")
    async def locked(request: Request) -> None:
        seen.append(request.scope["state"]["client_method"])
        raise NeedsKey("no key")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        response = await c.get("/v1/locked", headers={"x-forwarded-uri": "/chosen/by/client"})
        body = assert_problem(response, 401, "needs-key")
        assert body["instance"] == "/v1/locked"
        assert response.headers["www-authenticate"] == 'Bearer realm="test"'
        await c.head("/v1/locked")
    assert seen == ["GET", "HEAD"]


async def test_readiness_checks_run_concurrently() -> None:
    first_started, second_started = asyncio.Event(), asyncio.Event()

    async def first() -> str | None:
        first_started.set()
        await asyncio.wait_for(second_started.wait(), timeout=5)
        return None

    async def second() -> str | None:
        second_started.set()
        await asyncio.wait_for(first_started.wait(), timeout=5)
        return "still warming"

    assert await run_checks({"a": first, "b": second}) == {"a": "ok", "b": "still warming"}


async def test_a_service_may_add_members_to_its_problems() -> None:
    app = FastAPI()

    def triton_error(path: str, body: dict[str, object]) -> dict[str, object]:
        return {"error": body["detail"]} if path.startswith("/v2") else {}

    install(
        app,
        status_map={ThingNotFound: 404},
        registry=CollectorRegistry(),
        extend_problem=triton_error,
    )

    @app.get("/v2/{name}")
    async def v2(name: str) -> None:
        raise ThingNotFound(f"no model {name}") if name == "x" else RuntimeError("bug")

    @app.get("/v1/{name}")
    async def v1(name: str) -> None:
        raise ThingNotFound("no")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
        headers = {"x-forwarded-uri": "/api/v2/x"}
        body = assert_problem(await c.get("/v2/x", headers=headers), 404, "thing-not-found")
        assert body["error"] == "no model x"
        assert body["instance"] == "/api/v2/x"
        unexpected = assert_problem(await c.get("/v2/y"), 500, "internal-error")
        assert unexpected["error"] == unexpected["detail"]
        assert_problem(await c.get("/v2"), 404, "not-found")
        assert "error" not in assert_problem(await c.get("/v1/x"), 404, "thing-not-found")


async def test_the_default_422_is_documented_as_a_problem(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    invalid = document["paths"]["/v1/things"]["post"]["responses"]["422"]
    assert list(invalid["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_readyz_is_not_ready_while_its_parts_are_missing() -> None:
    app = FastAPI()

    def checks() -> dict[str, Callable[[], Awaitable[str | None]]]:
        return {"store": app.state.store.ping}  # not there before the lifespan ran

    install(app, status_map={}, registry=CollectorRegistry(), checks=checks)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        body = assert_problem(await c.get("/readyz"), 503, "not-ready")
        assert "not started" in str(body["detail"])
