"""Wire models camera-ingest produces (cameras, frames, outbox), and what it reads from others."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from camera_ingest.outbox import OutboxRecord

# A camera or space id: 1-64 of [A-Za-z0-9._-], not only dots (`.` and `..` would be path
# segments in /v1/cameras/{id}). The routes check path ids with the same rule.
ID_PATTERN = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
ID_MAX_LENGTH = 64
Token = Annotated[str, Field(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
FrameStatus = Literal["queued", "classified", "delivered", "dead"]


class CameraSpec(BaseModel):
    """What a client sets on a camera (PUT body; POST adds the id)."""

    model_config = ConfigDict(extra="forbid")

    space_id: Token
    mode: Literal["push", "poll"] = "push"
    snapshot_url: AnyHttpUrl | None = None
    interval_s: float = Field(5.0, ge=0.05, le=86_400)
    enabled: bool = True

    @model_validator(mode="after")
    def _poll_needs_url(self) -> CameraSpec:
        if self.mode == "poll" and self.snapshot_url is None:
            raise ValueError("a camera in poll mode needs a snapshot_url (http or https)")
        return self


class CameraIn(CameraSpec):
    id: Token


class CameraPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    space_id: Token | None = None
    mode: Literal["push", "poll"] | None = None
    snapshot_url: AnyHttpUrl | None = None
    interval_s: float | None = Field(None, ge=0.05, le=86_400)
    enabled: bool | None = None


class FrameCounts(BaseModel):
    accepted: int = 0
    skipped: int = 0
    failed: int = 0


class CameraStatus(BaseModel):
    state: Literal["online", "offline"]
    last_frame_at: str | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    frames: FrameCounts = FrameCounts()


class Camera(CameraIn):
    status: CameraStatus | None = None


class CameraList(BaseModel):
    cameras: list[Camera]


class Classification(BaseModel):
    """What ingest reads from the classifier's `POST /v1/predict` answer."""

    label: str
    probabilities: dict[str, float]
    model: str
    version: str


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
