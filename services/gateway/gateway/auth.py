"""Who is calling: the credential a request carries, and the verified `Principal` of a key.

A request carries a key in `X-API-Key`, else `Authorization: Bearer`, else a sign-in session
cookie (`sw_session`, sessions.py verifies it); a header wins over the cookie. A key in a URL
(`?api_key=`) is refused outright (`KeyInUrl`, 400), never looked at and never forwarded: URLs
end up in access logs, browser history and Referer headers (docs/security.md).
`Authenticator.verify` checks a key, in this order: the bootstrap admin key from settings
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
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import parse_qsl

from gateway.errors import (
    CsrfHeaderMissing,
    ExpiredApiKey,
    KeyInUrl,
    MissingApiKey,
    StoreUnavailable,
    UnknownApiKey,
)
from gateway.fallback import StoreHealth
from gateway.keys import BOOTSTRAP_ID, KeyRecord, Principal, digest, looks_like_secret
from gateway.permissions import Role

FALLBACK_ENTRIES = 10_000
SESSION_COOKIE = "sw_session"


class Via(StrEnum):
    KEY = "key"  # X-API-Key or Authorization: Bearer (or a key in a sign-in body)
    SESSION = "session"  # the sw_session cookie
    LINK = "link"  # a viewer link's token (in a sign-in body only)


@dataclass(frozen=True)
class Credential:
    via: Via
    value: str

    def __repr__(self) -> str:  # never the value, in a log line or a traceback
        return f"Credential(via={self.via.value!r})"


class SecretLookup(Protocol):
    def key_by_secret(self, secret_hash: str) -> Awaitable[KeyRecord | None]: ...


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request's headers carry: X-API-Key, else Authorization: Bearer."""
    if value := headers.get("x-api-key", "").strip():
        return value
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def presented(headers: Mapping[str, str], cookies: Mapping[str, str]) -> Credential | None:
    """The request's credential: a header key, else the session cookie, else None."""
    if key := presented_key(headers):
        return Credential(Via.KEY, key)
    if cookie := cookies.get(SESSION_COOKIE, "").strip():
        return Credential(Via.SESSION, cookie)
    return None


CSRF_HEADER, CSRF_VALUE = "x-requested-with", "shelter-watch"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_csrf(method: str, headers: Mapping[str, str]) -> None:
    """CsrfHeaderMissing for an unsafe method without `X-Requested-With: shelter-watch`. A
    cross-site page cannot send that header without a CORS preflight, which the gateway never
    grants; the cookie is also SameSite=Strict (belt and braces)."""
    if method not in SAFE_METHODS and headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise CsrfHeaderMissing(
            f"a request signed in by cookie that changes something needs {CSRF_HEADER}: "
            f"{CSRF_VALUE}"
        )


def refuse_key_in_query(query: str) -> None:
    """KeyInUrl when the query holds `api_key` (accepted once on the event stream, no more)."""
    names = (k for k, _ in parse_qsl(query, keep_blank_values=True))
    if "api_key" in query and "api_key" in names:
        raise KeyInUrl("send the key as X-API-Key or sign in (a cookie); never in a URL")


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
