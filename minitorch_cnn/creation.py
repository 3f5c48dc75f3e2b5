"""Tensor factories with PyTorch's names: ``tensor``, ``zeros``, ``ones``, ``rand``, ``randn``, ``randint``, ``arange``.

Every ``dtype=`` takes an ``mt`` dtype (``mt.float64``), a NumPy dtype (``np.float64``) or a name
(``"float64"``, PyTorch's ``"long"``).
"""

from __future__ import annotations

import operator

import numpy as np

from .backend import get_default_dtype, get_xp, is_array, rng
from .dtypes import numpy_dtype
from .tensor import Size, Tensor


def _size(size, args):
    if size is not None:
        return Size(size) if isinstance(size, (tuple, list)) else Size((size,))
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return Size(args[0])
    return Size(args)


def _dtype(dtype, default=None):
    """The NumPy dtype an array is made with: ``dtype`` (any spelling), else ``default``, else float32."""
    return numpy_dtype(dtype if dtype is not None else default if default is not None else get_default_dtype())


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
    return Tensor(fill(xp, shape, _dtype(dtype)), requires_grad=requires_grad)


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


def randint(*args, size=None, low=None, high=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high), from the engine's generator (``mt.manual_seed``), int64
    unless ``dtype`` says otherwise, as ``torch.randint``: ``randint(high, size)`` (low is 0) or
    ``randint(low, high, size)``, ``size`` a tuple."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        *args, size = args
    args = [*([] if low is None else [low]), *args, *([] if high is None else [high])]
    if len(args) not in (1, 2) or not isinstance(size, (tuple, list)):
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size) with size a tuple of ints, "
                        f"got bounds {args} and size {size!r}")
    try:
        low, high = (0, *args) if len(args) == 1 else args
        low, high = operator.index(low), operator.index(high)
    except TypeError:
        raise TypeError(f"randint: expected int bounds, got {args}") from None
    if low >= high:
        raise ValueError(f"randint: expected low < high, got low={low} and high={high}")
    values = rng().integers(low, high, size=_size(size, ()), dtype=np.int64)
    return Tensor(get_xp(device or "cpu").asarray(values.astype(_dtype(dtype, "int64"))), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(get_xp(t.device).zeros(t.shape, _dtype(dtype, t.dtype)), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(get_xp(t.device).ones(t.shape, _dtype(dtype, t.dtype)), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``start, start + step, ...`` below ``end`` (``arange(n)``: 0 to n - 1): int64 for int arguments, else the
    default float dtype; ``requires_grad`` needs a float result, as PyTorch."""
    if end is None:
        start, end = 0, start
    xp = get_xp(device or "cpu")
    a = xp.arange(start, end, step)
    if dtype is None and a.dtype.kind == "f":
        dtype = get_default_dtype()
    return Tensor(a, dtype=dtype, requires_grad=requires_grad)


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
    return Tensor(get_xp(device or "cpu").asarray(values.astype(_dtype(dtype))),
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
        dtype = tensors[0].dtype if dtype is None else dtype
        device = device or tensors[0].device
    else:
        if size is None:
            raise TypeError("normal: with a number for mean and std, give size=(...)")
        m, s, shape = float(mean), float(std), _size(size, ())
    if np.any(np.asarray(s) < 0):
        raise ValueError(f"normal: std must be >= 0, got {std!r}")
    values = rng().normal(m, s, size=shape).astype(_dtype(dtype))
    return Tensor(get_xp(device or "cpu").asarray(values), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (no copy) and keeping its dtype, as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)
