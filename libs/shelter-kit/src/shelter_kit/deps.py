"""Route dependencies that reach the parts a service's lifespan put on `app.state`.

    CamerasDep = Annotated[Cameras, Depends(from_state("cameras"))]

A part that is missing (a request before the lifespan finished) is a 503 problem, not an
AttributeError: `PartNotReady` is mapped by `service.install`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request


class PartNotReady(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not ready yet")
        self.retry_after_s = 1


def from_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency returning `request.app.state.<name>`.

    A coroutine function on purpose: FastAPI runs a plain `def` dependency on its thread pool,
    a thread hop per dependency per request (6% of the gateway's CPU per proxied request,
    docs/benchmarks.md); an `async def` one runs inline on the event loop."""

    async def dependency(request: Request) -> Any:
        try:
            return getattr(request.app.state, name)
        except AttributeError:
            raise PartNotReady(name) from None

    dependency.__name__ = f"state_{name}"
    return dependency
