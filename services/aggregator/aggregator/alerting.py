"""Use cases of alerts: reconcile a space's open alerts with the conditions that hold now; ack;
list; prune resolved alerts once `alert_retention_s` has passed.

A space is reconciled inside the transaction that changed it (`reconcile`, handed the state an
observation just computed), or in a transaction of its own (`evaluate_space`: the periodic task,
for conditions that time alone makes true, and registry changes). Either way it reads only what
that space needs, every read WATCHed: the animals placed in the space, the space's open alerts,
and, when some resolve, those alerts by id. So two evaluators never raise one condition twice,
and the work per observation does not grow with the registry or the alert history.

Camera health alerts (`reconcile_cameras`, from camera-ingest's camera list) keep their open index
apart, in `camhealth:open`, as no space's evaluation knows their conditions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aggregator import camera_health
from aggregator.alerts import Condition, evaluate
from aggregator.camera_health import CameraHealth, Seen
from aggregator.errors import (
    AggregatorError,
    AlertNotFound,
    IngestUnavailable,
    InvalidTransition,
    StoreUnavailable,
)
from aggregator.fusion import SpaceState, SpaceView, view
from aggregator.records import state_from_dict
from aggregator.registry import Animal
from aggregator.shelter import Shelter
from aggregator.store import Reader
from aggregator.writes import Delete, Emit, HashDel, HashPut, Op, ScoredAdd, ScoredRemove

logger = logging.getLogger(__name__)
Json = dict[str, Any]
OPEN = ("active", "acked")
PRUNE_BATCH = 1000  # resolved alerts removed per periodic run, at most


def _raise(condition: Condition, now: datetime) -> Json:
    return {
        "id": uuid.uuid4().hex,
        "key": condition.key,
        "kind": condition.kind,
        "space_id": condition.space_id,
        "subject": condition.subject,
        "message": condition.message,
        "status": "active",
        "raised_at": now.isoformat(),
        "acked_at": None,
        "resolved_at": None,
    }


def keys_read(sh: Shelter, space_id: str) -> list[str]:
    """What `reconcile` reads for a space (for a caller that WATCHes everything up front)."""
    key = sh.store.key
    return [key("animals", "in", space_id), key("animals"), key("alerts", "open", space_id)]


async def animals_in(r: Reader, sh: Shelter, space_id: str) -> list[Animal]:
    """The animals the registry places in `space_id` (the index, then those records)."""
    ids = await r.members(sh.store.key("animals", "in", space_id))
    found = await r.hash_json(sh.store.key("animals"), sorted(ids))
    return [Animal.from_dict(doc) for doc in found.values()]


async def reconcile(
    r: Reader,
    sh: Shelter,
    state: SpaceState,
    seen: SpaceView,
    now: datetime,
    *,
    animals: list[Animal] | None = None,
) -> tuple[list[Json], list[Op]]:
    """The space's alerts raised or resolved at `now`, and the writes that record them
    (`animals`: the space's animals, when the caller has read them already)."""
    key, space_id = sh.store.key, state.space_id
    if animals is None:
        animals = await animals_in(r, sh, space_id)
    holding = evaluate(
        spaces={space_id: (state, seen)}, animals=animals, now=now, params=sh.alerting
    )
    return await _changes(r, sh, key("alerts", "open", space_id), holding, now)


async def _changes(
    r: Reader, sh: Shelter, open_key: str, holding: dict[str, Condition], now: datetime
) -> tuple[list[Json], list[Op]]:
    """Raise what holds and is not open under `open_key`; resolve what is open and holds no more."""
    key = sh.store.key
    open_ids = await r.hash(open_key)
    gone = [k for k in open_ids if k not in holding]
    fresh = [c for k, c in holding.items() if k not in open_ids]
    if not gone and not fresh:
        return [], []
    records = await r.hash_json(key("alerts"), [open_ids[k] for k in gone])
    changed = [_raise(c, now) for c in fresh]
    changed += [
        {**records[open_ids[k]], "status": "resolved", "resolved_at": now.isoformat()}
        for k in gone
        if open_ids[k] in records
    ]
    ops: list[Op] = [HashDel(open_key, k) for k in gone]
    for alert in changed:
        ops.append(HashPut(key("alerts"), alert["id"], alert))
        if alert["status"] == "active":
            ops.append(HashPut(open_key, alert["key"], alert["id"]))
        else:
            ops.append(ScoredAdd(key("alerts", "resolved"), alert["id"], now.timestamp()))
        ops.append(Emit(f"alert.{alert['status']}", alert))
    return changed, ops


def log_changes(changed: list[Json]) -> None:
    for alert in changed:
        logger.info("alert %s %s: %s", alert["status"], alert["kind"], alert["message"])


async def evaluate_space(sh: Shelter, space_id: str) -> list[Json]:
    """Reconcile one space as it reads now, in its own transaction."""

    async def step(r: Reader) -> tuple[list[Json], list[Op]]:
        raw = await r.json(sh.store.key("space", space_id))
        if raw is None:  # never observed: no condition can hold, no alert can be open
            return [], []
        now, state = sh.clock(), state_from_dict(raw)
        return await reconcile(r, sh, state, view(state, now, sh.fusion), now)

    changed: list[Json] = await sh.store.transact(step)
    log_changes(changed)
    return changed


async def evaluate_alerts(sh: Shelter, *, scope: set[str] | None) -> list[Json]:
    """Reconcile the spaces in `scope` (None: every space); the alerts raised or resolved."""
    space_ids = scope if scope is not None else await sh.store.members(sh.store.key("spaces"))
    changed: list[Json] = []
    for space_id in sorted(space_ids):
        changed += await evaluate_space(sh, space_id)
    return changed


async def evaluate_quietly(sh: Shelter, *, scope: set[str] | None) -> None:
    """Evaluate, logging rather than raising: the periodic task fixes what this misses."""
    try:
        await evaluate_alerts(sh, scope=scope)
    except (AggregatorError, StoreUnavailable) as exc:
        logger.warning("alert evaluation failed: %s", exc)


async def reconcile_cameras(sh: Shelter, cameras: list[CameraHealth]) -> list[Json]:
    """Raise and resolve the camera health alerts for ingest's cameras as listed now, and
    remember each camera's dead-frame count, space and state, in one transaction."""
    open_key, seen_key = sh.store.key("camhealth", "open"), sh.store.key("camhealth", "seen")
    listed_key = sh.store.key("camhealth", "cameras")
    listed = {cam.id: {"space_id": cam.space_id, "online": cam.online} for cam in cameras}

    async def step(r: Reader) -> tuple[list[Json], list[Op]]:
        now = sh.clock()
        seen = {cam: _seen_from(doc) for cam, doc in (await r.hash_json(seen_key)).items()}
        holding, remembered = camera_health.evaluate(
            cameras=cameras, seen=seen, now=now, offline_after_s=sh.settings.camera_offline_alert_s
        )
        changed, ops = await _changes(r, sh, open_key, holding, now)
        if remembered != seen:  # rewrite the whole hash: cameras gone from ingest are forgotten
            ops.append(Delete(seen_key))
            ops += [HashPut(seen_key, cam, _seen_to(s)) for cam, s in remembered.items()]
        if await r.hash_json(listed_key) != listed:  # the same: cameras gone are forgotten
            ops.append(Delete(listed_key))
            ops += [HashPut(listed_key, cam, doc) for cam, doc in listed.items()]
        return changed, ops

    changed: list[Json] = await sh.store.transact(step)
    log_changes(changed)
    return changed


async def check_cameras(sh: Shelter, fetch: Callable[[], Awaitable[list[CameraHealth]]]) -> None:
    """One poll: fetch ingest's cameras and reconcile. Ingest unreachable changes no alert."""
    try:
        cameras = await fetch()
    except IngestUnavailable as exc:
        logger.warning("camera health not checked, alerts left as they are: %s", exc)
        return
    await reconcile_cameras(sh, cameras)


def _seen_from(doc: Json) -> Seen:
    grew_at = doc.get("grew_at")
    return Seen(int(doc["frames_dead"]), datetime.fromisoformat(grew_at) if grew_at else None)


def _seen_to(seen: Seen) -> Json:
    grew_at = seen.grew_at.isoformat() if seen.grew_at else None
    return {"frames_dead": seen.frames_dead, "grew_at": grew_at}


async def prune_resolved(sh: Shelter) -> int:
    """Forget alerts resolved more than `alert_retention_s` ago; how many were removed.

    No WATCH needed: a resolved alert never changes again (acking one is refused).
    """
    key = sh.store.key
    cutoff = sh.clock() - timedelta(seconds=sh.settings.alert_retention_s)
    expired = await sh.store.scored_at_most(
        key("alerts", "resolved"), cutoff.timestamp(), limit=PRUNE_BATCH
    )
    ops: list[Op] = []
    for alert_id in expired:
        ops += [HashDel(key("alerts"), alert_id), ScoredRemove(key("alerts", "resolved"), alert_id)]
    if ops:
        await sh.store.apply(ops)
        logger.info("pruned %d resolved alerts", len(expired))
    return len(expired)


async def list_alerts(sh: Shelter, status: str | None = None, *, limit: int = 1000) -> list[Json]:
    """The newest `limit` alerts, newest first (by when raised; resolved ones by when resolved);
    `status` is active, acked, resolved or open (active or acked). Resolved alerts are kept
    for `alert_retention_s`."""
    alerts = (await sh.store.hash_json(sh.store.key("alerts"))).values()
    wanted = OPEN if status == "open" else (status,)
    chosen = [a for a in alerts if status is None or a["status"] in wanted]

    def newest(a: Json) -> tuple[str, str]:
        return ((a["resolved_at"] if status == "resolved" else None) or a["raised_at"], a["id"])

    return sorted(chosen, key=newest, reverse=True)[:limit]


async def ack_alert(sh: Shelter, alert_id: str) -> Json:
    key = sh.store.key("alerts")

    async def step(r: Reader) -> tuple[Json, list[Op]]:
        alert = (await r.hash_json(key, [alert_id])).get(alert_id)
        if alert is None:
            raise AlertNotFound(f"no alert {alert_id!r}")
        if alert["status"] == "resolved":
            raise InvalidTransition(
                f"alert {alert_id} was resolved at {alert['resolved_at']}: its condition no "
                "longer holds, so there is nothing to acknowledge"
            )
        if alert["status"] == "acked":
            return alert, []
        acked = {**alert, "status": "acked", "acked_at": sh.clock().isoformat()}
        return acked, [HashPut(key, alert_id, acked), Emit("alert.acked", acked)]

    return await sh.store.transact(step)
