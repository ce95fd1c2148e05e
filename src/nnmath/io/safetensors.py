"""The safetensors container, checked by hand before any byte reaches the safetensors library.

A safetensors file is an 8-byte little-endian length ``n``, then ``n`` bytes of a JSON header
(``{"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {str: str}}``), then
the tensors' bytes, back to back. :func:`parse_header` checks all of it — length, JSON,
tensor names, dtypes, shapes and byte ranges — and says what else the file may be (a pickle,
a zip archive, ...). Every problem is a :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from pathlib import Path
from typing import Any

__all__ = ["ITEMSIZE", "MAX_TENSORS", "ModelFileError", "parse_header", "read_file_bytes"]

_MAX_HEADER = 100_000_000  # the safetensors library's own limit
#: the most tensors a header may list: a checkpoint has 14 per layer (W, b, the best epoch's,
#: Adam's four moments), so this allows networks of over 4,000 layers
MAX_TENSORS = 65_536
#: safetensors dtype -> bytes per element, for the dtypes nnmath writes
ITEMSIZE = {"F32": 4, "F64": 8, "I64": 8}
_SIGNATURES = (  # what a file that is not safetensors may be, by its first bytes
    (b"PK\x03\x04", "a zip archive (torch.save, np.savez or a Keras file?)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x89PNG", "a PNG image"),
)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: truncated, corrupted, hand-crafted or another format.

    Attributes
    ----------
    path : str
        The file.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"cannot load model file {str(path)!r}: {problem}")


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole file; ``FileNotFoundError`` when there is none, an error for a folder, a
    device or a FIFO."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no model file at {str(p)!r}")
    if p.is_dir():
        raise ModelFileError(p, "it is a directory, not a file")
    if not stat.S_ISREG(p.stat().st_mode):  # /dev/zero, a FIFO: read for ever
        raise ModelFileError(p, "it is a device or a FIFO, not a regular file")
    return p.read_bytes()


def parse_header(path: Any, data: bytes) -> tuple[dict[str, Any], dict[str, str], int]:
    """Check the safetensors header by hand: (tensor entries, metadata, start of the data).

    Parameters
    ----------
    path : path-like
        Named in the errors.
    data : bytes
        The whole file.

    Raises
    ------
    ModelFileError
        Another format, a length field that does not fit the file, a header that is not a
        JSON object, a malformed tensor entry, or tensors that do not tile the data section.
    """
    n = _header_length(path, data)
    raw = data[8 : 8 + n]
    if raw[:1] != b"{":
        raise ModelFileError(path, "the header is not a JSON object (not a safetensors file)")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_counting_objects())
    except _TooManyObjects:
        raise ModelFileError(
            path,
            f"the header holds more than {MAX_TENSORS} tensor entries (nnmath writes a few per "
            "layer): a corrupted or hand-crafted file",
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(path, f"the header is not valid JSON ({exc!r:.200})") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ModelFileError(path, "__metadata__ must map strings to strings")
    buffer_len = len(data) - 8 - n
    spans = [_check_entry(path, name, entry, buffer_len) for name, entry in header.items()]
    _check_tiling(path, spans, buffer_len)
    return header, metadata, 8 + n


class _TooManyObjects(Exception):
    pass


def _counting_objects() -> Any:
    """A ``json`` object hook that builds each object as ``dict`` does and stops the parse
    once the header has more objects than :data:`MAX_TENSORS` tensors need, so that a
    header of a million empty tensors is refused at once, not after seconds and gigabytes."""
    count = 0

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal count
        count += 1
        if count > MAX_TENSORS + 2:  # the tensors, __metadata__ and the header itself
            raise _TooManyObjects
        return dict(pairs)

    return hook


def _zip_kind(data: bytes) -> tuple[str, str]:
    """What a zip archive holds, from its first entry's name (in its first bytes), and how
    to read it."""
    first = data[30 : 30 + int.from_bytes(data[26:28], "little")]
    if first.endswith(b"data.pkl"):
        return "a PyTorch file (torch.save)", "; load it with torch, then nnmath.from_torch"
    if first.endswith(b".npy"):
        return "a NumPy .npz archive", "; give its arrays to a Network with net.set_parameters"
    return "a zip archive (torch.save, np.savez or a Keras file?)", ""


def _looks_onnx(data: bytes) -> bool:
    """An ONNX model: a protobuf ``ModelProto`` starts with its ``ir_version`` (field 1, a
    small varint: ``08 09``) and another of its fields (``producer_name``: ``12``, ...)."""
    tag = data[2] if len(data) > 2 else 0
    return data[:1] == b"\x08" and 1 <= data[1] < 0x80 and tag & 7 in (0, 2) and tag >> 3 > 1


def _header_length(path: Any, data: bytes) -> int:
    """The length field ``n``, after ruling out the formats a model file is mistaken for."""
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            what, hint = _zip_kind(data) if signature == b"PK\x03\x04" else (what, "")
            raise ModelFileError(path, f"this is {what}, not a safetensors file{hint}")
    n = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else None
    # A pickle starts with PROTO (0x80) and its protocol; so can a safetensors length field
    # (896 is 80 03 00 ...), whose header then starts with "{".
    looks_safetensors = n is not None and n <= len(data) - 8 and data[8:9] == b"{"
    if not looks_safetensors and _looks_onnx(data):
        raise ModelFileError(
            path,
            "this is an ONNX model, not a safetensors file: read it with nnmath.from_onnx "
            "(and nnmath.save the network it gives for nnmath's commands)",
        )
    if not looks_safetensors and len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        raise ModelFileError(
            path, "this is a Python pickle; nnmath never loads pickles (they can run code)"
        )
    if n is None:
        raise ModelFileError(
            path, f"it is {len(data)} bytes long, too short for a safetensors header"
        )
    if n == 0 or n > _MAX_HEADER or n > len(data) - 8:
        raise ModelFileError(
            path,
            f"the header length field says {n} bytes but {len(data) - 8} bytes follow it "
            "(a truncated file, or not a safetensors file)",
        )
    return n


def _check_entry(path: Any, name: str, entry: Any, buffer_len: int) -> tuple[int, int, str]:
    """One tensor's header entry, checked; returns its byte range ``(begin, end, name)``."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ModelFileError(path, f"tensor {name!r} has a malformed header entry")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in ITEMSIZE:
        raise ModelFileError(
            path,
            f"tensor {name!r} has dtype {dtype!r}; nnmath files hold only {sorted(ITEMSIZE)}",
        )
    if not (
        isinstance(shape, list)
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise ModelFileError(path, f"tensor {name!r} has an invalid shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        and 0 <= offsets[0] <= offsets[1] <= buffer_len
    ):
        raise ModelFileError(
            path,
            f"tensor {name!r} has byte range {offsets!r} outside the "
            f"{buffer_len}-byte data section (truncated or corrupted file)",
        )
    expected = math.prod(shape) * ITEMSIZE[dtype]
    if offsets[1] - offsets[0] != expected:
        raise ModelFileError(
            path,
            f"tensor {name!r} of shape {shape} and dtype {dtype} needs {expected} "
            f"bytes but its byte range holds {offsets[1] - offsets[0]}",
        )
    return offsets[0], offsets[1], name


def _check_tiling(path: Any, spans: list[tuple[int, int, str]], buffer_len: int) -> None:
    """The tensors' byte ranges cover the data section exactly, without gaps or overlaps."""
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise ModelFileError(
                path,
                f"tensor {name!r} starts at byte {begin}, expected {end} "
                "(overlapping or missing data)",
            )
        end = stop
    if end != buffer_len:
        raise ModelFileError(
            path, f"the tensors cover {end} bytes but the data section has {buffer_len}"
        )


def finite_number(value: Any) -> bool:
    """A JSON number (not a boolean) that is a finite float (``10**400`` is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
