"""The one module that imports redis. The client, its reconnect-once rule and the translation
of Redis failures into `StoreUnavailable` are the kit's (`shelter_kit.store`); what is ingest's
is its timeouts and the names the outbox needs (`ResponseError` for BUSYGROUP / NOGROUP)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shelter_kit.store import connect as kit_connect
from shelter_kit.store import ping, translated

__all__ = ["Redis", "ResponseError", "connect", "ping", "translated"]

# Every command but the workers' blocking read: a stalled Redis must give a push a prompt 503 +
# Retry-After, well inside the gateway's frame timeout, even after two commands time out in turn.
TIMEOUT_S = 1.0
# The workers' XREADGROUP has a client of its own: longer than its block (INGEST_READ_BLOCK_MS,
# 1 s by default), which holds the socket silent for the whole block.
BLOCKING_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 1.0


def connect(url: str, *, blocking: bool = False) -> Redis:
    timeout_s = BLOCKING_TIMEOUT_S if blocking else TIMEOUT_S
    return kit_connect(url, timeout_s=timeout_s, connect_timeout_s=CONNECT_TIMEOUT_S)
