"""Where archived frame bytes live: the `FrameStore` protocol and its disk implementation.

The archive keeps frame bytes out of Redis (Redis holds only their metadata, `archive_index`),
behind four calls keyed by frame id that map one to one onto an object store:

    put(frame_id, data)   PUT    <bucket>/<namespace>/<frame_id>   durable when it returns
    get(frame_id)         GET    ...                                None when there is no object
    delete(frame_id)      DELETE ...                                absent is fine
    scan()                LIST   <namespace>/                       for the orphan sweep

`DiskFrameStore` writes `<dir>/<namespace>/<id[:2]>/<id>`: a temporary file in the same folder,
fsync, then an atomic rename, so a reader never sees half a frame and a crash leaves at worst
a stale `.tmp` file, which `scan` removes once it is older than the grace period. The disk calls
run on the store's own four threads, so a hung disk stalls the archive only, never the event
loop nor the resolver threads the snapshot fetches use. An `OSError` (ENOSPC, EDQUOT, EIO...)
is raised as it is: the archive counts it and moves on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
# Frame ids are uuid4 hex (`frames.new_frame_id`); no dots, no slashes: never a path of its own.
FRAME_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class StoredObject:
    frame_id: str
    size: int
    modified_ms: int


class FrameStore(Protocol):
    async def put(self, frame_id: str, data: bytes) -> None: ...

    async def get(self, frame_id: str) -> bytes | None: ...

    async def delete(self, frame_id: str) -> None: ...

    async def scan(self) -> list[StoredObject]: ...

    async def close(self) -> None: ...


StoreFactory = Callable[[str], FrameStore]  # namespace -> the store of that namespace


def checked(frame_id: str) -> str:
    if not FRAME_ID.match(frame_id):
        raise ValueError(f"not a frame id: {frame_id[:140]!r}")
    return frame_id


class DiskFrameStore:
    def __init__(self, root: Path, *, tmp_grace_s: float = 300.0) -> None:
        self.root = root
        self.tmp_grace_s = tmp_grace_s
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="frame-store")

    def path(self, frame_id: str) -> Path:
        return self.root / checked(frame_id)[:2] / frame_id

    async def put(self, frame_id: str, data: bytes) -> None:
        await self._run(self._put, self.path(frame_id), data)

    async def get(self, frame_id: str) -> bytes | None:
        return await self._run(_read, self.path(frame_id))

    async def delete(self, frame_id: str) -> None:
        await self._run(_unlink, self.path(frame_id))

    async def scan(self) -> list[StoredObject]:
        return await self._run(self._scan)

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(fn, *args))

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise

    def _scan(self) -> list[StoredObject]:
        found: list[StoredObject] = []
        if not self.root.is_dir():
            return found
        stale_before = time.time() - self.tmp_grace_s
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # deleted while we looked
                    continue
                if FRAME_ID.match(entry.name):
                    found.append(StoredObject(entry.name, stat.st_size, int(stat.st_mtime * 1000)))
                elif entry.name.endswith(".tmp") and stat.st_mtime < stale_before:
                    _unlink(Path(entry.path))  # a write a crash interrupted
        return found


def disk_stores(base: Path, *, tmp_grace_s: float) -> StoreFactory:
    """The factory wiring gives the archive: one folder per namespace under `base`, so that two
    ingest keyspaces (a test's Redis and `make run`'s) pointed at one folder never sweep each
    other's files. Other namespaces found there are named in the log, never touched."""

    def open_store(namespace: str) -> FrameStore:
        with_others = sorted(p.name for p in base.glob("*") if p.is_dir() and p.name != namespace)
        if with_others:
            log.warning(
                "archive folder %s also holds namespaces %s (other Redis keyspaces, or one that "
                "lost its data): not ours, left alone; delete them if nothing uses them",
                base,
                ", ".join(with_others[:10]),
            )
        return DiskFrameStore(base / namespace, tmp_grace_s=tmp_grace_s)

    return open_store


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
