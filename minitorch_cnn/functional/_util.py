"""Small helpers shared by the op families: argument checks and scalar wrapping."""

from __future__ import annotations

import numpy as np

from ..backend import is_array
from ..tensor import Tensor


def as_tensor(value, like: Tensor, op: str) -> Tensor:
    """Wrap a Python/NumPy scalar (or array) as a constant tensor with ``like``'s dtype and device."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)) or (is_array(value) and value.ndim == 0):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(value, (bool, int)) else None
        return Tensor(value, dtype=dtype, device=like.device)
    if is_array(value):
        return Tensor(value, device=like.device)
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")


def check_tensor(op: str, x, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")
    return x


def check_float(op: str, x: Tensor, name: str = "input") -> Tensor:
    check_tensor(op, x, name)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point {name} (float32 or float64), got dtype {x.dtype}")
    return x


def check_ndim(op: str, x: Tensor, ndims, name: str = "input") -> Tensor:
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{op}: expected a {want} {name}, got shape {x.shape} ({x.ndim}-D)")
    return x


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{op}: dim {dim} is out of range for a {ndim}-D tensor")
    return dim % max(ndim, 1)


def pair(op: str, value, name: str) -> tuple[int, int]:
    """``k`` or ``(kh, kw)`` -> ``(kh, kw)``, as PyTorch's int-or-tuple arguments (the ops' and the
    layers' one helper; NumPy integers count as ints).

    >>> pair("conv2d", 3, "stride"), pair("conv2d", [1, 2], "stride")
    ((3, 3), (1, 2))
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{op}: expected {name} to be an int or a pair of ints, got {value!r}")
