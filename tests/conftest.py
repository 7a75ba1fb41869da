"""Fixtures shared by every test folder: real Redis, the built model, the photo sets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, RedisServer

SAMPLE_DIR = ROOT / "data" / "sample"
# The one setting that points the tests at the full labelled sets (pets, pets-train, pets-eval).
DATA_DIR = Path(os.environ.get("SHELTER_DATA_DIR", ROOT.parent / "shared" / "data"))
MODEL_DIR = Path(os.environ.get("CLASSIFIER_MODEL_DIR", ROOT / "build" / "models"))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server process on a free port, for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, flushed before each test that asks for it."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not any(MODEL_DIR.glob("*/*/model.onnx")):
        pytest.fail(f"no built model under {MODEL_DIR}: run `make model` first")
    return MODEL_DIR


def shared_dataset(name: str) -> Path:
    """A full labelled set under SHELTER_DATA_DIR; skips, saying so, when this clone lacks it."""
    path = DATA_DIR / name
    if not path.is_dir():
        pytest.skip(
            f"full data set {path} is absent (set SHELTER_DATA_DIR to the folder holding {name}/)"
        )
    return path
