"""Pure parts: a job's rate and ETA, the replay comparison from its counters, the rendered
results, and which version `current` means."""

from __future__ import annotations

import csv
import io

from batch.clients import _primary
from batch.items import Result
from batch.jobs import JobRecord, TargetModel
from batch.progress import comparison, rate_and_eta, view
from batch.results import render
from batch.schemas import ModelListRead

TARGET = TargetModel("lite0", "2", "current", ["cat", "dog", "other"])


def job(**fields: object) -> JobRecord:
    values: dict[str, object] = {
        "job_id": "j", "state": "running", "kind": "frames", "source": {"kind": "frames"},
        "target": TARGET, "total": 100, "done": 40, "failed": 10, "created_ms": 0,
        "started_ms": 1_000, "finished_ms": None, "error": None,
    }  # fmt: skip
    return JobRecord(**{**values, **fields})  # type: ignore[arg-type]


def test_rate_and_eta_come_from_the_recorded_items() -> None:
    assert rate_and_eta(job(), now_ms=11_000) == (5.0, 10.0)  # 50 in 10 s, 50 to go
    assert rate_and_eta(job(started_ms=None), now_ms=11_000) == (None, None)
    ended = job(state="done", done=90, failed=10, finished_ms=21_000)
    assert rate_and_eta(ended, now_ms=99_000) == (5.0, 0.0)  # to its end, not to now


def test_the_comparison_reads_its_counters() -> None:
    counters = {"compared": 5, "agreed": 3, "disagreeing": 2, "unclassified": 1,
                "cm:cat|cat": 3, "cm:cat|dog": 1, "cm:dog|other": 1,
                "fb:labelled": 4, "fb:candidate": 4, "fb:primary": 2}  # fmt: skip
    found = comparison(job(compare=counters, disagreeing=["f1", "f2"]))
    assert found is not None
    assert found.confusion == {"cat": {"cat": 3, "dog": 1}, "dog": {"other": 1}}
    assert (found.agreement, found.feedback.candidate_agreement) == (0.6, 1.0)
    assert found.feedback.primary_agreement == 0.5
    assert comparison(job(kind="archive")) is None
    assert view(job(kind="archive"), now_ms=11_000).comparison is None


def test_csv_has_a_column_per_label_and_the_replay_columns() -> None:
    rows = [
        Result(0, "f0", "cat", {"cat": 0.9, "dog": 0.05, "other": 0.05}, None, None, "dog", "cat"),
        Result(1, "f1", None, {}, "corrupt-image", "truncated", "cat", None),
    ]
    table = list(csv.DictReader(io.StringIO(render(job(), rows, "csv", header=True))))
    assert table[0]["p_dog"] == "0.05"
    assert (table[0]["confidence"], table[0]["agrees"], table[0]["feedback_label"]) == (
        "0.9",
        "False",
        "cat",
    )
    assert (table[1]["status"], table[1]["reason"], table[1]["p_cat"]) == (
        "failed",
        "corrupt-image",
        "",
    )


def test_current_means_the_version_whose_role_is_primary() -> None:
    listing = ModelListRead.model_validate(
        {
            "default_model": "lite0",
            "models": [
                {
                    "name": "lite0",
                    "default_version": "2",
                    "versions": [
                        {"version": "1", "labels": ["cat"], "roles": ["primary"]},
                        {"version": "2", "labels": ["cat"], "roles": ["candidate"]},
                    ],
                }
            ],
        }
    )
    assert _primary(listing) == ("lite0", "1")
    older = ModelListRead.model_validate({"default_model": "lite0", "models": []})
    assert _primary(older) == ("lite0", "")  # a classifier that names no roles: its default
