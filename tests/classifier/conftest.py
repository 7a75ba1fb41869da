"""Classifier fixtures: the real app (real model) in-process, and images made on the fly."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from PIL import Image

from classifier.config import Settings
from classifier.main import create_app
from tests.classifier.onnx_models import always_dog, copy_version, tiny_model, write_version
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

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

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


# --- deployment tests: models built here, settings with a real Redis -------------------------

TINY = 16  # the tiny models' input size
LITE0 = "efficientnet-lite0-pets/1"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory of tiny graphs (microseconds per image): tiny-a/1, tiny-b/1, tiny-c/1."""
    root = tmp_path_factory.mktemp("tiny-models")
    for name, bias in (("tiny-a", (0.0, 0.0, 0.0)), ("tiny-b", (0.1, 0.0, 0.0)),
                       ("tiny-c", (0.0, 0.1, 0.0))):  # fmt: skip
        write_version(root, name, "1", tiny_model(TINY, bias), TINY)
    return root


@pytest.fixture(scope="session")
def dog_dir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """The shipped fp32 Lite0, a copy whose head always says dog (`lite0-dog/1`), and a tiny
    model of another input size that always says dog too (`tiny-dog/1`)."""
    root = tmp_path_factory.mktemp("dog-models")
    built = model_dir / "efficientnet-lite0-pets" / "1"
    shutil.copytree(built, root / "efficientnet-lite0-pets" / "1")
    copy_version(built, root, "lite0-dog", always_dog(built / "model.onnx"))
    write_version(root, "tiny-dog", "1", tiny_model(TINY, (0.0, 8.0, 0.0)), TINY)  # 16 px
    return root


def deploy_settings(models: Path, redis_url: str | None, **more: Any) -> Settings:
    """Settings for the deployment tests: a fixed routing seed, a fast sync."""
    return Settings(
        model_dir=models,
        redis_url=redis_url,
        routing_seed=7,
        sync_interval_s=0.1,
        max_wait_ms=1,
        **more,
    )


def tiny_jpeg(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)))
