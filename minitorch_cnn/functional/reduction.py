"""Reductions: ``sum``, ``mean``, ``max``/``min`` (with ``dim``/``keepdim``) and ``argmax``."""

from __future__ import annotations

from collections import namedtuple

from ..autograd import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor, normalize_dim

MaxResult = namedtuple("MaxResult", ["values", "indices"])  # as torch.return_types.max


def _axes(op, dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(normalize_dim(op, d, ndim) for d in dims))


def _expand(g, shape, axes):
    """Put back the reduced axes as size 1 so ``g`` broadcasts against the input's ``shape``."""
    if axes is None:
        return g.reshape((1,) * len(shape))
    return xp_of(g).expand_dims(g, axes)


class SumFn(Function):
    """out = Σ_axes a.   da = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, a, *, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        return a.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = _expand(g, ctx.shape, ctx.axes)
        return (xp_of(g).broadcast_to(g, ctx.shape),)


class MeanFn(Function):
    """out = Σ_axes a / n, n = the number of elements reduced.   da = g / n broadcast back."""

    @staticmethod
    def forward(ctx, a, *, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        out = a.mean(axis=axes, keepdims=keepdim)
        ctx.count = a.size // out.size if out.size else 1
        return out

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = _expand(g, ctx.shape, ctx.axes)
        return (xp_of(g).broadcast_to(g / ctx.count, ctx.shape),)


class MaxFn(Function):
    """out = max (``sign`` = 1) or min (``sign`` = −1) over one axis, or over all elements.

    Along an axis: da = g at the first extreme position of each slice (argmax), 0 elsewhere, so
    ties send the whole gradient to one element, as PyTorch's ``max(dim)`` does.
    Over all elements: da = g / k at each of the k elements equal to the extreme, as PyTorch's
    ``max()`` does (it splits the gradient evenly among ties).
    """

    @staticmethod
    def forward(ctx, a, *, axis, keepdim, sign):
        xp = xp_of(a)
        ctx.shape, ctx.axis = a.shape, axis
        if axis is None:
            out = a.max() if sign > 0 else a.min()
            ctx.ties = a == out
            return out.reshape(())
        idx = xp.expand_dims((a * sign).argmax(axis=axis), axis)
        out = xp.take_along_axis(a, idx, axis=axis)
        ctx.index = idx
        return out if keepdim else out.squeeze(axis)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        if ctx.axis is None:
            return (ctx.ties * (g / ctx.ties.sum()),)
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


def sum(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Sum over ``dim`` (an int, a tuple, or None for all elements)."""
    check_tensor("sum", input)
    dim, keepdim = _numpy_spelling("sum", dim, keepdim, axis, keepdims)
    return SumFn.apply(input, axes=_axes("sum", dim, input.ndim), keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over ``dim`` (an int, a tuple, or None for all elements)."""
    check_tensor("mean", input)
    dim, keepdim = _numpy_spelling("mean", dim, keepdim, axis, keepdims)
    if input.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point input, got dtype {input.dtype}")
    return MeanFn.apply(input, axes=_axes("mean", dim, input.ndim), keepdim=keepdim)


def _max_min(op, sign, input, dim, keepdim):
    check_tensor(op, input)
    if input.numel() == 0:
        raise ValueError(f"{op}: expected a non-empty input, got shape {input.shape}")
    if dim is None:
        return MaxFn.apply(input, axis=None, keepdim=False, sign=sign)
    axis = normalize_dim(op, dim, input.ndim)
    values = MaxFn.apply(input, axis=axis, keepdim=keepdim, sign=sign)
    return MaxResult(values, argmax(input * sign if sign < 0 else input, axis, keepdim))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The largest element; with ``dim``, ``(values, indices)`` along ``dim`` as PyTorch."""
    return _max_min("max", 1, input, *_numpy_spelling("max", dim, keepdim, axis, keepdims))


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The smallest element; with ``dim``, ``(values, indices)`` along ``dim`` as PyTorch."""
    return _max_min("min", -1, input, *_numpy_spelling("min", dim, keepdim, axis, keepdims))


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the (first) largest element, over all elements or along ``dim``; no gradient."""
    check_tensor("argmax", input)
    dim, keepdim = _numpy_spelling("argmax", dim, keepdim, axis, keepdims)
    a = input.array
    if dim is None:
        return Tensor(a.reshape(-1).argmax())
    axis = normalize_dim("argmax", dim, input.ndim)
    idx = a.argmax(axis=axis)
    return Tensor(xp_of(a).expand_dims(idx, axis) if keepdim else idx)
