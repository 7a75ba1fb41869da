"""What the classifier records about its traffic, as plain values (the store writes them).

- `Outcome`: one run of a version on one image (answered, or as a shadow): latency, model error.
- `Comparison`: one image that both the primary and the candidate labelled.
- `PredictionRecord`: one answered prediction, kept for the retention so feedback finds it.
- `FeedbackOutcome`: what recording a feedback did.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Outcome:
    version: str
    rollout: int | None  # None: outside any rollout (a request that named its model)
    seconds: float
    error: bool


@dataclass(frozen=True)
class Comparison:
    candidate: str
    rollout: int
    primary_label: str
    candidate_label: str
    prediction_id: str | None


@dataclass(frozen=True)
class PredictionRecord:
    prediction_id: str
    version: str
    rollout: int | None
    role: str
    strategy: str
    label: str
    probabilities: dict[str, float]
    camera: str | None
    at: float

    def fields(self) -> dict[str, str]:
        """As Redis hash fields (strings; no field for an absent camera or rollout)."""
        raw = asdict(self)
        raw["probabilities"] = json.dumps(self.probabilities)
        return {k: str(v) for k, v in raw.items() if v is not None}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> PredictionRecord:
        return cls(
            prediction_id=fields["prediction_id"],
            version=fields["version"],
            rollout=int(fields["rollout"]) if "rollout" in fields else None,
            role=fields["role"],
            strategy=fields["strategy"],
            label=fields["label"],
            probabilities=json.loads(fields["probabilities"]),
            camera=fields.get("camera"),
            at=float(fields["at"]),
        )


Event = Outcome | Comparison | PredictionRecord


@dataclass(frozen=True)
class FeedbackOutcome:
    status: str  # "new", "same" (the same label again), "conflict" (another label was stored)
    label: str  # the label stored for the prediction
