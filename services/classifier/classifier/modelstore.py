"""Uploaded model versions on disk (CLASSIFIER_STORE_DIR), content-addressed, written atomically:

    <store>/blobs/sha256/<hex>.onnx          the ONNX bytes, named by their sha256, written once
    <store>/versions/<name>/<version>.json   the version's metadata (metadata.json's fields)
    <store>/deployment.json                  the last deployment this replica applied (a cache
                                             for a restart while Redis is down)

Every file is written to a temporary name in its folder, fsynced and renamed, so a crash leaves
the old file or the new one. A version record is created with `os.link`, which fails when the
name exists: two replicas uploading the same version on a shared volume cannot both win. Every
replica rescans `versions/` on each sync (a directory listing; a record is parsed once).

Our own lines for the atomic write (a dozen): `tempfile` + `os.replace` is the whole recipe;
the library that packaged it (`atomicwrites`) is archived, and `os.link` gives create-if-absent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from classifier.errors import ClassifierError, VersionExists
from classifier.model import ModelInfo
from classifier.refs import NAME, VERSION, ref

log = logging.getLogger(__name__)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._parsed: dict[Path, tuple[int, ModelInfo | None]] = {}  # by record path: mtime_ns

    @property
    def deployment_cache(self) -> Path:
        return self.root / "deployment.json"

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / f"{sha256}.onnx"

    def record(self, name: str, version: str) -> Path:
        return self.root / "versions" / name / f"{version}.json"

    def versions(self) -> dict[str, ModelInfo]:
        """Every stored version by `name/version`; a record that does not parse is skipped."""
        found: dict[str, ModelInfo] = {}
        for path in sorted((self.root / "versions").glob("*/*.json")):
            name, version = path.parent.name, path.stem
            if not (NAME.fullmatch(name) and VERSION.fullmatch(version)):
                continue
            info = self._parse(path)
            if info is not None and (info.name, info.version) == (name, version):
                found[ref(name, version)] = info
        return found

    def _parse(self, path: Path) -> ModelInfo | None:
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            meta = json.loads(path.read_bytes())
            info = ModelInfo.from_metadata(meta, self.blob(str(meta["sha256"])), where=str(path))
        except (OSError, ValueError, KeyError, TypeError, ClassifierError) as exc:
            log.error("skipping stored version %s: %s", path, exc)
            info = None
        self._parsed[path] = (mtime, info)
        return info

    def save(self, metadata: dict[str, Any], data: bytes) -> bool:
        """Store the bytes and the record; False when the very same version was stored before,
        VersionExists when that version is stored with other bytes or metadata."""
        name, version, sha256 = metadata["name"], metadata["version"], metadata["sha256"]
        blob = self.blob(sha256)
        if not blob.is_file():
            write_atomic(blob, data)
        record = self.record(name, version)
        record.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(metadata, indent=2, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(dir=record.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                os.fsync(out.fileno())
            os.link(tmp, record)  # fails if the record exists: the first upload wins
        except FileExistsError:
            existing = json.loads(record.read_bytes())
            if _same(existing, metadata):
                return False
            raise VersionExists(
                f"{name}/{version} is stored already with sha256 {existing.get('sha256')}"
            ) from None
        finally:
            os.unlink(tmp)
        return True

    def delete(self, name: str, version: str) -> None:
        """Remove the record, and the bytes unless another version has the same ones."""
        record = self.record(name, version)
        meta = json.loads(record.read_bytes())
        record.unlink()
        self._parsed.pop(record, None)
        sha256 = str(meta.get("sha256"))
        if all(info.sha256 != sha256 for info in self.versions().values()):
            with contextlib.suppress(FileNotFoundError):
                self.blob(sha256).unlink()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for when and by whom it was uploaded."""
    ignore = {"uploaded_at", "uploaded_by"}
    return {k: v for k, v in a.items() if k not in ignore} == {
        k: v for k, v in b.items() if k not in ignore
    }
