"""Open Inference Protocol v2 tensors to numpy and back, with Triton's binary tensor extension.

A request body is JSON, optionally followed by raw tensor bytes: the header
`Inference-Header-Content-Length` says where the JSON ends, and each input with a
`binary_data_size` parameter takes its bytes, in input order. Outputs go back as JSON `data`,
or as raw bytes after the JSON when the client asked (`binary_data` on a requested output, or
`binary_data_output` on the request).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from classifier.errors import InvalidInput
from classifier.schemas import InferenceRequest, RequestInput, ResponseOutput

DATATYPE = "FP32"
DTYPE = np.dtype("<f4")


def parse_request(body: bytes, header_length: str | None) -> tuple[InferenceRequest, bytes]:
    """The JSON part as a model (ValidationError if it does not fit) and the binary tail."""
    split = len(body)
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise InvalidInput(f"Inference-Header-Content-Length {header_length!r} is not valid")
        split = int(header_length)
    return InferenceRequest.model_validate_json(body[:split]), body[split:]


def decode_inputs(request: InferenceRequest, tail: bytes) -> dict[str, np.ndarray]:
    """Every input tensor as a float32 array of its declared shape."""
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for tensor in request.inputs:
        if tensor.name in tensors:
            raise InvalidInput(f"input {tensor.name!r} appears twice")
        array, offset = _decode(tensor, tail, offset)
        tensors[tensor.name] = array
    if offset != len(tail):
        raise InvalidInput(f"{len(tail) - offset} binary bytes follow the last input")
    return tensors


def _decode(tensor: RequestInput, tail: bytes, offset: int) -> tuple[np.ndarray, int]:
    if tensor.datatype != DATATYPE:
        raise InvalidInput(f"input {tensor.name!r} is {tensor.datatype}; only {DATATYPE} is served")
    if any(d < 0 for d in tensor.shape):
        raise InvalidInput(f"input {tensor.name!r} has a negative dimension {tensor.shape}")
    count = math.prod(tensor.shape)
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(
                f"input {tensor.name!r}: binary_data_size {size!r} is not a non-negative integer"
            )
        if size != count * DTYPE.itemsize or offset + size > len(tail):
            raise InvalidInput(
                f"input {tensor.name!r}: binary_data_size {size} does not fit "
                f"shape {tensor.shape} or the body"
            )
        flat = np.frombuffer(tail, dtype=DTYPE, count=count, offset=offset)
        return flat.reshape(tensor.shape), offset + size
    if tensor.data is None:
        raise InvalidInput(f"input {tensor.name!r} has neither data nor binary_data_size")
    try:
        flat = np.asarray(tensor.data, dtype=DTYPE).reshape(-1)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"input {tensor.name!r}: data is not a list of numbers") from exc
    if flat.size != count:
        raise InvalidInput(f"input {tensor.name!r}: {flat.size} values do not fill {tensor.shape}")
    return flat.reshape(tensor.shape), offset


def select_outputs(
    request: InferenceRequest, outputs: dict[str, np.ndarray]
) -> list[tuple[str, np.ndarray, bool]]:
    """(name, array, as binary) for each output the client asked for (all when none named)."""
    default_binary = bool((request.parameters or {}).get("binary_data_output", False))
    if not request.outputs:
        return [(name, array, default_binary) for name, array in outputs.items()]
    chosen = []
    for wanted in request.outputs:
        if wanted.name not in outputs:
            raise InvalidInput(f"no output {wanted.name!r}; outputs are {sorted(outputs)}")
        binary = bool((wanted.parameters or {}).get("binary_data", default_binary))
        chosen.append((wanted.name, outputs[wanted.name], binary))
    return chosen


def encode_outputs(
    header: dict[str, Any], chosen: list[tuple[str, np.ndarray, bool]]
) -> tuple[bytes, int | None]:
    """The response body and, when binary tensors follow the JSON, the JSON's length."""
    described, blobs = [], []
    for name, array, binary in chosen:
        out = ResponseOutput(name=name, shape=list(array.shape), datatype=DATATYPE)
        data = np.ascontiguousarray(array, dtype=DTYPE)
        if binary:
            blobs.append(data.tobytes())
            out.parameters = {"binary_data_size": data.nbytes}
        else:
            out.data = data.reshape(-1).tolist()
        described.append(out.model_dump(exclude_none=True))
    head = json.dumps({**header, "outputs": described}).encode()
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)
