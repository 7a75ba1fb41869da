"""Delivery: retries, breaker, dead letters, redrive, expired bytes, reclaim of a dead consumer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis

from camera_ingest.config import Settings
from camera_ingest.main import create_app
from camera_ingest.outbox import GROUP, STREAM
from tests.camera_ingest.conftest import (
    Downstream,
    add_camera,
    app_client,
    eventually,
    fast_settings,
    frame_status,
    jpeg,
)

pytestmark = pytest.mark.anyio
JPEG = {"Content-Type": "image/jpeg"}


async def push(client: httpx.AsyncClient, camera: str, seed: int) -> str:
    response = await client.put(f"/v1/cameras/{camera}/frame", content=jpeg(seed), headers=JPEG)
    assert response.status_code == 202, response.text
    return response.json()["frame_id"]  # type: ignore[no-any-return]


async def wait_status(client: httpx.AsyncClient, frame_id: str, status: str) -> dict[str, Any]:
    async def reached() -> bool:
        return await frame_status(client, frame_id) == status

    await eventually(reached, what=f"frame {frame_id} {status}")
    return (await client.get(f"/v1/frames/{frame_id}")).json()  # type: ignore[no-any-return]


async def test_transient_classifier_failure_retries_then_delivers(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    downstream.classifier_status = 503
    await add_camera(client, "c1")
    frame_id = await push(client, "c1", 1)

    async def breaker_open() -> bool:
        return bool((await client.get("/v1/outbox")).json()["breakers"]["classifier"] != "closed")

    await eventually(breaker_open, what="classifier breaker opens")
    calls_when_open = len(downstream.predictions)
    frame = (await client.get(f"/v1/frames/{frame_id}")).json()
    assert frame["status"] == "queued"
    assert frame["attempts"] >= 3
    assert "503" in frame["last_error"]
    downstream.classifier_status = 200
    await wait_status(client, frame_id, "delivered")
    assert len(downstream.observations) == 1
    assert len(downstream.predictions) <= calls_when_open + 2  # half-open probes, not a storm


async def test_aggregator_failure_does_not_classify_twice(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    downstream.aggregator_status = 500
    await add_camera(client, "c2")
    frame_id = await push(client, "c2", 2)
    frame = await wait_status(client, frame_id, "classified")
    assert frame["classification"]["model"] == "test-model"
    await eventually(lambda: _async(len(downstream.observation_posts) >= 2), what="retries")
    downstream.aggregator_status = 201
    await wait_status(client, frame_id, "delivered")
    assert len(downstream.predictions) == 1
    assert list(downstream.observations) == [frame_id]


async def test_permanent_failure_is_dead_and_redrivable(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    downstream.classifier_status = 422
    await add_camera(client, "c3")
    frame_id = await push(client, "c3", 3)
    frame = await wait_status(client, frame_id, "dead")
    assert "422" in frame["last_error"]
    dead = (await client.get("/v1/frames", params={"status": "dead"})).json()["frames"]
    assert [f["frame_id"] for f in dead] == [frame_id]
    assert (await client.get("/v1/outbox")).json()["dead"] == 1
    not_dead = await client.post("/v1/frames/nope/redrive")
    assert not_dead.status_code == 404

    downstream.classifier_status = 200
    response = await client.post(f"/v1/frames/{frame_id}/redrive")
    assert response.status_code == 202
    assert response.json()["redriven"] == [frame_id]
    await wait_status(client, frame_id, "delivered")
    again = await client.post(f"/v1/frames/{frame_id}/redrive")
    assert again.status_code == 409
    assert (await client.get("/v1/outbox")).json()["dead"] == 0


async def test_aggregator_422_is_dead_and_bulk_redrive_reuses_classification(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    downstream.aggregator_status = 422
    await add_camera(client, "c4")
    ids = [await push(client, "c4", seed) for seed in (10, 11)]
    for frame_id in ids:
        await wait_status(client, frame_id, "dead")
    downstream.aggregator_status = 201
    response = await client.post("/v1/frames/redrive")
    assert sorted(response.json()["redriven"]) == sorted(ids)
    for frame_id in ids:
        await wait_status(client, frame_id, "delivered")
    assert len(downstream.predictions) == 2  # classified once each, before and after redrive


async def test_expired_bytes_make_the_frame_dead(settings: Settings, redis_url: str) -> None:
    idle = create_app(settings.model_copy(update={"worker_enabled": False}))
    async with app_client(idle) as client:
        await add_camera(client, "c5")
        frame_id = await push(client, "c5", 5)
    redis.Redis.from_url(redis_url).delete(f"ingest:frame:{frame_id}:data")  # as if TTL passed
    async with app_client(create_app(settings)) as client:
        frame = await wait_status(client, frame_id, "dead")
    assert "expired" in frame["last_error"]


async def test_pending_entries_of_a_dead_consumer_are_reclaimed(
    settings: Settings, downstream: Downstream, redis_url: str
) -> None:
    idle = create_app(settings.model_copy(update={"worker_enabled": False}))
    async with app_client(idle) as client:
        await add_camera(client, "c6")
        frame_id = await push(client, "c6", 6)
    r = redis.Redis.from_url(redis_url)
    # A consumer that took the entry and died: nobody alive holds it or will read it as new.
    taken: Any = r.xreadgroup("workers", "ghost", {"ingest:outbox": ">"}, count=10)
    assert len(taken[0][1]) == 1
    assert r.xpending("ingest:outbox", "workers")["consumers"] == [{"name": b"ghost", "pending": 1}]
    async with app_client(create_app(settings)) as client:  # only XAUTOCLAIM can find it
        await wait_status(client, frame_id, "delivered")
    assert list(downstream.observations) == [frame_id]
    assert r.xpending("ingest:outbox", "workers")["pending"] == 0


async def test_a_poison_frame_is_dead_after_repeated_500s_and_others_flow(
    client: httpx.AsyncClient, downstream: Downstream, settings: Settings
) -> None:
    await add_camera(client, "c8")
    downstream.poison.add(jpeg(80))
    poison = await push(client, "c8", 80)
    meanwhile = await push(client, "c8", 79)
    frame = await wait_status(client, poison, "dead")
    assert "500" in frame["last_error"]
    assert "poison" in frame["last_error"]
    poison_calls = [p for p in downstream.predictions if p["poison"]]
    assert len(poison_calls) == settings.max_server_errors
    good = [meanwhile, *[await push(client, "c8", seed) for seed in (81, 82)]]
    for frame_id in good:
        await wait_status(client, frame_id, "delivered")
    assert sorted(downstream.observations) == sorted(good)
    downstream.poison.clear()
    assert (await client.post(f"/v1/frames/{poison}/redrive")).status_code == 202
    await wait_status(client, poison, "delivered")


async def test_a_classifier_answering_500_to_every_frame_dead_letters_none(
    downstream: Downstream, redis_url: str
) -> None:
    """An outage answered with 500s (a CI run lost a frame this way): the breaker opens, and
    the frame that probes it each half-open is not poison however many probes it makes."""
    settings = fast_settings(redis_url, downstream.url, max_server_errors=5)
    downstream.classifier_status = 500
    async with app_client(create_app(settings)) as client:
        await add_camera(client, "c10")
        frames = [await push(client, "c10", seed) for seed in (100, 200)]
        assert len(set(frames)) == len(frames)  # seeds apart: the same bytes are one frame

        async def probed_enough() -> bool:  # one of the two made 5+ of these probes
            return len(downstream.predictions) >= len(frames) + 4 * settings.max_server_errors

        await eventually(probed_enough, within=30, what="the breaker probed many times")
        statuses = [await frame_status(client, frame_id) for frame_id in frames]
        assert statuses == ["queued"] * len(frames)
        downstream.classifier_status = 200
        for frame_id in frames:
            await wait_status(client, frame_id, "delivered")
    assert sorted(downstream.observations) == sorted(frames)


async def test_aggregator_409_counts_as_delivered(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    downstream.aggregator_status = 409  # the frame id is stored there with another body
    await add_camera(client, "c9")
    frame_id = await push(client, "c9", 9)
    await wait_status(client, frame_id, "delivered")
    assert len(downstream.observation_posts) == 1
    text = (await client.get("/metrics")).text
    assert "ingest_aggregator_conflicts_total 1.0" in text
    assert 'ingest_deliveries_total{outcome="delivered"} 1.0' in text


async def test_metrics_show_outbox_and_deliveries(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    await add_camera(client, "c7")
    frame_id = await push(client, "c7", 7)
    await wait_status(client, frame_id, "delivered")
    text = (await client.get("/metrics")).text
    assert 'ingest_deliveries_total{outcome="delivered"} 1.0' in text
    assert "ingest_outbox_depth 0.0" in text
    assert 'ingest_breaker_state{service="classifier"} 0.0' in text
    assert 'ingest_frames_accepted_total{source="push"} 1.0' in text
    route = 'method="PUT",route="/v1/cameras/{camera_id}/frame"'  # the kit's, same registry
    assert f'http_requests_total{{{route},status="202"}} 1.0' in text


def pending_ids(r: redis.Redis) -> list[Any]:
    return [p["message_id"] for p in r.xpending_range(STREAM, GROUP, "-", "+", 10)]


@pytest.fixture
def slow_reclaim(redis_url: str, downstream: Downstream) -> Settings:
    """Entries count as abandoned after 30 s idle, and our own reclaimer looks only at start,
    so only the test's rival consumer (or the worker itself) touches the pending entry."""
    return fast_settings(
        redis_url, downstream.url, reclaim_min_idle_s=30.0, reclaim_interval_s=300.0
    )


async def test_the_claim_is_refreshed_before_each_downstream_call(
    slow_reclaim: Settings, downstream: Downstream, redis_url: str
) -> None:
    """A classifier call that takes longer than the reclaim idle time must not let a rival take
    the frame over before the aggregator call (it would deliver it a second time): the worker
    refreshes its claim before each call. Fails when that heartbeat is removed."""
    rival_got: list[bytes] = []
    with redis.Redis.from_url(redis_url) as r:

        def classifier_takes_a_minute() -> None:  # as if this call had lasted 60 s
            for entry in r.xpending_range(STREAM, GROUP, "-", "+", 10):
                owner, message_id = entry["consumer"], entry["message_id"]
                r.xclaim(STREAM, GROUP, owner, 0, [message_id], idle=60_000, justid=True)

        def rival_reclaims() -> None:  # a live consumer's XAUTOCLAIM, during the aggregator call
            rival_got.extend(r.xautoclaim(STREAM, GROUP, "rival", 30_000, "0-0", justid=True))

        downstream.during_predict = classifier_takes_a_minute
        downstream.during_observe = rival_reclaims
        async with app_client(create_app(slow_reclaim)) as client:
            await add_camera(client, "hb")
            frame_id = await push(client, "hb", 1)
            await wait_status(client, frame_id, "delivered")
        assert rival_got == []  # the entry was ours again, freshly claimed, when we called
        assert pending_ids(r) == []
    assert len(downstream.observation_posts) == 1


async def test_a_worker_stops_when_another_consumer_took_its_entry_over(
    slow_reclaim: Settings, downstream: Downstream, redis_url: str
) -> None:
    """A rival took the entry over while we called the classifier: we must not call the
    aggregator nor ack the rival's entry. Fails when the EntryLost check is removed."""
    with redis.Redis.from_url(redis_url) as r:

        def rival_takes_over() -> None:
            for message_id in pending_ids(r):
                r.xclaim(STREAM, GROUP, "rival", 0, [message_id], justid=True)

        downstream.during_predict = rival_takes_over
        async with app_client(create_app(slow_reclaim)) as client:
            await add_camera(client, "lost")
            frame_id = await push(client, "lost", 2)
            taken_over = 'ingest_deliveries_total{outcome="taken_over"} 1.0'

            async def settled() -> bool:
                text = (await client.get("/metrics")).text
                return taken_over in text or bool(downstream.observation_posts)

            await eventually(settled, what="the worker gives the entry up")
            assert downstream.observation_posts == []
            assert taken_over in (await client.get("/metrics")).text
            assert await frame_status(client, frame_id) == "classified"  # the rival's to finish
        assert r.xpending(STREAM, GROUP)["consumers"] == [{"name": b"rival", "pending": 1}]


async def _async(value: Any) -> Any:
    return value
