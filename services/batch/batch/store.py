"""The one module that imports redis. The client, its reconnect-once rule and the translation of
Redis failures into `StoreUnavailable` are the kit's (`shelter_kit.store`); what is the batch
service's is its timeouts and the names its queue needs (`ResponseError` for BUSYGROUP/NOGROUP,
`Pipeline` for the job's one creating transaction)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from shelter_kit.store import connect as kit_connect
from shelter_kit.store import ping, translated

__all__ = ["Pipeline", "Redis", "ResponseError", "connect", "ping", "translated"]

# Longer than the workers' XREADGROUP block (BATCH_READ_BLOCK_MS, at most 5 s is refused by the
# settings), which holds the socket silent for its whole block.
TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 2.0


def connect(url: str) -> Redis:
    return kit_connect(url, timeout_s=TIMEOUT_S, connect_timeout_s=CONNECT_TIMEOUT_S)
