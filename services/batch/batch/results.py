"""A job's results as JSON Lines or CSV, streamed: read `page` items at a time (one HMGET each),
render them, send them, forget them. A job of 100,000 items is never held in memory; a job still
running gives the results stored so far, in item order.

Each row: the item's index and name (archive member, URL or frame id), `classified` or `failed`,
the label, its probability (`confidence`) and every label's probability (CSV: one `p_<label>`
column per label of the job's model), the model and version, a failure's reason and detail; a
replay adds the primary's label at the time, the staff's label, and whether the candidate agrees.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from batch.items import Result
from batch.jobs import JobRecord, Jobs

Format = Literal["jsonl", "csv"]
MEDIA_TYPES: dict[str, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
PAGE = 1000


def row(job: JobRecord, result: Result) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "index": result.index,
        "item": result.item,
        "status": "classified" if result.label is not None else "failed",
        "label": result.label,
        "confidence": result.probabilities.get(result.label or "", None),
        "probabilities": result.probabilities or None,
        "model": job.target.model,
        "version": job.target.version,
        "reason": result.reason,
        "detail": result.detail,
    }
    if job.kind == "frames":
        agrees = result.label == result.primary if result.primary and result.label else None
        doc.update(primary_label=result.primary, feedback_label=result.feedback, agrees=agrees)
    return doc


def columns(job: JobRecord) -> list[str]:
    names = ["index", "item", "status", "label", "confidence"]
    names += [f"p_{label}" for label in job.target.labels]
    names += ["model", "version", "reason", "detail"]
    if job.kind == "frames":
        names += ["primary_label", "feedback_label", "agrees"]
    return names


def _csv_values(doc: dict[str, Any], labels: list[str], names: list[str]) -> list[Any]:
    probabilities = doc.pop("probabilities") or {}
    doc.update({f"p_{label}": probabilities.get(label) for label in labels})
    return ["" if doc.get(name) is None else doc[name] for name in names]


def render(job: JobRecord, results: list[Result], fmt: Format, *, header: bool) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(row(job, r), separators=(",", ":")) + "\n" for r in results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names, labels = columns(job), job.target.labels
    if header:
        writer.writerow(names)
    writer.writerows(_csv_values(row(job, r), labels, names) for r in results)
    return out.getvalue()


async def stream(jobs: Jobs, job: JobRecord, fmt: Format, page: int = PAGE) -> AsyncIterator[str]:
    if fmt == "csv":
        yield render(job, [], fmt, header=True)
    for start in range(0, job.total, page):
        stored = await jobs.results(job.job_id, start, page)
        if stored:
            yield render(job, [Result.parse(i, raw) for i, raw in stored], fmt, header=False)
