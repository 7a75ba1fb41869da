"""EfficientNet-Lite as ONNX nodes, from a numpy state dict (BatchNorm folded into each conv).

Lite is EfficientNet made friendly to integer hardware: ReLU6 everywhere, no squeeze-excite, stem
(32) and head (1280) not scaled. One builder for every variant: the stages and the input size come
from its `Family` (``families.py``). Convolutions use TensorFlow "same" padding, which is
asymmetric for stride 2; the pads are computed once for the family's input size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper
from tools.families import HEAD, Family

BN_EPS = 1e-3


def same_pads(size: int, kernel: int, stride: int) -> tuple[list[int], int]:
    """ONNX pads [top, left, bottom, right] for TF "same" padding, and the output size."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before, after = total // 2, total - total // 2
    return [before, before, after, after], out


class GraphBuilder:
    """Collects nodes and initializers; names are deterministic so builds are byte-identical."""

    def __init__(self, weights: dict[str, np.ndarray], family: Family) -> None:
        self.weights = weights
        self.family = family
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv_bn(
        self, x: str, conv: str, bn: str, size: int, stride: int, groups: int = 1
    ) -> tuple[str, int]:
        """Conv with its BatchNorm folded in (computed in float64, stored as float32)."""
        w = self.weights[f"{conv}.weight"].astype(np.float64)
        scale = self.weights[f"{bn}.weight"] / np.sqrt(self.weights[f"{bn}.running_var"] + BN_EPS)
        bias = self.weights[f"{bn}.bias"] - self.weights[f"{bn}.running_mean"] * scale
        kernel = w.shape[-1]
        if groups > 1:  # depthwise: one filter per channel
            assert w.shape[0] == groups, f"{conv}: {w.shape[0]} channels, family says {groups}"
        pads, out_size = same_pads(size, kernel, stride)
        w_name = self.const(f"{conv}.w", (w * scale[:, None, None, None]).astype(np.float32))
        b_name = self.const(f"{conv}.b", bias.astype(np.float32))
        y = self.node(
            "Conv",
            [x, w_name, b_name],
            f"{conv}.out",
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=pads,
            group=groups,
        )
        return y, out_size

    def relu6(self, x: str) -> str:
        return self.node("Clip", [x, "relu6.min", "relu6.max"], f"{x}.relu6")

    def block(
        self,
        x: str,
        i: int,
        size: int,
        kernel: int,
        stride: int,
        expand: int,
        c_in: int,
        c_out: int,
    ) -> tuple[str, int]:
        p = f"_blocks.{i}"
        h = x
        if expand != 1:
            h, _ = self.conv_bn(h, f"{p}._expand_conv", f"{p}._bn0", size, 1)
            h = self.relu6(h)
        assert self.weights[f"{p}._depthwise_conv.weight"].shape[-1] == kernel
        assert self.weights[f"{p}._project_conv.weight"].shape[0] == c_out
        h, out_size = self.conv_bn(
            h, f"{p}._depthwise_conv", f"{p}._bn1", size, stride, groups=c_in * expand
        )
        h = self.relu6(h)
        h, _ = self.conv_bn(h, f"{p}._project_conv", f"{p}._bn2", out_size, 1)
        if stride == 1 and c_in == c_out:
            h = self.node("Add", [h, x], f"{p}.residual")
        return h, out_size

    def backbone(self, images: str) -> tuple[str, str]:
        """Adds the network; returns the names of the pooled features and the ImageNet logits."""
        self.const("relu6.min", np.array(0.0, dtype=np.float32))
        self.const("relu6.max", np.array(6.0, dtype=np.float32))
        x, size = self.conv_bn(images, "_conv_stem", "_bn0", self.family.image_size, 2)
        x = self.relu6(x)
        index = 0
        for repeats, kernel, stride, expand, c_in, c_out in self.family.stages():
            for r in range(repeats):
                s, cin = (stride, c_in) if r == 0 else (1, c_out)
                x, size = self.block(x, index, size, kernel, s, expand, cin, c_out)
                index += 1
        if f"_blocks.{index}._project_conv.weight" in self.weights:
            raise ValueError(f"the weights have more blocks than {self.family.key}'s {index}")
        assert self.weights["_conv_head.weight"].shape[0] == HEAD
        x, _ = self.conv_bn(x, "_conv_head", "_bn1", size, 1)
        x = self.relu6(x)
        pooled = self.node("GlobalAveragePool", [x], "pooled")
        features = self.node("Flatten", [pooled], "features", axis=1)
        fc_w = self.const("_fc.weight", self.weights["_fc.weight"].astype(np.float32))
        fc_b = self.const("_fc.bias", self.weights["_fc.bias"].astype(np.float32))
        logits = self.node("Gemm", [features, fc_w, fc_b], "logits", transB=1)
        return features, logits
