"""Every alert is raised when its condition holds and resolved when it goes away."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator import alerting
from tests.aggregator.conftest import CAT, DOG, NOBODY, eventually, observation

pytestmark = pytest.mark.anyio
SHORT = {"mismatch_after_s": 30, "not_seen_after_s": 30, "adopted_occupied_after_s": 30}


async def feed(
    client: Any,
    clock: Any,
    *,
    space: str = "k1",
    start: int = 0,
    n: int = 6,
    probs: dict[str, float] = CAT,
    camera: str = "cam-1",
    tag: str = "f",
) -> None:
    for i in range(n):
        at = start + i
        clock.at(at)
        response = await client.post(
            "/v1/observations",
            json=observation(
                f"{tag}{space}{camera}{at}", space=space, at=at, probs=probs, camera=camera
            ),
        )
        assert response.status_code == 201


async def alerts(client: Any, status: str | None = None) -> dict[tuple[str, str, str], Any]:
    query = f"?status={status}" if status else ""
    return {
        (a["kind"], a["space_id"], a["subject"]): a
        for a in (await client.get(f"/v1/alerts{query}")).json()
    }


async def animal(client: Any, **fields: Any) -> Any:
    response = await client.post("/v1/animals", json=fields)
    assert response.status_code == 201
    return response.json()


async def move(client: Any, animal_id: str, *statuses: str) -> None:
    for status in statuses:
        response = await client.patch(f"/v1/animals/{animal_id}", json={"status": status})
        assert response.status_code == 200


async def test_species_mismatch_raised_then_resolved(client_for, clock):
    client, _ = await client_for(**SHORT)
    rex = await animal(client, name="Rex", species="dog", space_id="k1", status="intake")
    await feed(client, clock, probs=CAT, n=6)
    assert not await alerts(client, "active")  # cat seen, but not for 30 s yet
    await feed(client, clock, probs=CAT, start=6, n=40)
    raised = (await alerts(client, "active"))[("species_mismatch", "k1", rex["id"])]
    assert "cat" in raised["message"]
    await feed(client, clock, probs=DOG, start=46, n=25)
    resolved = (await alerts(client, "resolved"))[("species_mismatch", "k1", rex["id"])]
    assert resolved["id"] == raised["id"]
    assert resolved["resolved_at"]
    assert not await alerts(client, "active")


async def test_animal_not_seen_raised_then_resolved(client_for, clock):
    client, _ = await client_for(**SHORT)
    tom = await animal(client, name="Tom", species="cat", space_id="k2")
    await feed(client, clock, space="k2", probs=NOBODY, n=40)
    assert ("animal_not_seen", "k2", tom["id"]) in await alerts(client, "active")
    await feed(client, clock, space="k2", probs=CAT, start=40, n=20)
    assert ("animal_not_seen", "k2", tom["id"]) in await alerts(client, "resolved")
    assert not await alerts(client, "active")


async def test_space_stale_by_the_periodic_task_then_resolved(client_for, clock):
    client, _ = await client_for(alert_interval_s=0.05)
    await feed(client, clock, space="k3", n=3)
    clock.at(2 + 121)  # no observation: only the periodic evaluation can notice

    async def stale_alert():
        return (await alerts(client, "active")).get(("space_stale", "k3", "-"))

    await eventually(stale_alert)
    await feed(client, clock, space="k3", start=124, n=1)
    assert ("space_stale", "k3", "-") in await alerts(client, "resolved")


async def test_camera_stale_raised_then_resolved(client, clock):
    await feed(client, clock, space="k4", camera="cam-a", n=2)
    await feed(client, clock, space="k4", camera="cam-b", start=100, n=30)
    active = await alerts(client, "active")
    assert set(active) == {("camera_stale", "k4", "cam-a")}
    await feed(client, clock, space="k4", camera="cam-a", start=130, n=1)
    assert ("camera_stale", "k4", "cam-a") in await alerts(client, "resolved")
    assert not await alerts(client, "active")


async def test_adopted_animal_space_still_occupied_then_resolved(client_for, clock):
    client, app = await client_for(**SHORT)
    bella = await animal(client, name="Bella", species="dog", space_id="k5")
    await feed(client, clock, space="k5", probs=DOG, n=6)
    await move(client, bella["id"], "available", "reserved", "adopted")
    await feed(client, clock, space="k5", probs=DOG, start=6, n=20)
    assert not await alerts(client, "active")  # adopted 20 s ago: not yet
    await feed(client, clock, space="k5", probs=DOG, start=26, n=15)
    assert ("adopted_occupied", "k5", bella["id"]) in await alerts(client, "active")
    await feed(client, clock, space="k5", probs=NOBODY, start=41, n=25)
    assert ("adopted_occupied", "k5", bella["id"]) in await alerts(client, "resolved")
    await alerting.evaluate_alerts(app.state.shelter, scope=None)
    assert not await alerts(client, "active")


async def test_ack_and_its_limits(client, clock):
    await feed(client, clock, space="k6", n=2)
    clock.at(200)
    raised = await alerting.evaluate_alerts(client_app_shelter(client), scope=None)
    assert [a["kind"] for a in raised] == ["space_stale"]
    alert_id = raised[0]["id"]
    acked = await client.post(f"/v1/alerts/{alert_id}/ack")
    assert acked.status_code == 200
    assert acked.json()["status"] == "acked"
    assert set(await alerts(client, "acked")) == {("space_stale", "k6", "-")}
    assert set(await alerts(client, "open")) == {("space_stale", "k6", "-")}
    assert not await alerts(client, "active")
    await feed(client, clock, space="k6", start=201, n=1)  # fresh data resolves it
    refused = await client.post(f"/v1/alerts/{alert_id}/ack")
    assert refused.status_code == 409
    assert (await client.post("/v1/alerts/nope/ack")).status_code == 404
    assert (await client.get("/v1/alerts?status=bogus")).status_code == 422


def client_app_shelter(client: Any) -> Any:
    return client._transport.app.state.shelter
