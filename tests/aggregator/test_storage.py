"""What one observation reads and writes, the pruning of resolved alerts, the layout upgrade."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from aggregator import alerting
from aggregator.store import Reader, Store
from tests.aggregator.conftest import CAT, eventually, observation

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)  # the tests use db 0
    yield client
    client.close()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """Every read a transaction step makes, as (method, key, fields)."""
    seen: list[tuple[str, str, Any]] = []
    for name in ("json_many", "members", "hash", "hash_json"):
        original = getattr(Reader, name)

        async def spy(self: Reader, *args: Any, _name: str = name, _orig: Any = original) -> Any:
            keys = args if _name == "json_many" else args[:1]
            for key in keys:
                seen.append((_name, key, args[1] if _name == "hash_json" and args[1:] else None))
            return await _orig(self, *args)

        monkeypatch.setattr(Reader, name, spy)
    return seen


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count: list[int] = []
    original = Store.transact

    async def counted(self: Store, step: Any) -> Any:
        count.append(1)
        return await original(self, step)

    monkeypatch.setattr(Store, "transact", counted)
    return count


async def test_an_observation_is_one_transaction_that_reads_only_its_space(
    client, reads, transactions
):
    resident = (await client.post("/v1/animals", json={"name": "Rex", "species": "dog",
                                                        "space_id": "k1"})).json()  # fmt: skip
    for i in range(5):  # the rest of the registry: other spaces, or none
        body = {"name": f"A{i}", "species": "cat", "space_id": "k2" if i < 2 else None}
        assert (await client.post("/v1/animals", json=body)).status_code == 201
    for i in range(4):
        await client.post("/v1/observations", json=observation(f"o{i}", space="k2", at=i))
    reads.clear()
    transactions.clear()

    response = await client.post("/v1/observations", json=observation("f1", space="k1"))

    assert response.status_code == 201
    assert len(transactions) == 1  # fusion and alert evaluation in one pass
    keys = [key for _, key, _ in reads]
    assert keys.count("agg:space:k1") == 1  # the state just computed is not read back
    assert set(keys) == {
        "agg:frame:f1", "agg:space:k1", "agg:animals:in:k1", "agg:animals", "agg:alerts:open:k1"
    }  # fmt: skip
    assert ("hash_json", "agg:animals", [resident["id"]]) in reads  # those animals, by id
    assert all(fields is not None for method, _, fields in reads if method == "hash_json")


async def test_a_resolution_reads_the_alert_by_id(client, clock, reads):
    await client.post("/v1/observations", json=observation("a0", space="k3"))
    clock.at(200)
    [raised] = await alerting.evaluate_alerts(client._transport.app.state.shelter, scope=None)
    reads.clear()
    await client.post("/v1/observations", json=observation("a1", space="k3", at=201))
    assert ("hash_json", "agg:alerts", [raised["id"]]) in reads
    resolved = (await client.get("/v1/alerts?status=resolved")).json()
    assert [a["id"] for a in resolved] == [raised["id"]]


async def stale_then_resolved(client: Any, clock: Any, shelter: Any, space: str) -> str:
    """An alert raised at t=200 and resolved at t=201; its id. (Where the app's periodic task
    runs, it may be the one that raises it first: the id is read back, not taken from the call.)"""
    await client.post("/v1/observations", json=observation(f"{space}-0", space=space))
    clock.at(200)
    await alerting.evaluate_alerts(shelter, scope={space})
    active = (await client.get("/v1/alerts?status=active")).json()
    [raised] = [a for a in active if a["space_id"] == space]
    clock.at(201)
    await client.post("/v1/observations", json=observation(f"{space}-1", space=space, at=201))
    return str(raised["id"])


async def test_resolved_alerts_are_pruned_after_the_retention(client_for, clock, db):
    client, app = await client_for(alert_retention_s=60)
    shelter = app.state.shelter
    old = await stale_then_resolved(client, clock, shelter, "k1")
    await client.post("/v1/observations", json=observation("k9-0", space="k9"))  # stale already
    [still_open] = (await client.get("/v1/alerts?status=active")).json()
    clock.at(201 + 59)
    assert await alerting.prune_resolved(shelter) == 0
    assert {a["id"] for a in (await client.get("/v1/alerts")).json()} == {old, still_open["id"]}
    clock.at(201 + 61)
    assert await alerting.prune_resolved(shelter) == 1
    assert [a["id"] for a in (await client.get("/v1/alerts")).json()] == [still_open["id"]]
    assert (await client.post(f"/v1/alerts/{old}/ack")).status_code == 404
    assert db.zcard("agg:alerts:resolved") == 0
    assert db.hlen("agg:alerts") == 1


async def test_the_periodic_task_prunes(client_for, clock):
    client, app = await client_for(alert_retention_s=60, alert_interval_s=0.05)
    old = await stale_then_resolved(client, clock, app.state.shelter, "k1")
    clock.at(201 + 61)

    async def pruned() -> bool:
        return old not in {a["id"] for a in (await client.get("/v1/alerts")).json()}

    await eventually(pruned)


async def test_layout_1_data_is_upgraded_at_start(client_for, clock, db):
    rex = {"id": "a1", "name": "Rex", "species": "dog", "status": "intake", "space_id": "k1",
           "notes": "", "created_at": "2026-11-28T09:00:00+00:00",
           "updated_at": "2026-11-28T09:00:00+00:00",
           "status_changed_at": "2026-11-28T09:00:00+00:00"}  # fmt: skip
    alert = {"id": "al1", "key": "space_stale:k1:-", "kind": "space_stale", "space_id": "k1",
             "subject": "-", "message": "old", "status": "active", "acked_at": None,
             "raised_at": "2026-11-28T09:00:00+00:00", "resolved_at": None}  # fmt: skip
    done = {**alert, "id": "al0", "status": "resolved", "resolved_at": "2026-11-28T09:30:00+00:00"}
    db.hset("agg:animals", "a1", json.dumps(rex))
    db.hset("agg:alerts", mapping={"al1": json.dumps(alert), "al0": json.dumps(done)})
    db.hset("agg:alerts:active", "space_stale:k1:-", json.dumps({"id": "al1", "space_id": "k1"}))

    client, _ = await client_for()

    assert (await client.get("/readyz")).status_code == 200
    assert json.loads(db.get("agg:layout") or "{}") == {"version": 2}
    assert db.smembers("agg:animals:in:k1") == {"a1"}
    assert db.hgetall("agg:alerts:open:k1") == {"space_stale:k1:-": "al1"}
    assert db.zrange("agg:alerts:resolved", 0, -1) == ["al0"]
    assert not db.exists("agg:alerts:active")
    await client.post("/v1/observations", json=observation("f1", space="k1", probs=CAT))
    resolved = {a["id"] for a in (await client.get("/v1/alerts?status=resolved")).json()}
    assert resolved == {"al0", "al1"}  # the migrated open alert resolved, not raised twice
