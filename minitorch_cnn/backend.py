"""The array backend: which array library holds a tensor's numbers, and on which device.

Two devices exist: ``"cpu"`` (NumPy arrays) and ``"cuda"`` (CuPy arrays). Every engine module
that touches arrays gets its namespace from here, either from a device (``get_xp("cuda")``) or
from an array it already holds (``xp = xp_of(a)``), so one source serves both devices.

CuPy is imported lazily and guarded: on a machine with no CuPy or no GPU, everything on the CPU
works, ``cupy_ndarray`` is a placeholder class that no array is an instance of, and asking for
``"cuda"`` raises :class:`DeviceUnavailableError` saying what is missing.

This module also holds the default dtype (float32), the kernel path (``numba`` or ``generic``;
environment variable ``MINITORCH_CNN_KERNELS``) and the random generator seeded by
:func:`manual_seed`. The kernel path picks between the compiled kernels (numba loops for NumPy
arrays, CUDA kernels from ``kernels/cuda.py`` for CuPy arrays) and the array-generic path written
with ``xp`` only, on either device. Convolution's settings live with convolution
(``functional/conv/policy.py``).
"""

from __future__ import annotations

import os

import numpy as np

from . import dtypes

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
_default_dtype = dtypes.float32


def get_default_dtype() -> dtypes.dtype:
    """The dtype of new floating tensors (``mt.float32`` unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype of new floating tensors: float32 or float64 (``mt.float64``, ``np.float64``, "float64")."""
    global _default_dtype
    dtype = dtypes.to_dtype(dtype)
    if dtype not in (dtypes.float32, dtypes.float64):
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

