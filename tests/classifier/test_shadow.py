"""Shadow deployment with the real Lite0 as primary and a deliberately bad copy (a head that
always says dog) as candidate: responses never change, the comparison names the disagreements,
and a candidate that errors or hangs costs the caller nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from classifier.served import ServedModel
from tests.classifier.conftest import LITE0, AppClient, deploy_settings, start_client
from tests.classifier.test_api import metric
from tests.servers import eventually

DOG = "lite0-dog/1"
JPEG = {"Content-Type": "image/jpeg"}


@pytest.fixture
def shadowed(dog_dir: Path, redis_url: str) -> Iterator[AppClient]:
    settings = deploy_settings(dog_dir, redis_url, shadow_timeout_s=0.5, shadow_queue=4)
    client = start_client(settings)
    yield client
    client.close()


def answers(client: AppClient, samples: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    bodies = []
    for path, _ in samples:
        response = client.post("/v1/predict", content=path.read_bytes(), headers=JPEG)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    return bodies


def same_answers(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    keep = ("label", "probabilities", "model", "version", "role")
    assert [{k: x[k] for k in keep} for x in a] == [{k: x[k] for k in keep} for x in b]


def shadow_on(client: AppClient) -> None:
    spec = {"strategy": "shadow", "primary": LITE0, "candidate": DOG, "weight": 1.0}
    assert client.put("/v1/deployment", json=spec).status_code == 200


def candidate(client: AppClient) -> ServedModel:
    served: ServedModel | None = client.app.state.registry.find(DOG)
    assert served is not None
    return served


def test_shadow_never_changes_a_response_and_compares_outputs(
    shadowed: AppClient, samples: list[tuple[Path, str]]
) -> None:
    alone = answers(shadowed, samples)
    shadow_on(shadowed)
    copied = answers(shadowed, samples)
    same_answers(alone, copied)
    assert {a["strategy"] for a in copied} == {"shadow"}

    def compared() -> dict[str, Any] | None:
        view: dict[str, Any] = shadowed.get("/v1/deployment").json()
        return view if view["comparison"]["compared"] == len(samples) else None

    view = eventually(compared, timeout=10, what="every shadow run compared")
    comparison = view["comparison"]
    cats = [
        a["prediction_id"] for a, (_, label) in zip(copied, samples, strict=True) if label == "cat"
    ]
    assert comparison["confusion"]["cat"]["dog"] == len(cats)  # the bad head calls cats dogs
    assert comparison["confusion"]["dog"]["dog"] == sum(label == "dog" for _, label in samples)
    assert sorted(comparison["disagreements"]) == sorted(cats)
    assert comparison["agreement"] == pytest.approx(1 - len(cats) / len(samples), abs=1e-3)
    (dog_row,) = [v for v in view["versions"] if v["version"] == DOG]
    assert (dog_row["role"], dog_row["requests"], dog_row["errors"]) == (
        "candidate",
        len(samples),
        0,
    )


def test_shadow_survives_a_candidate_that_errors(
    shadowed: AppClient, samples: list[tuple[Path, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = answers(shadowed, samples)

    async def broken(tensor: object) -> None:
        raise RuntimeError("the candidate crashed")

    monkeypatch.setattr(candidate(shadowed), "predict", broken)
    shadow_on(shadowed)
    same_answers(alone, answers(shadowed, samples))

    def errors() -> bool:
        view = shadowed.get("/v1/deployment").json()
        (dog_row,) = [v for v in view["versions"] if v["version"] == DOG]
        return bool(dog_row["errors"] == dog_row["requests"] > 0)

    eventually(errors, timeout=10, what="the shadow's errors counted")


def test_shadow_survives_a_candidate_that_hangs(
    shadowed: AppClient, samples: list[tuple[Path, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = answers(shadowed, samples)

    async def hangs(tensor: object) -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(candidate(shadowed), "predict", hangs)
    shadow_on(shadowed)
    started = time.perf_counter()
    copied = answers(shadowed, samples)
    elapsed = time.perf_counter() - started
    same_answers(alone, copied)
    # 15 photos answered while each shadow run waits its 0.5 s timeout: none waited for it
    assert elapsed < 0.5 * len(samples) / 2, elapsed
    assert metric(shadowed, "classifier_shed_total") > 0  # the queue of 4 filled, and shed

    def timed_out() -> bool:  # each run that outlived the timeout is the candidate's error
        view = shadowed.get("/v1/deployment").json()
        (dog_row,) = [v for v in view["versions"] if v["version"] == DOG]
        return bool(dog_row["errors"] >= 2)

    eventually(timed_out, timeout=10, what="the hanging runs counted as errors")


def test_a_candidate_of_another_input_size_gets_its_own_preprocessing(
    shadowed: AppClient, samples: list[tuple[Path, str]]
) -> None:
    spec = {"strategy": "shadow", "primary": LITE0, "candidate": "tiny-dog/1", "weight": 1.0}
    assert shadowed.put("/v1/deployment", json=spec).status_code == 200
    copied = answers(shadowed, samples)
    assert {a["model"] for a in copied} == {"efficientnet-lite0-pets"}

    def compared() -> dict[str, Any] | None:
        comparison: dict[str, Any] = shadowed.get("/v1/deployment").json()["comparison"]
        return comparison if comparison["compared"] == len(samples) else None

    comparison = eventually(compared, timeout=10, what="every copy compared")
    primary_labels = [a["label"] for a in copied]
    for label in ("cat", "dog", "other"):  # the 16 px model says dog to every 224 px answer
        assert comparison["confusion"][label]["dog"] == primary_labels.count(label)
