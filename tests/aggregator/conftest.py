"""Aggregator test parts: the app in-process on the real Redis, with a clock the test moves."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from aggregator.config import Settings
from aggregator.main import create_app

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
CAT = {"cat": 0.9, "dog": 0.05, "other": 0.05}
DOG = {"cat": 0.05, "dog": 0.9, "other": 0.05}
NOBODY = {"cat": 0.05, "dog": 0.05, "other": 0.9}
LABEL = {id(CAT): "cat", id(DOG): "dog", id(NOBODY): "other"}


@dataclass
class Clock:
    """The aggregator's notion of now, moved by the test (no sleeping)."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


def observation(
    frame: str,
    *,
    space: str = "k1",
    camera: str = "cam-1",
    at: float = 0.0,
    probs: dict[str, float] = CAT,
    base: datetime = T0,
) -> dict[str, Any]:
    return {
        "frame_id": frame,
        "camera_id": camera,
        "space_id": space,
        "captured_at": (base + timedelta(seconds=at)).isoformat(),
        "label": LABEL[id(probs)],
        "probabilities": probs,
        "model": "efficientnet-lite0-pets",
        "model_version": "1",
    }


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 10.0) -> Any:
    """Poll an async check until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met before the deadline")
        await anyio.sleep(0.02)


@pytest.fixture
def clock() -> Clock:
    return Clock()


AppFactory = Callable[..., Any]


@pytest.fixture
async def client_for(redis_url: str, clock: Clock) -> AsyncIterator[AppFactory]:
    """`async with client_for(**settings) as (client, app)`: the app with its lifespan running."""
    from contextlib import AsyncExitStack, asynccontextmanager

    async with AsyncExitStack() as stack:

        @asynccontextmanager
        async def make(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
            settings = Settings(**{"redis_url": redis_url, "alert_interval_s": 3600, **overrides})
            app = create_app(settings, clock=clock)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://agg") as c:
                    yield c, app

        yield lambda **kw: stack.enter_async_context(make(**kw))


@pytest.fixture
async def client(client_for: AppFactory) -> httpx.AsyncClient:
    c: httpx.AsyncClient
    c, _ = await client_for()
    return c
