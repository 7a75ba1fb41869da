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
import re
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
from aggregator.records import space_document, state_from_dict, state_to_dict, upgraded_result
from aggregator.registry import Animal
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


# What a frame's identity is: a repeat that differs only in the classifier's bookkeeping
# (prediction id, arm) is the same observation.
NOT_DIGESTED = ("prediction_id", "role", "strategy")


def digest(observation: Json) -> str:
    core = {k: v for k, v in observation.items() if k not in NOT_DIGESTED}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


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
    now, body = sh.clock(), observation.model_dump(mode="json", exclude_none=True)
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
            return (upgraded_result(stored["result"]), True, []), []
        before = SpaceState(space_id=space_id) if raw is None else state_from_dict(raw)
        after, outcome = fuse(before, reading, sh.fusion)
        seen = view(after, now, sh.fusion)
        animals = await alerting.animals_in(r, sh, space_id)
        doc = space_document(after, seen, now=now, params=sh.fusion, animals=animals)
        result = {"frame_id": reading.frame_id, "space_id": space_id, "duplicate": False,
                  "outcome": outcome, "space": doc}  # fmt: skip
        entry = {**body, "outcome": outcome, "received_at": now.isoformat(),
                 "occupant": doc["occupant"], "confidence": doc["confidence"]}  # fmt: skip
        event = {**doc, "changed": after.occupant != before.occupant, "frame_id": reading.frame_id}
        alerts, alert_ops = await alerting.reconcile(r, sh, after, seen, now, animals=animals)
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
    """Every space observed, named by the registry, or given a camera in camera-ingest (as last
    polled); one never observed reads `unknown`, reason `no_frames`."""
    now, placed = sh.clock(), await placements(sh)
    named = set(placed) | set((await ingest_cameras(sh)).values())
    states = await load_states(sh, sorted(set(await space_ids(sh)) | named))
    return [
        _document(sh, states.get(s) or SpaceState(space_id=s), now, placed.get(s, []))
        for s in sorted(set(states) | named, key=natural_key)
    ]


async def get_space(sh: Shelter, space_id: str) -> Json:
    states = await load_states(sh, [space_id])
    placed = (await placements(sh)).get(space_id, [])
    if space_id not in states:
        if not placed and space_id not in (await ingest_cameras(sh)).values():
            raise SpaceNotFound(f"no observation, animal or camera names space {space_id!r}")
        states[space_id] = SpaceState(space_id=space_id)
    return _document(sh, states[space_id], sh.clock(), placed)


def _document(sh: Shelter, state: SpaceState, now: datetime, animals: list[Animal]) -> Json:
    seen = view(state, now, sh.fusion)
    return space_document(state, seen, now=now, params=sh.fusion, animals=animals)


async def placements(sh: Shelter) -> dict[str, list[Animal]]:
    """The registry's animals by the space they are placed in."""
    found: dict[str, list[Animal]] = {}
    for doc in (await sh.store.hash_json(sh.store.key("animals"))).values():
        if doc.get("space_id"):
            found.setdefault(doc["space_id"], []).append(Animal.from_dict(doc))
    return found


async def ingest_cameras(sh: Shelter) -> dict[str, str]:
    """camera-ingest's cameras (id -> space id) as the camera health poll last saw them."""
    known = await sh.store.hash_json(sh.store.key("camhealth", "cameras"))
    return {cam: str(doc["space_id"]) for cam, doc in known.items()}


def natural_key(space_id: str) -> tuple[tuple[int, int | str], ...]:
    """`kennel-2` before `kennel-11`: digit runs compare as numbers."""
    parts = re.findall(r"\d+|\D+", space_id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)
