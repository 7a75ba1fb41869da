"""A built model's input, as the service makes it: ``classifier.preprocess`` at the model's size.

The crop is the metadata's ``input_shape`` (H, W); the short side before it is the metadata's
``preprocessing.resize_to``, else ``resize_for``'s crop + 32: the same rule the service applies
to each served version, so train, evaluate, calibrate and bench feed every model what serving does.
"""

from __future__ import annotations

import numpy as np

from classifier.model import ModelInfo
from classifier.preprocess import preprocess, resize_for

MAX_PIXELS = 100_000_000  # offline photos are trusted; the service's own limit is a setting


def input_size(info: ModelInfo) -> tuple[tuple[int, int], int]:
    """(crop (height, width), resize) for `info`."""
    height, width = (int(d or 0) for d in info.input_shape[2:])
    crop = (height, width)
    return crop, resize_for(crop, info.preprocessing.get("resize_to"))


def tensor_for(info: ModelInfo, data: bytes, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Image bytes to float32 [3, H, W] for `info` (``load_image``'s errors for bad bytes)."""
    crop, resize = input_size(info)
    return preprocess(data, max_pixels=max_pixels, crop=crop, resize=resize)
