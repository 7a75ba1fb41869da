"""The warnings beside an animal in the registry: what makes its space hard to trust. Pure.

For an animal that is not adopted and is placed in a space:
- `{space} has no camera`: camera-ingest's camera list (as the camera health poll last saw it)
  names no camera for the space, and no camera sent a frame of it within `stale_after_s`;
- `{space}'s camera {cam} is offline`: for each of its cameras that ingest reports offline;
- `The cameras see a dog in {space}, not {name}'s species`: the space's fused occupant
  disagrees with the animal (the space's `mismatch` rule, `explain.py`).
With `AGGREGATOR_INGEST_URL` unset, only the frames say which cameras a space has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator import explain
from aggregator.fusion import FusionParams, SpaceState, view
from aggregator.registry import Animal


@dataclass(frozen=True)
class Feeds:
    """What is known of the spaces' cameras: the fusion states, and ingest's camera list
    (camera id -> {space_id, online})."""

    states: Mapping[str, SpaceState]
    ingest: Mapping[str, Mapping[str, Any]]


def about(animal: Animal, feeds: Feeds, now: datetime, params: FusionParams) -> list[str]:
    space = animal.space_id
    if space is None or animal.status == "adopted":
        return []
    listed = sorted(cam for cam, doc in feeds.ingest.items() if doc.get("space_id") == space)
    state = feeds.states.get(space)
    recent = [] if state is None else explain.recent_cameras(state, now, params)
    found: list[str] = []
    if not listed and not recent:
        found.append(f"{space} has no camera")
    found += [
        f"{space}'s camera {cam} is offline"
        for cam in listed
        if not feeds.ingest[cam].get("online", True)
    ]
    if state is not None:
        occupant = view(state, now, params).occupant
        if explain.mismatch(occupant, [animal]):
            found.append(
                f"The cameras see {explain.SEES[occupant]} in {space}, "
                f"not {animal.name} the {animal.species}"
            )
    return found
