"""JSON records of the fusion state as kept in Redis, and the space document served on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aggregator.fusion import Reading, SpaceState, SpaceView


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


def space_document(state: SpaceState, seen: SpaceView) -> dict[str, Any]:
    """The wire form of a space (docs/architecture.md, `GET /v1/spaces/{id}`)."""
    cameras = {
        cam: {k: v for k, v in reading_to_dict(r).items() if k != "camera_id"}
        for cam, r in sorted(state.cameras.items())
    }
    return {
        "space_id": state.space_id,
        "occupant": seen.occupant,
        "confidence": round(seen.confidence, 4),
        "posterior": {c: round(p, 4) for c, p in seen.posterior.items()},
        "evidence_count": state.evidence_count,
        "late_count": state.late_count,
        "observation_count": state.observation_count,
        "cameras": cameras,
        "last_seen": _iso(state.last_seen),
        "occupant_since": _iso(state.occupant_since),
        "stale": seen.stale,
    }
