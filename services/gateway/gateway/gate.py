"""The door every `/api` request passes, proxied or the gateway's own, in this order:

1. no credential: the client address pays a token (429 when its bucket is empty), then 401;
2. a credential (a key, a session cookie, a viewer link's token), from an address whose bucket
   is empty: 429 before it is looked up;
3. it is verified (a key by `auth.Authenticator`, a cookie or a link by `sessions.Sessions`); a
   failure costs the address a token: 401, or 429 once the address's bucket is empty (300 wrong
   keys in a burst see 429s, not 300 401s);
4. the verified key pays a token from its own bucket (its role's limit): 429;
5. the permission table (`permissions`) decides: 403 when no row lets this key through.

Requests to the public routes (`/readyz`, `/openapi.json`, the dashboard) pay their address's
token through `anonymous`. Nothing here waits on an upstream: every refusal comes first.
"""

from __future__ import annotations

from gateway.auth import Authenticator, Credential, Via
from gateway.config import Limit
from gateway.errors import (
    ExpiredApiKey,
    InvalidSession,
    MethodNotAllowed,
    MissingApiKey,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    UnknownLink,
)
from gateway.keys import Principal
from gateway.metrics import GatewayMetrics
from gateway.permissions import Role, Route, allows, match, methods_at
from gateway.ratelimit import Limiter, address_bucket, key_bucket
from gateway.sessions import Sessions

_REASONS: dict[type[Exception], str] = {
    MissingApiKey: "missing_key",
    ExpiredApiKey: "expired_key",
    InvalidSession: "invalid_session",
    UnknownLink: "unknown_link",
}


class Gate:
    def __init__(
        self,
        *,
        authenticator: Authenticator,
        sessions: Sessions,
        limiter: Limiter,
        role_limits: dict[Role, Limit],
        address_limit: Limit,
        metrics: GatewayMetrics,
    ) -> None:
        self._auth = authenticator
        self._sessions = sessions
        self._limiter = limiter
        self._roles = role_limits
        self._address = address_limit
        self._metrics = metrics

    async def anonymous(self, client: str) -> None:
        """A request without a key (a public route): its address pays."""
        await self._charge_address(client, take=True)

    async def authenticate(self, presented: Credential | None, *, client: str) -> Principal:
        if presented is None:
            await self.anonymous(client)
        else:
            await self._charge_address(client, take=False)
        try:
            return await self._verify(presented)
        except Unauthenticated as exc:
            self._reject(_REASONS.get(type(exc), "unknown_key"))
            if presented is not None:
                await self._charge_address(client, take=True)
            raise

    async def _verify(self, presented: Credential | None) -> Principal:
        if presented is None:
            raise MissingApiKey(
                "an API key is required (X-API-Key or Authorization: Bearer) or a session"
            )
        if presented.via is Via.SESSION:
            return await self._sessions.verify(presented.value)
        if presented.via is Via.LINK:
            return await self._sessions.link_principal(presented.value)
        return await self._auth.verify(presented.value)

    async def authorize(self, principal: Principal, method: str, raw_path: str) -> Route:
        """The route's row when `principal` may call it (its key's bucket pays first)."""
        try:
            await self._limiter.take(key_bucket(principal.key_id), self._roles[principal.role])
        except RateLimited:
            self._reject("rate_limited_key")
            raise
        found = match(method, raw_path)
        if found is None and (allowed := methods_at(raw_path)):
            self._reject("method_not_allowed")
            raise MethodNotAllowed(f"{method} is not answered on {raw_path}", allowed)
        if found is None or not allows(principal.role, principal.cameras, *found):
            self._reject("forbidden")
            what = "no public route" if found is None else "its role does not allow it"
            raise PermissionDenied(
                f"key {principal.key_id} (role {principal.role.value}) may not "
                f"{method} {raw_path}: {what}"
            )
        return found[0]

    async def _charge_address(self, client: str, *, take: bool) -> None:
        try:
            if take:
                await self._limiter.take(address_bucket(client), self._address)
            else:
                await self._limiter.check(address_bucket(client), self._address)
        except RateLimited:
            self._reject("rate_limited_address")
            raise

    def _reject(self, reason: str) -> None:
        self._metrics.rejections.labels(reason).inc()
