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
import io
import math
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from .._files import atomic_write
from ._memory import available_memory, format_bytes

__all__ = [
    "DataError",
    "IDX_DTYPES",
    "MAX_IDX_BYTES",
    "MAX_NDIM",
    "check_memory",
    "read_idx",
    "read_idx_bytes",
    "read_idx_header",
    "write_idx",
]

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


#: numpy's most dimensions (``numpy.ndarray`` refuses more)
MAX_NDIM = 64
#: the most memory the data of IDX files may take, once converted (float32 images are 4 bytes
#: a pixel): 16 GiB (MNIST's training images are 47 MB as uint8, 188 MB as float32)
MAX_IDX_BYTES = 2**34
#: deflate inflates at most about 1032-fold: a gzip file declaring more than this many times
#: its own size cannot hold what it declares
_MAX_GZIP_RATIO = 1100


def read_idx(path: str | os.PathLike[str], max_bytes: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    The header is read first and checked (dimensions, the size it declares, against
    ``max_bytes`` and the memory available); then exactly the declared bytes are read,
    straight from the stream into the array, so that memory stays within the declared size
    plus a small constant whatever the file holds (a gzip bomb ends in an error after the
    declared bytes, not in gigabytes of inflated data).

    Parameters
    ----------
    path : path-like
        ``train-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte``, ... A regular file:
        a device (``/dev/zero``), a FIFO or a folder is refused.
    max_bytes : int, optional
        The most bytes the array may take (default: :data:`MAX_IDX_BYTES`); in any case no
        more than the memory available (:func:`check_memory`).

    Returns
    -------
    numpy.ndarray
        Shape from the header (``(60000, 28, 28)`` for MNIST's training images), native-endian
        dtype (``uint8`` for MNIST).

    Raises
    ------
    DataError
        The file is not a regular file, truncated, not gzip/IDX, has an unknown type code,
        too many dimensions, declares more than ``max_bytes``, the memory available or its
        gzip stream can hold, or its length does not match the sizes in its header. The
        message names the file (and the size declared).
    FileNotFoundError
        The file does not exist.
    """
    path = Path(path)
    with _opened(path) as (fh, size, gzip_size):
        return _read_stream(fh, str(path), size, gzip_size, max_bytes)


def read_idx_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and native-endian dtype an IDX file declares, after the checks of
    :func:`read_idx` that need only the header (of a gzip file, only the header is inflated).

    Raises
    ------
    DataError
        As :func:`read_idx`, for the header.
    """
    path = Path(path)
    with _opened(path) as (fh, size, gzip_size):
        shape, dtype, header = _read_header(fh, str(path))
        _check_declared(str(path), shape, dtype, header, size, gzip_size, None)
    return shape, dtype.newbyteorder("=")


@contextmanager
def _opened(path: Path) -> Iterator[tuple[IO[bytes], int | None, int | None]]:
    """``(stream, size, gzip_size)`` of a regular file: the raw bytes and their length, or
    the inflated stream of a gzip file and the compressed length; gzip errors become
    :class:`DataError`."""
    size = _regular_file_size(path)
    with open(path, "rb") as fh:
        if fh.read(2) != _GZIP_MAGIC:
            fh.seek(0)
            yield fh, size, None
            return
        fh.seek(0)
        try:
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz, None, size
        except EOFError:
            raise DataError(
                f"{path}: the gzip stream ends early (the file is truncated; "
                "delete it and download it again)"
            ) from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise DataError(
                f"{path}: the gzip data is corrupted ({exc}); delete it and download it again"
            ) from None


def _regular_file_size(path: Path) -> int:
    """The size of ``path``, after refusing what is not a regular file (read forever or
    blocked on otherwise)."""
    st = path.stat()  # FileNotFoundError when there is none
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )
        raise DataError(f"{path}: it is {kind}, not an IDX file; give the path of a file")
    return st.st_size


def read_idx_bytes(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`. ``name`` is used in
    error messages."""
    return _read_stream(io.BytesIO(raw), name, len(raw))


def _read_header(fh: IO[bytes], name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """The shape, dtype and header length of an IDX stream, checked; nothing more is read."""
    head = fh.read(4)
    if len(head) < 4:
        raise DataError(f"{name}: only {len(head)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise DataError(
            f"{name}: not an IDX file (magic number 0x{head.hex()} does not start with "
            "two zero bytes; MNIST images are 0x00000803, labels 0x00000801)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{name}: unknown IDX element type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataError(f"{name}: the IDX header declares 0 dimensions")
    if ndim > MAX_NDIM:
        raise DataError(
            f"{name}: the IDX header declares {ndim} dimensions; arrays have at most {MAX_NDIM}"
        )
    header = 4 + 4 * ndim
    dims = fh.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(
            f"{name}: truncated header ({4 + len(dims)} bytes, {header} needed for "
            f"{ndim} dimensions)"
        )
    return struct.unpack(f">{ndim}I", dims), IDX_DTYPES[code], header


def _describe(shape: tuple[int, ...], dtype: np.dtype, header: int) -> str:
    nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    return f"shape {tuple(shape)} of {dtype.name} ({header + nbytes} bytes in all)"


def _check_declared(
    name: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    header: int,
    size: int | None,
    gzip_size: int | None,
    max_bytes: int | None,
) -> None:
    """The declared size against the bounds, what a gzip file can hold and the file's size
    (``size``: the whole uncompressed length when known), before any data is read."""
    nbytes = math.prod(shape) * dtype.itemsize
    described = _describe(shape, dtype, header)
    check_memory(
        name, nbytes, f"the header declares shape {tuple(shape)} of {dtype.name}", max_bytes
    )
    strides = math.prod(d for d in shape if d) * dtype.itemsize  # NumPy's bound, zeros aside
    if strides > np.iinfo(np.intp).max:
        raise DataError(
            f"{name}: the header declares shape {tuple(shape)}, whose dimensions multiply past "
            "what NumPy can index, even with a zero among them (a corrupted header?)"
        )
    if gzip_size is not None and nbytes > _MAX_GZIP_RATIO * gzip_size + 2**16:
        raise DataError(
            f"{name}: the header declares {described}, more than a {gzip_size}-byte gzip "
            "file can hold (a corrupted file)"
        )
    if size is not None and size != header + nbytes:
        what = "truncated" if size < header + nbytes else "longer than its header says"
        raise DataError(f"{name}: file is {what}: header says {described} but it has {size} bytes")


def check_memory(name: str, nbytes: int, what: str, max_bytes: int | None = None) -> None:
    """Refuse to allocate ``nbytes`` for ``name`` above ``max_bytes`` (default
    :data:`MAX_IDX_BYTES`) or the memory available (:func:`available_memory`).

    Parameters
    ----------
    name : str
        The file or folder, first in the message.
    nbytes : int
        What reading (and converting) it takes.
    what : str
        What declares that size (``"the header declares shape (...)"``).
    max_bytes : int, optional

    Raises
    ------
    DataError
        Naming the size, the bound and what to do.
    """
    limit = MAX_IDX_BYTES if max_bytes is None else max_bytes
    if nbytes > limit:
        raise DataError(
            f"{name}: {what}: {format_bytes(nbytes)}, more than the {format_bytes(limit)} "
            "nnmath reads (a corrupted or hand-made header?)"
        )
    free = available_memory()
    if free is not None and nbytes > free:
        raise DataError(
            f"{name}: {what}: {format_bytes(nbytes)}, more than the {format_bytes(free)} of "
            "memory available (a corrupted header? else free memory or use a machine with more)"
        )


def _read_stream(
    fh: IO[bytes],
    name: str,
    size: int | None,
    gzip_size: int | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Header, then exactly the declared bytes into a new array, then the end of the stream.

    ``size``: the whole (uncompressed) length when known, checked before reading the data;
    ``gzip_size``: the compressed length, which bounds what the stream can inflate to."""
    shape, dtype, header = _read_header(fh, name)
    _check_declared(name, shape, dtype, header, size, gzip_size, max_bytes)
    nbytes = math.prod(shape) * dtype.itemsize
    described = _describe(shape, dtype, header)
    data = np.empty(shape, dtype=dtype)
    got = _read_into(fh, memoryview(data.reshape(-1).view(np.uint8)))
    if got < nbytes or fh.read(1):
        what = "truncated" if got < nbytes else "longer than its header says"
        raise DataError(f"{name}: file is {what}: header says {described}")
    native = dtype.newbyteorder("=")
    if native != dtype:  # swapped in place: no second copy of the data
        data = data.byteswap(inplace=True).view(native)
    return data


def _read_into(fh: IO[bytes], view: memoryview) -> int:
    """Fill ``view`` from ``fh`` in chunks; the bytes read (fewer at the end of the stream)."""
    done, step = 0, 1 << 18
    while done < len(view):
        chunk = fh.readinto(view[done : done + step])  # type: ignore[attr-defined]
        if not chunk:
            break
        done += chunk
    return done


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
