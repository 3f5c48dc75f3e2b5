"""Shape ops: reshape/view, flatten, transpose/permute, (un)squeeze, indexing, cat, stack, pad.

None of these changes a value, they only move values around, so every backward moves the
gradient back: reshape it back, permute it back, scatter it back, or split it back.
"""

from __future__ import annotations

import math

from ..autograd import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor, normalize_dim


class ReshapeFn(Function):
    """out = a viewed with a new shape.   da = g reshaped to a's shape."""

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),)


class PermuteFn(Function):
    """out = a with its axes reordered by ``dims``.   da = g permuted by the inverse order."""

    @staticmethod
    def forward(ctx, a, *, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return (g.transpose(inverse),)


class GetItemFn(Function):
    """out = a[index] (ints, slices, None, Ellipsis, integer or boolean arrays).

    da = zeros like a, with g scatter-*added* at ``index``: an integer array may pick one element
    several times, and each pick contributes.
    """

    @staticmethod
    def forward(ctx, a, *, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        da = xp.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic(ctx.index):
            da[ctx.index] = g  # ints and slices never pick an element twice
        else:
            xp.add.at(da, ctx.index, g)
        return (da,)


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class CatFn(Function):
    """out = the inputs joined along ``axis``.   d(input_i) = the slice of g that input_i filled."""

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis, ctx.sizes = axis, [a.shape[axis] for a in arrays]
        return xp_of(arrays[0]).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad):
            index = (slice(None),) * ctx.axis + (slice(start, start + size),)
            grads.append(g[index] if needed else None)
            start += size
        return tuple(grads)


class PadFn(Function):
    """out = a with constant borders.   da = the interior of g (the borders were constants)."""

    @staticmethod
    def forward(ctx, a, *, widths, value):
        ctx.interior = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return xp_of(a).pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return (g[ctx.interior],)


# ------------------------------------------------------------------ public functions
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(input, *shape):
    """The same values in a new shape (one entry may be -1)."""
    check_tensor("reshape", input)
    shape = _shape_arg(shape)
    known = math.prod(s for s in shape if s != -1)
    n = input.numel()
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or n % known)) or (-1 not in shape and known != n):
        raise ValueError(f"reshape: cannot view a tensor of shape {input.shape} ({n} elements) as {shape}")
    return ReshapeFn.apply(input, shape=shape)


view = reshape


def flatten(input, start_dim=0, end_dim=-1):
    """Merge the axes ``start_dim..end_dim`` into one."""
    check_tensor("flatten", input)
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = normalize_dim("flatten", start_dim, input.ndim), normalize_dim("flatten", end_dim, input.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:s] + (math.prod(input.shape[s : e + 1]),) + input.shape[e + 1 :]
    return ReshapeFn.apply(input, shape=shape)


def permute(input, *dims):
    """Reorder the axes: ``out.shape[i] = input.shape[dims[i]]``."""
    check_tensor("permute", input)
    dims = _shape_arg(dims)
    norm = tuple(normalize_dim("permute", d, input.ndim) for d in dims)
    if sorted(norm) != list(range(input.ndim)):
        raise ValueError(f"permute: expected a permutation of {input.ndim} axes, got {dims}")
    return PermuteFn.apply(input, dims=norm)


def transpose(input, dim0, dim1):
    """Swap two axes."""
    check_tensor("transpose", input)
    dims = list(range(input.ndim))
    a, b = normalize_dim("transpose", dim0, input.ndim), normalize_dim("transpose", dim1, input.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return PermuteFn.apply(input, dims=tuple(dims))


def squeeze(input, dim=None):
    """Remove axes of size 1 (all of them, or only ``dim``)."""
    check_tensor("squeeze", input)
    if dim is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        d = normalize_dim("squeeze", dim, input.ndim)
        shape = input.shape[:d] + input.shape[d + 1 :] if input.shape[d] == 1 else input.shape
    return ReshapeFn.apply(input, shape=shape)


def unsqueeze(input, dim):
    """Insert an axis of size 1 at ``dim``."""
    check_tensor("unsqueeze", input)
    d = normalize_dim("unsqueeze", dim, input.ndim + 1)
    return ReshapeFn.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def raw_index(index):
    """An index with any Tensors in it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return raw_index(Tensor(index))
    return index


def getitem(input, index):
    """``input[index]`` with ints, slices, None, Ellipsis and integer/boolean index tensors."""
    check_tensor("getitem", input)
    index = raw_index(index)
    try:
        return GetItemFn.apply(input, index=index)
    except (IndexError, TypeError) as exc:
        raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {input.shape}: {exc}") from None


def _check_join(op, tensors, dim, same_shape):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for t in tensors:
        check_tensor(op, t, "every element")
    first = tensors[0]
    axis = normalize_dim(op, dim, first.ndim + (1 if same_shape else 0))
    for i, t in enumerate(tensors):
        if t.device != first.device:
            raise ValueError(f"{op}: all tensors must be on one device, got {first.device} and {t.device} (tensor {i})")
        if t.dtype != first.dtype:
            raise TypeError(f"{op}: all tensors must have one dtype, got {first.dtype} and {t.dtype} (tensor {i})")
        other_dims = [d for d in range(first.ndim) if same_shape or d != axis]
        if t.ndim != first.ndim or any(t.shape[d] != first.shape[d] for d in other_dims):
            what = "the same shape" if same_shape else f"equal sizes except along dim {axis}"
            raise ValueError(f"{op}: expected tensors of {what}, got {first.shape} and {t.shape} (tensor {i})")
    return tensors, axis


def cat(tensors, dim=0):
    """Join tensors along an existing axis ``dim``."""
    tensors, axis = _check_join("cat", tensors, dim, same_shape=False)
    return CatFn.apply(*tensors, axis=axis)


def stack(tensors, dim=0):
    """Join same-shape tensors along a new axis ``dim``."""
    tensors, axis = _check_join("stack", tensors, dim, same_shape=True)
    return CatFn.apply(*[unsqueeze(t, axis) for t in tensors], axis=axis)


def pad(input, pad, mode="constant", value=0.0):
    """Constant padding, PyTorch's order: ``pad = (left, right, top, bottom, ...)`` from the last axis."""
    check_tensor("pad", input)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim or any(int(p) < 0 for p in pad):
        raise ValueError(
            f"pad: expected an even number of non-negative widths for at most {input.ndim} axes, got {tuple(pad)}"
        )
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return PadFn.apply(input, widths=tuple(widths), value=value)


# ------------------------------------------------------------------ expand and meshgrid
class ExpandFn(Function):
    """out = a broadcast to ``shape`` (a contiguous copy).   da = g, which the engine sums back over the
    broadcast axes to a's shape (``autograd.sum_to``): each input element receives the sum of the
    gradients of all its copies."""

    @staticmethod
    def forward(ctx, a, *, shape):
        xp = xp_of(a)
        return xp.ascontiguousarray(xp.broadcast_to(a, shape))

    @staticmethod
    def backward(ctx, g):
        return (g,)


def expand(input, *sizes):
    """``input`` repeated along its size-1 axes (and new leading axes) to ``sizes``; -1 keeps a size."""
    check_tensor("expand", input)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {input.shape} to fewer dimensions {sizes}")
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, n in enumerate(input.shape):
        if n != 1 and n != shape[lead + i]:
            raise ValueError(f"expand: size {n} of dim {i} of shape {input.shape} cannot become {shape[lead + i]} "
                             f"(target {sizes}); only size-1 dims expand")
    if min(shape, default=1) < 0:
        raise ValueError(f"expand: -1 is allowed only for existing dims, got {sizes} for shape {input.shape}")
    return ExpandFn.apply(input, shape=shape)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors, as ``torch.meshgrid``: output i holds ``tensors[i]`` along axis i
    (``indexing="ij"``, PyTorch's default) or with the first two axes swapped (``"xy"``, NumPy's
    default). Differentiable: each grid is its vector reshaped and expanded (gradients sum back)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors:
        raise ValueError("meshgrid: expected at least one tensor")
    for t in tensors:
        check_tensor("meshgrid", t, "every argument")
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors, got shape {t.shape}")
    sizes = [t.numel() for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        axes[0], axes[1] = 1, 0  # x varies along columns, y along rows
    shape = [0] * len(tensors)
    for i, ax in enumerate(axes):
        shape[ax] = sizes[i]
    grids = []
    for i, t in enumerate(tensors):
        view_shape = [1] * len(tensors)
        view_shape[axes[i]] = sizes[i]
        grids.append(expand(reshape(t, *view_shape), *shape))
    return tuple(grids)
