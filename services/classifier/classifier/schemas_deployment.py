"""Wire models of the deployment, registry-upload and feedback routes.

`DeploymentView` (GET /v1/deployment) is shaped for a dashboard panel: one row per version
(role, share, requests, latency, errors, agreement, feedback accuracy, the bandit's posterior)
and one primary-vs-candidate comparison (agreement, the confusion table, disagreeing ids).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from classifier.schemas import ModelVersion
from classifier.strategy import DeploymentSpec


class LatencyView(BaseModel):
    p50_ms: float | None
    p95_ms: float | None


class FeedbackView(BaseModel):
    count: int
    correct: int
    accuracy: float | None = Field(description="Over all of the version's feedback.")


class PosteriorView(BaseModel):
    alpha: float
    beta: float
    mean: float


class VersionView(BaseModel):
    version: str = Field(examples=["efficientnet-lite2-pets/1"])
    model: str
    model_version: str
    role: str = Field(examples=["candidate"])
    status: str = Field(description="ready, loading, failed, or missing (not on this replica)")
    target_share: float | None = Field(description="Share of answers the spec gives it.")
    share: float | None = Field(description="Share of this rollout's answers it gave (fleet).")
    requests: int = Field(description="Images it ran in this rollout (as a shadow: copies).")
    errors: int
    error_rate: float | None
    latency: LatencyView
    compared: int = Field(description="Images compared with the primary (candidate only).")
    agreement: float | None
    feedback: FeedbackView
    posterior: PosteriorView | None = Field(description="The bandit's Beta posterior.")


class ComparisonView(BaseModel):
    primary: str
    candidate: str
    compared: int
    agreed: int
    agreement: float | None
    confusion: dict[str, dict[str, int]] = Field(
        description="Rows: the primary's label; columns: the candidate's."
    )
    disagreements: list[str] = Field(description="The latest prediction ids they disagreed on.")


class StoreView(BaseModel):
    status: str = Field(description="ok, unavailable, not-configured or not-synced")
    detail: str | None
    last_sync_at: datetime | None


class DeploymentView(BaseModel):
    generation: int
    rollout: int
    strategy: str
    spec: DeploymentSpec
    previous_primary: str | None
    updated_at: datetime | None
    updated_by: str | None
    store: StoreView
    versions: list[VersionView]
    comparison: ComparisonView | None
    verdict: str | None = Field(description="Why the canary would roll back now, if it would.")


class HistoryEntry(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    generation: int
    at: datetime
    by: str | None = Field(description="The key id that made the change; null: automatic.")
    action: str = Field(examples=["put", "promote", "rollback", "auto-rollback"])
    from_: DeploymentSpec | None = Field(alias="from")
    to: DeploymentSpec
    reason: str | None


class History(BaseModel):
    entries: list[HistoryEntry]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    label: Literal["cat", "dog", "other"]


class FeedbackResponse(BaseModel):
    prediction_id: str
    label: str
    predicted: str
    model: str
    version: str
    correct: bool
    rewarded: bool = Field(description="Counted as the bandit's reward.")
    duplicate: bool = Field(description="The same feedback was recorded before.")


class UploadResponse(BaseModel):
    name: str
    created: bool = Field(description="False when the very same version was stored before.")
    version: ModelVersion
