"""Archive jobs through the real service over HTTP: the real classifier, real Redis, the data dir
on disk. Results streamed in both formats, live progress that ends with the job, cancel, and
uploads refused with clear reasons while the service keeps answering."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.batch.conftest import (
    Batch,
    empty_entries_zip,
    fast_settings,
    sample_photos,
    serve,
    tiny_jpeg,
    variants,
    zip_of,
)
from tests.servers import ServiceProcess, eventually

pytestmark = pytest.mark.slow


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    assert response.headers["location"] == f"/v1/batch/jobs/{job_id}"
    return job_id


def primary(batch: Batch) -> dict[str, str]:
    """The classifier's current deployment, as it lists it (the version whose role is primary)."""
    listing = httpx.get(f"{batch.settings.classifier_url}/v1/models", timeout=10).json()
    return next(
        {"model": m["name"], "version": v["version"]}
        for m in listing["models"]
        for v in m["versions"]
        if "primary" in v.get("roles", [])
    )


def tiny_zip(sample_dir: Path, n: int) -> bytes:
    photos = variants(tiny_jpeg(sample_dir / "dog" / "oxpet-001.jpg"), n)
    return zip_of({f"img/{i:05d}.jpg": data for i, data in enumerate(photos)})


def test_an_archive_job_classifies_every_photo_and_streams_the_results(
    batch: Batch, sample_dir: Path
) -> None:
    files = sample_photos(sample_dir)
    files["notes.txt"] = b"intake notes, not a photo"
    files["more.zip"] = zip_of({"x.jpg": files["cat/oxpet-001.jpg"]})
    job_id = accepted(batch.upload(zip_of(files, zipfile.ZIP_DEFLATED)))
    job = batch.finished(job_id)

    assert job["state"] == "done"
    assert job["counts"] == {
        "total": len(files), "done": len(files) - 2, "failed": 2, "remaining": 0,
        "reasons": {"not-an-image": 1, "nested-archive": 1},
    }  # fmt: skip
    assert job["target"] == {**primary(batch), "requested": "current"}
    assert job["source"]["kind"] == "archive"
    assert job["rate_per_s"] > 0
    assert job["eta_s"] == 0

    lines = batch.results(job_id, "jsonl")
    assert lines.headers["content-type"] == "application/x-ndjson"
    assert "content-length" not in lines.headers  # streamed, chunk by chunk
    rows = [json.loads(line) for line in lines.text.splitlines()]
    assert [row["index"] for row in rows] == list(range(len(files)))
    by_item = {row["item"]: row for row in rows}
    for name in files:
        folder = name.split("/")[0]
        if folder in ("cat", "dog"):
            assert by_item[name]["label"] == folder, by_item[name]
    assert by_item["notes.txt"]["status"] == "failed"
    assert by_item["notes.txt"]["reason"] == "not-an-image"

    table = list(csv.DictReader(io.StringIO(batch.results(job_id, "csv").text)))
    assert len(table) == len(files)
    assert {"p_cat", "p_dog", "p_other", "confidence"} <= set(table[0])
    first = table[0]
    assert float(first["confidence"]) == max(
        float(first[f"p_{k}"]) for k in ("cat", "dog", "other")
    )
    eventually(lambda: not (batch.settings.data_dir / "jobs" / job_id).exists(), timeout=10,
               what="the job's files to go once it is done")  # fmt: skip


def events_of(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_progress_streams_as_events_and_ends_with_the_job(batch: Batch, sample_dir: Path) -> None:
    job_id = accepted(batch.upload(tiny_zip(sample_dir, 150)))
    with batch.http.stream("GET", f"/v1/batch/jobs/{job_id}/events", timeout=60) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())  # returns only because the server ends the stream
    events = events_of(text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "end"
    assert set(kinds[:-1]) == {"progress"}
    assert len(kinds) >= 3
    done = [data["counts"]["done"] for _, data in events]
    assert done == sorted(done)
    assert events[-1][1]["state"] == "done"
    assert events[-1][1]["counts"]["done"] == 150
    missing = batch.http.get("/v1/batch/jobs/" + "0" * 32 + "/events")
    assert missing.status_code == 404


def test_cancel_stops_the_job(batch: Batch, sample_dir: Path) -> None:
    job_id = accepted(batch.upload(tiny_zip(sample_dir, 600)))
    eventually(lambda: batch.job(job_id)["counts"]["done"] >= 20, timeout=60, what="some done")
    cancelled = batch.http.post(f"/v1/batch/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    client = redis.Redis.from_url(batch.settings.redis_url)
    try:
        # Every chunk of the job leaves the queue: skipped unread, or stopped between requests.
        eventually(lambda: client.xlen("batch:chunks") == 0, timeout=30, what="the queue empty")
    finally:
        client.close()
    counts = batch.job(job_id)["counts"]
    assert 20 <= counts["done"] < 600
    assert counts["remaining"] == 600 - counts["done"]
    assert batch.job(job_id)["counts"] == counts  # results arriving late are dropped
    again = batch.http.post(f"/v1/batch/jobs/{job_id}/cancel")
    assert again.status_code == 200
    assert again.json()["finished_at"] == cancelled.json()["finished_at"]

    listed = batch.http.get("/v1/batch/jobs", params={"state": "cancelled"}).json()["jobs"]
    assert [job["job_id"] for job in listed] == [job_id]


def test_a_finished_job_cannot_be_cancelled_and_unknown_jobs_are_404(
    batch: Batch, sample_dir: Path
) -> None:
    job_id = accepted(batch.upload(tiny_zip(sample_dir, 3)))
    batch.finished(job_id)
    refused = batch.http.post(f"/v1/batch/jobs/{job_id}/cancel")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/job-finished")
    unknown = batch.http.get("/v1/batch/jobs/" + "f" * 32)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert batch.http.get("/v1/batch/jobs/../etc").status_code == 404


def test_a_pinned_target_is_used_and_an_unknown_one_is_refused_before_reading(
    batch: Batch, sample_dir: Path
) -> None:
    job_id = accepted(
        batch.upload(tiny_zip(sample_dir, 5), target="efficientnet-lite0-pets-int8/1")
    )
    job = batch.finished(job_id)
    assert job["target"]["model"] == "efficientnet-lite0-pets-int8"
    assert job["counts"]["done"] == 5
    for target, said in [
        ("no-such-model", "serves no model"),
        ("efficientnet-lite0-pets/9", "no version"),
    ]:
        refused = batch.upload(b"never read", target=target)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/unknown-model")
        assert said in refused.json()["detail"]


def problem(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://shelter-watch.example/problems/{code}"
    return str(body["detail"])


def test_refused_uploads_say_why_and_the_service_still_answers(
    batch: Batch, sample_dir: Path
) -> None:
    photo = (sample_dir / "cat" / "oxpet-001.jpg").read_bytes()
    good = zip_of({"a.jpg": photo, "b.jpg": photo})
    assert "not a zip or tar" in problem(batch.upload(b"garbage" * 100), 422, "corrupt-archive")
    assert "does not open" in problem(batch.upload(good[: len(good) // 2]), 422, "corrupt-archive")
    traversal = zip_of({"ok.jpg": photo, "../../etc/cron.d/x.jpg": photo})
    assert "path traversal" in problem(batch.upload(traversal), 422, "hostile-archive")
    flood = empty_entries_zip(100_000)
    assert "more than 50000 entries" in problem(batch.upload(flood), 422, "archive-too-large")
    assert "text/plain" in problem(batch.upload(good, "text/plain"), 415, "unsupported-media-type")
    bad_json = batch.http.post("/v1/batch/jobs", json={"source": {"kind": "nothing"}})
    problem(bad_json, 422, "validation-error")
    assert batch.answers()
    assert list((batch.settings.data_dir / "jobs").iterdir()) == []  # nothing left behind

    bomb = zip_of({"bomb.jpg": b"\xff\xd8\xff" + bytes(64 * 1024 * 1024), "ok.jpg": photo},
                  zipfile.ZIP_DEFLATED)  # fmt: skip
    job = batch.finished(accepted(batch.upload(bomb)))
    assert job["counts"]["reasons"] == {"too-large": 1}
    assert job["counts"]["done"] == 1


def test_an_upload_over_the_limit_is_413(
    redis_url: str, tmp_path: Path, classifier: ServiceProcess
) -> None:
    settings = fast_settings(
        redis_url, tmp_path / "b", classifier_url=classifier.url, max_upload_bytes=10_000
    )
    with serve(settings) as small:
        detail = problem(small.upload(bytes(20_000)), 413, "upload-too-large")
        assert "BATCH_MAX_UPLOAD_BYTES" in detail
        assert small.answers()
