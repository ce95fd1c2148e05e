"""The IDX file format of the original MNIST files, read and written with full checks.

An IDX file is a 4-byte magic number ``0x00 0x00 T D`` (T: the element type code, D: the
number of dimensions), then D big-endian uint32 sizes, then the elements in C order,
big-endian. MNIST's images are ``0x00000803`` (uint8, 3 dimensions: n × 28 × 28) and its
labels ``0x00000801`` (uint8, n). Files may be gzip-compressed (detected from their first
bytes, not their name).

Every problem — a short file, a broken gzip stream, a wrong magic number, sizes that do not
match the file's length — raises :class:`DataError` naming the file and what is wrong, never
a ``reshape`` traceback.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._files import atomic_write

__all__ = ["DataError", "IDX_DTYPES", "read_idx", "read_idx_bytes", "write_idx"]

#: IDX element type code -> NumPy dtype (big-endian, as stored in the file)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """A data file is missing, truncated, corrupted or not what it claims to be."""


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    Parameters
    ----------
    path : path-like
        ``train-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte``, ...

    Returns
    -------
    numpy.ndarray
        Shape from the header (``(60000, 28, 28)`` for MNIST's training images), native-endian
        dtype (``uint8`` for MNIST).

    Raises
    ------
    DataError
        The file is truncated, not gzip/IDX, has an unknown type code, or its length does not
        match the sizes in its header. The message names the file.
    FileNotFoundError
        The file does not exist.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise DataError(
                f"{path}: the gzip stream ends early (the file is truncated; "
                "delete it and download it again)"
            ) from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise DataError(
                f"{path}: the gzip data is corrupted ({exc}); delete it and download it again"
            ) from None
    return read_idx_bytes(raw, name=str(path))


def read_idx_bytes(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`. ``name`` is used in
    error messages."""
    if len(raw) < 4:
        raise DataError(f"{name}: only {len(raw)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise DataError(
            f"{name}: not an IDX file (magic number 0x{raw[:4].hex()} does not start with "
            "two zero bytes; MNIST images are 0x00000803, labels 0x00000801)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{name}: unknown IDX element type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataError(f"{name}: the IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{name}: truncated header ({len(raw)} bytes, {header} needed for {ndim} dimensions)"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"{name}: file is {what}: header says shape {tuple(shape)} of {dtype.name} "
            f"({expected} bytes in all) but it has {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> Path:
    """Write ``array`` as an IDX file, atomically (temporary file, then ``os.replace``).

    Parameters
    ----------
    path : path-like
    array : numpy.ndarray
        Of a dtype in :data:`IDX_DTYPES` (uint8, int8, int16, int32, float32, float64).
    compress : bool, optional
        gzip the file; by default when ``path`` ends in ``.gz``.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=")
    if key not in codes:
        raise TypeError(
            f"IDX cannot store dtype {array.dtype}; use one of {sorted(d.name for d in codes)}"
        )
    code = codes[key]
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got an array of shape {array.shape}")
    body = (
        struct.pack(">HBB", 0, code, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    )
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        body = gzip.compress(body, mtime=0)
    with atomic_write(path) as fh:
        fh.write(body)
    return path
