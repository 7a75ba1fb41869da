"""Wire models: what the aggregator reads (observations, animal edits) and what it answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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


class ObservationIn(BaseModel):
    """One classified frame from the camera-ingest worker (other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")
    frame_id: FrameId
    camera_id: Id
    space_id: Id
    captured_at: AwareDatetime
    label: Literal["cat", "dog", "other"]
    probabilities: Probabilities
    model: Annotated[str, Field(min_length=1, max_length=128)]
    model_version: Annotated[str, Field(min_length=1, max_length=64)]


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


class SpaceOut(BaseModel):
    space_id: str
    occupant: Occupant
    confidence: float
    posterior: dict[str, float]
    evidence_count: int
    late_count: int
    observation_count: int
    cameras: dict[str, CameraReading]
    last_seen: str | None
    occupant_since: str | None
    stale: bool


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
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    species: Species | None = None
    space_id: Id | None = None
    status: Status | None = None
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


class AlertOut(BaseModel):
    id: str
    key: str
    kind: str
    space_id: str
    subject: str
    message: str
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
