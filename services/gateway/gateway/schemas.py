"""The wire models of the gateway's own routes (the key store, sign-in sessions, viewer links).
Upstream schemas are not here: the gateway passes their bodies through untouched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.keys import KeyRecord
from gateway.permissions import Role

# camera-ingest's camera id rule (a path segment: no slash, not only dots)
ID_PATTERN = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
CameraId = Annotated[str, Field(max_length=64, pattern=ID_PATTERN)]
TEN_YEARS_S = 10 * 365 * 86400


class KeyIn(BaseModel):
    """What to issue. `cameras` only, and at least one, for a `camera` key."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    cameras: list[CameraId] = Field(default_factory=list, max_length=100)
    label: str = Field(default="", max_length=200)
    expires_in_s: int | None = Field(default=None, ge=1, le=TEN_YEARS_S)

    @model_validator(mode="after")
    def _cameras_match_the_role(self) -> Self:
        if self.role is Role.CAMERA and not self.cameras:
            raise ValueError("a camera key needs at least one camera id in `cameras`")
        if self.role is not Role.CAMERA and self.cameras:
            raise ValueError("only a camera key is bound to cameras")
        return self


def _iso(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


class KeyOut(BaseModel):
    """A key as listed: never its secret, never its hash."""

    id: str
    role: Role
    cameras: list[str]
    label: str
    created_at: datetime
    expires_at: datetime | None
    rotated_at: datetime | None
    expired: bool

    @classmethod
    def of(cls, record: KeyRecord, *, now: float) -> KeyOut:
        return cls(
            id=record.id,
            role=record.role,
            cameras=list(record.cameras),
            label=record.label,
            created_at=datetime.fromtimestamp(record.created_at, UTC),
            expires_at=_iso(record.expires_at),
            rotated_at=_iso(record.rotated_at),
            expired=record.expired(now),
        )


class KeyCreated(KeyOut):
    """The answer to issuing or rotating: the only time the secret is shown."""

    secret: str


class KeyList(BaseModel):
    keys: list[KeyOut]


class SessionIn(BaseModel):
    """Sign in with a key or with a viewer link's token (one of the two; neither is a 401)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=512)
    link: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _one_of_the_two(self) -> Self:
        if self.key is not None and self.link is not None:
            raise ValueError("send `key` or `link`, not both")
        return self


class SessionOut(BaseModel):
    """Who the caller is: the key (or link) behind the session, its role and permissions."""

    role: Role
    name: str
    key_id: str
    expires_at: int | None  # epoch seconds; null for a key sent as a header that never expires
    permissions: list[str]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    ttl_s: int = Field(default=30 * 86400, ge=60, le=365 * 86400)


class LinkOut(BaseModel):
    """A viewer link as listed: never its token."""

    id: str
    name: str
    created_by: str
    created_at: int
    expires_at: int


class LinkCreated(BaseModel):
    """The answer to creating a link: the only time its URL (the token) is shown."""

    id: str
    name: str
    url: str  # /#link=<token>: the token in the fragment, which no browser sends a server
    expires_at: int


class LinkList(BaseModel):
    links: list[LinkOut]
