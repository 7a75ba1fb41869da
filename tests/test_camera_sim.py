"""The camera simulator's sensor noise: unique bytes for every frame, the same picture."""

import importlib.util
import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.servers import ROOT

# tools/ holds scripts, not a package (the classifier's build tools own the name `tools`).
_spec = importlib.util.spec_from_file_location("camera_sim", ROOT / "tools" / "camera_sim.py")
assert _spec is not None
assert _spec.loader is not None
camera_sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(camera_sim)
stamp_jpeg = camera_sim.stamp_jpeg


def test_stamped_jpeg_has_new_bytes_and_the_same_pixels(sample_dir: Path) -> None:
    photo = sorted((sample_dir / "cat").glob("*.jpg"))[0].read_bytes()
    first, second = stamp_jpeg(photo, "capture 1"), stamp_jpeg(photo, "capture 2")
    assert len({photo, first, second}) == 3
    pixels = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in (photo, first, second)]
    assert all(np.array_equal(pixels[0], p) for p in pixels[1:])
    assert Image.open(io.BytesIO(first)).info.get("comment") == b"capture 1"


def test_non_jpeg_bytes_are_served_unchanged() -> None:
    assert stamp_jpeg(b"\x89PNG not a jpeg", "x") == b"\x89PNG not a jpeg"
