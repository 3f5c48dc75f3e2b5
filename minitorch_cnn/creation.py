"""Tensor factories with PyTorch's names: ``tensor``, ``zeros``, ``ones``, ``rand``, ``randn``, ``arange``."""

from __future__ import annotations

import numpy as np

from .backend import get_default_dtype, get_xp, is_array, rng
from .tensor import Tensor

float32, float64, int64, int32, uint8, bool_ = np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_


def _size(size, args):
    if size is not None:
        return tuple(size) if isinstance(size, (tuple, list)) else (int(size),)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(int(a) for a in args)


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, an array, or a Tensor)."""
    data = data.data if isinstance(data, Tensor) else data
    # an array is copied and keeps its dtype; Python numbers and (nested) lists or tuples go through
    # Tensor(), where Python floats become the default dtype (float32), as torch.tensor does
    data = data.copy() if is_array(data) else data
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _filled(fill, args, size, dtype, device, requires_grad):
    shape = _size(size, args)
    xp = get_xp(device or "cpu")
    return Tensor(fill(xp, shape, np.dtype(dtype or get_default_dtype())), requires_grad=requires_grad)


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(lambda xp, s, d: xp.zeros(s, d), args, size, dtype, device, requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(lambda xp, s, d: xp.ones(s, d), args, size, dtype, device, requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(lambda xp, s, d: xp.empty(s, d), args, size, dtype, device, requires_grad)


def rand(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform [0, 1) from the engine's seeded generator (``mt.manual_seed``)."""
    return _filled(lambda xp, s, d: xp.asarray(rng().random(s).astype(d)), args, size, dtype, device, requires_grad)


def randn(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal from the engine's seeded generator (``mt.manual_seed``)."""
    return _filled(
        lambda xp, s, d: xp.asarray(rng().standard_normal(s).astype(d)), args, size, dtype, device, requires_grad
    )


def zeros_like(t: Tensor, dtype=None) -> Tensor:
    return Tensor(get_xp(t.device).zeros(t.shape, dtype or t.dtype))


def ones_like(t: Tensor, dtype=None) -> Tensor:
    return Tensor(get_xp(t.device).ones(t.shape, dtype or t.dtype))


def arange(start, end=None, step=1, dtype=None, device=None) -> Tensor:
    if end is None:
        start, end = 0, start
    xp = get_xp(device or "cpu")
    a = xp.arange(start, end, step)
    if dtype is None and a.dtype.kind == "f":
        dtype = get_default_dtype()
    return Tensor(a, dtype=dtype)
