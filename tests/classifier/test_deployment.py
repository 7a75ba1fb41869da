"""The deployment through HTTP (in-process, real Redis, tiny models built here, a fixed seed):
canary share, A/B stickiness, history, promote and rollback, the /v2 alias, automatic rollback
on a failing canary, and the classifier without a store."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier.served import ServedModel
from tests.classifier.conftest import TINY, AppClient, deploy_settings, start_client, tiny_jpeg
from tests.servers import eventually

A, B = "tiny-a/1", "tiny-b/1"
JPEG = {"Content-Type": "image/jpeg"}


@pytest.fixture
def tiny(tiny_dir: Path, redis_url: str, tmp_path: Path) -> Iterator[AppClient]:
    client = start_client(deploy_settings(tiny_dir, redis_url, store_dir=tmp_path / "store"))
    yield client
    client.close()


def put(client: AppClient, key: str = "key-admin", **spec: Any) -> dict[str, Any]:
    response = client.put("/v1/deployment", json=spec, headers={"X-Key-Id": key})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def predict_many(client: AppClient, n: int, *, cameras: list[str] | None = None) -> list[Any]:
    """n predictions, 16 at a time, each with its camera (if given): the answers in order."""
    image = tiny_jpeg()

    async def burst() -> list[httpx.Response]:
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> httpx.Response:
            headers = {**JPEG, **({"X-Camera-Id": cameras[i]} if cameras else {})}
            async with gate:
                return await client.http.post("/v1/predict", content=image, headers=headers)

        return await asyncio.gather(*(one(i) for i in range(n)))

    responses = client.portal.call(burst)
    assert {r.status_code for r in responses} == {200}, responses[0].text
    return [r.json() for r in responses]


def versions_of(answers: list[Any]) -> list[str]:
    return [f"{a['model']}/{a['version']}" for a in answers]


def deployment(client: AppClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/v1/deployment").json()
    return body


def row(view: dict[str, Any], version: str) -> dict[str, Any]:
    (found,) = [v for v in view["versions"] if v["version"] == version]
    return found  # type: ignore[no-any-return]


def test_canary_ten_percent_of_2000_requests(tiny: AppClient) -> None:
    put(tiny, strategy="canary", primary=A, candidate=B, weight=0.1)
    answers = predict_many(tiny, 2000)
    counts = Counter(versions_of(answers))
    assert 0.07 * 2000 <= counts[B] <= 0.13 * 2000, counts
    assert counts[A] + counts[B] == 2000
    roles = {
        (v, a["role"], a["strategy"]) for v, a in zip(versions_of(answers), answers, strict=True)
    }
    assert roles == {(A, "primary", "canary"), (B, "candidate", "canary")}

    def counted() -> dict[str, Any] | None:  # the fleet's counts reach Redis off the response path
        view = deployment(tiny)
        return view if row(view, A)["requests"] + row(view, B)["requests"] == 2000 else None

    view = eventually(counted, timeout=10, what="2000 requests counted in Redis")
    assert row(view, B)["requests"] == counts[B]
    assert row(view, B)["share"] == pytest.approx(counts[B] / 2000, abs=1e-3)
    assert row(view, B)["target_share"] == pytest.approx(0.1)
    assert row(view, B)["latency"]["p95_ms"] is not None
    assert view["comparison"]["compared"] > 0  # the primary's second opinion on a sample


def test_ab_keeps_each_camera_on_its_arm_and_a_weight_change_moves_only_its_share(
    tiny: AppClient,
) -> None:
    cameras = [f"cam-{i}" for i in range(400)]
    put(tiny, strategy="ab", primary=A, candidate=B, weight=0.3)
    first = dict(zip(cameras, versions_of(predict_many(tiny, 400, cameras=cameras)), strict=True))
    again = dict(zip(cameras, versions_of(predict_many(tiny, 400, cameras=cameras)), strict=True))
    assert first == again  # sticky
    assert sum(v == B for v in first.values()) == pytest.approx(0.3 * 400, abs=30)
    put(tiny, strategy="ab", primary=A, candidate=B, weight=0.6)
    after = dict(zip(cameras, versions_of(predict_many(tiny, 400, cameras=cameras)), strict=True))
    assert all(after[c] == B for c in cameras if first[c] == B)  # nobody left the grown arm
    moved = sum(first[c] != after[c] for c in cameras)
    assert moved == pytest.approx(0.3 * 400, abs=30)  # 0.3 -> 0.6 moves 30% of the cameras

    def per_arm() -> dict[str, Any] | None:
        view = deployment(tiny)
        return view if row(view, A)["requests"] + row(view, B)["requests"] == 1200 else None

    view = eventually(per_arm, timeout=10, what="per-arm counts")
    on_b = sum(v == B for answers in (first, again, after) for v in answers.values())
    assert row(view, B)["requests"] == on_b


def test_history_promote_and_rollback(tiny: AppClient) -> None:
    canary = {"strategy": "canary", "primary": A, "candidate": B, "weight": 0.1}
    assert put(tiny, "key-1", **canary)["generation"] == 1
    assert put(tiny, "key-1", **canary)["generation"] == 1  # the same spec: no change
    wider = put(tiny, "key-1", **{**canary, "weight": 0.5})
    assert (wider["generation"], wider["rollout"]) == (2, 1)  # a weight change keeps the rollout
    promoted = tiny.post("/v1/deployment/promote", headers={"X-Key-Id": "key-2"}).json()
    assert (promoted["strategy"], promoted["spec"]["primary"], promoted["previous_primary"]) == (
        "single", B, A,
    )  # fmt: skip
    models = tiny.get("/v1/models").json()
    roles = {(m["name"], v["version"]): v["roles"] for m in models["models"] for v in m["versions"]}
    assert roles[("tiny-b", "1")] == ["primary"]
    assert roles[("tiny-a", "1")] == ["previous-primary"]
    assert models["default_model"] == "tiny-b"
    back = tiny.post("/v1/deployment/rollback", headers={"X-Key-Id": "key-3"}).json()
    assert (back["spec"]["primary"], back["previous_primary"]) == (A, B)
    entries = tiny.get("/v1/deployment/history").json()["entries"]
    assert [(e["action"], e["by"], e["generation"]) for e in entries] == [
        ("rollback", "key-3", 4), ("promote", "key-2", 3), ("put", "key-1", 2), ("put", "key-1", 1),
    ]  # fmt: skip
    assert entries[1]["from"]["strategy"] == "canary"
    assert entries[1]["to"] == {**entries[1]["to"], "strategy": "single", "primary": B}
    assert entries[3]["from"]["primary"] == A  # the implicit single deployment before the first


def test_bad_changes_are_refused_and_change_nothing(tiny: AppClient) -> None:
    unknown = tiny.put("/v1/deployment", json={"strategy": "canary", "primary": A,
                                               "candidate": "tiny-x/9"})  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["type"].endswith("/invalid-deployment")
    assert "tiny-x/9" in unknown.json()["detail"]
    invalid = tiny.put("/v1/deployment", json={"strategy": "canary", "primary": A})
    assert invalid.status_code == 422
    assert invalid.json()["type"].endswith("/validation-error")
    nothing = tiny.post("/v1/deployment/promote")
    assert nothing.status_code == 409
    assert tiny.post("/v1/deployment/rollback").status_code == 409
    assert deployment(tiny)["generation"] == 0
    assert tiny.get("/v1/deployment/history").json() == {"entries": []}


def test_v2_alias_goes_through_the_deployment_and_names_bypass_it(tiny: AppClient) -> None:
    put(tiny, strategy="canary", primary=A, candidate=B, weight=1.0)
    shape = [1, 3, TINY, TINY]
    body = {"inputs": [{"name": "images", "shape": shape, "datatype": "FP32",
                        "data": [0.0] * (3 * TINY * TINY)}]}  # fmt: skip
    routed = tiny.post("/v2/models/deployed/infer", json=body).json()
    assert (routed["model_name"], routed["model_version"]) == ("tiny-b", "1")
    direct = tiny.post("/v2/models/tiny-a/infer", json=body).json()
    assert direct["model_name"] == "tiny-a"
    meta = tiny.get("/v2/models/deployed").json()
    assert meta["name"] == "tiny-a"  # the primary's metadata
    assert tiny.get("/v2/models/deployed/versions/1/ready").status_code == 404
    explicit = tiny.post("/v1/predict?model=tiny-a&version=1", content=tiny_jpeg(), headers=JPEG)
    assert (explicit.json()["role"], explicit.json()["strategy"]) == ("explicit", "explicit")


def test_a_failing_canary_rolls_itself_back_and_never_fails_a_caller(
    tiny: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: ServedModel | None = tiny.app.state.registry.find(B)
    assert served is not None

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the candidate's runtime crashed")

    monkeypatch.setattr(served, "classify", broken)
    rules = {"min_samples": 20, "max_error_rate": 0.1}
    put(tiny, strategy="canary", primary=A, candidate=B, weight=0.5, canary=rules)
    answers = predict_many(tiny, 200)
    assert set(versions_of(answers)) == {A}  # each failed canary answer came from the primary

    def rolled_back() -> dict[str, Any] | None:
        view = deployment(tiny)
        return view if view["strategy"] == "single" else None

    view = eventually(rolled_back, timeout=10, what="the automatic rollback")
    assert view["spec"]["primary"] == A
    (entry, *_) = tiny.get("/v1/deployment/history").json()["entries"]
    assert (entry["action"], entry["by"]) == ("auto-rollback", None)
    assert "error rate" in entry["reason"]
    assert entry["from"]["candidate"] == B
    metrics = tiny.get("/metrics").text
    assert 'classifier_version_errors_total{model="tiny-b",role="candidate",version="1"}' in metrics


def test_without_a_store_the_default_serves_and_changes_are_503(tiny_dir: Path) -> None:
    client = start_client(deploy_settings(tiny_dir, None))
    try:
        assert predict_many(client, 3)[0]["version"] == "1"
        view = deployment(client)
        assert (view["strategy"], view["store"]["status"]) == ("single", "not-configured")
        refused = client.put("/v1/deployment", json={"primary": A})
        assert refused.status_code == 503
        assert refused.json()["type"].endswith("/not-configured")
        assert (
            client.post("/v1/feedback", json={"prediction_id": "x", "label": "cat"}).status_code
            == 503
        )
        assert client.get("/readyz").status_code == 200
    finally:
        client.close()
