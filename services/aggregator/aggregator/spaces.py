"""Use cases of observations and spaces: record a frame's classification, read the fused state.

One observation is one transaction, in one pass: read the frame record and the space state,
fuse, view the new state at `now`, reconcile the space's alerts from that same state
(`alerting.reconcile`), and write all of it (frame record, state, history entry, events, alert
changes) in one MULTI/EXEC. The observation arrives typed (`ObservationIn`); it is serialised
once, for the idempotency digest and the history entry, and the result document is built once,
stored for repeats and answered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator import alerting
from aggregator.errors import (
    AggregatorError,
    BatchTooLarge,
    FrameConflict,
    ObservationRejected,
    SpaceNotFound,
    StoreUnavailable,
)
from aggregator.fusion import Reading, SpaceState, SpaceView, fuse, view
from aggregator.records import space_document, state_from_dict, state_to_dict
from aggregator.schemas import ObservationIn
from aggregator.shelter import Shelter
from aggregator.store import Reader
from aggregator.writes import Emit, ListPush, Op, Put, SetAdd

Json = dict[str, Any]


@dataclass(frozen=True)
class Recorded:
    """The result document (as first answered) and whether this frame id was known already."""

    result: Json
    duplicate: bool


@dataclass(frozen=True)
class BatchEntry:
    """One observation of a batch: what was recorded, or the error that refused it."""

    frame_id: str
    outcome: Recorded | AggregatorError | StoreUnavailable


def digest(observation: Json) -> str:
    return hashlib.sha256(json.dumps(observation, sort_keys=True).encode()).hexdigest()


def _reading(observation: ObservationIn, probabilities: dict[str, float]) -> Reading:
    return Reading(
        frame_id=observation.frame_id,
        camera_id=observation.camera_id,
        captured_at=observation.captured_at,
        label=observation.label,
        probabilities=probabilities,
    )


def _check_skew(reading: Reading, now: datetime, limit_s: float) -> None:
    ahead = (reading.captured_at - now).total_seconds()
    if ahead > limit_s:
        raise ObservationRejected(f"captured_at is {ahead:.0f}s in the future (limit {limit_s:g}s)")


async def record_observation(sh: Shelter, observation: ObservationIn) -> Recorded:
    """Fold one observation into its space; a known frame id returns the stored result."""
    now, body = sh.clock(), observation.model_dump(mode="json")
    reading = _reading(observation, body["probabilities"])
    _check_skew(reading, now, sh.settings.max_clock_skew_s)
    space_id, key, fingerprint = observation.space_id, sh.store.key, digest(body)
    frame_key, space_key = key("frame", reading.frame_id), key("space", space_id)

    async def step(r: Reader) -> tuple[tuple[Json, bool, list[Json]], list[Op]]:
        await r.watch(frame_key, space_key, *alerting.keys_read(sh, space_id))  # one round trip
        stored, raw = await r.json_many(frame_key, space_key)
        if stored is not None:
            if stored["digest"] != fingerprint:
                raise FrameConflict(f"frame {reading.frame_id} was recorded with another body")
            return (stored["result"], True, []), []
        before = SpaceState(space_id=space_id) if raw is None else state_from_dict(raw)
        after, outcome = fuse(before, reading, sh.fusion)
        seen = view(after, now, sh.fusion)
        doc = space_document(after, seen)
        result = {"frame_id": reading.frame_id, "space_id": space_id, "duplicate": False,
                  "outcome": outcome, "space": doc}  # fmt: skip
        entry = {**body, "outcome": outcome, "received_at": now.isoformat(),
                 "occupant": doc["occupant"], "confidence": doc["confidence"]}  # fmt: skip
        event = {**doc, "changed": after.occupant != before.occupant, "frame_id": reading.frame_id}
        alerts, alert_ops = await alerting.reconcile(r, sh, after, seen, now)
        ops: list[Op] = [
            Put(frame_key, {"digest": fingerprint, "result": result}, sh.settings.frame_ttl_s),
            Put(space_key, state_to_dict(after)),
            SetAdd(key("spaces"), space_id),
            ListPush(key("history", space_id), entry, sh.settings.history_max),
            Emit("space.updated", event),
            *alert_ops,
        ]
        return (result, False, alerts), ops

    result, duplicate, alerts = await sh.store.transact(step)
    alerting.log_changes(alerts)
    sh.metrics.observations.labels("duplicate" if duplicate else result["outcome"]).inc()
    return Recorded({**result, "duplicate": True} if duplicate else result, duplicate)


async def record_batch(sh: Shelter, observations: Sequence[ObservationIn]) -> list[BatchEntry]:
    """Each observation recorded on its own, in order; one's error does not stop the rest."""
    if len(observations) > sh.settings.batch_max:
        raise BatchTooLarge(f"a batch holds at most {sh.settings.batch_max} observations")
    entries: list[BatchEntry] = []
    for observation in observations:
        outcome: Recorded | AggregatorError | StoreUnavailable
        try:
            outcome = await record_observation(sh, observation)
        except (AggregatorError, StoreUnavailable) as exc:
            outcome = exc
        entries.append(BatchEntry(observation.frame_id, outcome))
    return entries


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
