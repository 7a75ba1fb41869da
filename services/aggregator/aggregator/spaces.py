"""Use cases of observations and spaces: record a frame's classification, read the fused state."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from aggregator import alerting
from aggregator.errors import FrameConflict, ObservationRejected, SpaceNotFound
from aggregator.fusion import Reading, SpaceState, SpaceView, fuse, view
from aggregator.records import space_document, state_from_dict, state_to_dict
from aggregator.shelter import Shelter
from aggregator.store import Emit, ListPush, Op, Put, Reader, SetAdd

logger = logging.getLogger(__name__)
Json = dict[str, Any]


def digest(observation: Json) -> str:
    return hashlib.sha256(json.dumps(observation, sort_keys=True).encode()).hexdigest()


async def record_observation(sh: Shelter, observation: Json) -> tuple[Json, bool]:
    """Fold one observation into its space; a known frame id returns the stored result."""
    now = sh.clock()
    reading = Reading(
        frame_id=observation["frame_id"],
        camera_id=observation["camera_id"],
        captured_at=datetime.fromisoformat(observation["captured_at"]),
        label=observation["label"],
        probabilities=observation["probabilities"],
    )
    ahead = (reading.captured_at - now).total_seconds()
    if ahead > sh.settings.max_clock_skew_s:
        raise ObservationRejected(
            f"captured_at is {ahead:.0f}s in the future (limit {sh.settings.max_clock_skew_s:g}s)"
        )
    space_id, key = observation["space_id"], sh.store.key
    frame_key, space_key = key("frame", reading.frame_id), key("space", space_id)
    fingerprint = digest(observation)

    async def step(r: Reader) -> tuple[tuple[Json, bool], list[Op]]:
        stored = await r.json(frame_key)
        if stored is not None:
            if stored["digest"] != fingerprint:
                raise FrameConflict(f"frame {reading.frame_id} was recorded with another body")
            return (stored["result"], True), []
        raw = await r.json(space_key)
        before = SpaceState(space_id=space_id) if raw is None else state_from_dict(raw)
        after, outcome = fuse(before, reading, sh.fusion)
        doc = space_document(after, view(after, now, sh.fusion))
        result = {
            "frame_id": reading.frame_id,
            "space_id": space_id,
            "duplicate": False,
            "outcome": outcome,
            "space": doc,
        }
        entry = {
            **observation,
            "outcome": outcome,
            "received_at": now.isoformat(),
            "occupant": doc["occupant"],
            "confidence": doc["confidence"],
        }
        event = {**doc, "changed": after.occupant != before.occupant, "frame_id": reading.frame_id}
        ops: list[Op] = [
            Put(frame_key, {"digest": fingerprint, "result": result}, sh.settings.frame_ttl_s),
            Put(space_key, state_to_dict(after)),
            SetAdd(key("spaces"), space_id),
            ListPush(key("history", space_id), entry, sh.settings.history_max),
            Emit("space.updated", event),
        ]
        return (result, False), ops

    result, duplicate = await sh.store.transact(step)
    if duplicate:
        return {**result, "duplicate": True}, True
    await alerting.evaluate_quietly(sh, scope={space_id})
    return result, False


async def load_states(sh: Shelter, space_ids: list[str]) -> dict[str, SpaceState]:
    raws = await sh.store.get_many_json([sh.store.key("space", s) for s in space_ids])
    return {s: state_from_dict(raw) for s, raw in zip(space_ids, raws, strict=True) if raw}


async def space_ids(sh: Shelter) -> list[str]:
    return sorted(await sh.store.members(sh.store.key("spaces")))


async def seen_spaces(sh: Shelter) -> dict[str, tuple[SpaceState, SpaceView]]:
    now = sh.clock()
    states = await load_states(sh, await space_ids(sh))
    return {s: (state, view(state, now, sh.fusion)) for s, state in states.items()}


async def list_spaces(sh: Shelter) -> list[Json]:
    return [space_document(state, seen) for state, seen in (await seen_spaces(sh)).values()]


async def get_space(sh: Shelter, space_id: str) -> Json:
    states = await load_states(sh, [space_id])
    if space_id not in states:
        raise SpaceNotFound(f"no observation has named space {space_id!r}")
    state = states[space_id]
    return space_document(state, view(state, sh.clock(), sh.fusion))


async def space_history(sh: Shelter, space_id: str, limit: int) -> list[Json]:
    """The newest `limit` observations of a space, newest first (retention: `history_max`)."""
    await get_space(sh, space_id)
    return await sh.store.list_json(sh.store.key("history", space_id), limit)
