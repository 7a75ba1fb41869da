"""The camera simulator's sensor noise: unique bytes for every frame, the same picture."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.servers import load_tool

stamp_jpeg = load_tool("camera_sim").stamp_jpeg


def test_stamped_jpeg_has_new_bytes_and_the_same_pixels(sample_dir: Path) -> None:
    photo = sorted((sample_dir / "cat").glob("*.jpg"))[0].read_bytes()
    first, second = stamp_jpeg(photo, "capture 1"), stamp_jpeg(photo, "capture 2")
    assert len({photo, first, second}) == 3
    pixels = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in (photo, first, second)]
    assert all(np.array_equal(pixels[0], p) for p in pixels[1:])
    assert Image.open(io.BytesIO(first)).info.get("comment") == b"capture 1"


def test_non_jpeg_bytes_are_served_unchanged() -> None:
    assert stamp_jpeg(b"\x89PNG not a jpeg", "x") == b"\x89PNG not a jpeg"
