"""Domain errors of the gateway. None of them knows HTTP; `main.ERROR_STATUS` maps them to statuses.

GatewayError
├── ConfigError              bad GATEWAY_API_KEYS entry (raised at start-up)
├── RouteNotFound            no public prefix matches the path
├── BadPath                  dot segments or other unsafe path parts
├── BodyTooLarge             request body over GATEWAY_MAX_BODY_BYTES
├── AuthError
│   ├── MissingApiKey        no X-API-Key / Authorization: Bearer
│   ├── UnknownApiKey        a key that matches no configured key
│   └── ScopeDenied          a known key without the scope the route needs
├── RateLimited              the key's token bucket is empty (carries retry_after)
├── UpstreamsNotReady        /readyz: some upstream's /readyz is not 200 (carries upstreams)
└── UpstreamError            (carries the upstream's name)
    ├── UpstreamUnavailable  connect error / connection dropped
    └── UpstreamTimeout      connect or read timeout
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(GatewayError):
    pass


class RouteNotFound(GatewayError):
    pass


class BadPath(GatewayError):
    pass


class BodyTooLarge(GatewayError):
    pass


class AuthError(GatewayError):
    pass


class MissingApiKey(AuthError):
    pass


class UnknownApiKey(AuthError):
    pass


class ScopeDenied(AuthError):
    pass


class RateLimited(GatewayError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after:.2f}s")
        self.retry_after = retry_after


class UpstreamsNotReady(GatewayError):
    def __init__(self, upstreams: dict[str, str]) -> None:
        not_ready = sorted(name for name, status in upstreams.items() if status != "ready")
        super().__init__(f"not ready: {', '.join(not_ready)}")
        self.upstreams = upstreams


class UpstreamError(GatewayError):
    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"upstream {upstream!r}: {detail}")
        self.upstream = upstream


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass
