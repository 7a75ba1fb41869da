"""Fixtures for the batch service: a real classifier process (the real model), a real HTTP
stand-in for camera-ingest's frame archive and a photo host (`standin.py`), and the batch app
under a real uvicorn in a thread, against the real Redis of `redis_url` (db 4) and a data dir
under the test's tmp_path. Images are made here: a sample photo shrunk, repeated with distinct
bytes (a JPEG comment segment carrying its number)."""

from __future__ import annotations

import contextlib
import gzip
import io
import struct
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from batch.config import Settings
from batch.main import create_app
from tests.batch.standin import Standin, ThreadServer, archived_frames
from tests.servers import ServiceProcess, eventually

ACTIVE = ("queued", "running")


@pytest.fixture(scope="session")
def classifier(model_dir: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("classifier", {"CLASSIFIER_MODEL_DIR": str(model_dir)})
    proc.start(timeout=180)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def standin(sample_dir: Path) -> Iterator[Standin]:
    stand = Standin(frames=archived_frames(sample_dir), sample_dir=sample_dir)
    with ThreadServer(stand.app()) as server:
        stand.url = server.url
        yield stand


def fast_settings(redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": f"{redis_url}/4",
        "data_dir": data_dir,
        "chunk_size": 10,
        "worker_tasks": 2,
        "read_block_ms": 100,
        "reclaim_min_idle_s": 2.0,
        "reclaim_interval_s": 0.2,
        "retry_base_s": 0.05,
        "retry_max_s": 0.5,
        "sse_interval_s": 0.1,
        "janitor_interval_s": 0.5,
        "shutdown_grace_s": 1.0,
        "fetch_timeout_s": 3.0,
        "consumer_name": f"t-{uuid.uuid4().hex[:8]}",
    }
    return Settings(**{**values, **overrides})


@dataclass
class Batch:
    """The batch app over real HTTP, with the calls the tests make."""

    http: httpx.Client
    settings: Settings

    def upload(
        self, data: bytes, content_type: str = "application/zip", **params: str
    ) -> httpx.Response:
        headers = {"Content-Type": content_type}
        return self.http.post("/v1/batch/jobs", content=data, headers=headers, params=params)

    def submit(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post("/v1/batch/jobs", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/batch/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def finished(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            job = self.job(job_id)
            return None if job["state"] in ACTIVE else job

        job: dict[str, Any] = eventually(ended, timeout=timeout, interval=0.1, what="job to end")
        return job

    def results(self, job_id: str, fmt: str = "jsonl") -> httpx.Response:
        return self.http.get(f"/v1/batch/jobs/{job_id}/results", params={"format": fmt})

    def answers(self) -> bool:
        return self.http.get("/readyz").status_code == 200


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[Batch]:
    with (
        ThreadServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        yield Batch(http=http, settings=settings)


@pytest.fixture
def batch(
    redis_url: str, tmp_path: Path, classifier: ServiceProcess, standin: Standin
) -> Iterator[Batch]:
    settings = fast_settings(
        redis_url,
        tmp_path / "batch",
        classifier_url=classifier.url,
        ingest_url=standin.url,
        fetch_allow_networks="127.0.0.1/32",
        ingest_page_size=4,
    )
    with serve(settings) as b:
        yield b


def tiny_jpeg(photo: Path, size: tuple[int, int] = (64, 64)) -> bytes:
    with Image.open(photo) as img:
        small = img.convert("RGB").resize(size)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def variants(jpeg: bytes, n: int) -> list[bytes]:
    """`n` copies with distinct bytes: a comment segment (COM, 0xFFFE) after the SOI marker."""
    out = []
    for i in range(n):
        comment = f"batch-test-{i}".encode()
        segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
        out.append(jpeg[:2] + segment + jpeg[2:])
    return out


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def empty_entries_zip(n: int) -> bytes:
    """A valid zip64 of `n` empty stored files, written directly (zipfile takes seconds for
    100,000): local headers, the central directory, the zip64 end records."""
    local, central = bytearray(), bytearray()
    for i in range(n):
        name = f"e{i:06d}".encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0)
        local += name
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 45, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += name
    end64_at = len(local) + len(central)
    end64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), len(local))
    locator = struct.pack("<IIQI", 0x07064B50, 0, end64_at, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, len(central), len(local), 0)
    return bytes(local + central + end64 + locator + end)


def empty_entries_tar_gz(n: int) -> bytes:
    """A tar.gz of `n` empty files: one header made by tarfile, renamed and re-summed `n` times
    (tarfile's own writer takes seconds for 100,000)."""
    t = tarfile.TarInfo("e000000").tobuf(format=tarfile.USTAR_FORMAT)
    base = sum(t) - sum(t[0:7]) - sum(t[148:156]) + 8 * ord(" ")  # the sum without the name
    middle, tail = t[7:148], t[156:]
    blocks = []
    for i in range(n):
        name = f"e{i:06d}".encode()
        blocks += [name, middle, f"{base + sum(name):06o}\0 ".encode(), tail]
    return gzip.compress(b"".join(blocks) + bytes(1024), compresslevel=1)


def sample_photos(sample_dir: Path) -> dict[str, bytes]:
    """Every shipped sample photo, named `<folder>/<file>`."""
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in sorted(sample_dir.glob("*/*.jpg"))}
