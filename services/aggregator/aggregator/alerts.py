"""Alert rules: which conditions hold now, given the spaces, the registry and the time. Pure.

Each condition has a stable key (`kind:space_id:subject`); the store raises an alert when a key
appears and resolves it when the key disappears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aggregator.explain import duration
from aggregator.fusion import SpaceState, SpaceView
from aggregator.registry import Animal

KINDS = ("species_mismatch", "animal_not_seen", "space_stale", "camera_stale", "adopted_occupied")


@dataclass(frozen=True)
class AlertParams:
    mismatch_confidence: float = 0.9
    mismatch_after_s: float = 60.0
    not_seen_after_s: float = 300.0
    stale_after_s: float = 120.0
    adopted_occupied_after_s: float = 300.0


@dataclass(frozen=True)
class Condition:
    key: str
    kind: str
    space_id: str
    subject: str
    message: str


def evaluate(
    *,
    spaces: Mapping[str, tuple[SpaceState, SpaceView]],
    animals: Iterable[Animal],
    now: datetime,
    params: AlertParams,
) -> dict[str, Condition]:
    """Every alert condition that holds at `now`, keyed by its stable key."""
    found: list[Condition] = []
    for space_id, (state, seen) in spaces.items():
        found.extend(_staleness(space_id, state, seen, now, params))
    for animal in animals:
        if animal.space_id is None or animal.space_id not in spaces:
            continue
        state, seen = spaces[animal.space_id]
        found.extend(_animal_conditions(animal, state, seen, now, params))
    return {c.key: c for c in found}


def _since(moment: datetime | None, now: datetime) -> float:
    return float("inf") if moment is None else (now - moment).total_seconds()


def _staleness(
    space_id: str, state: SpaceState, seen: SpaceView, now: datetime, params: AlertParams
) -> list[Condition]:
    if seen.stale:
        msg = f"No camera has sent a frame of {space_id} for over {duration(params.stale_after_s)}"
        return [Condition(f"space_stale:{space_id}:-", "space_stale", space_id, "-", msg)]
    # The space still hears from some camera: name the ones that went quiet.
    return [
        Condition(
            f"camera_stale:{space_id}:{cam}",
            "camera_stale",
            space_id,
            cam,
            f"Camera {cam} has sent no frame of {space_id} for over "
            f"{duration(params.stale_after_s)}",
        )
        for cam, reading in sorted(state.cameras.items())
        if _since(reading.captured_at, now) > params.stale_after_s
    ]


def _animal_conditions(
    animal: Animal, state: SpaceState, seen: SpaceView, now: datetime, params: AlertParams
) -> list[Condition]:
    space, who = animal.space_id or "", f"{animal.name} ({animal.species})"
    held = _since(state.occupant_since, now)
    out: list[Condition] = []
    if animal.status == "adopted":
        since = min(held, _since(animal.status_changed_at, now))
        if seen.occupant == animal.species and since >= params.adopted_occupied_after_s:
            msg = (
                f"{who} is marked adopted but the cameras have still seen a {animal.species} "
                f"in {space} for {duration(since)}"
            )
            out.append(
                Condition(
                    f"adopted_occupied:{space}:{animal.id}",
                    "adopted_occupied",
                    space,
                    animal.id,
                    msg,
                )
            )
        return out
    other = {"cat": "dog", "dog": "cat"}[animal.species]
    if (
        seen.occupant == other
        and seen.confidence >= params.mismatch_confidence
        and held >= params.mismatch_after_s
    ):
        msg = (
            f"{who} is registered in {space} but the cameras have seen a {other} for "
            f"{duration(held)} ({seen.confidence:.0%} sure)"
        )
        out.append(
            Condition(
                f"species_mismatch:{space}:{animal.id}", "species_mismatch", space, animal.id, msg
            )
        )
    if seen.occupant == "empty" and held >= params.not_seen_after_s:
        msg = f"{who} is registered in {space} but the cameras have seen it empty for "
        msg += duration(held)
        out.append(
            Condition(
                f"animal_not_seen:{space}:{animal.id}", "animal_not_seen", space, animal.id, msg
            )
        )
    return out
