"""JSON records of the fusion state as kept in Redis, and the space document served on the wire."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator import explain
from aggregator.fusion import FusionParams, Reading, SpaceState, SpaceView
from aggregator.registry import Animal


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def reading_to_dict(reading: Reading) -> dict[str, Any]:
    return {
        "frame_id": reading.frame_id,
        "camera_id": reading.camera_id,
        "captured_at": reading.captured_at.isoformat(),
        "label": reading.label,
        "probabilities": reading.probabilities,
    }


def reading_from_dict(data: dict[str, Any]) -> Reading:
    return Reading(
        frame_id=data["frame_id"],
        camera_id=data["camera_id"],
        captured_at=datetime.fromisoformat(data["captured_at"]),
        label=data["label"],
        probabilities=data["probabilities"],
    )


def state_to_dict(state: SpaceState) -> dict[str, Any]:
    return {
        "space_id": state.space_id,
        "scores": state.scores,
        "weight": state.weight,
        "evidence_at": _iso(state.evidence_at),
        "occupant": state.occupant,
        "occupant_since": _iso(state.occupant_since),
        "candidate": state.candidate,
        "run": state.run,
        "evidence_count": state.evidence_count,
        "late_count": state.late_count,
        "observation_count": state.observation_count,
        "cameras": {cam: reading_to_dict(r) for cam, r in state.cameras.items()},
        "last_seen": _iso(state.last_seen),
    }


def state_from_dict(data: dict[str, Any]) -> SpaceState:
    return SpaceState(
        space_id=data["space_id"],
        scores=data["scores"],
        weight=data["weight"],
        evidence_at=_time(data["evidence_at"]),
        occupant=data["occupant"],
        occupant_since=_time(data["occupant_since"]),
        candidate=data["candidate"],
        run=data["run"],
        evidence_count=data["evidence_count"],
        late_count=data["late_count"],
        observation_count=data.get("observation_count", 0),
        cameras={cam: reading_from_dict(r) for cam, r in data["cameras"].items()},
        last_seen=_time(data["last_seen"]),
    )


def space_document(
    state: SpaceState,
    seen: SpaceView,
    *,
    now: datetime,
    params: FusionParams,
    animals: Sequence[Animal] = (),
) -> dict[str, Any]:
    """The wire form of a space (docs/architecture.md, `GET /v1/spaces/{id}`); `explain` says
    what `reason`, `cameras`, `area` and `mismatch` mean."""
    latest = {
        cam: {k: v for k, v in reading_to_dict(r).items() if k != "camera_id"}
        for cam, r in sorted(state.cameras.items())
    }
    why = explain.reason(state, seen, now, params)
    shown = explain.placed(animals)
    return {
        "space_id": state.space_id,
        "area": explain.area(state.space_id),
        "occupant": seen.occupant,
        "confidence": round(seen.confidence, 4),
        "posterior": {c: round(p, 4) for c, p in seen.posterior.items()},
        "reason": None if why is None else why.code,
        "reason_text": None if why is None else why.text,
        "evidence_count": state.evidence_count,
        "late_count": state.late_count,
        "observation_count": state.observation_count,
        "cameras": explain.recent_cameras(state, now, params),
        "latest_frames": latest,
        "last_seen": _iso(state.last_seen),
        "occupant_since": _iso(state.occupant_since),
        "stale": seen.stale,
        "animal": _animal_ref(shown[0]) if shown else None,
        "animals": [_animal_ref(a) for a in shown],
        "mismatch": explain.mismatch(seen.occupant, shown),
    }


def _animal_ref(animal: Animal) -> dict[str, Any]:
    return {
        "id": animal.id,
        "name": animal.name,
        "species": animal.species,
        "status": animal.status,
    }


def upgraded_result(result: dict[str, Any]) -> dict[str, Any]:
    """A result stored before `cameras` became a list (it was camera id -> newest reading)."""
    space = result.get("space", {})
    if not isinstance(space.get("cameras"), dict):
        return result
    legacy = {"area": explain.area(space["space_id"]), "reason": None, "reason_text": None,
              "latest_frames": space["cameras"], "cameras": sorted(space["cameras"]),
              "animal": None, "animals": [], "mismatch": False}  # fmt: skip
    return {**result, "space": {**space, **legacy}}
