"""The adoption registry and the summary through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.aggregator.conftest import CAT, NOBODY, observation

pytestmark = pytest.mark.anyio


async def create(client: Any, **fields: Any) -> Any:
    response = await client.post("/v1/animals", json={"name": "Rex", "species": "dog", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_crud(client):
    rex = await create(client, space_id="k1", notes="shy")
    assert rex["status"] == "intake"
    assert (await client.get(f"/v1/animals/{rex['id']}")).json() == rex
    put = await client.put(
        f"/v1/animals/{rex['id']}", json={"name": "Rex", "species": "dog", "status": "available"}
    )
    assert put.status_code == 200
    assert put.json()["space_id"] is None
    assert put.json()["notes"] == ""
    patched = await client.patch(f"/v1/animals/{rex['id']}", json={"notes": "friendly"})
    assert patched.json()["notes"] == "friendly"
    assert patched.json()["status"] == "available"
    assert [a["id"] for a in (await client.get("/v1/animals")).json()] == [rex["id"]]
    assert (await client.delete(f"/v1/animals/{rex['id']}")).status_code == 204
    gone = await client.get(f"/v1/animals/{rex['id']}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["type"] == "https://shelter-watch.example/problems/animal-not-found"
    assert (await client.delete(f"/v1/animals/{rex['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (["available", "reserved", "adopted"], "reserved"),  # reserving an adopted animal
        ([], "adopted"),  # intake straight to adopted
        (["available"], "adopted"),  # adopted without a reservation
    ],
)
async def test_invalid_transitions_are_409(client, path, target):
    rex = await create(client)
    for status in path:
        ok = await client.patch(f"/v1/animals/{rex['id']}", json={"status": status})
        assert ok.status_code == 200, ok.text
    refused = await client.patch(f"/v1/animals/{rex['id']}", json={"status": target})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["title"] == "Invalid transition"
    assert target in refused.json()["detail"]
    expected = path[-1] if path else "intake"
    assert (await client.get(f"/v1/animals/{rex['id']}")).json()["status"] == expected


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "species": "dog"},
        {"name": "Tom", "species": "horse"},
        {"name": "Tom", "species": "cat", "status": "lost"},
        {"name": "Tom", "species": "cat", "colour": "grey"},
    ],
)
async def test_bad_animal_is_422(client, body):
    response = await client.post("/v1/animals", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_patch_cannot_null_a_required_field(client):
    rex = await create(client)
    response = await client.patch(f"/v1/animals/{rex['id']}", json={"name": None})
    assert response.status_code == 422


async def test_summary_counts_animals_and_spaces(client, clock):
    await create(client)
    tom = await create(client, name="Tom", species="cat")
    await client.patch(f"/v1/animals/{tom['id']}", json={"status": "available"})
    for i in range(6):
        await client.post("/v1/observations", json=observation(f"a{i}", space="k1", at=i))
        await client.post(
            "/v1/observations", json=observation(f"b{i}", space="k2", at=i, probs=NOBODY)
        )
    await client.post("/v1/observations", json=observation("c0", space="k3", probs=CAT))
    clock.at(5)
    summary = (await client.get("/v1/summary")).json()
    assert summary["animals"]["dog"] == {"intake": 1, "available": 0, "reserved": 0, "adopted": 0}
    assert summary["animals"]["cat"]["available"] == 1
    assert summary["spaces"] == {
        "occupied": {"cat": 1, "dog": 0},
        "empty": 1,
        "unknown": 1,
        "total": 3,
    }
