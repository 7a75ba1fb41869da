"""Use cases of alerts: reconcile the raised alerts with the conditions that hold now; ack; list.

Reconciliation is one transaction that WATCHes every space and the registry it reads, so two
evaluators (the periodic task, an observation, another replica) never raise one condition twice
or resolve on a stale picture.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from aggregator.alerts import Condition, evaluate
from aggregator.errors import AggregatorError, AlertNotFound, InvalidTransition
from aggregator.fusion import SpaceState, SpaceView, view
from aggregator.records import state_from_dict
from aggregator.registry import Animal
from aggregator.shelter import Shelter
from aggregator.store import Emit, HashDel, HashPut, Op, Reader

logger = logging.getLogger(__name__)
Json = dict[str, Any]
OPEN = ("active", "acked")


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


async def evaluate_quietly(sh: Shelter, *, scope: set[str] | None) -> None:
    """Evaluate, logging rather than raising: the periodic task fixes what this misses."""
    try:
        await evaluate_alerts(sh, scope=scope)
    except AggregatorError as exc:
        logger.warning("alert evaluation failed: %s", exc)


async def evaluate_alerts(sh: Shelter, *, scope: set[str] | None) -> list[Json]:
    """Raise alerts whose condition holds and resolve those whose condition went away.

    `scope` limits the work to some spaces (an observation's); None means every space.
    Returns the alerts raised or resolved.
    """
    key = sh.store.key
    space_ids = (
        sorted(scope) if scope is not None else sorted(await sh.store.members(key("spaces")))
    )

    async def step(r: Reader) -> tuple[list[Json], list[Op]]:
        now = sh.clock()
        animals = [Animal.from_dict(a) for a in (await r.hash_json(key("animals"))).values()]
        spaces: dict[str, tuple[SpaceState, SpaceView]] = {}
        for space_id in space_ids:
            raw = await r.json(key("space", space_id))
            if raw is not None:
                state = state_from_dict(raw)
                spaces[space_id] = (state, view(state, now, sh.fusion))
        holding = evaluate(spaces=spaces, animals=animals, now=now, params=sh.alerting)
        active = await r.hash_json(key("alerts", "active"))
        gone = [
            k
            for k, a in active.items()
            if k not in holding and (scope is None or a["space_id"] in scope)
        ]
        fresh = [c for k, c in holding.items() if k not in active]
        if not gone and not fresh:
            return [], []
        records = await r.hash_json(key("alerts"))
        changed = [_raise(c, now) for c in fresh]
        changed += [
            {**records[active[k]["id"]], "status": "resolved", "resolved_at": now.isoformat()}
            for k in gone
            if active[k]["id"] in records
        ]
        ops: list[Op] = [HashDel(key("alerts", "active"), k) for k in gone]
        for alert in changed:
            ops.append(HashPut(key("alerts"), alert["id"], alert))
            if alert["status"] == "active":
                ref = {"id": alert["id"], "space_id": alert["space_id"]}
                ops.append(HashPut(key("alerts", "active"), alert["key"], ref))
            ops.append(Emit(f"alert.{alert['status']}", alert))
        return changed, ops

    changed: list[Json] = await sh.store.transact(step)
    for alert in changed:
        logger.info("alert %s %s: %s", alert["status"], alert["kind"], alert["message"])
    return changed


async def list_alerts(sh: Shelter, status: str | None = None) -> list[Json]:
    """Alerts newest first; `status` is active, acked, resolved or open (active or acked)."""
    alerts = (await sh.store.hash_json(sh.store.key("alerts"))).values()
    wanted = OPEN if status == "open" else (status,)
    chosen = [a for a in alerts if status is None or a["status"] in wanted]
    return sorted(chosen, key=lambda a: (a["raised_at"], a["id"]), reverse=True)


async def ack_alert(sh: Shelter, alert_id: str) -> Json:
    key = sh.store.key("alerts")

    async def step(r: Reader) -> tuple[Json, list[Op]]:
        alerts = await r.hash_json(key)
        if alert_id not in alerts:
            raise AlertNotFound(f"no alert {alert_id!r}")
        alert = alerts[alert_id]
        if alert["status"] == "resolved":
            raise InvalidTransition(f"alert {alert_id} is already resolved")
        if alert["status"] == "acked":
            return alert, []
        acked = {**alert, "status": "acked", "acked_at": sh.clock().isoformat()}
        return acked, [HashPut(key, alert_id, acked), Emit("alert.acked", acked)]

    return await sh.store.transact(step)
