"""Domain errors of the gateway. None of them knows HTTP; `main.ERROR_STATUS` maps them to
statuses, and shelter-kit names each problem after its class (`RouteNotFound` ->
`https://shelter-watch.example/problems/route-not-found`, title "Route not found").

GatewayError
├── RouteNotFound            no public prefix matches the path                          404
├── BadPath                  dot segments or other unsafe path parts                    400
├── KeyInUrl                 `?api_key=` in a query: keys in URLs end up in logs        400
├── AuthError
│   ├── Unauthenticated      (answered with WWW-Authenticate)                           401
│   │   ├── MissingApiKey    no X-API-Key / Authorization: Bearer / session cookie
│   │   ├── UnknownApiKey    a key that matches no key (never issued, revoked, rotated away)
│   │   ├── ExpiredApiKey    a key past its expiry
│   │   ├── InvalidSession   a session cookie that is unknown, expired, signed out, or whose
│   │   │                    key was revoked or rotated (or whose viewer link was revoked)
│   │   └── UnknownLink      a viewer-link token that matches no live link
│   ├── PermissionDenied     a known key whose role does not allow the route            403
│   └── CsrfHeaderMissing    a cookie-authenticated unsafe request without              403
│                            `X-Requested-With: shelter-watch`
├── MethodNotAllowed         a public path whose rows answer other methods (+ Allow)    405
├── KeyNotFound              no issued key has that id (the key admin routes)           404
├── LinkNotFound             no live viewer link has that id                            404
├── RateLimited              the key's or the address's bucket is empty                 429
└── UpstreamError            (carries the upstream's name)
    ├── UpstreamUnavailable  connect error / connection dropped                         502
    ├── UpstreamCircuitOpen  the upstream's breaker is open (carries retry_after_s)     503
    └── UpstreamTimeout      connect or read timeout                                    504

shelter-kit's own, mapped by it:
BodyTooLarge                 request body over its route's limit                        413
StoreUnavailable             Redis is down where no fallback exists (issuing a key, or  503
                             a key this process has not verified before)

No message ever carries a presented key or a secret: they name key ids and roles only.
"""

from __future__ import annotations

import math

from shelter_kit.errors import BodyTooLarge, StoreUnavailable

__all__ = [
    "AuthError",
    "BadPath",
    "BodyTooLarge",
    "CsrfHeaderMissing",
    "ExpiredApiKey",
    "GatewayError",
    "InvalidSession",
    "KeyInUrl",
    "KeyNotFound",
    "LinkNotFound",
    "MethodNotAllowed",
    "MissingApiKey",
    "PermissionDenied",
    "RateLimited",
    "RouteNotFound",
    "StoreUnavailable",
    "Unauthenticated",
    "UnknownApiKey",
    "UnknownLink",
    "UpstreamCircuitOpen",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


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


class InvalidSession(Unauthenticated):
    pass


class UnknownLink(Unauthenticated):
    pass


class CsrfHeaderMissing(AuthError):
    pass


class KeyInUrl(GatewayError):
    pass


class LinkNotFound(GatewayError):
    pass


class UnknownApiKey(Unauthenticated):
    pass


class ExpiredApiKey(Unauthenticated):
    pass


class PermissionDenied(AuthError):
    pass


class MethodNotAllowed(GatewayError):
    """A public path that some row answers, but not with this method."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.problem_headers = {"Allow": ", ".join(allowed)}


class KeyNotFound(GatewayError):
    pass


def _whole_seconds(wait_s: float) -> int:
    """Retry-After counts whole seconds, at least one."""
    return max(1, math.ceil(wait_s))


class RateLimited(GatewayError):
    """`wait_s` is the bucket's exact wait; `retry_after_s` the whole seconds a client is told
    (Retry-After counts whole seconds), so the detail and the header say the same."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.retry_after_s = _whole_seconds(wait_s)
        super().__init__(f"rate limit exceeded; retry after {self.retry_after_s}s")


class UpstreamError(GatewayError):
    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"upstream {upstream!r}: {detail}")
        self.upstream = upstream


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamCircuitOpen(UpstreamError):
    def __init__(self, upstream: str, wait_s: float) -> None:
        self.retry_after_s = _whole_seconds(wait_s)
        super().__init__(
            upstream, f"circuit open after repeated failures; retry after {self.retry_after_s}s"
        )


class UpstreamTimeout(UpstreamError):
    pass
