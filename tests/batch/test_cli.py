"""The common case from the command line: a local folder of photos in, a CSV out, through the
batch service's HTTP API (`make classify DIR=... OUT=...` runs this)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from batch.cli import main
from tests.batch.conftest import Batch

pytestmark = pytest.mark.slow


def test_a_folder_becomes_a_csv(batch: Batch, sample_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "intake"
    shutil.copytree(sample_dir, folder)
    (folder / "README.md").write_text("not a photo: not sent")
    out = tmp_path / "predictions.csv"
    assert main([str(folder), str(out), "--url", str(batch.http.base_url)]) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    assert sorted(row["item"] for row in rows) == expected
    for row in rows:
        folder_label = row["item"].split("/")[0]
        if folder_label in ("cat", "dog"):
            assert row["label"] == folder_label, row
    assert main([str(tmp_path / "empty"), str(out), "--url", str(batch.http.base_url)]) == 2
