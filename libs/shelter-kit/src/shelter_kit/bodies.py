"""Bounded request bodies, framework-free: pass any async iterator of chunks (Starlette's
`request.stream()`, an httpx stream) and a limit; `BodyTooLarge` as soon as the limit is passed,
and before reading anything when Content-Length already says so.

Our own lines (a dozen): Starlette reads whole bodies without a limit, and the servers' limits
(uvicorn has none for bodies) are per process, not per route.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from shelter_kit.errors import BodyTooLarge


def check_declared_length(content_length: str | None, *, limit: int) -> None:
    """Refuse early when Content-Length already says the body is too large."""
    if content_length and content_length.strip().isdigit() and int(content_length) > limit:
        raise BodyTooLarge(
            f"body of {int(content_length)} bytes is over the limit of {limit} bytes", limit=limit
        )


async def bounded(
    chunks: AsyncIterator[bytes], *, limit: int, content_length: str | None = None
) -> AsyncGenerator[bytes, None]:
    """Pass `chunks` through, raising BodyTooLarge once more than `limit` bytes arrived."""
    check_declared_length(content_length, limit=limit)
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(f"body is over the limit of {limit} bytes", limit=limit)
        yield chunk


async def read_bounded(
    chunks: AsyncIterator[bytes], *, limit: int, content_length: str | None = None
) -> bytes:
    """The whole body, at most `limit` bytes."""
    body = bytearray()
    async for chunk in bounded(chunks, limit=limit, content_length=content_length):
        body += chunk
    return bytes(body)
