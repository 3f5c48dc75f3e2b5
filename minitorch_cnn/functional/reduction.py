"""Reductions: ``sum``, ``mean``, ``max``/``min`` (with ``dim``/``keepdim``, or elementwise with a second
tensor), ``argmax``/``argmin``, ``all``/``any``, ``norm``, and the running sum ``cumsum``.

``dim`` may be an int, a tuple or list of ints, or None; ``()`` means every dim, as PyTorch. A 0-d
tensor accepts dim 0 and -1 and gives a 0-d result.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import DimError, c_order, check_tensor, normalize_dim

MaxResult = namedtuple("MaxResult", ["values", "indices"])  # as torch.return_types.max


def _axes(op, dim, ndim):
    """The reduced axes, sorted, or None for all of them (``dim`` None or empty, or a 0-d input)."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = [normalize_dim(op, d, ndim) for d in dims]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: a dim appears more than once in dim={dim!r}")
    return tuple(sorted(axes)) if axes and ndim else None


def _expand(g, shape, axes):
    """Put back the reduced axes as size 1 so ``g`` broadcasts against the input's ``shape``."""
    if axes is None:
        return g.reshape((1,) * len(shape))
    return xp_of(g).expand_dims(g, axes)


def _cast(op, input, dtype):
    return input if dtype is None or np.dtype(dtype) == input.dtype else input.to(dtype=np.dtype(dtype))


class SumFn(Function):
    """out = Σ_axes a.   da = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, a, *, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        dtype = np.int64 if a.dtype.kind in "biu" else None  # integers and bools sum to int64, as PyTorch
        return c_order(xp_of(a).asarray(a.sum(axis=axes, keepdims=keepdim, dtype=dtype)))

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = _expand(g, ctx.shape, ctx.axes)
        return (xp_of(g).broadcast_to(g, ctx.shape),)


class MeanFn(Function):
    """out = Σ_axes a / n, n = the number of elements reduced (NaN when n = 0).   da = g / n broadcast back."""

    @staticmethod
    def forward(ctx, a, *, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.count = a.size if axes is None else math.prod(a.shape[i] for i in axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return c_order(xp_of(a).asarray(a.sum(axis=axes, keepdims=keepdim) / ctx.count))

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = _expand(g, ctx.shape, ctx.axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (xp_of(g).broadcast_to(g / ctx.count, ctx.shape),)


class MaxFn(Function):
    """out = max or min over all elements, of the k elements equal to it (the k NaNs when it is NaN).

    da = g / k at each of those k elements, 0 elsewhere (selected), as PyTorch's ``max()``: it splits
    the gradient evenly among ties.
    """

    @staticmethod
    def forward(ctx, a, *, largest):
        xp = xp_of(a)
        out = a.max() if largest else a.min()
        ties = xp.isnan(a) if a.dtype.kind == "f" and xp.isnan(out) else a == out
        ctx.save_for_backward(ties)
        return xp.asarray(out).reshape(())

    @staticmethod
    def backward(ctx, g):
        (ties,) = ctx.saved_tensors
        xp = xp_of(g)
        share = g / int(ties.sum())  # a Python int keeps g's dtype
        return (xp.where(ties, share, xp.zeros((), dtype=g.dtype)),)


class TakeFn(Function):
    """out = a at ``index`` along ``axis`` (the argmax or argmin of each slice, as ``index`` has size 1
    along ``axis``), with the axis kept or removed.   da = g at that index, 0 elsewhere (selected), so
    ties and NaN send the whole gradient to the one element picked, as PyTorch's ``max(dim)``."""

    @staticmethod
    def forward(ctx, a, *, index, axis, keepdim, largest):  # largest: max or min, for the node's name
        ctx.shape, ctx.axis, ctx.index = a.shape, axis, index
        out = xp_of(a).take_along_axis(a, index, axis=axis)
        return c_order(out if keepdim else out.squeeze(axis))

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        g = g.reshape(ctx.index.shape)  # (..., 1, ...): size 1 along the reduced axis
        # one-hot along the axis (not put_along_axis, which CuPy 13 lacks): da = g where position == index
        shape = [1] * len(ctx.shape)
        shape[ctx.axis] = ctx.shape[ctx.axis]
        positions = xp.arange(ctx.shape[ctx.axis]).reshape(shape)
        return (xp.where(positions == ctx.index, g, xp.zeros((), dtype=g.dtype)),)


def _numpy_spelling(op, dim, keepdim, axis, keepdims):
    """PyTorch also accepts NumPy's keywords: ``axis`` for ``dim`` and ``keepdims`` for ``keepdim``."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; give one")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Sum over ``dim`` (an int, a tuple, or None or () for all elements). Integers and bools sum to
    int64, as PyTorch; ``dtype`` casts the input first."""
    check_tensor("sum", input)
    dim, keepdim = _numpy_spelling("sum", dim, keepdim, axis, keepdims)
    input = _cast("sum", input, dtype)
    return SumFn.apply(input, axes=_axes("sum", dim, input.ndim), keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Mean over ``dim`` (an int, a tuple, or None or () for all elements); ``dtype`` casts the input
    first. An integer input without a float ``dtype`` is an error, as in PyTorch."""
    check_tensor("mean", input)
    dim, keepdim = _numpy_spelling("mean", dim, keepdim, axis, keepdims)
    input = _cast("mean", input, dtype)
    if input.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point input, got dtype {input.dtype.name} (or pass a float dtype=)")
    return MeanFn.apply(input, axes=_axes("mean", dim, input.ndim), keepdim=keepdim)


def _check_reduced_size(op, input, axis):
    if input.ndim and input.shape[axis] == 0:
        raise DimError(f"{op}: expected reduction dim {axis} to have non-zero size, got shape {tuple(input.shape)}")


def _max_min(op, largest, input, dim, keepdim):
    check_tensor(op, input)
    if isinstance(dim, Tensor):  # max(a, b): the elementwise form
        from .elementwise import maximum, minimum

        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        if input.numel() == 0:
            raise ValueError(f"{op}: expected a non-empty input, got shape {tuple(input.shape)}; give a dim")
        return MaxFn.apply(input, largest=largest)
    axis = normalize_dim(op, dim, input.ndim)
    _check_reduced_size(op, input, axis)
    a = input.array.reshape(1) if input.ndim == 0 else input.array
    index = xp_of(a).expand_dims(a.argmax(axis=axis) if largest else a.argmin(axis=axis), axis)
    keep = keepdim and input.ndim > 0
    if input.ndim == 0:
        from .shape import reshape

        input = reshape(input, 1)
    values = TakeFn.apply(input, index=index, axis=axis, keepdim=keep, largest=largest)
    return MaxResult(values, Tensor(index if keep else index.squeeze(axis)))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The largest element; with ``dim``, ``(values, indices)`` along ``dim`` as PyTorch (NaN counts as the
    largest; ties pick the first); ``max(input, other)`` with a tensor ``other`` is ``maximum``."""
    return _max_min("max", True, input, *_numpy_spelling("max", dim, keepdim, axis, keepdims))


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The smallest element; with ``dim``, ``(values, indices)`` along ``dim`` as PyTorch (NaN counts as the
    smallest; ties pick the first); ``min(input, other)`` with a tensor ``other`` is ``minimum``."""
    return _max_min("min", False, input, *_numpy_spelling("min", dim, keepdim, axis, keepdims))


def _arg(op, largest, input, dim, keepdim):
    check_tensor(op, input)
    if input.dtype.kind == "b":
        raise TypeError(f"{op}: bool inputs are not supported, as in PyTorch")
    a = input.array
    xp = xp_of(a)
    if dim is None:
        if a.size == 0:
            raise DimError(f"{op}: expected a dim for an empty input of shape {tuple(input.shape)}")
        flat = a.reshape(-1)
        idx = flat.argmax() if largest else flat.argmin()
        return Tensor(xp.asarray(idx, dtype=np.int64).reshape((1,) * a.ndim if keepdim else ()))
    axis = normalize_dim(op, dim, input.ndim)
    if a.ndim == 0:
        return Tensor(xp.zeros((), dtype=np.int64))
    _check_reduced_size(op, input, axis)
    idx = a.argmax(axis=axis) if largest else a.argmin(axis=axis)
    return Tensor(c_order(xp.asarray(xp.expand_dims(idx, axis) if keepdim else idx, dtype=np.int64)))


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the (first) largest element (NaN counts as the largest), over all elements (of the
    flattened input) or along ``dim``; no gradient. Bool inputs are an error, as in PyTorch."""
    return _arg("argmax", True, input, *_numpy_spelling("argmax", dim, keepdim, axis, keepdims))


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the (first) smallest element (NaN counts as the smallest), as :func:`argmax`."""
    return _arg("argmin", False, input, *_numpy_spelling("argmin", dim, keepdim, axis, keepdims))


# ------------------------------------------------------------------ all, any
def _all_any(op, reduce, input, dim, keepdim):
    check_tensor(op, input)
    a = input.array
    if dim == ():  # PyTorch reduces nothing for dim=(): each element as a bool
        axes = ()
    else:
        axes = _axes(op, dim, input.ndim)
    out = reduce(a, axis=axes, keepdims=keepdim and input.ndim > 0)
    return Tensor(c_order(xp_of(a).asarray(out, dtype=np.uint8 if a.dtype == np.uint8 else bool)))


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether every element (along ``dim``: an int or a tuple) is non-zero, as ``torch.all``: a bool
    tensor (uint8 for a uint8 input, as PyTorch); True for an empty input. No gradient."""
    return _all_any("all", lambda a, **kw: xp_of(a).all(a, **kw), input,
                    *_numpy_spelling("all", dim, keepdim, axis, keepdims))


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether some element (along ``dim``) is non-zero, as ``torch.any``; False for an empty input."""
    return _all_any("any", lambda a, **kw: xp_of(a).any(a, **kw), input,
                    *_numpy_spelling("any", dim, keepdim, axis, keepdims))


# ------------------------------------------------------------------ cumsum
class CumsumFn(Function):
    """out_i = a_0 + ... + a_i along ``axis`` (None for a 0-d input: out = a).

    Each a_j is in every out_i with i >= j, so da_j = g_j + ... + g_last: the running sum of g taken
    from the far end (flip, cumsum, flip back).
    """

    @staticmethod
    def forward(ctx, a, *, axis, dtype):
        ctx.axis = axis
        return a.astype(dtype) if axis is None else c_order(xp_of(a).cumsum(a, axis=axis, dtype=dtype))

    @staticmethod
    def backward(ctx, g):
        if ctx.axis is None:
            return (g,)
        xp = xp_of(g)
        return (xp.flip(xp.cumsum(xp.flip(g, ctx.axis), axis=ctx.axis), ctx.axis),)


def cumsum(input, dim=None, *, dtype=None, axis=None):
    """The running sum along ``dim`` (or NumPy's ``axis``, which PyTorch accepts too), as ``torch.cumsum``:
    integers and bools give int64; ``dtype`` casts the input first (the gradient flows back through the cast)."""
    check_tensor("cumsum", input)
    dim, _ = _numpy_spelling("cumsum", dim, False, axis, None)
    if dim is None:
        raise TypeError("cumsum() missing 1 required positional argument: 'dim'")
    axis = normalize_dim("cumsum", dim, input.ndim)
    input = _cast("cumsum", input, dtype)
    wide = dtype is None and input.dtype.kind in "biu"  # integers and bools sum in int64, as PyTorch
    return CumsumFn.apply(input, axis=axis if input.ndim else None, dtype=np.dtype(np.int64) if wide else input.dtype)


# ------------------------------------------------------------------ norm
class NormFn(Function):
    """out = ‖a‖_p over ``axes`` (None: all): (Σ |a|^p)^(1/p); p = inf: max |a|; p = -inf: min |a|;
    p = 0: the number of non-zero elements. Float32 and float16 are summed in float64 and rounded once,
    their squares (|a|^p) taken in their own dtype, so they overflow to inf and underflow to 0 as PyTorch's.

    With s = sign(a) and everything broadcast back over the reduced axes, as PyTorch's:
      p = 0:        da = 0;
      p = ±inf:     da = s · (g / k) · [tie] at the k elements where |a| = out or a is NaN (ties share);
      p = 1:        da = s · g;
      p = 2:        da = g · (a / out), with a / out taken as 0 where out = 0 (PyTorch's: g is not
                    masked, so a NaN g still gives NaN there);
      p > 1:        da = s · |a|^(p−1) · (g / out^(p−1)) (a · |a|^(p−2) · ... for p > 2), and the factor
                    g / out^(p−1) 0 where out = 0 (the gradient of ‖0‖ is taken as 0, as PyTorch);
      p < 1:        da = s · |a|^(p−1) · g · out^(1−p), with 0 where a = 0 (not 0 · inf).
    A norm of one element (every reduced axis of size 1) is |a| for p ≠ 0, with no overflow, as PyTorch's
    (but for a 0-d input given a dim, where PyTorch takes the power and root, and 1e-300 underflows to 0).
    """

    @staticmethod
    def forward(ctx, a, *, p, axes, keepdim, root_0d=False):
        xp = xp_of(a)
        ctx.shape, ctx.axes, ctx.keepdim, ctx.p = a.shape, axes, keepdim, p
        x = xp.abs(a)
        wide = (lambda v: v.astype(np.float64)) if a.dtype.itemsize < 8 else (lambda v: v)  # summed in float64
        trivial = math.prod(a.shape[i] for i in range(a.ndim) if axes is None or i in axes) == 1
        trivial = trivial and not root_0d  # PyTorch: a 0-d input given a dim takes the power and the root
        with np.errstate(all="ignore"):
            if trivial and p != 0:  # one element per norm: |a|, as PyTorch (no overflow of 1e300²)
                out = x.reshape([1 if axes is None or i in axes else n for i, n in enumerate(a.shape)])
            elif p == math.inf or p == -math.inf:
                out = (x.max if p > 0 else x.min)(axis=axes, keepdims=True)
            elif p == 0:
                out = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
            elif p == 1:
                out = wide(x).sum(axis=axes, keepdims=True)
            elif p == 2:  # squares (and powers) in a's dtype: they overflow and underflow as PyTorch's
                out = xp.sqrt(wide(x * x).sum(axis=axes, keepdims=True))
            else:
                out = wide(x**p).sum(axis=axes, keepdims=True) ** (1 / p)
        out = out.astype(a.dtype)
        ctx.save_for_backward(a, out)
        return c_order(out if keepdim else out.reshape([n for i, n in enumerate(a.shape) if axes is not None and i not in axes]))

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xp, p = xp_of(g), ctx.p
        g = g.reshape(out.shape)  # keepdims: broadcasts against a
        zero = xp.zeros((), dtype=g.dtype)
        sign = (a > 0).astype(g.dtype) - (a < 0)  # PyTorch's sgn: 0 at NaN (NumPy's sign is NaN)
        with np.errstate(all="ignore"):
            if p == 0:
                return (xp.zeros(ctx.shape, dtype=g.dtype),)
            if p == math.inf or p == -math.inf:  # ties: |a| = out, or |a| NaN; a product (NaN · 0 = NaN), as PyTorch's
                ties = (xp.abs(a) == out) | xp.isnan(a)
                return (sign * ((g / ties.sum(axis=ctx.axes, keepdims=True)) * ties),)
            if p == 1:
                return (sign * g,)
            if p == 2:  # g · (a / out), with a / out set to 0 where out = 0: a NaN or inf g still gives NaN there
                return (g * xp.where(out == 0, zero, a / out),)
            if p > 1:
                scaled = sign * xp.abs(a) ** (p - 1) if p < 2 else a * xp.abs(a) ** (p - 2)
                return (scaled * xp.where(out == 0, zero, g / out ** (p - 1)),)
            return (sign * xp.where(a == 0, zero, xp.abs(a) ** (p - 1)) * g * out ** (1 - p),)


def _order(op, p, axes):
    """PyTorch's ``p``/``ord`` as a number: "fro" is the 2-norm of the elements (over all dims, or 1-2 dims)."""
    if isinstance(p, str):
        if p == "fro" and (axes is None or len(axes) <= 2):
            return 2.0
        raise ValueError(f"{op}: order {p!r} is not supported (expected a number, inf or 'fro'; "
                         "'nuc' and other matrix norms are not implemented)")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: expected p to be a number or 'fro', got {p!r}")
    return float(p)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm of the elements (along ``dim``: an int or a tuple), as ``torch.norm``: p = 2 ("fro",
    the default), 1, inf, -inf, 0 (the count of non-zeros) or any other number. A float input (or a
    float ``dtype``, which casts first); the gradient where the norm is 0 is 0, as PyTorch."""
    check_tensor("norm", input)
    input = _cast("norm", input, dtype)
    if input.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating-point input, got dtype {input.dtype.name}")
    axes = _axes("norm", dim, input.ndim) if dim != () else None
    root_0d = input.ndim == 0 and dim is not None and dim != ()
    return NormFn.apply(input, p=_order("norm", p, axes), axes=axes, keepdim=keepdim, root_0d=root_0d)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``linalg.vector_norm``: the ``ord``-norm of the elements (along ``dim``) of a tensor of any shape."""
    if isinstance(ord, str):
        raise TypeError(f"linalg.vector_norm: expected ord to be a number, got {ord!r}")
    return norm(x, ord, dim, keepdim, dtype)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``linalg.norm``: with no ``ord``, the 2-norm of the elements (along ``dim``); a number ``ord`` is a
    vector norm of a 1-D input or along one ``dim``; "fro" over two dims (of a 2-D input by default).
    ord = ±1 / ±inf of a 2-D input: the largest (smallest) column / row sum of |A|. The spectral norms
    (2, -2, "nuc") are not implemented."""
    check_tensor("linalg.norm", A)
    dims = None if dim is None else ((dim,) if isinstance(dim, (int, np.integer)) else tuple(dim))
    if ord is None:
        return norm(A, 2, dim, keepdim, dtype)
    if dims is None and A.ndim not in (1, 2):
        raise ValueError(f"linalg.norm: with ord and no dim, expected a 1-D or 2-D input, got {A.ndim}-D")
    matrix = len(dims) == 2 if dims is not None else A.ndim == 2
    if not matrix and ord != "fro":
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    if ord == "fro" and matrix:
        return norm(A, 2, dims if dims is not None else (0, 1), keepdim, dtype)
    if ord in (1, -1, math.inf, -math.inf) and dims is None and not keepdim:  # of a 2-D input
        sums = sum(_cast("linalg.norm", A, dtype).abs(), 0 if ord in (1, -1) else 1)  # column or row sums of |A|
        return max(sums) if ord > 0 else min(sums)
    raise ValueError(f"linalg.norm: ord={ord!r} is not supported for a {'matrix' if matrix else 'vector'} "
                     "(supported: None, a number for vectors; 'fro', and 1 and inf of a 2-D input, for matrices)")
