"""Use cases of a space's past, for its page: the timeline of its fused occupant (a chart) and
the recent frames with what the classifier said of each. Both read the one capped list that
`spaces.record_observation` appends to (`history:{space}`, newest first, `history_max` entries),
so the storage per space is bounded by that setting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aggregator.shelter import Shelter
from aggregator.spaces import get_space

Json = dict[str, Any]


async def space_history(
    sh: Shelter, space_id: str, *, since: float | None, limit: int
) -> list[Json]:
    """The space's occupant and confidence after each observation, oldest first: the newest
    `limit` points after `since` (epoch s), from the kept entries (retention: `history_max`)."""
    await get_space(sh, space_id)
    entries = await sh.store.list_json(sh.store.key("history", space_id), sh.settings.history_max)
    points = [_point(e) for e in entries]
    chosen = [p for p in points if since is None or p["at"] > since][:limit]
    return chosen[::-1]


def _point(entry: Json) -> Json:
    return {
        "at": round(datetime.fromisoformat(entry["received_at"]).timestamp(), 3),
        "occupant": entry["occupant"],
        "confidence": entry["confidence"],
        "frame_id": entry["frame_id"],
        "camera_id": entry["camera_id"],
        "outcome": entry["outcome"],
    }


async def space_frames(sh: Shelter, space_id: str, limit: int) -> list[Json]:
    """The space's newest `limit` observations, newest first, as the classifier saw each frame
    (the same capped list as the history: `history_max` per space)."""
    await get_space(sh, space_id)
    entries = await sh.store.list_json(sh.store.key("history", space_id), limit)
    return [_frame(e) for e in entries]


def _frame(entry: Json) -> Json:
    probabilities: dict[str, float] = entry["probabilities"]
    return {
        "frame_id": entry["frame_id"],
        "camera_id": entry["camera_id"],
        "captured_at": entry["captured_at"],
        "received_at": entry["received_at"],
        "label": entry["label"],
        "confidence": probabilities.get(entry["label"], max(probabilities.values())),
        "probabilities": probabilities,
        "model": entry["model"],
        "model_version": entry["model_version"],
        "prediction_id": entry.get("prediction_id"),
        "role": entry.get("role"),
        "strategy": entry.get("strategy"),
        "outcome": entry["outcome"],
    }
