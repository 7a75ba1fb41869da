"""Feedback and what it drives, with the real Lite0 against a copy whose head always says dog:
feedback is idempotent per prediction id; the bandit moves the traffic to the better arm; a
canary that disagrees with the primary rolls itself back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.classifier.conftest import LITE0, AppClient, deploy_settings, start_client
from tests.servers import eventually

DOG = "lite0-dog/1"
JPEG = {"Content-Type": "image/jpeg"}


@pytest.fixture
def client(dog_dir: Path, redis_url: str) -> Iterator[AppClient]:
    client = start_client(deploy_settings(dog_dir, redis_url))
    yield client
    client.close()


@pytest.fixture(scope="module")
def animals(samples: list[tuple[Path, str]]) -> list[tuple[bytes, str]]:
    return [(path.read_bytes(), label) for path, label in samples if label != "other"]


def predict(client: AppClient, photo: bytes) -> dict[str, Any]:
    response = client.post("/v1/predict", content=photo, headers=JPEG)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def feedback(client: AppClient, prediction_id: str, label: str) -> Any:
    return client.post("/v1/feedback", json={"prediction_id": prediction_id, "label": label},
                       headers={"X-Key-Id": "key-staff"})  # fmt: skip


def version(answer: dict[str, Any]) -> str:
    return f"{answer['model']}/{answer['version']}"


def test_feedback_is_once_per_prediction(
    client: AppClient, animals: list[tuple[bytes, str]]
) -> None:
    photo, label = animals[0]
    answer = predict(client, photo)
    first = feedback(client, answer["prediction_id"], label)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "prediction_id": answer["prediction_id"], "label": label, "predicted": answer["label"],
        "model": answer["model"], "version": answer["version"], "correct": True,
        "rewarded": False, "duplicate": False,
    }  # fmt: skip
    again = feedback(client, answer["prediction_id"], label)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    other = "dog" if label == "cat" else "cat"
    conflict = feedback(client, answer["prediction_id"], other)
    assert conflict.status_code == 409
    assert conflict.json()["type"].endswith("/feedback-conflict")
    unknown = feedback(client, "0b7c4b8e-0000-4000-8000-000000000000", "cat")
    assert unknown.status_code == 404
    assert feedback(client, answer["prediction_id"], "fish").status_code == 422

    def counted() -> dict[str, Any] | None:
        view = client.get("/v1/deployment").json()
        (primary,) = view["versions"]
        return primary if primary["feedback"]["count"] == 1 else None

    row = eventually(counted, timeout=10, what="the feedback in the version's accuracy")
    assert row["feedback"] == {"count": 1, "correct": 1, "accuracy": 1.0}
    assert (row["role"], row["requests"]) == ("primary", 1)  # counted without any PUT too


def test_the_bandit_moves_traffic_to_the_better_arm(
    client: AppClient, animals: list[tuple[bytes, str]]
) -> None:
    spec = {"strategy": "bandit", "primary": DOG, "candidate": LITE0}  # the bad one as primary
    assert client.put("/v1/deployment", json=spec).status_code == 200
    served: Counter[str] = Counter()
    for i in range(200):  # a few hundred feedback events
        photo, label = animals[i % len(animals)]
        answer = predict(client, photo)
        served[version(answer)] += 1
        result = feedback(client, answer["prediction_id"], label)
        assert result.status_code == 201
        assert result.json()["rewarded"] is True
    after = Counter(version(predict(client, photo)) for photo, _ in animals * 4)
    assert after[LITE0] >= 0.8 * sum(after.values()), (served, after)
    view = client.get("/v1/deployment").json()
    posteriors = {v["version"]: v["posterior"]["mean"] for v in view["versions"]}
    assert posteriors[LITE0] > 0.9 > 0.6 > posteriors[DOG]


def test_a_canary_that_disagrees_with_the_primary_rolls_back(
    client: AppClient, animals: list[tuple[bytes, str]]
) -> None:
    rules = {"compare_fraction": 1.0, "min_comparisons": 10, "max_disagreement": 0.2}
    spec = {"strategy": "canary", "primary": LITE0, "candidate": DOG, "weight": 0.5,
            "canary": rules}  # fmt: skip
    assert client.put("/v1/deployment", json=spec).status_code == 200
    cats = [photo for photo, label in animals if label == "cat"]
    for photo in cats * 8:
        predict(client, photo)

    def rolled_back() -> dict[str, Any] | None:
        (entry, *_) = client.get("/v1/deployment/history").json()["entries"]
        return entry if entry["action"] == "auto-rollback" else None

    entry = eventually(rolled_back, timeout=10, what="the automatic rollback")
    assert "disagreement" in entry["reason"]
    assert client.get("/v1/deployment").json()["spec"] == {**entry["to"], "primary": LITE0}
