"""API keys and scopes. Keys live behind `KeyStore` so a Redis-backed store can replace the
in-memory one without touching the routes.

Scopes: `read` (GET/HEAD), `write` (every mutation), `camera` (only PUT /api/v1/cameras/{id}/frame),
`admin` (everything).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from gateway.errors import ConfigError, MissingApiKey, ScopeDenied, UnknownApiKey

SCOPES = frozenset({"read", "write", "camera", "admin"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CAMERA_FRAME = re.compile(r"^/api/v1/cameras/[^/]+/frame$")


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str
    scopes: frozenset[str]

    def __repr__(self) -> str:  # never print the secret
        return f"ApiKey(name={self.name!r}, scopes={sorted(self.scopes)})"


class KeyStore(Protocol):
    async def lookup(self, presented: str) -> ApiKey | None: ...


def parse_api_keys(raw: str) -> tuple[ApiKey, ...]:
    """Parse `name:key:scope1+scope2,...`; raises ConfigError naming the bad entry (not its key)."""
    keys: list[ApiKey] = []
    for index, entry in enumerate(e.strip() for e in raw.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3 or not all(parts):
            raise ConfigError(f"GATEWAY_API_KEYS entry {index} is not name:key:scope1+scope2")
        name, secret, scope_text = parts
        scopes = frozenset(scope_text.split("+"))
        if unknown := scopes - SCOPES:
            raise ConfigError(f"GATEWAY_API_KEYS entry {name!r}: unknown scopes {sorted(unknown)}")
        keys.append(ApiKey(name=name, secret=secret, scopes=scopes))
    if not keys:
        raise ConfigError("GATEWAY_API_KEYS holds no key")
    return tuple(keys)


class StaticKeyStore:
    """Keys from settings. Compares against every key in constant time (hmac.compare_digest)."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self._keys = keys

    async def lookup(self, presented: str) -> ApiKey | None:
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(key.secret.encode(), presented.encode()):
                found = key
        return found


def presented_key(headers: dict[str, str], query_key: str | None) -> str | None:
    """The key a request carries: X-API-Key, else Authorization: Bearer, else the query key."""
    if value := headers.get("x-api-key", "").strip():
        return value
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return query_key or None


def required_scopes(method: str, path: str) -> frozenset[str]:
    """The scopes any one of which lets `method path` through."""
    if method in SAFE_METHODS:
        return frozenset({"read", "admin"})
    if method == "PUT" and _CAMERA_FRAME.match(path):
        return frozenset({"camera", "write", "admin"})
    return frozenset({"write", "admin"})


async def authorize(store: KeyStore, presented: str | None, method: str, path: str) -> ApiKey:
    if presented is None:
        raise MissingApiKey("an API key is required (X-API-Key or Authorization: Bearer)")
    key = await store.lookup(presented)
    if key is None:
        raise UnknownApiKey("unknown API key")
    needed = required_scopes(method, path)
    if not key.scopes & needed:
        raise ScopeDenied(f"key {key.name!r} needs one of the scopes {sorted(needed)} for {method}")
    return key


def split_query_key(query: str, *, allowed: bool) -> tuple[str | None, str]:
    """Take `api_key` out of a query string (only where `allowed`: the SSE route, since
    EventSource cannot send headers). Returns (key, the query to forward)."""
    if not allowed or "api_key=" not in query:
        return None, query
    pairs = parse_qsl(query, keep_blank_values=True)
    key = next((v for k, v in pairs if k == "api_key"), None)
    return key, urlencode([(k, v) for k, v in pairs if k != "api_key"])
