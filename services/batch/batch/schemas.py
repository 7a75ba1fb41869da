"""Wire models the batch service produces (jobs), and the fields it reads from the classifier and
from camera-ingest's frame archive (only those: the producers own their schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE_STATES = ("queued", "running")
# Camera and space ids as camera-ingest accepts them (1-64 of [A-Za-z0-9._-], not only dots).
ID_PATTERN = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
Token = Annotated[str, Field(max_length=64, pattern=ID_PATTERN)]
TARGET_DOC = "`name/version`, `name` (its newest version), or absent: the current deployment"
Target = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?$")]


# --- what a client sends --------------------------------------------------------------------


class UrlSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["urls"]
    urls: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(min_length=1)


class FramesSource(BaseModel):
    """camera-ingest's frame archive: frames of these cameras and/or spaces (all when both are
    empty), captured in [since, until)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["frames"]
    camera_ids: list[Token] = Field(default_factory=list, max_length=100)
    space_ids: list[Token] = Field(default_factory=list, max_length=100)
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        """ISO 8601 text only: a number such as 0 is not taken as a Unix time."""
        text = isinstance(value, str) and value[4:5] == "-"
        if value is not None and not (text or isinstance(value, datetime)):
            raise ValueError("must be an ISO 8601 date-time, such as 2026-11-28T10:00:00Z")
        return value

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class JobIn(BaseModel):
    """A job over URLs or archived frames (an archive is uploaded as the body itself)."""

    model_config = ConfigDict(extra="forbid")

    source: UrlSource | FramesSource = Field(discriminator="kind")
    target: Target | None = Field(None, description=TARGET_DOC)


# --- what the service answers ---------------------------------------------------------------


class TargetView(BaseModel):
    model: str
    version: str
    requested: str = Field(description="what the job asked for: `name/version` or `current`")


class Counts(BaseModel):
    total: int
    done: int = Field(description="items classified")
    failed: int = Field(description="items that could not be (see `reasons`)")
    remaining: int
    reasons: dict[str, int] = Field(description="failed items by reason")


class FeedbackAgreement(BaseModel):
    labelled: int = Field(description="compared frames that carry a staff label")
    candidate_agreed: int
    primary_agreed: int
    candidate_agreement: float | None
    primary_agreement: float | None


class Comparison(BaseModel):
    """A replay (source `frames`): the candidate against what the primary said at the time."""

    compared: int = Field(description="frames classified now that the primary had classified")
    agreed: int
    agreement: float | None
    unclassified_at_the_time: int = Field(description="frames the primary never classified")
    confusion: dict[str, dict[str, int]] = Field(description="primary label -> candidate label")
    disagreeing: int
    disagreeing_frames: list[str] = Field(description="their frame ids (the first ones)")
    feedback: FeedbackAgreement


class JobView(BaseModel):
    job_id: str
    state: JobState
    source: dict[str, object] = Field(description="what the items came from (kind, summary)")
    target: TargetView
    counts: Counts
    rate_per_s: float | None = Field(description="items per second since the job started")
    eta_s: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="why a job failed as a whole")
    comparison: Comparison | None = None


class JobList(BaseModel):
    jobs: list[JobView]


# --- what the batch service reads from the classifier ---------------------------------------


class ModelVersionRead(BaseModel):
    version: str
    labels: list[str]
    roles: list[str] = Field(default_factory=list)  # "primary" marks the current deployment


class ModelRead(BaseModel):
    name: str
    default_version: str
    versions: list[ModelVersionRead]


class ModelListRead(BaseModel):
    default_model: str | None
    models: list[ModelRead]


class ItemErrorRead(BaseModel):
    type: str
    detail: str


class BatchItemRead(BaseModel):
    index: int
    label: str | None = None
    probabilities: dict[str, float] | None = None
    error: ItemErrorRead | None = None


class BatchRead(BaseModel):
    model: str
    version: str
    results: list[BatchItemRead]


# --- what it reads from camera-ingest's frame archive ---------------------------------------


class ClassificationRead(BaseModel):
    label: str


class ArchivedFrameRead(BaseModel):
    frame_id: Annotated[str, Field(min_length=1, max_length=128)]
    classification: ClassificationRead | None = None
    feedback_label: str | None = None  # present once staff feedback exists (being built)


class ArchivePageRead(BaseModel):
    frames: list[ArchivedFrameRead]
    next_cursor: str | None = None
