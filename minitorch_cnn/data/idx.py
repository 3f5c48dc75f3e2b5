"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values in
row-major order, big-endian::

    0x00 0x00 <dtype code> <rank>   d_0 (uint32) ... d_{rank-1} (uint32)   payload

The dtype codes are 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
A file may be gzip-compressed; that is recognised by its first two bytes (0x1f 0x8b), never by its
name. Everything is checked (magic, dtype code, rank, the exact payload length), and any problem
raises a :class:`ValueError` that names the file and says what was expected and what was found.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .._fileio import atomic_write, atomic_write_bytes  # the one atomic writer (data.idx.atomic_write, as before)

__all__ = ["read_idx", "write_idx", "atomic_write"]

GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> big-endian NumPy dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}


def _decompress(raw: bytes, path) -> bytes:
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ValueError(
            f"IDX file {path}: gzip data is unreadable ({type(exc).__name__}: {exc}); "
            "the file is truncated or corrupt, delete it and get it again"
        ) from None


def parse_idx(data: bytes, path="<bytes>") -> np.ndarray:
    """Parse the (uncompressed) bytes of an IDX file into a native-endian NumPy array."""
    if len(data) < 4:
        raise ValueError(f"IDX file {path}: {len(data)} bytes, too short for the 4-byte magic number")
    zero, code, rank = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or code not in IDX_DTYPES:
        raise ValueError(
            f"IDX file {path}: bad magic number 0x{data[:4].hex()}: expected 0x0000 then a dtype code "
            f"in {{{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)}}} then the rank; not an IDX file"
        )
    if rank == 0:
        raise ValueError(f"IDX file {path}: rank 0 in the magic number; expected at least one dimension")
    header = 4 + 4 * rank
    if len(data) < header:
        raise ValueError(
            f"IDX file {path}: truncated header: rank {rank} needs {header} bytes, the file has {len(data)}"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    dtype = IDX_DTYPES[code]
    expected = dtype.itemsize
    for d in dims:
        expected *= d
    found = len(data) - header
    if found < expected:
        raise ValueError(
            f"IDX file {path}: short payload: dimensions {dims} of {dtype.newbyteorder('=').name} need "
            f"{expected} bytes after the header, found {found} (truncated file?)"
        )
    if found > expected:
        raise ValueError(
            f"IDX file {path}: {found - expected} trailing bytes: dimensions {dims} of "
            f"{dtype.newbyteorder('=').name} need {expected} bytes after the header, found {found}"
        )
    arr = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return arr.reshape(dims).astype(dtype.newbyteorder("="), copy=True)  # native order, writable


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw, told apart by the magic bytes) into a NumPy array.

    Raises FileNotFoundError when the file is missing and ValueError, naming the file, when it is
    truncated or corrupt (bad magic, bad rank, short payload, trailing bytes, unreadable gzip).
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == GZIP_MAGIC:
        raw = _decompress(raw, path)
    return parse_idx(raw, path)


def to_idx_bytes(array) -> bytes:
    """The bytes of ``array`` as an (uncompressed) IDX file."""
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODE_OF:
        raise TypeError(
            f"write_idx: dtype {a.dtype} has no IDX code; expected one of uint8, int8, int16, int32, "
            "float32, float64"
        )
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"write_idx: expected an array of rank 1 to 255, got shape {a.shape}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"write_idx: every dimension must fit in uint32, got shape {a.shape}")
    head = bytes([0, 0, _CODE_OF[native], a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape)
    return head + np.ascontiguousarray(a, dtype=native.newbyteorder(">")).tobytes()


def write_idx(path, array, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically; gzip it when ``compress`` (default: name ends in .gz)."""
    path = Path(path)
    data = to_idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)
    return path
