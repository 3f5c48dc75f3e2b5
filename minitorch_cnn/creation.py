"""Tensor factories with PyTorch's names: ``tensor``, ``zeros``, ``ones``, ``rand``, ``randn``, ``arange``."""

from __future__ import annotations

import numpy as np

from .backend import get_default_dtype, get_xp, is_array, rng
from .tensor import Tensor

# dtypes are NumPy's (``mt.float32 is numpy.float32``); PyTorch's names and aliases for them:
float32, float64, float16 = np.float32, np.float64, np.float16
int64, int32, int16, int8, uint8, bool_ = np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_
DTYPE_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
                 "short": int16, "bool": bool_}  # bound as mt.float, mt.long, ... in the package


def _size(size, args):
    if size is not None:
        return tuple(size) if isinstance(size, (tuple, list)) else (int(size),)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(int(a) for a in args)


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, an array, or a Tensor)."""
    data = data.array if isinstance(data, Tensor) else data
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


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value (bool, int64, or the
    default float dtype), as ``torch.full``."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else (
            np.int64 if isinstance(fill_value, (int, np.integer)) else get_default_dtype())
    return _filled(lambda xp, s, d: xp.full(s, fill_value, d), (), size, dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The ``n``×``m`` identity matrix (``m`` defaults to ``n``)."""
    m = n if m is None else m
    return _filled(lambda xp, s, d: xp.eye(*s, dtype=d), (), (int(n), int(m)), dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    values = np.linspace(float(start), float(end), int(steps))  # computed in float64, then cast
    return Tensor(get_xp(device or "cpu").asarray(values.astype(np.dtype(dtype or get_default_dtype()))),
                  requires_grad=requires_grad)


def normal(mean, std, size=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Draws from N(mean, std²), from the engine's generator (``mt.manual_seed``), as ``torch.normal``:
    ``normal(0.0, 1.0, size=(2, 3))`` for numbers; ``mean`` and/or ``std`` may be tensors, which give
    the shape (broadcast) and the dtype."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size is given by the mean/std tensors; do not pass size as well")
        m, s = (t.numpy() if isinstance(t, Tensor) else t for t in (mean, std))
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dtype = dtype or tensors[0].dtype
        device = device or tensors[0].device
    else:
        if size is None:
            raise TypeError("normal: with a number for mean and std, give size=(...)")
        m, s, shape = float(mean), float(std), _size(size, ())
    if np.any(np.asarray(s) < 0):
        raise ValueError(f"normal: std must be >= 0, got {std!r}")
    values = rng().normal(m, s, size=shape).astype(np.dtype(dtype or get_default_dtype()))
    return Tensor(get_xp(device or "cpu").asarray(values), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (no copy) and keeping its dtype, as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)
