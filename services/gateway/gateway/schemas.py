"""Wire models the gateway produces itself (everything under /api is the upstreams' own)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    upstreams: dict[str, str]


class Problem(BaseModel):
    """RFC 9457 problem details, as every service returns them."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
