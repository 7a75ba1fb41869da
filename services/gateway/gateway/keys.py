"""API keys: what a key is, how its secret is made and kept, and its lifecycle (issue, list,
rotate, revoke). No framework; the Redis layout is `store.py`'s.

A secret is `sw_` + 32 URL-safe characters from `secrets.token_urlsafe(24)`: 192 random bits.
It is shown once (in the answer that issues or rotates it) and kept only as its SHA-256.

Why SHA-256 and no slow KDF (bcrypt, scrypt, argon2): a slow KDF makes each guess at a *low-
entropy* password expensive for someone who stole the hashes. These secrets are not chosen by
people: 2^192 equally likely values, so a stolen hash cannot be reversed by guessing at any speed,
and the slowness would buy nothing. It would cost a lot: every request verifies its key, so a
100 ms KDF would make each request 100 ms slower and hand anyone a cheap way to burn our CPU. A
fast, unsalted hash also lets the hash itself be the lookup key (one Redis GET). The bootstrap
key from settings is the one a person may choose: it is never stored, and is compared in
constant time.

A key has an id (`key_` + 16 hex, not secret: logs, audit lines and rate-limit buckets name it),
a role, for `camera` keys the camera ids it is bound to, a label, and an optional expiry. Rotation
gives the same id and role a new secret (the old one stops working at once); revocation deletes
the key. Expired keys stay listed (`expired: true`) for RETENTION_S, then Redis drops them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from gateway.errors import KeyNotFound
from gateway.permissions import Role

SECRET_PREFIX = "sw_"
SECRET_BYTES = 24  # 192 bits; token_urlsafe(24) is 32 characters
KEY_ID = re.compile(r"key_[0-9a-f]{16}")
BOOTSTRAP_ID = "bootstrap"
RETENTION_S = 7 * 86400  # how long an expired key stays listed


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def looks_like_secret(presented: str) -> bool:
    """Cheap shape check before any lookup: a guess of the wrong shape costs no Redis call."""
    return presented.startswith(SECRET_PREFIX) and len(presented) == len(SECRET_PREFIX) + 32


def digest(secret: str) -> str:
    """The one form in which a secret is kept (see the module docstring for why SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    id: str
    role: Role
    cameras: tuple[str, ...]
    label: str
    created_at: float
    expires_at: float | None
    rotated_at: float | None
    secret_hash: str

    def __repr__(self) -> str:  # no hash in logs or tracebacks either
        return f"KeyRecord(id={self.id!r}, role={self.role.value!r})"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def drop_at(self) -> float | None:
        """When Redis may forget the record (an expired key stays listed RETENTION_S)."""
        return None if self.expires_at is None else self.expires_at + RETENTION_S

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "role": self.role.value})

    @classmethod
    def from_json(cls, raw: str | bytes) -> KeyRecord:
        doc: dict[str, Any] = json.loads(raw)
        return cls(**{**doc, "role": Role(doc["role"]), "cameras": tuple(doc["cameras"])})


@dataclass(frozen=True)
class Principal:
    """Who is calling: what the gate, the audit line and the rate limit need (no secret)."""

    key_id: str
    role: Role
    cameras: frozenset[str] = frozenset()

    @classmethod
    def of(cls, record: KeyRecord) -> Principal:
        return cls(record.id, record.role, frozenset(record.cameras))


class KeyStore(Protocol):  # store.GatewayStore; plain `def`s: its methods are decorated
    def insert_key(self, record: KeyRecord) -> Awaitable[bool]: ...
    def key(self, key_id: str) -> Awaitable[KeyRecord | None]: ...
    def keys(self) -> Awaitable[list[KeyRecord]]: ...
    def delete_key(self, record: KeyRecord) -> Awaitable[int]: ...
    def replace_key(self, old: KeyRecord, new: KeyRecord) -> Awaitable[int]: ...


class Keys:
    """The key lifecycle over a `KeyStore`; `clock` is wall time (expiries are absolute)."""

    def __init__(self, store: KeyStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def issue(
        self, *, role: Role, cameras: tuple[str, ...], label: str, expires_in_s: int | None
    ) -> tuple[KeyRecord, str]:
        """A new key and its secret (the only time the secret is seen)."""
        now = self._clock()
        while True:  # ids are random: a clash is astronomically rare, but never overwrite
            secret = new_secret()
            record = KeyRecord(
                id="key_" + secrets.token_hex(8),
                role=role,
                cameras=tuple(dict.fromkeys(cameras)),
                label=label,
                created_at=now,
                expires_at=None if expires_in_s is None else now + expires_in_s,
                rotated_at=None,
                secret_hash=digest(secret),
            )
            if await self._store.insert_key(record):
                return record, secret

    async def get(self, key_id: str) -> KeyRecord:
        record = await self._store.key(key_id) if KEY_ID.fullmatch(key_id) else None
        if record is None:
            raise KeyNotFound(f"no key with id {key_id!r}")
        return record

    async def all(self) -> list[KeyRecord]:
        return sorted(await self._store.keys(), key=lambda r: (r.created_at, r.id))

    async def rotate(self, key_id: str) -> tuple[KeyRecord, str]:
        """A new secret for the same id, role and cameras; the old secret stops working."""
        while True:  # -1: it changed under us (a concurrent rotation): read it again
            old = await self.get(key_id)
            secret = new_secret()
            new = replace(old, secret_hash=digest(secret), rotated_at=self._clock())
            done = await self._store.replace_key(old, new)
            if done == 1:
                return new, secret
            if done == 0:
                raise KeyNotFound(f"no key with id {key_id!r}")

    async def revoke(self, key_id: str) -> None:
        while True:
            done = await self._store.delete_key(await self.get(key_id))
            if done == 1:
                return
            if done == 0:
                raise KeyNotFound(f"no key with id {key_id!r}")
