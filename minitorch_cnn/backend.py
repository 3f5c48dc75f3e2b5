"""The array backend: which array library holds a tensor's numbers, and on which device.

Two devices exist: ``"cpu"`` (NumPy arrays) and ``"cuda"`` (CuPy arrays). Every engine module
that touches arrays gets its namespace from here, either from a device (``get_xp("cuda")``) or
from an array it already holds (``xp = xp_of(a)``), so one source serves both devices.

CuPy is imported lazily and guarded: on a machine with no CuPy or no GPU, everything on the CPU
works, ``cupy_ndarray`` is a placeholder class that no array is an instance of, and asking for
``"cuda"`` raises :class:`DeviceUnavailableError` saying what is missing.

This module also holds the process-wide settings: the default dtype (float32), the kernel path
(``numba`` or ``generic``; environment variable ``MINITORCH_CNN_KERNELS``), the memory budget of
convolution's column matrix and the random generator seeded by :func:`manual_seed`. The kernel path picks between the compiled kernels (numba
loops for NumPy arrays, CUDA kernels from ``kernels/cuda.py`` for CuPy arrays) and the
array-generic path written with ``xp`` only, on either device.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

DEVICES = ("cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """Raised when a tensor is asked to live on a device this machine cannot provide."""


class _CupyMissing:
    """Placeholder for ``cupy.ndarray`` when CuPy is not importable: nothing is an instance of it."""


cupy_ndarray: type = _CupyMissing
_cupy = None  # the cupy module once loaded and checked
_cupy_error: str | None = None  # why CuPy cannot be used, once we know


def _load_cupy():
    """Import CuPy and check that a GPU answers; return the module or None (reason in _cupy_error)."""
    global _cupy, _cupy_error, cupy_ndarray
    if _cupy is not None or _cupy_error is not None:
        return _cupy
    try:
        import cupy  # noqa: PLC0415 - lazy on purpose: most users never touch a GPU
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        _cupy_error = (
            f"CuPy is not installed or failed to import ({type(exc).__name__}: {exc}); "
            "install the GPU extra: pip install 'minitorch_cnn[gpu]'"
        )
        return None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        count, detail = 0, f"{type(exc).__name__}: {exc}"
    else:
        detail = "the CUDA runtime reports 0 devices"
    if count < 1:
        _cupy_error = f"CuPy is installed but no CUDA GPU is available ({detail})"
        return None
    _cupy = cupy
    cupy_ndarray = cupy.ndarray
    return cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and at least one CUDA GPU answers."""
    return _load_cupy() is not None


def cuda_unavailable_reason() -> str | None:
    """Why ``"cuda"`` cannot be used here, or None when it can."""
    _load_cupy()
    return _cupy_error


def cuda_device_count() -> int:
    """How many CUDA GPUs CuPy sees (0 when CuPy or a GPU is missing)."""
    return int(_cupy.cuda.runtime.getDeviceCount()) if _load_cupy() is not None else 0


class device(str):  # noqa: N801 - PyTorch's name
    """A device, as ``torch.device``: ``device("cpu")``, ``device("cuda")``, ``device("cuda:0")``,
    ``device("cuda", 0)``; accepted wherever a device name is.

    It is the device's name as a string (``"cpu"``, ``"cuda"``; ``"cuda:N"`` for N > 0), so it
    compares equal to that string and to ``tensor.device``, and ``device("cuda:0") == "cuda"``: the
    engine runs on one GPU, index 0. ``.type`` and ``.index`` are PyTorch's attributes.
    """

    def __new__(cls, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device) and index is None:
            return type
        name = str(type)
        kind, _, num = name.partition(":")
        if kind not in DEVICES or (num and not num.isdigit()) or (num and index is not None):
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {type!r}"
                             + (f" with index {index!r}" if index is not None else ""))
        if index is not None:
            if kind == "cpu" and index not in (0, None) or isinstance(index, bool) or int(index) < 0:
                raise ValueError(f"device: invalid index {index!r} for {kind!r}")
            num = str(int(index))
        idx = int(num) if num else None
        self = super().__new__(cls, kind if kind == "cpu" or not idx else f"{kind}:{idx}")
        self.type, self.index = kind, (None if kind == "cpu" else idx)
        return self

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"


def check_device(device) -> str:
    """Normalise a device name (``"cpu"``, ``"cuda"``, ``"cuda:0"``) and check that it is usable."""
    name = str(device)
    if name.startswith("cuda"):
        name = "cuda"
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    if name == "cuda" and _load_cupy() is None:
        raise DeviceUnavailableError(f"device 'cuda' was requested but {_cupy_error}")
    return name


def get_xp(device: str = "cpu"):
    """The array namespace of a device: NumPy for ``"cpu"``, CuPy for ``"cuda"``."""
    return np if check_device(device) == "cpu" else _cupy


def is_array(obj) -> bool:
    """True for a NumPy or (when loaded) CuPy array."""
    return isinstance(obj, (np.ndarray, cupy_ndarray))


def xp_of(array):
    """The namespace that owns ``array``: ``cupy`` for a CuPy array, ``numpy`` otherwise."""
    return _cupy if isinstance(array, cupy_ndarray) else np


def device_of(array) -> str:
    """``"cuda"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "cuda" if isinstance(array, cupy_ndarray) else "cpu"


def to_device(array, device: str):
    """Return ``array`` on ``device`` (the same object when it is already there)."""
    device = check_device(device)
    if device_of(array) == device:
        return array
    if device == "cpu":
        return array.get()
    return _cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy array with the values of ``array`` (a host copy for a CuPy array)."""
    return array.get() if isinstance(array, cupy_ndarray) else np.asarray(array)


# ---------------------------------------------------------------- default dtype
_default_dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype of new floating tensors (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype of new floating tensors: float32 or float64."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


# ---------------------------------------------------------------- kernel path
KERNEL_PATHS = ("numba", "generic")


def _kernel_path_from_env() -> str:
    value = os.environ.get("MINITORCH_CNN_KERNELS", "numba").strip().lower() or "numba"
    if value not in KERNEL_PATHS:
        raise ValueError(f"MINITORCH_CNN_KERNELS={value!r}: expected one of {KERNEL_PATHS}")
    return value


_kernel_path = _kernel_path_from_env()


def get_kernel_path() -> str:
    """``"numba"`` (the compiled kernels: numba on NumPy, CUDA on CuPy) or ``"generic"`` (``xp`` only)."""
    return _kernel_path


def set_kernel_path(path: str) -> None:
    """Choose the kernel path: ``"numba"`` (compiled kernels, the default) or ``"generic"``.

    ``"numba"`` sends NumPy arrays through the numba loops and CuPy arrays through the CUDA
    kernels of ``kernels/cuda.py``; ``"generic"`` sends both through the array-generic path.
    """
    global _kernel_path
    if path not in KERNEL_PATHS:
        raise ValueError(f"set_kernel_path: expected one of {KERNEL_PATHS}, got {path!r}")
    _kernel_path = path


def use_numba(array) -> bool:
    """True when ``array`` should go through the numba kernels (a NumPy array, path "numba")."""
    return _kernel_path == "numba" and isinstance(array, np.ndarray) and not isinstance(array, cupy_ndarray)


def use_cuda_kernels(array) -> bool:
    """True when ``array`` should go through the CUDA kernels (a CuPy array, path "numba")."""
    return _kernel_path == "numba" and isinstance(array, cupy_ndarray)


# ---------------------------------------------------------------- conv memory budget
_conv_memory_budget = 256 * 2**20  # bytes of column matrix that conv2d builds at once


def get_conv_memory_budget() -> int:
    """The most bytes of column matrix ``conv2d`` builds at once (whole images, at least one).

    The column matrix has kh·kw times the elements of the input; when a batch's would exceed the
    budget, ``conv2d`` processes the batch in chunks of images that fit. Results do not depend on it.
    """
    return _conv_memory_budget


CPU_CONV_TILE_BYTES = 2 * 2**20  # one core's L2 cache


def conv_chunk_bytes(array) -> int:
    """The most bytes of per-image work arrays (im2col's columns, Winograd's tiles) that ``conv2d``
    builds at once for ``array``: the memory budget, and for a NumPy array at most
    ``CPU_CONV_TILE_BYTES``, so that each chunk of images is written, multiplied and read back while
    it is still in the core's cache (functional/conv.py measures what that saves)."""
    budget = _conv_memory_budget
    return min(budget, CPU_CONV_TILE_BYTES) if isinstance(array, np.ndarray) else budget


def batch_chunks(array, bytes_per_image: int) -> list:
    """Slices of ``array``'s batch (axis 0) whose per-image work arrays, ``bytes_per_image`` each, fit
    ``conv_chunk_bytes(array)`` together; at least one image per chunk."""
    N, step = array.shape[0], max(1, conv_chunk_bytes(array) // max(1, bytes_per_image))
    return [slice(start, min(N, start + step)) for start in range(0, N, step)]


KEEP_COLS_BYTES = 16 * 2**20  # on the CPU; LeNet's second layer's columns are 15 MB at batch 256


def keep_cols_bytes(array) -> int:
    """The largest column matrix (all chunks together) that ``conv2d`` keeps from its forward pass
    for the weight gradient, instead of building it again in the backward pass: on NumPy arrays
    ``KEEP_COLS_BYTES`` (small layers, where rebuilding costs a quarter of the layer's time and the
    memory is a few MB), capped by the memory budget; on the GPU only a matrix built in one chunk."""
    budget = _conv_memory_budget
    return min(budget, KEEP_COLS_BYTES) if isinstance(array, np.ndarray) else conv_chunk_bytes(array)


KEEP_TILES_BYTES = 64 * 2**20  # on the CPU: Winograd's V is 2.25x the layer's input (F(4x4, 3x3))


def keep_tiles_bytes(array) -> int:
    """The largest transformed input ``V`` (all chunks together) that the Winograd conv keeps from
    its forward pass for the weight gradient, instead of transforming the input again in the
    backward pass (one of its five tile transforms, about an eighth of the layer's time): on NumPy
    arrays ``KEEP_TILES_BYTES``, capped by the memory budget; on the GPU only a V built in one chunk.
    V of F(4×4, 3×3) holds 36 numbers per 16 outputs of each input channel, 2.25× the input."""
    budget = _conv_memory_budget
    return min(budget, KEEP_TILES_BYTES) if isinstance(array, np.ndarray) else conv_chunk_bytes(array)


def set_conv_memory_budget(nbytes: int) -> int:
    """Set the column-matrix budget of ``conv2d`` in bytes; returns the previous budget."""
    global _conv_memory_budget
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 1:
        raise ValueError(f"set_conv_memory_budget: expected a positive number of bytes, got {nbytes!r}")
    previous, _conv_memory_budget = _conv_memory_budget, nbytes
    return previous


@contextlib.contextmanager
def _temporarily(set_value, value):
    """Run a block under ``set_value(value)``, then restore what it returned (the previous value)."""
    previous = set_value(value)
    try:
        yield
    finally:
        set_value(previous)


def conv_memory_budget(nbytes: int):
    """``with conv_memory_budget(2**20): ...`` runs the block under a temporary budget."""
    return _temporarily(set_conv_memory_budget, nbytes)


# ---------------------------------------------------------------- convolution algorithm
CONV_ALGORITHMS = ("default", "auto", "im2col", "direct", "batch_last", "winograd")
_conv_algorithm = "default"  # PyTorch's numbers to float32 round-off, the fastest such algorithm per layer


def get_conv_algorithm() -> str:
    """How ``conv2d`` chooses its algorithm, one of ``CONV_ALGORITHMS`` (see ``set_conv_algorithm``)."""
    return _conv_algorithm


def set_conv_algorithm(algorithm: str) -> str:
    """Choose how ``conv2d`` computes each layer; returns the previous choice.

    * ``"default"``: the direct loops (functional/direct.py) on the layers with few input taps
      where they were measured faster (LeNet's first layer), the batch-last column matrix
      (functional/batch_last.py) on stride-1 layers small enough that a cache-sized chunk holds 32
      images (LeNet's second layer), the im2col column matrix elsewhere. All give PyTorch's numbers
      to float32 round-off.
    * ``"auto"``: as ``"default"``, and Winograd on the 3×3, stride-1 layers where it was measured
      faster (``functional.winograd.winograd_tile``): F(4×4, 3×3) from 8×8 outputs and 8
      channels, F(2×2, 3×3) on 6×6 and 7×7 outputs from 128 input channels; faster, but not
      PyTorch's numbers to float32 round-off (below).
    * ``"im2col"``: the column matrix everywhere (the reading path, ``functional/conv.py``).
    * ``"direct"``: the direct loops on every layer they compute (stride 1, dilation 1, no groups,
      NumPy arrays on the numba path), im2col elsewhere.
    * ``"batch_last"``: the batch-last columns on those same layers, im2col elsewhere.
    * ``"winograd"``: Winograd's F(4×4, 3×3) on every 3×3, stride-1, dilation-1, ungrouped layer,
      im2col elsewhere.

    Depthwise layers (groups = C = O) always take their own kernel. PyTorch has no such switch; its
    default call is unchanged. Winograd is not in the default: F(4×4, 3×3) in float32 is 10-30×
    further from the exact result than im2col (about 1e-5 relative per layer against 3e-7), and
    F(2×2, 3×3), whose error per layer is im2col's, still rounds differently from PyTorch: in the
    d2l library's ResNet-18 at batch 2 that moves a value across a ReLU's kink and the input
    gradient differs from PyTorch's by 2e-4 (6e-7 under im2col).
    """
    global _conv_algorithm
    if algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"set_conv_algorithm: expected one of {CONV_ALGORITHMS}, got {algorithm!r}")
    previous, _conv_algorithm = _conv_algorithm, algorithm
    return previous


def conv_algorithm(algorithm: str):
    """``with conv_algorithm("im2col"): ...`` runs the block with that algorithm."""
    return _temporarily(set_conv_algorithm, algorithm)


# ---------------------------------------------------------------- randomness
_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed every random source of the engine: init, dropout, shuffling (and CuPy's, if loaded)."""
    global _rng
    _rng = np.random.default_rng(seed)
    if _cupy is not None:
        _cupy.random.seed(seed)


def rng() -> np.random.Generator:
    """The engine's random generator (host side); draw from it, never from np.random directly."""
    return _rng


def get_rng_state() -> dict:
    """The generator's state as plain JSON-able data (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state from :func:`get_rng_state`."""
    _rng.bit_generator.state = state


# ---------------------------------------------------------------- memory reuse (glibc)
# A training step allocates and frees the same large arrays every step (conv columns of 15-20 MB,
# activations, gradients). glibc's malloc serves each array above its mmap threshold (128 KiB at
# first, raised adaptively up to 32 MiB) with fresh pages from the kernel and returns them on
# free, so every step pays a page fault and the kernel's zero-fill per 4 KiB page: measured on
# LeNet (batch 256, one thread) as ~4 900 faults and ~19 of 73 ms CPU per step. Raising the mmap
# threshold to its maximum and keeping up to TRIM_BYTES of free memory at the heap's top makes
# freed blocks come back at the next step, already mapped: the same numbers, no faults.
# This is the one scratch-buffer mechanism of the engine: it is process-wide (NumPy gives the
# heap all its large arrays), set once at import, and costs resident memory that is not handed
# back to the system between steps (the peak is unchanged). MINITORCH_CNN_MALLOC=system keeps
# glibc's defaults; other C libraries (macOS, musl) are left alone.
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems
TRIM_BYTES = 256 * 2**20


def _keep_freed_memory() -> bool:
    """Apply the malloc settings above; True when they were applied."""
    import ctypes  # noqa: PLC0415
    import platform  # noqa: PLC0415

    if os.environ.get("MINITORCH_CNN_MALLOC", "").strip().lower() == "system" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # malloc.h
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))


malloc_tuned = _keep_freed_memory()
