"""The other two sources, through the real service: URL lists (fetched by the egress rules) and
camera-ingest's frame archive (a real HTTP stand-in of it), whose replay against a candidate
reports agreement with the primary at the time and with the staff's labels."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.batch.conftest import Batch, fast_settings, serve
from tests.batch.standin import Standin
from tests.servers import ServiceProcess

pytestmark = pytest.mark.slow


def run_job(batch: Batch, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    response = batch.submit(body)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job = batch.finished(job_id)
    rows = [json.loads(line) for line in batch.results(job_id).text.splitlines()]
    return job, rows


def test_urls_are_fetched_and_classified(batch: Batch, standin: Standin) -> None:
    photos = [f"{standin.url}/photos/{folder}/oxpet-001.jpg" for folder in ("cat", "dog")]
    urls = [*photos, f"{standin.url}/photos/cat/missing.jpg", f"{standin.url}/status/503"]
    job, rows = run_job(batch, {"source": {"kind": "urls", "urls": urls}})
    assert job["state"] == "done"
    assert [row["label"] for row in rows[:2]] == ["cat", "dog"]
    assert (rows[2]["reason"], rows[3]["reason"]) == ("http-404", "fetch-failed")
    assert job["counts"]["reasons"] == {"http-404": 1, "fetch-failed": 1}


def test_url_jobs_refuse_internal_addresses_by_default(
    redis_url: str, tmp_path: Path, classifier: ServiceProcess, standin: Standin
) -> None:
    settings = fast_settings(redis_url, tmp_path / "b", classifier_url=classifier.url)
    port = standin.url.rsplit(":", 1)[1]
    urls = [
        f"http://127.0.0.1:{port}/photos/cat/oxpet-001.jpg",  # the photo is there: still refused
        "http://10.0.0.7/cam.jpg",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        f"http://localhost:{port}/photos/cat/oxpet-001.jpg",
        "http://[::ffff:192.168.1.1]/x.jpg",
        "file:///etc/passwd",
    ]
    with serve(settings) as default:
        job, rows = run_job(default, {"source": {"kind": "urls", "urls": urls}})
    assert job["counts"]["reasons"] == {"egress-refused": len(urls)}
    details = [row["detail"] for row in rows]
    assert "127.0.0.1 a loopback address" in details[0]
    assert "10.0.0.7 a private address" in details[1]
    assert "169.254.169.254 a cloud metadata address" in details[2]
    assert "localhost resolves to" in details[3]
    assert "scheme 'file'" in details[5]


def test_a_redirect_to_a_refused_address_is_not_followed(batch: Batch, standin: Standin) -> None:
    """Loopback is allowed here (the stand-in), yet its redirect to the metadata service is not."""
    hop = f"{standin.url}/redirect?to=http://169.254.169.254/latest/meta-data/"
    ok = f"{standin.url}/redirect?to={standin.url}/photos/dog/oxpet-021.jpg"
    _, rows = run_job(batch, {"source": {"kind": "urls", "urls": [hop, ok]}})
    assert rows[0]["reason"] == "egress-refused"
    assert "cloud metadata" in rows[0]["detail"]
    assert rows[1]["label"] == "dog"


def test_a_replay_compares_the_candidate_with_the_primary_and_the_staff(
    batch: Batch, standin: Standin
) -> None:
    body = {
        "source": {
            "kind": "frames",
            "since": "2026-11-28T09:00:00Z",
            "until": "2026-11-29T00:00:00Z",
        },
        "target": "efficientnet-lite0-pets-int8/1",
    }
    job, rows = run_job(batch, body)
    frames = standin.frames
    assert job["state"] == "done"
    assert job["counts"]["done"] == len(frames)
    assert len(standin.archive_queries) >= len(frames) // 4  # paged, 4 a page
    comparison = job["comparison"]
    assert isinstance(comparison, dict)
    by_id = {row["item"]: row for row in rows}
    classified = [f for f in frames if f.primary is not None]
    disagreeing = [f.frame_id for f in classified if by_id[f.frame_id]["label"] != f.primary]
    assert comparison["compared"] == len(classified)
    assert comparison["agreed"] == len(classified) - len(disagreeing)
    assert comparison["unclassified_at_the_time"] == 1
    assert sorted(comparison["disagreeing_frames"]) == sorted(disagreeing)
    confusion = Counter((f.primary, by_id[f.frame_id]["label"]) for f in classified)
    assert comparison["confusion"] == {"cat": {c: n for (_, c), n in confusion.items()}}
    dogs = [f.frame_id for f in frames if f.truth == "dog"]
    assert set(dogs) <= set(disagreeing)  # the made-up primary said cat to every dog

    staff = [f for f in classified if f.feedback is not None]
    feedback = comparison["feedback"]
    assert feedback["labelled"] == len(staff)
    assert feedback["primary_agreed"] == sum(f.feedback == f.primary for f in staff)
    assert feedback["candidate_agreed"] == sum(
        f.feedback == by_id[f.frame_id]["label"] for f in staff
    )
    assert feedback["candidate_agreed"] >= feedback["primary_agreed"]
    assert rows[0]["primary_label"] == "cat"
    assert {row["agrees"] for row in rows} >= {True, False}


def test_a_replay_of_some_cameras_and_a_window(batch: Batch, standin: Standin) -> None:
    body = {
        "source": {"kind": "frames", "camera_ids": ["cam-a"], "space_ids": ["space-2"],
                   "since": "2026-11-28T10:02:00Z", "until": "2026-11-28T10:10:00Z"},
    }  # fmt: skip
    job, rows = run_job(batch, body)
    expected = [f.frame_id for f in standin.frames if 2 <= int(f.frame_id[-3:]) < 10]
    assert sorted(row["item"] for row in rows) == sorted(expected)  # each frame once
    assert job["source"]["camera_ids"] == ["cam-a"]
    empty = batch.submit({"source": {"kind": "frames", "camera_ids": ["cam-z"]}})
    assert empty.status_code == 422
    assert "no archived frame matches" in empty.json()["detail"]
