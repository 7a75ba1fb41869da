"""Server-sent events: the capped Redis stream of space and alert changes, as SSE text.

Each SSE `id:` is the Redis stream id, so a client resumes (`Last-Event-ID`) from any replica and
across restarts. The loop blocks on XREAD for at most `sse_block_ms`, so it notices a client that
left or a server that is stopping within that time, and sends a comment as a heartbeat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aggregator.errors import BadEventId, StoreUnavailable
from aggregator.shelter import Shelter
from aggregator.store import Event

logger = logging.getLogger(__name__)
STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
MAX_PART = 2**64 - 1  # Redis stream ids are two unsigned 64-bit numbers


async def start_cursor(sh: Shelter, last_event_id: str | None) -> str:
    """Where a stream starts: after the client's last event, else after the newest one."""
    if last_event_id:
        parts = last_event_id.split("-")
        if not STREAM_ID.match(last_event_id) or any(int(p) > MAX_PART for p in parts):
            raise BadEventId(
                f"Last-Event-ID {last_event_id!r} is not an event id like 1700000000000-0"
            )
        return last_event_id
    return await sh.store.latest_event_id()


def format_event(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data)}\n\n"


async def stream(
    sh: Shelter,
    *,
    cursor: str,
    disconnected: Callable[[], Awaitable[bool]],
    stopping: asyncio.Event,
) -> AsyncIterator[str]:
    yield f"retry: 2000\n: stream after {cursor}\n\n"
    last_beat = time.monotonic()
    while not stopping.is_set() and not await disconnected():
        try:
            events = await sh.store.read_events(cursor, block_ms=sh.settings.sse_block_ms)
        except StoreUnavailable as exc:  # the client reconnects with Last-Event-ID
            logger.warning("event stream ends: %s", exc)
            return
        for event in events:
            yield format_event(event)
            cursor = event.id
        if events:
            last_beat = time.monotonic()
        elif time.monotonic() - last_beat >= sh.settings.sse_heartbeat_s:
            yield ": heartbeat\n\n"
            last_beat = time.monotonic()
