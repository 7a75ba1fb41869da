"""The version of the key layout in Redis, and the upgrade that brings older data up to it.

Layout 1 kept every open alert in one hash, `alerts:active` (condition key -> {id, space_id}),
and had no index of the animals in a space nor of resolved alerts, so each evaluation read the
whole registry and every open alert. Layout 2 (`store.py` lists its keys) adds
`animals:in:{space}`, `alerts:open:{space}` and `alerts:resolved`.

`upgrade` runs once at start-up (the periodic task retries it until Redis answers; the service
is not ready before). It is one transaction that WATCHes the version and everything it reads, so
several replicas starting together upgrade once. Data written with no version is layout 1.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aggregator.shelter import Shelter
from aggregator.store import Reader
from aggregator.writes import Delete, HashPut, Op, Put, ScoredAdd, SetAdd

logger = logging.getLogger(__name__)
LAYOUT = 2


async def upgrade(sh: Shelter) -> bool:
    """Bring the stored data to LAYOUT; whether anything had to change."""
    key = sh.store.key

    async def step(r: Reader) -> tuple[bool, list[Op]]:
        current = await r.json(key("layout"))
        if current is not None and current["version"] >= LAYOUT:
            return False, []
        animals = await r.hash_json(key("animals"))
        active = await r.hash_json(key("alerts", "active"))
        alerts = await r.hash_json(key("alerts"))
        ops: list[Op] = [
            SetAdd(key("animals", "in", doc["space_id"]), animal_id)
            for animal_id, doc in animals.items()
            if doc.get("space_id")
        ]
        ops += [
            HashPut(key("alerts", "open", ref["space_id"]), condition, ref["id"])
            for condition, ref in active.items()
        ]
        ops += [
            ScoredAdd(key("alerts", "resolved"), alert_id, _epoch(alert["resolved_at"]))
            for alert_id, alert in alerts.items()
            if alert["status"] == "resolved"
        ]
        ops += [Delete(key("alerts", "active")), Put(key("layout"), {"version": LAYOUT})]
        return bool(animals or active or alerts), ops

    changed = await sh.store.transact(step)
    if changed:
        logger.info("stored data upgraded to key layout %d", LAYOUT)
    return changed


def _epoch(moment: str | None) -> float:
    return 0.0 if moment is None else datetime.fromisoformat(moment).timestamp()
