"""Wire models camera-ingest produces (cameras, frames, outbox), and what it reads from others."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, Self
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

if TYPE_CHECKING:
    from camera_ingest.archive_index import ArchivedFrame
    from camera_ingest.outbox import OutboxRecord

# A camera or space id: 1-64 of [A-Za-z0-9._-], not only dots (`.` and `..` would be path
# segments in /v1/cameras/{id}). The routes check path ids with the same rule.
ID_PATTERN = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
ID_MAX_LENGTH = 64
Token = Annotated[str, Field(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
FrameStatus = Literal["queued", "classified", "delivered", "dead"]
# A frame id as the archive routes accept it (`framestore.FRAME_ID`: never a path of its own),
# and the listing's cursor: `{captured_ms:015d}-{frame_id}`, opaque to clients.
FRAME_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
CURSOR_PATTERN = r"^[0-9]{15}-[A-Za-z0-9_-]{1,128}$"


class BasicAuth(BaseModel):
    """HTTP basic credentials for a camera's snapshot URL. Write-only: stored apart from the URL,
    sent only in the snapshot request's Authorization header, answered as `SnapshotAuthView`."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=256, pattern=r"^[^:\x00-\x1f\x7f]*$")  # RFC 7617: no colon
    password: SecretStr = Field(max_length=1024)


class SnapshotAuthView(BaseModel):
    """What an answer shows of the credentials: the username, never the password."""

    username: str
    password: Literal["***"] = "***"


def split_credentials(url: AnyHttpUrl | None) -> tuple[AnyHttpUrl | None, BasicAuth | None]:
    """`http://user:pa%40ss@host/x` -> (`http://host/x`, user / pa@ss); other URLs unchanged."""
    if url is None or (url.username is None and url.password is None):
        return url, None
    parts = urlsplit(str(url))
    bare = AnyHttpUrl(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
    try:
        auth = BasicAuth(username=unquote(url.username or ""), password=unquote(url.password or ""))
    except ValidationError:  # its message would quote the credentials: say what, not which
        msg = "the credentials in snapshot_url are not valid basic credentials"
        raise ValueError(msg) from None
    return bare, auth


class _Credentials(BaseModel):
    """Credentials embedded in snapshot_url move to snapshot_auth, in every model that has both."""

    snapshot_url: AnyHttpUrl | None = None
    snapshot_auth: BasicAuth | None = Field(
        None,
        description="HTTP basic credentials for snapshot_url (or give them as user:password@ in "
        "the URL). Never answered: answers show the username and `***`.",
    )

    @model_validator(mode="after")
    def _credentials_apart(self) -> Self:
        if "snapshot_url" not in self.model_fields_set:
            return self
        url, embedded = split_credentials(self.snapshot_url)
        if embedded is not None:
            if self.snapshot_auth is not None:
                raise ValueError("credentials given twice: in snapshot_url and in snapshot_auth")
            self.snapshot_url, self.snapshot_auth = url, embedded  # both now in model_fields_set
        return self


class CameraSpec(_Credentials):
    """What a client sets on a camera (PUT body; POST adds the id)."""

    model_config = ConfigDict(extra="forbid")

    space_id: Token
    mode: Literal["push", "poll"] = "push"
    interval_s: float = Field(5.0, ge=0.05, le=86_400)
    enabled: StrictBool = True  # `"enabled": 0` or "yes" is a 422, not a boolean

    @model_validator(mode="after")
    def _poll_needs_url(self) -> Self:
        if self.mode == "poll" and self.snapshot_url is None:
            raise ValueError("a camera in poll mode needs a snapshot_url (http or https)")
        if self.snapshot_auth is not None and self.snapshot_url is None:
            raise ValueError("snapshot_auth needs a snapshot_url")
        return self


class CameraIn(CameraSpec):
    """A camera's configuration as ingest holds it (credentials included: never answered)."""

    id: Token


class CameraPatch(_Credentials):
    """Fields to change. A snapshot_url on another host than the camera's needs its credentials
    again (snapshot_auth, or null to drop them): a patch must not send them to a new host."""

    model_config = ConfigDict(extra="forbid")

    # Absent means "keep"; null is refused (the patched camera must validate), so the
    # document does not offer null (SkipJsonSchema).
    space_id: Token | SkipJsonSchema[None] = None
    mode: Literal["push", "poll"] | SkipJsonSchema[None] = None
    # the bounds on the float alone: on the union, pydantic compared null with 0.05 (a 500)
    interval_s: Annotated[float, Field(ge=0.05, le=86_400)] | SkipJsonSchema[None] = None
    enabled: StrictBool | SkipJsonSchema[None] = None


class FrameCounts(BaseModel):
    """Intake outcomes: each pushed or polled frame is exactly one of these."""

    accepted: int = 0
    skipped: int = 0
    failed: int = 0


class CameraStatus(BaseModel):
    state: Literal["online", "offline"]
    offline_since: str | None = Field(
        None,
        description="offline: since the first failure of the current streak (polled), the last "
        "frame + INGEST_PUSH_OFFLINE_AFTER_S (pushed), or registration (never a frame)",
    )
    last_frame_at: str | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    frames: FrameCounts = FrameCounts()
    frames_dead: int = Field(
        0, description="times a frame of this camera went to the dead-letter set (after intake)"
    )
    last_dead_reason: str | None = None
    last_dead_at: str | None = None
    frame_rate_per_min: float = Field(
        0.0,
        description="Frames accepted per minute, over the current minute and the 5 before it "
        "(or since the camera was registered, if later; at least one minute).",
    )


class Camera(BaseModel):
    """A camera as answered: the URL without credentials, the credentials redacted."""

    id: str
    space_id: str
    mode: Literal["push", "poll"]
    snapshot_url: AnyHttpUrl | None = None
    snapshot_auth: SnapshotAuthView | None = None
    interval_s: float
    enabled: bool
    status: CameraStatus | None = None

    @classmethod
    def view(cls, config: CameraIn, status: CameraStatus | None = None) -> Camera:
        auth = config.snapshot_auth
        return cls(
            **config.model_dump(exclude={"snapshot_auth"}),
            snapshot_auth=SnapshotAuthView(username=auth.username) if auth else None,
            status=status,
        )


class CameraList(BaseModel):
    cameras: list[Camera]


class Classification(BaseModel):
    """What ingest reads from the classifier's `POST /v1/predict` answer (`prediction_id` is
    kept with the archived frame, for feedback and replays; None for frames classified before)."""

    label: str
    probabilities: dict[str, float]
    model: str
    version: str
    prediction_id: str | None = None
    role: str | None = None
    strategy: str | None = None


class FrameAccepted(BaseModel):
    frame_id: str
    camera_id: str
    status: FrameStatus = "queued"
    duplicate: bool = False


class FrameView(BaseModel):
    frame_id: str
    camera_id: str
    space_id: str
    status: FrameStatus
    source: str
    captured_at: str
    attempts: int
    last_error: str | None = None
    classification: Classification | None = None

    @classmethod
    def from_record(cls, record: OutboxRecord) -> FrameView:
        """The public view of the outbox's typed record (the same names, fewer fields)."""
        return cls.model_validate(record, from_attributes=True)


class FrameList(BaseModel):
    frames: list[FrameView]


class Redriven(BaseModel):
    redriven: list[str]


class OutboxView(BaseModel):
    depth: int
    max_depth: int
    oldest_age_s: float | None
    pending: int
    dead: int
    breakers: dict[str, str]


class ArchivedFrameView(BaseModel):
    """One frame of the archive listing (`GET /v1/frames/archive`); the batch service reads
    exactly these names."""

    frame_id: str
    camera_id: str
    space_id: str
    captured_at: str
    content_type: str
    bytes: int
    classification: Classification | None

    @classmethod
    def from_frame(cls, frame: ArchivedFrame) -> ArchivedFrameView:
        return cls(
            frame_id=frame.frame_id,
            camera_id=frame.camera_id,
            space_id=frame.space_id,
            captured_at=frame.captured_at,
            content_type=frame.content_type,
            bytes=frame.size,
            classification=frame.classification,
        )


class ArchivePage(BaseModel):
    frames: list[ArchivedFrameView]
    next_cursor: str | None = Field(
        description="pass it as `cursor` for the next page; null on the last page"
    )


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ArchiveQuery(BaseModel):
    """The archive listing's query: frames captured in [since, until), in capture order."""

    camera_id: Token | None = None
    space_id: Token | None = None
    since: AwareDatetime | None = Field(None, description="ISO 8601 with a timezone, inclusive")
    until: AwareDatetime | None = Field(None, description="ISO 8601 with a timezone, exclusive")
    cursor: str | None = Field(None, pattern=CURSOR_PATTERN, description="a next_cursor")
    limit: int = Field(100, ge=1, le=1000)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        text = isinstance(value, str) and ISO_DATE.match(value)
        if value is not None and not (text or isinstance(value, datetime)):
            raise ValueError("must be an ISO 8601 date-time with a timezone (not a Unix time)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class Observation(BaseModel):
    """The body ingest sends to the aggregator's `POST /v1/observations`."""

    frame_id: str
    camera_id: str
    space_id: str
    captured_at: str
    label: str
    probabilities: dict[str, float]
    model: str
    model_version: str
    prediction_id: str | None = None  # the classifier's bookkeeping, shown beside the frame
    role: str | None = None
    strategy: str | None = None
