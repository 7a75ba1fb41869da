"""Observations and spaces through the HTTP API, in-process, on the real Redis."""

from __future__ import annotations

import anyio
import pytest

from tests.aggregator.conftest import CAT, DOG, NOBODY, observation
from tests.servers import free_port

pytestmark = pytest.mark.anyio


async def test_repeat_frame_is_idempotent(client):
    first = await client.post("/v1/observations", json=observation("f1"))
    again = await client.post("/v1/observations", json=observation("f1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["duplicate"] is False
    assert again.json()["duplicate"] is True
    assert again.json()["space"] == first.json()["space"]
    space = (await client.get("/v1/spaces/k1")).json()
    assert space["evidence_count"] == 1
    assert len((await client.get("/v1/spaces/k1/history")).json()) == 1


async def test_frame_id_reused_with_another_body_is_409(client):
    await client.post("/v1/observations", json=observation("f1"))
    clash = await client.post("/v1/observations", json=observation("f1", probs=DOG))
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    assert clash.json()["type"] == "https://shelter-watch.example/problems/frame-conflict"


async def test_concurrent_duplicates_are_recorded_once(client):
    async def post(results: list[int]) -> None:
        results.append((await client.post("/v1/observations", json=observation("dup"))).status_code)

    results: list[int] = []
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(post, results)
    assert sorted(results) == [200] * 19 + [201]
    assert (await client.get("/v1/spaces/k1")).json()["evidence_count"] == 1


async def test_fifty_concurrent_observations_are_all_counted(client):
    async def post(i: int) -> None:
        response = await client.post("/v1/observations", json=observation(f"c{i}", space="busy"))
        assert response.status_code == 201

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(post, i)
    space = (await client.get("/v1/spaces/busy")).json()
    assert space["evidence_count"] == 50
    assert len((await client.get("/v1/spaces/busy/history?limit=100")).json()) == 50


async def test_out_of_order_frame_does_not_move_the_state_back(client, clock):
    for i in range(8):
        await client.post("/v1/observations", json=observation(f"f{i}", at=i, probs=NOBODY))
    clock.at(7)
    before = (await client.get("/v1/spaces/k1")).json()
    assert before["occupant"] == "empty"
    late = await client.post("/v1/observations", json=observation("old", at=-60, probs=CAT))
    assert late.status_code == 201
    assert late.json()["outcome"] == "late"
    after = (await client.get("/v1/spaces/k1")).json()
    assert after["occupant"] == "empty"
    assert after["posterior"] == before["posterior"]
    assert after["late_count"] == 1
    assert after["evidence_count"] == before["evidence_count"]
    assert after["latest_frames"]["cam-1"]["frame_id"] == "f7"
    history = (await client.get("/v1/spaces/k1/history")).json()
    assert history[-1]["frame_id"] == "old"  # the timeline is oldest first
    assert history[-1]["outcome"] == "late"


async def test_hysteresis_through_the_api(client, clock):
    for i in range(10):
        await client.post("/v1/observations", json=observation(f"c{i}", at=i, probs=CAT))
    one_dog = await client.post("/v1/observations", json=observation("d0", at=10, probs=DOG))
    assert one_dog.json()["space"]["occupant"] == "cat"
    for i in range(1, 15):
        body = observation(f"d{i}", at=10 + i, probs=DOG)
        last = await client.post("/v1/observations", json=body)
    assert last.json()["space"]["occupant"] == "dog"


async def test_two_cameras_fuse_into_one_space(client, clock):
    for i in range(5):
        await client.post("/v1/observations", json=observation(f"a{i}", at=i, camera="cam-a"))
        await client.post("/v1/observations", json=observation(f"b{i}", at=i, camera="cam-b"))
    clock.at(4)
    space = (await client.get("/v1/spaces/k1")).json()
    assert space["occupant"] == "cat"
    assert space["evidence_count"] == 10
    assert space["cameras"] == ["cam-a", "cam-b"]
    assert set(space["latest_frames"]) == {"cam-a", "cam-b"}
    assert [s["space_id"] for s in (await client.get("/v1/spaces")).json()] == ["k1"]


async def test_stale_space_reads_unknown(client, clock):
    for i in range(6):
        await client.post("/v1/observations", json=observation(f"f{i}", at=i))
    clock.at(5 + 121)
    space = (await client.get("/v1/spaces/k1")).json()
    assert space["stale"] is True
    assert space["occupant"] == "unknown"


async def test_history_is_capped(client_for):
    client, _ = await client_for(history_max=5)
    for i in range(8):
        await client.post("/v1/observations", json=observation(f"f{i}", at=i))
    history = (await client.get("/v1/spaces/k1/history?limit=100")).json()
    assert [h["frame_id"] for h in history] == ["f3", "f4", "f5", "f6", "f7"]
    frames = (await client.get("/v1/spaces/k1/frames?limit=100")).json()
    assert [f["frame_id"] for f in frames] == ["f7", "f6", "f5", "f4", "f3"]


async def test_batch_reports_each_item(client):
    body = {"observations": [observation("b1"), observation("b1"), observation("b1", probs=DOG)]}
    response = await client.post("/v1/observations/batch", json=body)
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [201, 200, 409]
    assert response.json()["results"][2]["problem"]["status"] == 409


@pytest.mark.parametrize(
    "change",
    [
        {"captured_at": "2026-11-28T10:00:00"},  # naive time
        {"label": "horse"},
        {"probabilities": {"cat": 0.5, "dog": 0.5, "other": 0.5}},
        {"probabilities": {"cat": 1.5, "dog": 0.0, "other": -0.5}},
        {"space_id": "k 1/../x"},
        {"frame_id": ""},
    ],
)
async def test_bad_observation_is_422_problem(client, change):
    response = await client.post("/v1/observations", json={**observation("x"), **change})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["errors"]
    assert body["instance"] == "/v1/observations"


async def test_far_future_frame_is_rejected(client, clock):
    response = await client.post("/v1/observations", json=observation("fut", at=3600))
    assert response.status_code == 422
    assert "future" in response.json()["detail"]


async def test_not_json_and_unknown_space(client):
    response = await client.post(
        "/v1/observations", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    missing = await client.get("/v1/spaces/nowhere")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://shelter-watch.example/problems/space-not-found"
    assert missing.json()["title"] == "Space not found"
    assert (await client.get("/v1/spaces/nowhere/history")).status_code == 404


async def test_health_metrics_and_request_id(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    response = await client.post(
        "/v1/observations", json=observation("m1"), headers={"X-Request-ID": "req-42"}
    )
    assert response.headers["x-request-id"] == "req-42"
    metrics = (await client.get("/metrics")).text
    assert 'aggregator_observations_total{outcome="fused"} 1.0' in metrics
    route = 'method="POST",route="/v1/observations",status="201"'
    assert f"http_requests_total{{{route}}} 1.0" in metrics  # the kit's, on the same registry


async def test_readyz_is_503_when_redis_is_down(client_for):
    client, _ = await client_for(
        redis_url=f"redis://127.0.0.1:{free_port()}/1", redis_timeout_s=0.5, sse_block_ms=100
    )
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    down = await client.post("/v1/observations", json=observation("f1"))
    assert down.status_code == 503
    assert down.headers["retry-after"]
    assert (await client.get("/healthz")).status_code == 200
