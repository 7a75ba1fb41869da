"""Wire models: what the aggregator reads (observations, animal edits) and what it answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
FrameId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Species = Literal["cat", "dog"]
Status = Literal["intake", "available", "reserved", "adopted"]
Occupant = Literal["cat", "dog", "empty", "unknown"]


class Probabilities(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cat: Probability
    dog: Probability
    other: Probability

    @model_validator(mode="after")
    def _sums_to_one(self) -> Probabilities:
        total = self.cat + self.dog + self.other
        if not 0.97 <= total <= 1.03:
            raise ValueError(f"probabilities must sum to 1 (they sum to {total:.3f})")
        return self


EARLIEST_CAPTURE = datetime(2000, 1, 1, tzinfo=UTC)  # no camera of ours saw earlier
CAPTURE_AHEAD = timedelta(minutes=5)  # clock skew allowed between a camera host and us


class ObservationIn(BaseModel):
    """One classified frame from the camera-ingest worker (other fields are ignored).
    `captured_at` is ISO 8601 text (a number such as -1 is not a time) from 2000 on, at most
    five minutes ahead of this clock: otherwise a 422."""

    model_config = ConfigDict(extra="ignore")
    frame_id: FrameId
    camera_id: Id
    space_id: Id
    captured_at: AwareDatetime
    label: Literal["cat", "dog", "other"]
    probabilities: Probabilities
    model: Annotated[str, Field(min_length=1, max_length=128)]
    model_version: Annotated[str, Field(min_length=1, max_length=64)]
    prediction_id: Annotated[str, Field(max_length=128)] | None = Field(
        None, description="The classifier's prediction id (quote it in its POST /v1/feedback)."
    )
    role: Annotated[str, Field(max_length=32)] | None = Field(
        None, description="What the answering version is in the deployment: primary, candidate."
    )
    strategy: Annotated[str, Field(max_length=32)] | None = Field(
        None, description="The classifier's deployment strategy (canary, ab, shadow, ...)."
    )

    @field_validator("captured_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        if not isinstance(value, str | datetime):
            raise ValueError("captured_at must be an ISO 8601 date-time string")
        return value

    @field_validator("captured_at")
    @classmethod
    def _bounded(cls, value: datetime) -> datetime:
        if value < EARLIEST_CAPTURE:
            raise ValueError(f"captured_at {value.isoformat()} is before {EARLIEST_CAPTURE:%Y}")
        if value > datetime.now(UTC) + CAPTURE_AHEAD:
            raise ValueError(f"captured_at {value.isoformat()} is in the future")
        return value


class ObservationBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    observations: Annotated[list[ObservationIn], Field(min_length=1)]


class IngestCameraStatus(BaseModel):
    """What the aggregator reads of camera-ingest's `CameraStatus` (its schemas.py owns it)."""

    model_config = ConfigDict(extra="ignore")
    state: Literal["online", "offline"] = "online"
    offline_since: AwareDatetime | None = None
    last_error: str | None = None
    frames_dead: int = 0
    last_dead_reason: str | None = None
    last_dead_at: AwareDatetime | None = None


class IngestCamera(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    space_id: str
    status: IngestCameraStatus | None = None


class IngestCameraList(BaseModel):
    """camera-ingest's `GET /v1/cameras`, as far as the camera health alerts read it."""

    model_config = ConfigDict(extra="ignore")
    cameras: list[IngestCamera]


class CameraReading(BaseModel):
    frame_id: str
    captured_at: str
    label: str
    probabilities: dict[str, float]


class AnimalRef(BaseModel):
    id: str
    name: str
    species: Species
    status: Status


Reason = Literal["no_frames", "too_few_frames", "stale", "cameras_disagree"]


class SpaceOut(BaseModel):
    """A space as its tile shows it (docs/aggregation.md, "What a space answers")."""

    space_id: str
    area: str = Field(
        description="The group its tile is drawn in: the id without its last `-part` "
        "(`kennel-3` -> `kennel`, `room-a` -> `room`).",
        examples=["kennel"],
    )
    occupant: Occupant
    confidence: float
    posterior: dict[str, float]
    reason: Reason | None = Field(
        description="Why the occupant is `unknown` (null otherwise): no frame fused yet, not "
        "enough agreeing frames yet, the newest frame too old, or its cameras see different "
        "occupants.",
    )
    reason_text: str | None = Field(
        description="`reason` as one sentence for staff.",
        examples=["Not enough agreeing frames yet (2 of 3, a dog so far)."],
    )
    evidence_count: int
    late_count: int
    observation_count: int
    cameras: list[str] = Field(
        description="The cameras whose newest frame of the space is at most "
        "AGGREGATOR_STALE_AFTER_S old.",
        examples=[["cam-3"]],
    )
    latest_frames: dict[str, CameraReading] = Field(
        description="Each camera that ever fed the space: its newest frame (the thumbnail is "
        "`GET /api/v1/frames/{frame_id}/image`)."
    )
    last_seen: str | None
    occupant_since: str | None
    stale: bool
    animal: AnimalRef | None = Field(
        description="The registry's animal placed here (not adopted first, then by name)."
    )
    animals: list[AnimalRef] = Field(description="Every animal the registry places here.")
    mismatch: bool = Field(
        description="The occupant disagrees with the registry: an animal that is not adopted "
        "is placed here and the space reads the other species or empty; or only adopted "
        "animals are placed here and it still reads their species. False while unknown or "
        "with no animal placed."
    )


class HistoryPoint(BaseModel):
    """The space's fused state right after one observation was recorded."""

    at: float = Field(description="When the observation was recorded (epoch seconds).")
    occupant: Occupant
    confidence: float
    frame_id: str
    camera_id: str
    outcome: Literal["fused", "late_fused", "late"]


class FrameOut(BaseModel):
    """One observation of a space: a frame and what the classifier said of it."""

    frame_id: str = Field(description="Its image: `GET /api/v1/frames/{frame_id}/image`.")
    camera_id: str
    captured_at: str
    received_at: str
    label: Literal["cat", "dog", "other"]
    confidence: float = Field(description="The classifier's probability of `label`.")
    probabilities: dict[str, float]
    model: str
    model_version: str
    prediction_id: str | None = Field(description="For the classifier's POST /v1/feedback.")
    role: str | None = Field(description="primary or candidate, when the classifier said.")
    strategy: str | None = Field(description="The classifier's deployment strategy then.")
    outcome: Literal["fused", "late_fused", "late"]


class ObservationResult(BaseModel):
    frame_id: str
    space_id: str
    duplicate: bool
    outcome: Literal["fused", "late_fused", "late"]
    space: SpaceOut


class BatchItem(BaseModel):
    """One result of a batch: `status` is what the single call would have answered."""

    status: int
    frame_id: str
    result: ObservationResult | None = None
    problem: dict[str, Any] | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]


class AnimalIn(BaseModel):
    """POST and PUT: the whole record (PUT replaces; `status` moves are validated)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    species: Species
    space_id: Id | None = None
    status: Status = "intake"
    notes: Annotated[str, Field(max_length=2000)] = ""


class AnimalPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # name, species, status: absent keeps them, null is refused, so the document offers no null
    name: Annotated[str, Field(min_length=1, max_length=100)] | SkipJsonSchema[None] = None
    species: Species | SkipJsonSchema[None] = None
    space_id: Id | None = None
    status: Status | SkipJsonSchema[None] = None
    notes: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _no_null_required(self) -> AnimalPatch:
        for name in ("name", "species", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class AnimalOut(BaseModel):
    id: str
    name: str
    species: Species
    space_id: str | None
    status: Status
    notes: str
    created_at: str
    updated_at: str
    status_changed_at: str
    warnings: list[str] = Field(
        default_factory=list,
        description="What makes its space hard to trust: no camera, a camera offline, the "
        "cameras seeing something else.",
        examples=[["kennel-9 has no camera"]],
    )


class AlertOut(BaseModel):
    id: str
    key: str
    kind: str
    space_id: str
    subject: str = Field(description="The animal id, the camera id, or `-` (the space).")
    message: str = Field(
        description="One sentence for staff, with the animal's name.",
        examples=[
            "Bella (dog) is registered in kennel-3 but the cameras have seen a cat for "
            "5 minutes (97% sure)"
        ],
    )
    status: Literal["active", "acked", "resolved"]
    raised_at: str
    acked_at: str | None
    resolved_at: str | None


class SpacesSummary(BaseModel):
    occupied: dict[str, int]
    empty: int
    unknown: int
    total: int


class SummaryOut(BaseModel):
    animals: dict[str, dict[str, int]]
    spaces: SpacesSummary
