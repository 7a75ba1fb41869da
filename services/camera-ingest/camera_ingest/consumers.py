"""Which outbox consumers are alive, and taking over the entries of those that are not.

Every ingest process is one consumer of the outbox group (`hostname-pid`, a new name per start).
While it runs it keeps a liveness key, `ingest:consumer:{name}`, refreshed every third of its TTL
(`INGEST_CONSUMER_TTL_S`) and deleted at a graceful stop. A consumer that still holds pending
entries but has no liveness key is dead (SIGKILL, OOM, node lost): any live consumer takes its
entries over at once, in one script (`outbox_scripts.TAKE_OVER`), and forgets it. Without this a
crash left its in-flight frames waiting out `INGEST_RECLAIM_MIN_IDLE_S` (30 s) for `XAUTOCLAIM`,
which stays as the backstop for a consumer that is alive but stuck.
"""

from __future__ import annotations

from typing import Any

from camera_ingest import outbox_scripts as lua
from camera_ingest.outbox import GROUP, STREAM, Entry, entry_from
from camera_ingest.store import Redis, translated

PREFIX = "ingest:consumer:"


def alive_key(consumer: str) -> str:
    return f"{PREFIX}{consumer}"


class Consumers:
    def __init__(self, redis: Redis, *, ttl_s: float) -> None:
        self.redis = redis
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._take_over = redis.register_script(lua.TAKE_OVER)

    @property
    def beat_interval_s(self) -> float:
        return self.ttl_ms / 3000

    @translated
    async def beat(self, consumer: str) -> None:
        await self.redis.set(alive_key(consumer), b"1", px=self.ttl_ms)

    @translated
    async def leave(self, consumer: str) -> None:
        await self.redis.delete(alive_key(consumer))

    @translated
    async def take_over_dead(self, me: str, *, count: int = 100) -> list[Entry]:
        """The pending entries of every dead consumer, now claimed by `me`."""
        taken: list[Entry] = []
        for info in await self.redis.xinfo_consumers(STREAM, GROUP):
            name = _text(info.get("name"))
            if name == me or not int(info.get("pending", 0)):
                continue
            keys = [STREAM, alive_key(name)]
            reply: Any = await self._take_over(keys=keys, args=[GROUP, name, me, count])
            taken += [entry_from(mid, _fields(flat)) for mid, flat in reply if flat is not None]
        return taken


def _fields(flat: list[Any]) -> dict[bytes, Any]:
    return {_bytes(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
