"""Sign-in sessions: a browser trades a key (or a viewer link's token) for a cookie once, and
the cookie then stands for that key on every request (same role, same rate-limit bucket).

The cookie's value is 256 random bits (`secrets.token_urlsafe(32)`), never the key; Redis keeps
only its SHA-256, as the record `gw:session:{sha256}` (store.py), which Redis drops at
`expires_at`: `ttl_s` after sign-in, or sooner when the key or link expires sooner.

A session is only as good as what it came from, checked on every request, on every replica:
the record holds the SHA-256 of the key that signed in (the same hash the key's own record
holds), so a revoked key (its record gone) or a rotated one (its hash changed) fails at once;
a session from the bootstrap key fails once that key is changed or unset; a link session fails
once the link is revoked. Nothing is cached per process: Redis answers, or the request is a 503
(while Redis is down a session cannot be verified; keys keep their fallback, see fallback.py).
No framework.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

from gateway.errors import InvalidSession, UnknownLink
from gateway.fallback import StoreHealth
from gateway.keys import BOOTSTRAP_ID, KeyRecord, Principal, digest
from gateway.links import LinkRecord, Links
from gateway.permissions import ROLES, Permission, Role

T = TypeVar("T")
KEY, BOOTSTRAP, LINK = "key", "bootstrap", "link"  # where a session came from


@dataclass(frozen=True)
class SessionRecord:
    key_id: str  # the key's id, `bootstrap`, or the viewer link's id
    role: Role
    cameras: tuple[str, ...]
    name: str  # the key's label (else its id), or the link's name
    source: str  # KEY, BOOTSTRAP or LINK
    key_hash: str  # SHA-256 of the key (or the link's token) it came from
    created_at: float
    expires_at: float

    def __repr__(self) -> str:  # no hash in logs or tracebacks
        return f"SessionRecord(key_id={self.key_id!r}, role={self.role.value!r})"

    @property
    def principal(self) -> Principal:
        return Principal(self.key_id, self.role, frozenset(self.cameras))

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "role": self.role.value})

    @classmethod
    def from_json(cls, raw: str | bytes) -> SessionRecord:
        doc: dict[str, Any] = json.loads(raw)
        return cls(**{**doc, "role": Role(doc["role"]), "cameras": tuple(doc["cameras"])})


@dataclass(frozen=True)
class Caller:
    """What `GET /api/v1/session` describes: a session, or a key sent as a header."""

    key_id: str
    role: Role
    name: str
    expires_at: float | None

    @property
    def permissions(self) -> list[str]:
        return [p.value for p in Permission if p in ROLES[self.role]]  # the enum's order


class SessionStore(Protocol):  # store.GatewayStore
    def insert_session(self, token_hash: str, record: SessionRecord) -> Awaitable[None]: ...
    def session(self, token_hash: str) -> Awaitable[SessionRecord | None]: ...
    def delete_session(self, token_hash: str) -> Awaitable[None]: ...
    def key(self, key_id: str) -> Awaitable[KeyRecord | None]: ...


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        links: Links,
        health: StoreHealth,
        *,
        ttl_s: int,
        bootstrap_key: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._links = links
        self._health = health
        self._ttl_s = ttl_s
        self._bootstrap = digest(bootstrap_key) if bootstrap_key else None
        self._clock = clock

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._health.call(fn)

    async def verify(self, token: str) -> Principal:
        """The principal of a session cookie; InvalidSession when it is no longer good."""
        return (await self.current(token)).principal

    async def current(self, token: str) -> SessionRecord:
        record = await self._call(lambda: self._store.session(digest(token)))
        if record is None or self._clock() >= record.expires_at or not await self._good(record):
            raise InvalidSession("no valid session: sign in again")
        return record

    async def _good(self, record: SessionRecord) -> bool:
        """Whether the key or link the session came from is still as it was at sign-in."""
        if record.source == BOOTSTRAP:
            return self._bootstrap is not None and hmac.compare_digest(
                record.key_hash.encode(), self._bootstrap.encode()
            )
        if record.source == LINK:
            link = await self._call(lambda: self._links.get(record.key_id))
            return link is not None and link.secret_hash == record.key_hash
        key = await self._call(lambda: self._store.key(record.key_id))
        return (
            key is not None
            and key.secret_hash == record.key_hash
            and not key.expired(self._clock())
        )

    async def link_principal(self, token: str) -> Principal:
        """The viewer principal of a link token (to sign in with); UnknownLink otherwise."""
        link = await self._call(lambda: self._links.by_token(token))
        if link is None:
            raise UnknownLink("unknown or expired viewer link")
        return Principal(link.id, Role.VIEWER)

    async def describe(self, principal: Principal) -> Caller:
        """A caller who sent a key as a header (no session): its name and expiry."""
        if principal.key_id == BOOTSTRAP_ID:
            return Caller(BOOTSTRAP_ID, principal.role, BOOTSTRAP_ID, None)
        key = await self._call(lambda: self._store.key(principal.key_id))
        if key is None:  # revoked between the gate and here
            raise InvalidSession("the key was revoked")
        return Caller(key.id, key.role, key.label or key.id, key.expires_at)

    async def begin_with_key(self, presented: str, principal: Principal) -> tuple[str, Caller]:
        """A session for a verified key: (the cookie's value, what it stands for)."""
        about = await self.describe(principal)
        source = BOOTSTRAP if principal.key_id == BOOTSTRAP_ID else KEY
        return await self._begin(principal, about, source, digest(presented))

    async def begin_with_link(self, token: str, principal: Principal) -> tuple[str, Caller]:
        link: LinkRecord | None = await self._call(lambda: self._links.get(principal.key_id))
        if link is None:  # revoked between the gate and here
            raise UnknownLink("unknown or expired viewer link")
        about = Caller(link.id, Role.VIEWER, link.name, link.expires_at)
        return await self._begin(principal, about, LINK, link.secret_hash)

    async def _begin(
        self, principal: Principal, about: Caller, source: str, key_hash: str
    ) -> tuple[str, Caller]:
        now = self._clock()
        until = now + self._ttl_s
        if about.expires_at is not None:
            until = min(until, about.expires_at)
        record = SessionRecord(
            key_id=principal.key_id,
            role=principal.role,
            cameras=tuple(sorted(principal.cameras)),
            name=about.name,
            source=source,
            key_hash=key_hash,
            created_at=now,
            expires_at=until,
        )
        token = secrets.token_urlsafe(32)
        await self._call(lambda: self._store.insert_session(digest(token), record))
        return token, Caller(about.key_id, about.role, about.name, until)

    async def end(self, token: str) -> None:
        """Sign out: the session is gone server-side (a no-op for an unknown token)."""
        await self._call(lambda: self._store.delete_session(digest(token)))
