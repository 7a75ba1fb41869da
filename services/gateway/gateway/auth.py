"""Who is calling: the key a request carries, and the verified `Principal` it stands for.

A key comes in `X-API-Key`, else `Authorization: Bearer`, else (on the event stream only, since
a browser's EventSource cannot send headers) the `api_key` query parameter, which is never
forwarded. `Authenticator.verify` checks, in this order: the bootstrap admin key from settings
(constant-time compare of SHA-256 digests, no Redis), the shape of an issued secret (a guess of
the wrong shape costs no Redis call), then the key store by the secret's hash, then the expiry.

There is no per-process cache while Redis answers: a revoked or rotated-away secret fails on the
very next request on every replica. Only while Redis is down does a replica fall back to the
records it verified itself within `fallback_s` (see fallback.py); a key it never saw is a 503
then, not a 401: the key may well be valid.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from gateway.errors import ExpiredApiKey, MissingApiKey, StoreUnavailable, UnknownApiKey
from gateway.fallback import StoreHealth
from gateway.keys import BOOTSTRAP_ID, KeyRecord, Principal, digest, looks_like_secret
from gateway.permissions import Role

FALLBACK_ENTRIES = 10_000


class SecretLookup(Protocol):
    def key_by_secret(self, secret_hash: str) -> Awaitable[KeyRecord | None]: ...


def presented_key(headers: Mapping[str, str], query_key: str | None) -> str | None:
    """The key a request carries: X-API-Key, else Authorization: Bearer, else the query key."""
    if value := headers.get("x-api-key", "").strip():
        return value
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return query_key or None


def split_query_key(query: str, *, allowed: bool) -> tuple[str | None, str]:
    """Take `api_key` out of a query string (only where `allowed`: the SSE route). Returns
    (key, the query to forward)."""
    if not allowed or "api_key=" not in query:
        return None, query
    pairs = parse_qsl(query, keep_blank_values=True)
    key = next((v for k, v in pairs if k == "api_key"), None)
    return key, urlencode([(k, v) for k, v in pairs if k != "api_key"])


class Authenticator:
    def __init__(
        self,
        store: SecretLookup,
        health: StoreHealth,
        *,
        bootstrap_key: str | None,
        fallback_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._health = health
        self._bootstrap = digest(bootstrap_key).encode() if bootstrap_key else None
        self._fallback_s = fallback_s
        self._clock = clock
        self._known: OrderedDict[str, tuple[KeyRecord, float]] = OrderedDict()

    async def verify(self, presented: str | None) -> Principal:
        if not presented:
            raise MissingApiKey("an API key is required (X-API-Key or Authorization: Bearer)")
        secret_hash = digest(presented)
        if self._bootstrap and hmac.compare_digest(secret_hash.encode(), self._bootstrap):
            return Principal(BOOTSTRAP_ID, Role.ADMIN)
        if not looks_like_secret(presented):
            raise UnknownApiKey("unknown API key")
        record = await self._lookup(secret_hash)
        if record is None:
            raise UnknownApiKey("unknown API key")
        if record.expired(self._clock()):
            raise ExpiredApiKey(f"API key {record.id} has expired")
        return Principal.of(record)

    async def _lookup(self, secret_hash: str) -> KeyRecord | None:
        try:
            record = await self._health.call(lambda: self._store.key_by_secret(secret_hash))
        except StoreUnavailable:
            return self._last_known(secret_hash)
        self._remember(secret_hash, record)
        return record

    def _remember(self, secret_hash: str, record: KeyRecord | None) -> None:
        if record is None:  # revoked or rotated away: never fall back to it
            self._known.pop(secret_hash, None)
            return
        self._known[secret_hash] = (record, self._clock())
        self._known.move_to_end(secret_hash)
        while len(self._known) > FALLBACK_ENTRIES:
            self._known.popitem(last=False)

    def _last_known(self, secret_hash: str) -> KeyRecord:
        known = self._known.get(secret_hash)
        if known is None or self._fallback_s <= 0 or self._clock() - known[1] > self._fallback_s:
            raise StoreUnavailable("cannot verify this API key while the key store is down")
        self._health.fallback("keys")
        return known[0]
