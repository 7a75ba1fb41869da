"""Classify a local folder of photos and write a CSV, through the batch service's HTTP API.

    make classify DIR=path/to/photos OUT=predictions.csv              (with `make run` up)
    PYTHONPATH=services/batch python -m batch.cli DIR OUT [--target name/version]
        [--url http://127.0.0.1:8004 | http://127.0.0.1:8000/api --api-key KEY]

Packs every JPEG, PNG and WebP under DIR (recursively) into an uncompressed tar in a temporary
file, uploads it as one job, follows the job's progress, then streams its results as CSV into
OUT (one row per photo, named by its path under DIR). Exits 0 when the job is done, 1 when it
failed or was cancelled, 2 when there is nothing to classify. `--url` is where `/v1/batch/...`
lives: the service itself (default, BATCH_URL) or the gateway's `/api` with an admin key
(SHELTER_API_KEY).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

log = logging.getLogger("batch.cli")
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
ENDED = ("done", "failed", "cancelled")


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def pack(folder: Path, found: list[Path], out: IO[bytes]) -> None:
    with tarfile.open(fileobj=out, mode="w") as archive:
        for path in found:
            archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    out.seek(0)


def chunks(f: IO[bytes]) -> Iterator[bytes]:
    while block := f.read(1024 * 1024):
        yield block


def follow(http: httpx.Client, job_id: str, every_s: float = 1.0) -> dict[str, Any]:
    while True:
        response = http.get(f"/v1/batch/jobs/{job_id}")
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        c = job["counts"]
        log.info("%s: %d/%d classified, %d failed, eta %s s", job["state"], c["done"],
                 c["total"], c["failed"], job["eta_s"])  # fmt: skip
        if job["state"] in ENDED:
            return job
        time.sleep(every_s)


def classify(folder: Path, out: Path, *, url: str, api_key: str | None, target: str | None) -> int:
    found = photos(folder)
    if not found:
        log.error("no JPEG, PNG or WebP photos under %s", folder)
        return 2
    headers = {"X-API-Key": api_key} if api_key else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=300) as http:
        with tempfile.TemporaryFile() as tar:
            pack(folder, found, tar)
            params = {"target": target} if target else {}
            response = http.post("/v1/batch/jobs", content=chunks(tar), params=params,
                                 headers={"Content-Type": "application/x-tar"})  # fmt: skip
        if response.status_code != 202:
            log.error("the job was refused: HTTP %d %s", response.status_code, response.text)
            return 1
        job = follow(http, response.json()["job_id"])
        with http.stream("GET", f"/v1/batch/jobs/{job['job_id']}/results?format=csv") as r:
            r.raise_for_status()
            with out.open("wb") as f:
                for block in r.iter_bytes():
                    f.write(block)
    reasons = ", ".join(f"{k}: {v}" for k, v in job["counts"]["reasons"].items()) or "none"
    log.info("wrote %s: %d classified, %d failed (%s)", out, job["counts"]["done"],
             job["counts"]["failed"], reasons)  # fmt: skip
    return 0 if job["state"] == "done" else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m batch.cli", description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--url", default=os.environ.get("BATCH_URL", "http://127.0.0.1:8004"))
    ap.add_argument("--api-key", default=os.environ.get("SHELTER_API_KEY"))
    ap.add_argument("--target", default=None, help="name/version; the current deployment if absent")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return classify(args.folder, args.out, url=args.url, api_key=args.api_key, target=args.target)


if __name__ == "__main__":
    sys.exit(main())
