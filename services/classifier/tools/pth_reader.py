"""Read a torch *legacy* (non-zip) ``.pth`` state dict into numpy arrays, without torch.

The legacy format is five pickles and raw bytes in a row: a magic number, the protocol version,
system info, the state dict itself (tensors refer to storages through ``persistent_load`` ids),
the list of storage keys, and then each storage's data, prefixed by its element count (int64).

The unpickler below resolves only the handful of globals such a file needs and refuses anything
else, so reading the file cannot run arbitrary code.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ByteStorage": np.dtype("u1"),
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(
    storage: _StorageRef, offset: int, shape: Any, stride: Any, *_: Any
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        kind, storage_type, key, _location, numel, view = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType) or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _read_storages(f: IO[bytes], keys: list[str], refs: dict[str, _StorageRef]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in keys:
        (numel,) = struct.unpack("<q", f.read(8))
        dtype = refs[key].dtype
        raw = f.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise ValueError(f"storage {key} is truncated")
        data[key] = np.frombuffer(raw, dtype=dtype)
    return data


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the legacy-format state dict at ``path``, as a contiguous numpy array."""
    with path.open("rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a torch legacy-format file")
        pickle.load(f)  # protocol version
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", False):
            raise ValueError("big-endian checkpoints are not supported")
        tensors: dict[str, _TensorRef] = _RestrictedUnpickler(f).load()
        keys: list[str] = pickle.load(f)
        refs = {t.storage.key: t.storage for t in tensors.values()}
        storages = _read_storages(f, keys, refs)
        if f.read(1):
            raise ValueError(f"{path} has trailing bytes: format not understood")
    out: dict[str, np.ndarray] = {}
    for name, t in tensors.items():
        base = storages[t.storage.key]
        itemsize = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[t.offset :], shape=t.shape, strides=[s * itemsize for s in t.stride]
        )
        out[name] = np.ascontiguousarray(view)
    return out
