"""Classifier fixtures: the real app (real model) in-process, and images made on the fly."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from PIL import Image

from classifier.config import Settings
from classifier.main import create_app
from tests.servers import wait_until

LABEL_OF_FOLDER = {"cat": "cat", "dog": "dog", "none": "other"}


class AppClient:
    """A blocking HTTP client for the app in-process: its lifespan and requests run on one event
    loop in a background thread (what starlette's TestClient does, without its httpx warning)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._stack = ExitStack()
        self.portal = self._stack.enter_context(start_blocking_portal())
        self._stack.enter_context(
            self.portal.wrap_async_context_manager(app.router.lifespan_context(app))
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://classifier")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self.http.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.http.aclose)
        self._stack.close()


def start_client(settings: Settings, *, wait_ready: bool = True) -> AppClient:
    """The real app with its lifespan entered; by default, once its models are warmed."""
    client = AppClient(create_app(settings))
    if wait_ready:
        registry = client.app.state.registry
        wait_until(lambda: registry.ready, timeout=60, what="classifier models to warm up")
    return client


@pytest.fixture(scope="module")
def settings(model_dir: Path) -> Settings:
    return Settings(
        model_dir=model_dir,
        max_body_bytes=2_000_000,
        max_batch_body_bytes=4_000_000,
        max_pixels=5_000_000,
        max_batch_items=20,
        max_wait_ms=2,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[AppClient]:
    client = start_client(settings)
    yield client
    client.close()


@pytest.fixture(scope="session")
def samples(sample_dir: Path) -> list[tuple[Path, str]]:
    """Every shipped sample photo with its true label."""
    found = [(p, LABEL_OF_FOLDER[p.parent.name]) for p in sorted(sample_dir.glob("*/*.jpg"))]
    assert len(found) == 15
    return found


@pytest.fixture(scope="session")
def cat_photo(sample_dir: Path) -> Image.Image:
    with Image.open(sample_dir / "cat" / "oxpet-101.jpg") as image:
        return image.convert("RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()
