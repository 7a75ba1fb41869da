"""Domain errors of the gateway. None of them knows HTTP; `main.ERROR_STATUS` maps them to
statuses, and shelter-kit names each problem after its class (`RouteNotFound` ->
`https://shelter-watch.example/problems/route-not-found`, title "Route not found").

GatewayError
├── ConfigError              bad GATEWAY_API_KEYS entry (raised at start-up, never in a request)
├── RouteNotFound            no public prefix matches the path                          404
├── BadPath                  dot segments or other unsafe path parts                    400
├── AuthError
│   ├── Unauthenticated      (answered with WWW-Authenticate)                           401
│   │   ├── MissingApiKey    no X-API-Key / Authorization: Bearer
│   │   └── UnknownApiKey    a key that matches no configured key
│   └── ScopeDenied          a known key without the scope the route needs              403
├── RateLimited              the key's token bucket is empty (carries retry_after_s)    429
└── UpstreamError            (carries the upstream's name)
    ├── UpstreamUnavailable  connect error / connection dropped                         502
    └── UpstreamTimeout      connect or read timeout                                    504

BodyTooLarge                 request body over GATEWAY_MAX_BODY_BYTES                   413
                             (shelter-kit's own, raised by its bounded reader; re-exported here)
"""

from __future__ import annotations

import math

from shelter_kit.errors import BodyTooLarge

__all__ = [
    "AuthError",
    "BadPath",
    "BodyTooLarge",
    "ConfigError",
    "GatewayError",
    "MissingApiKey",
    "RateLimited",
    "RouteNotFound",
    "ScopeDenied",
    "Unauthenticated",
    "UnknownApiKey",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(GatewayError):
    pass


class RouteNotFound(GatewayError):
    pass


class BadPath(GatewayError):
    pass


class AuthError(GatewayError):
    pass


class Unauthenticated(AuthError):
    """No usable key: the answer says how to authenticate (RFC 9110 §11.6.1)."""

    problem_headers = {"WWW-Authenticate": 'Bearer realm="shelter-watch"'}


class MissingApiKey(Unauthenticated):
    pass


class UnknownApiKey(Unauthenticated):
    pass


class ScopeDenied(AuthError):
    pass


class RateLimited(GatewayError):
    """`wait_s` is the bucket's exact wait; `retry_after_s` the whole seconds a client is told
    (Retry-After counts whole seconds), so the detail and the header say the same."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.retry_after_s = max(1, math.ceil(wait_s))
        super().__init__(f"rate limit exceeded; retry after {self.retry_after_s}s")


class UpstreamError(GatewayError):
    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"upstream {upstream!r}: {detail}")
        self.upstream = upstream


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass
