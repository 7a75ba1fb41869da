"""Viewer links: a URL an admin hands to a wall screen, which signs it in read-only.

A link is `/#link=<token>`: the token sits in the URL's fragment, which a browser never sends
to a server, so it lands in no access log; the page posts it to `POST /api/v1/session` and takes
it out of the address bar. The token is `swl_` + `secrets.token_urlsafe(24)` (192 random bits),
shown once, in the answer that creates the link, and kept only as its SHA-256, like a key's
secret (keys.py says why SHA-256 and no slow KDF). A link has an id (`link_` + 16 hex, not
secret), a name ("lobby screen"), who made it and an expiry; Redis drops it when it expires.
Revoking it deletes it: every session made from it fails on its next request (sessions.py
checks the link on every request). No framework; the Redis layout is `store.py`'s.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gateway.errors import LinkNotFound
from gateway.keys import digest

TOKEN_PREFIX = "swl_"
LINK_ID = re.compile(r"link_[0-9a-f]{16}")


def looks_like_token(presented: str) -> bool:
    """Cheap shape check before any lookup (a wrong shape costs no Redis call)."""
    return presented.startswith(TOKEN_PREFIX) and len(presented) == len(TOKEN_PREFIX) + 32


@dataclass(frozen=True)
class LinkRecord:
    id: str
    name: str
    created_by: str  # the admin key id that made it
    created_at: float
    expires_at: float
    secret_hash: str  # SHA-256 of the token (the name store.py's scripts compare)

    def __repr__(self) -> str:  # no hash in logs or tracebacks
        return f"LinkRecord(id={self.id!r}, name={self.name!r})"

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> LinkRecord:
        doc: dict[str, Any] = json.loads(raw)
        return cls(**doc)


class LinkStore(Protocol):  # store.GatewayStore
    def insert_link(self, record: LinkRecord) -> Awaitable[bool]: ...
    def link(self, link_id: str) -> Awaitable[LinkRecord | None]: ...
    def link_by_token(self, token_hash: str) -> Awaitable[LinkRecord | None]: ...
    def links(self) -> Awaitable[list[LinkRecord]]: ...
    def delete_link(self, record: LinkRecord) -> Awaitable[int]: ...


class Links:
    """The link lifecycle over a `LinkStore`; `clock` is wall time (expiries are absolute)."""

    def __init__(self, store: LinkStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def create(self, *, name: str, ttl_s: int, by: str) -> tuple[LinkRecord, str]:
        """A new link and its token (the only time the token is seen)."""
        now = self._clock()
        while True:  # ids are random: never overwrite on the astronomically rare clash
            token = TOKEN_PREFIX + secrets.token_urlsafe(24)
            record = LinkRecord(
                id="link_" + secrets.token_hex(8),
                name=name,
                created_by=by,
                created_at=now,
                expires_at=now + ttl_s,
                secret_hash=digest(token),
            )
            if await self._store.insert_link(record):
                return record, token

    async def by_token(self, token: str) -> LinkRecord | None:
        """The live link whose token this is, or None."""
        if not looks_like_token(token):
            return None
        record = await self._store.link_by_token(digest(token))
        return None if record is None or record.expired(self._clock()) else record

    async def get(self, link_id: str) -> LinkRecord | None:
        record = await self._store.link(link_id) if LINK_ID.fullmatch(link_id) else None
        return None if record is None or record.expired(self._clock()) else record

    async def all(self) -> list[LinkRecord]:
        now = self._clock()
        live = [r for r in await self._store.links() if not r.expired(now)]
        return sorted(live, key=lambda r: (r.created_at, r.id))

    async def revoke(self, link_id: str) -> None:
        while True:  # -1: it changed under us (cannot, links are never rotated): read again
            record = await self.get(link_id)
            done = 0 if record is None else await self._store.delete_link(record)
            if done == 1:
                return
            if done == 0:
                raise LinkNotFound(f"no viewer link with id {link_id!r}")
