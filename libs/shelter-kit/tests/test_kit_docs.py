"""`/docs` works offline: Swagger UI from the pinned package's files, on a bare app with the kit
and on every service's own app (each built, not started), with no external URL in the page."""

from __future__ import annotations

import importlib
import re

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shelter_kit import install
from shelter_kit.docs import ASSETS_DIR, docs_page

pytestmark = pytest.mark.anyio
SERVICES = ["camera_ingest", "classifier", "aggregator", "batch"]
EXTERNAL = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def assert_offline_docs(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit.test") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert not EXTERNAL.findall(page.text)  # no CDN, no host at all
        assert f'data-openapi-url="{app.openapi_url}"' in page.text
        linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(linked) == 4  # stylesheet, icon, Swagger UI, the kit's set-up
        for url in linked:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
        assert (await client.get(app.openapi_url or "")).status_code == 200


async def test_install_replaces_fastapis_cdn_page() -> None:
    app = FastAPI(title="thing")
    install(app, status_map={}, registry=CollectorRegistry())
    await assert_offline_docs(app)
    docs_routes = [r for r in app.router.routes if getattr(r, "path", None) == "/docs"]
    assert len(docs_routes) == 1  # FastAPI's own is gone


@pytest.mark.parametrize("package", SERVICES)
async def test_every_service_serves_its_docs_offline(package: str) -> None:
    app = importlib.import_module(f"{package}.main").create_app()
    await assert_offline_docs(app)


def test_the_page_escapes_its_settings() -> None:
    page = docs_page(title="<x>", openapi_url='/o"json', headers={"X-A": '"b"'})
    assert "<x>" not in page
    assert 'data-openapi-url="/o&quot;json"' in page
    assert "&quot;X-A&quot;" in page


def test_the_pinned_package_ships_swagger_ui_5() -> None:
    bundle = (ASSETS_DIR / "swagger-ui-bundle.js").read_text(errors="replace")
    assert "SwaggerUIBundle" in bundle
    assert (ASSETS_DIR / "swagger-ui.css").is_file()
    assert (ASSETS_DIR / "favicon.png").is_file()
