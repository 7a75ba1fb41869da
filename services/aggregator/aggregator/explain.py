"""What a space's tile says beside its occupant: why it is `unknown`, which cameras fed it, its
area, and whether the registry agrees. Pure: the fusion state, its view, the animals, the time.

- `reason` (only when the occupant reads `unknown`), checked in this order:
  `no_frames` (no frame was ever fused for it), `stale` (no frame within `stale_after_s`),
  `cameras_disagree` (the newest recent frames of two or more cameras name different classes),
  `too_few_frames` (otherwise: the evidence has not yet held a class above `enter_threshold` for
  `min_run` frames in a row, or has decayed below `min_weight`).
- `cameras`: the cameras whose newest frame for the space is at most `stale_after_s` old.
- `area`: the space id without its last `-part` (`kennel-3` -> `kennel`, `room-a` -> `room`,
  `north-kennel-2` -> `north-kennel`); an id without `-` is its own area. The registry has no
  notion of area, so the naming convention is the one source.
- `mismatch` (`registry_disagrees`): False while the occupant is `unknown` or no animal is placed
  there. Otherwise, with animals placed that are not adopted, True when the occupant is none of
  their species (the other species, or `empty`); with adopted animals only, True when the space
  still reads their species.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.fusion import LABEL_TO_CLASS, UNKNOWN, FusionParams, SpaceState, SpaceView
from aggregator.registry import Animal

SEES = {"cat": "a cat", "dog": "a dog", "empty": "nobody"}


@dataclass(frozen=True)
class Reason:
    code: str
    text: str


def recent_cameras(state: SpaceState, now: datetime, params: FusionParams) -> list[str]:
    return sorted(
        cam
        for cam, reading in state.cameras.items()
        if (now - reading.captured_at).total_seconds() <= params.stale_after_s
    )


def area(space_id: str) -> str:
    head, sep, _ = space_id.rpartition("-")
    return head if sep and head else space_id


def reason(
    state: SpaceState, seen: SpaceView, now: datetime, params: FusionParams
) -> Reason | None:
    """Why the space reads `unknown` (None when it does not)."""
    if seen.occupant != UNKNOWN:
        return None
    if state.evidence_count == 0:
        return Reason("no_frames", "No camera has sent a frame of this space yet.")
    if seen.stale:
        return Reason("stale", _stale_text(state, now))
    disagree = _disagreement(state, now, params)
    if disagree is not None:
        return Reason("cameras_disagree", f"The cameras disagree: {disagree}.")
    return Reason("too_few_frames", _too_few_text(state, seen, params))


def _stale_text(state: SpaceState, now: datetime) -> str:
    if state.last_seen is None:
        return "No recent frame of this space has arrived in order yet."
    age = duration((now - state.last_seen).total_seconds())
    return f"The newest frame is too old to trust ({age} old)."


def _disagreement(state: SpaceState, now: datetime, params: FusionParams) -> str | None:
    says = {
        cam: LABEL_TO_CLASS.get(state.cameras[cam].label, "empty")
        for cam in recent_cameras(state, now, params)
    }
    if len(says) < 2 or len(set(says.values())) < 2:
        return None
    return ", ".join(f"{cam} sees {SEES[c]}" for cam, c in says.items())


def _too_few_text(state: SpaceState, seen: SpaceView, params: FusionParams) -> str:
    if state.candidate is not None:
        return (
            f"Not enough agreeing frames yet ({state.run} of {params.min_run}, "
            f"{SEES[state.candidate]} so far)."
        )
    top = max(seen.posterior, key=lambda c: seen.posterior[c])
    return (
        f"Not enough agreeing frames yet (best guess {SEES[top]} at "
        f"{seen.posterior[top]:.0%}, {params.enter_threshold:.0%} needed)."
    )


def placed(animals: Sequence[Animal]) -> list[Animal]:
    """The animals of a space, the one a tile shows first: not adopted before adopted, by name."""
    return sorted(animals, key=lambda a: (a.status == "adopted", a.name, a.id))


def mismatch(occupant: str, animals: Sequence[Animal]) -> bool:
    if occupant == UNKNOWN or not animals:
        return False
    here = {a.species for a in animals if a.status != "adopted"}
    if here:
        return occupant not in here
    return occupant in {a.species for a in animals}


def duration(seconds: float) -> str:
    """`45 seconds`, `5 minutes`, `2 hours 10 minutes`, `3 days` (rounded down)."""
    s = max(int(seconds), 0)
    if s < 60:
        return _plural(s, "second")
    if s < 3600:
        return _plural(s // 60, "minute")
    if s < 86400:
        hours, minutes = divmod(s // 60, 60)
        return _plural(hours, "hour") + (f" {_plural(minutes, 'minute')}" if minutes else "")
    return _plural(s // 86400, "day")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
