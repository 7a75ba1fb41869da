"""Evidence fusion for one space: pure functions, no I/O, no clock (time is passed in).

Each observation adds, per class (cat, dog, empty), the log of its probability (floored) to a
running score that decays with a half-life. The posterior is the softmax of the scores. The settled
occupant changes only with hysteresis: a new class must reach `enter_threshold` for `min_run`
consecutive fused frames; the settled one is dropped to `unknown` when it falls below
`leave_threshold`. docs/aggregation.md has the full algorithm and a worked example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

CLASSES: tuple[str, ...] = ("cat", "dog", "empty")
UNKNOWN = "unknown"
# The classifier's `other` (nobody in view) is evidence for an empty space.
LABEL_TO_CLASS = {"cat": "cat", "dog": "dog", "other": "empty"}

Outcome = Literal["fused", "late_fused", "late"]


@dataclass(frozen=True)
class FusionParams:
    half_life_s: float = 60.0
    enter_threshold: float = 0.9
    leave_threshold: float = 0.6
    min_run: int = 3
    min_weight: float = 1.5
    prob_floor: float = 0.01
    max_margin: float = 12.0
    late_tolerance_s: float = 2.0
    stale_after_s: float = 120.0


@dataclass(frozen=True)
class Reading:
    """One camera's classification of one frame (probabilities keyed cat/dog/other)."""

    frame_id: str
    camera_id: str
    captured_at: datetime
    label: str
    probabilities: dict[str, float]


@dataclass(frozen=True)
class SpaceState:
    space_id: str
    scores: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0.0))
    weight: float = 0.0
    evidence_at: datetime | None = None
    occupant: str = UNKNOWN
    occupant_since: datetime | None = None
    candidate: str | None = None
    run: int = 0
    evidence_count: int = 0  # readings fused into the scores
    late_count: int = 0  # readings that arrived late (fused at a discount, or only recorded)
    observation_count: int = 0  # every distinct reading accepted for the space, late or not
    cameras: dict[str, Reading] = field(default_factory=dict)
    last_seen: datetime | None = None


@dataclass(frozen=True)
class SpaceView:
    """What a reader sees at `now`: the state with decay and staleness applied."""

    occupant: str
    confidence: float
    posterior: dict[str, float]
    stale: bool


def decay_factor(elapsed_s: float, half_life_s: float) -> float:
    return float(0.5 ** (max(elapsed_s, 0.0) / half_life_s))


def softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    exps = {c: math.exp(s - top) for c, s in scores.items()}
    total = sum(exps.values())
    return {c: e / total for c, e in exps.items()}


def log_evidence(probabilities: dict[str, float], floor: float) -> dict[str, float]:
    """Per-class log-likelihood of one frame; the floor caps what one frame can say."""
    return {LABEL_TO_CLASS[k]: math.log(max(p, floor)) for k, p in probabilities.items()}


def fuse(state: SpaceState, reading: Reading, params: FusionParams) -> tuple[SpaceState, Outcome]:
    """Fold one reading into the state. Late readings never move the state backward."""
    cameras = _with_camera(state.cameras, reading)
    last_seen = _latest(state.last_seen, reading.captured_at)
    if state.evidence_at is None:
        age = 0.0
    else:
        age = (state.evidence_at - reading.captured_at).total_seconds()
    if age > params.late_tolerance_s:
        late = replace(
            state,
            cameras=cameras,
            late_count=state.late_count + 1,
            observation_count=state.observation_count + 1,
        )
        return late, "late"
    evidence = log_evidence(reading.probabilities, params.prob_floor)
    if age <= 0:  # in order: decay what we have to the new time, add the frame at full weight
        keep = decay_factor(-age, params.half_life_s)
        scores = {c: state.scores[c] * keep + evidence[c] for c in CLASSES}
        weight, evidence_at = state.weight * keep + 1.0, reading.captured_at
    else:  # slightly late (clock skew between cameras): add it already decayed by its age
        w = decay_factor(age, params.half_life_s)
        scores = {c: state.scores[c] + evidence[c] * w for c in CLASSES}
        weight, evidence_at = state.weight + w, state.evidence_at or reading.captured_at
    top = max(scores.values())
    fused = replace(
        state,
        # Softmax is shift-invariant: keep the leader at 0, and clamp the others at -max_margin
        # so a long-settled space can still change within a few frames.
        scores={c: max(s - top, -params.max_margin) for c, s in scores.items()},
        weight=weight,
        evidence_at=evidence_at,
        evidence_count=state.evidence_count + 1,
        late_count=state.late_count + (1 if age > 0 else 0),
        observation_count=state.observation_count + 1,
        cameras=cameras,
        last_seen=last_seen,
    )
    says = max(evidence, key=lambda c: evidence[c])
    decided = decide(fused, reading.captured_at if age <= 0 else fused.evidence_at, says, params)
    return decided, "fused" if age <= 0 else "late_fused"


def decide(state: SpaceState, at: datetime | None, says: str, params: FusionParams) -> SpaceState:
    """Hysteresis: leave below `leave_threshold`; enter after `min_run` consecutive frames that
    each say the new class (`says`) while the fused posterior holds it above `enter_threshold`."""
    posterior = softmax(state.scores)
    occupant, since = state.occupant, state.occupant_since
    if occupant != UNKNOWN and posterior[occupant] < params.leave_threshold:
        occupant, since = UNKNOWN, at
    top = max(posterior, key=lambda c: posterior[c])
    strong = posterior[top] >= params.enter_threshold and state.weight >= params.min_weight
    strong = strong and says == top
    if top == occupant or not strong:
        return replace(state, occupant=occupant, occupant_since=since, candidate=None, run=0)
    run = state.run + 1 if state.candidate == top else 1
    if run >= params.min_run:
        return replace(state, occupant=top, occupant_since=at, candidate=None, run=0)
    return replace(state, occupant=occupant, occupant_since=since, candidate=top, run=run)


def view(state: SpaceState, now: datetime, params: FusionParams) -> SpaceView:
    """The state as seen at `now`: evidence decayed to now; `unknown` when weak or stale."""
    elapsed = 0.0 if state.evidence_at is None else (now - state.evidence_at).total_seconds()
    keep = decay_factor(elapsed, params.half_life_s)
    posterior = softmax({c: s * keep for c, s in state.scores.items()})
    silent = None if state.last_seen is None else (now - state.last_seen).total_seconds()
    stale = silent is None or silent > params.stale_after_s
    weak = state.weight * keep < params.min_weight
    occupant = UNKNOWN if stale or weak else state.occupant
    confidence = 0.0 if occupant == UNKNOWN else posterior[occupant]
    return SpaceView(occupant=occupant, confidence=confidence, posterior=posterior, stale=stale)


def _with_camera(cameras: dict[str, Reading], reading: Reading) -> dict[str, Reading]:
    """Keep each camera's newest reading; an older one from the same camera changes nothing."""
    current = cameras.get(reading.camera_id)
    if current is not None and current.captured_at > reading.captured_at:
        return cameras
    return {**cameras, reading.camera_id: reading}


def _latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
