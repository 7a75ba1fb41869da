"""What the dashboard reads, over HTTP on the real Redis: a space's reason, cameras, area, animal
and mismatch; its timeline and recent frames; readable alerts and their history; animals'
warnings and refused moves in plain words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aggregator import alerting
from aggregator.camera_health import CameraHealth
from tests.aggregator.conftest import CAT, DOG, NOBODY, observation
from tests.aggregator.test_alerts import animal, feed

pytestmark = pytest.mark.anyio
HOUR = timedelta(hours=1)


async def test_a_space_says_why_it_is_unknown_then_who_is_there(client, clock):
    await client.post("/v1/observations", json=observation("d0", space="kennel-3", probs=DOG))
    clock.at(1)
    await client.post("/v1/observations", json=observation("d1", space="kennel-3", at=1, probs=DOG))
    early = (await client.get("/v1/spaces/kennel-3")).json()
    assert early["occupant"] == "unknown"
    assert early["reason"] == "too_few_frames"
    assert early["reason_text"] == "Not enough agreeing frames yet (1 of 3, a dog so far)."
    assert (early["area"], early["cameras"]) == ("kennel", ["cam-1"])
    assert early["latest_frames"]["cam-1"]["frame_id"] == "d1"
    await feed(client, clock, space="kennel-3", start=2, n=4, probs=DOG)
    settled = (await client.get("/v1/spaces/kennel-3")).json()
    assert (settled["occupant"], settled["reason"], settled["reason_text"]) == ("dog", None, None)
    clock.at(5 + 121)
    stale = (await client.get("/v1/spaces/kennel-3")).json()
    assert (stale["occupant"], stale["reason"], stale["cameras"]) == ("unknown", "stale", [])


async def test_cameras_that_disagree_are_named(client, clock):
    await feed(client, clock, space="room-a", n=4, probs=CAT, camera="cam-1")
    await feed(client, clock, space="room-a", start=4, n=6, probs=NOBODY, camera="cam-2")
    space = (await client.get("/v1/spaces/room-a")).json()
    assert (space["occupant"], space["reason"], space["area"]) == (
        "unknown",
        "cameras_disagree",
        "room",
    )
    assert space["reason_text"] == "The cameras disagree: cam-1 sees a cat, cam-2 sees nobody."


async def test_the_registry_animal_and_a_mismatch_are_on_the_tile(client_for, clock):
    client, _ = await client_for()
    bella = await animal(client, name="Bella", species="dog", space_id="kennel-3")
    await feed(client, clock, space="kennel-3", n=6, probs=CAT)
    tile = (await client.get("/v1/spaces/kennel-3")).json()
    assert tile["occupant"] == "cat"
    assert tile["animal"] == {"id": bella["id"], "name": "Bella", "species": "dog",
                              "status": "intake"}  # fmt: skip
    assert tile["mismatch"] is True
    await feed(client, clock, space="kennel-3", start=6, n=20, probs=DOG, tag="d")
    assert (await client.get("/v1/spaces/kennel-3")).json()["mismatch"] is False
    # the live update carries the same fields
    posted = await client.post(
        "/v1/observations", json=observation("x", space="kennel-3", at=26, probs=DOG)
    )
    assert posted.json()["space"]["animal"]["name"] == "Bella"


async def test_spaces_named_only_by_the_registry_or_ingest_are_listed_in_natural_order(
    client_for, clock
):
    client, app = await client_for()
    await animal(client, name="Milo", species="cat", space_id="kennel-9")
    await alerting.reconcile_cameras(app.state.shelter, [CameraHealth("cam-20", "kennel-20")])
    for space in ("kennel-11", "kennel-2", "kennel-1"):
        await feed(client, clock, space=space, n=1)
    listed = (await client.get("/v1/spaces")).json()
    assert [s["space_id"] for s in listed] == [
        "kennel-1", "kennel-2", "kennel-9", "kennel-11", "kennel-20"
    ]  # fmt: skip
    nine = (await client.get("/v1/spaces/kennel-9")).json()
    assert (nine["occupant"], nine["reason"], nine["animal"]["name"]) == (
        "unknown",
        "no_frames",
        "Milo",
    )
    assert nine["reason_text"] == "No camera has sent a frame of this space yet."
    assert (await client.get("/v1/spaces/kennel-20")).json()["reason"] == "no_frames"
    missing = await client.get("/v1/spaces/kennel-99")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_history_is_a_bounded_timeline_oldest_first(client, clock):
    await feed(client, clock, space="k1", n=8, probs=DOG)
    points = (await client.get("/v1/spaces/k1/history")).json()
    assert [p["frame_id"] for p in points] == [f"fk1cam-1{i}" for i in range(8)]
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    assert set(points[0]) == {"at", "occupant", "confidence", "frame_id", "camera_id", "outcome"}
    assert points[-1]["occupant"] == "dog"
    assert points[0]["occupant"] == "unknown"
    since = points[4]["at"]
    later = (await client.get(f"/v1/spaces/k1/history?since={since}")).json()
    assert [p["frame_id"] for p in later] == [f"fk1cam-1{i}" for i in (5, 6, 7)]
    newest = (await client.get("/v1/spaces/k1/history?limit=2")).json()
    assert [p["frame_id"] for p in newest] == ["fk1cam-16", "fk1cam-17"]
    bad = await client.get("/v1/spaces/k1/history?limit=0")
    assert bad.status_code == 422
    assert (await client.get("/v1/spaces/k1/history?since=soon")).status_code == 422


async def test_frames_are_the_recent_observations_with_the_classifier_answer(client, clock):
    body = {**observation("p1", space="k1", probs=DOG), "prediction_id": "pred-1",
            "role": "candidate", "strategy": "canary"}  # fmt: skip
    assert (await client.post("/v1/observations", json=body)).status_code == 201
    clock.at(1)
    await client.post("/v1/observations", json=observation("p2", space="k1", at=1, probs=CAT))
    frames = (await client.get("/v1/spaces/k1/frames")).json()
    assert [f["frame_id"] for f in frames] == ["p2", "p1"]
    first = frames[1]
    assert first["camera_id"] == "cam-1"
    assert (first["label"], first["confidence"]) == ("dog", 0.9)
    assert first["probabilities"] == DOG
    assert (first["model"], first["model_version"]) == ("efficientnet-lite0-pets", "1")
    assert (first["prediction_id"], first["role"], first["strategy"]) == (
        "pred-1",
        "candidate",
        "canary",
    )
    assert frames[0]["prediction_id"] is None
    assert len((await client.get("/v1/spaces/k1/frames?limit=1")).json()) == 1
    # the classifier's bookkeeping is not part of the frame's identity: a repeat without it
    again = await client.post("/v1/observations", json=observation("p1", space="k1", probs=DOG))
    assert again.status_code == 200
    assert (await client.get("/v1/spaces/nowhere/frames")).status_code == 404
    assert (await client.get("/v1/spaces/k1/frames?limit=0")).status_code == 422


async def test_frames_storage_per_space_is_capped(client_for, clock):
    client, _ = await client_for(history_max=3)
    await feed(client, clock, space="k1", n=6)
    frames = (await client.get("/v1/spaces/k1/frames?limit=100")).json()
    assert [f["frame_id"] for f in frames] == [f"fk1cam-1{i}" for i in (5, 4, 3)]


async def test_alerts_read_with_names_and_keep_a_bounded_resolved_history(client_for, clock):
    client, app = await client_for(mismatch_after_s=30)
    bella = await animal(client, name="Bella", species="dog", space_id="kennel-3")
    await feed(client, clock, space="kennel-3", n=46, probs=CAT)
    active = (await client.get("/v1/alerts?status=active")).json()
    mismatch = next(a for a in active if a["kind"] == "species_mismatch")
    assert bella["id"] not in mismatch["message"]
    assert mismatch["message"].startswith(
        "Bella (dog) is registered in kennel-3 but the cameras have seen a cat for "
    )
    await feed(client, clock, space="kennel-3", start=46, n=25, probs=DOG, tag="d")
    resolved = (await client.get("/v1/alerts?status=resolved")).json()
    assert [a["id"] for a in resolved] == [mismatch["id"]]
    assert resolved[0]["resolved_at"]
    gone = CameraHealth("cam-8", "kennel-8", online=False, offline_since=clock.now - HOUR)
    await alerting.reconcile_cameras(app.state.shelter, [gone])
    everything = (await client.get("/v1/alerts")).json()
    assert len(everything) == 2
    assert (await client.get("/v1/alerts?limit=1")).json() == everything[:1]
    assert (await client.get("/v1/alerts?limit=0")).status_code == 422
    assert (await client.get("/v1/alerts?status=gone")).status_code == 422

    refused = await client.post(f"/v1/alerts/{mismatch['id']}/ack")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "nothing to acknowledge" in refused.json()["detail"]
    unknown = await client.post("/v1/alerts/no-such-alert/ack")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/alert-not-found")


async def test_animals_warn_when_their_space_has_no_camera_or_a_camera_is_offline(
    client_for, clock
):
    client, app = await client_for()
    milo = await animal(client, name="Milo", species="cat", space_id="kennel-9")
    assert milo["warnings"] == ["kennel-9 has no camera"]
    await alerting.reconcile_cameras(
        app.state.shelter, [CameraHealth("cam-9", "kennel-9", online=False)]
    )
    listed = {a["name"]: a for a in (await client.get("/v1/animals")).json()}
    assert listed["Milo"]["warnings"] == ["kennel-9's camera cam-9 is offline"]
    await alerting.reconcile_cameras(app.state.shelter, [CameraHealth("cam-9", "kennel-9")])
    await feed(client, clock, space="kennel-9", n=6, probs=DOG)
    seen = (await client.get(f"/v1/animals/{milo['id']}")).json()
    assert seen["warnings"] == ["The cameras see a dog in kennel-9, not Milo the cat"]
    homeless = await animal(client, name="Rex", species="dog")
    assert homeless["warnings"] == []


async def test_a_refused_status_move_says_why_in_plain_words(client):
    rex = await animal(client, name="Rex", species="dog")
    refused = await client.patch(f"/v1/animals/{rex['id']}", json={"status": "adopted"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "Rex cannot move from intake to adopted: an animal in intake must be made available "
        "first (from intake it can move to available)."
    )


async def test_a_repeat_of_a_frame_recorded_before_cameras_became_a_list(client_for, redis_url):
    import json

    import redis.asyncio as aioredis

    client, _ = await client_for()
    body = observation("legacy", space="kennel-1")
    first = (await client.post("/v1/observations", json=body)).json()
    old_space = {**first["space"], "cameras": first["space"]["latest_frames"]}
    for name in ("area", "reason", "reason_text", "latest_frames", "animal", "animals", "mismatch"):
        del old_space[name]
    r = aioredis.Redis.from_url(redis_url)
    raw = await r.get("agg:frame:legacy")
    assert raw is not None
    stored = json.loads(raw)
    await r.set("agg:frame:legacy", json.dumps({**stored, "result": {**first, "space": old_space}}))
    await r.aclose()
    again = await client.post("/v1/observations", json=body)
    assert again.status_code == 200
    assert again.json()["space"]["cameras"] == ["cam-1"]
    assert again.json()["space"]["latest_frames"]["cam-1"]["frame_id"] == "legacy"
