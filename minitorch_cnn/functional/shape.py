"""Shape ops: reshape/view, flatten, transpose/permute, (un)squeeze, indexing, cat, stack (pad: padding.py).

None of these changes a value, they only move values around, so every backward moves the
gradient back: reshape it back, permute it back, scatter it back, or split it back.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import Function
from ..backend import xp_of
from ..tensor import Tensor
from ._util import c_order, check_tensor, normalize_dim, promote_types


class ReshapeFn(Function):
    """out = a viewed with a new shape.   da = g reshaped to a's shape."""

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),)


class UnsafeViewFn(ReshapeFn):
    """``reshape``/``flatten`` where no view exists (a copy): the same backward, PyTorch's name for the node."""


class SqueezeFn(ReshapeFn):
    """``squeeze``: a reshape. ``form`` only names the node as PyTorch does: SqueezeBackward0 for
    ``squeeze()``, 1 for one dim, 2 for a tuple of dims."""

    @staticmethod
    def forward(ctx, a, *, shape, form):
        return ReshapeFn.forward(ctx, a, shape=shape)


class UnsqueezeFn(ReshapeFn):
    """``unsqueeze``: a reshape that inserts an axis of size 1."""


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


class TransposeFn(PermuteFn):
    """``transpose``: a permutation that swaps two axes."""


class TFn(PermuteFn):
    """``t``: the transpose of a matrix (a 0-D or 1-D tensor as it is)."""


class GetItemFn(Function):
    """out = a[basic][advanced]: PyTorch's indexing in two steps (see ``split_index``): ``basic`` (ints,
    slices, None) gives a view, then ``advanced`` (integer or boolean arrays, or None when there are
    none) gathers from it.

    da = zeros like a, with g written into the view ``da[basic]``, scatter-*added* at ``advanced``: an
    integer array may pick one element several times, and each pick contributes.
    ``name`` is PyTorch's name for the node, by the index (``index_node_name``).
    """

    @staticmethod
    def forward(ctx, a, *, basic, advanced, name):
        ctx.shape, ctx.basic, ctx.advanced = a.shape, basic, advanced
        out = a[basic]
        return out if advanced is None else out[advanced]

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        da = xp.zeros(ctx.shape, dtype=g.dtype)
        if ctx.advanced is None:
            da[ctx.basic] = g  # ints and slices never pick an element twice
        else:
            xp.add.at(da[ctx.basic], ctx.advanced, g)  # da[basic] is a view: the sums land in da
        return (da,)


class StackFn(Function):
    """out = the inputs (of one shape) stacked along a new ``axis``.   d(input_i) = g at position i of that axis."""

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return c_order(xp_of(arrays[0]).stack(arrays, axis=axis))  # contiguous, as PyTorch's

    @staticmethod
    def backward(ctx, g):
        before = (slice(None),) * ctx.axis
        return tuple(g[before + (i,)] if needed else None for i, needed in enumerate(ctx.needs_input_grad))


class CatFn(Function):
    """out = the inputs joined along ``axis``, leaving out those marked in ``skip`` (empty ones).
    d(input_i) = the slice of g that input_i filled (an empty gradient for a skipped input)."""

    @staticmethod
    def forward(ctx, *arrays, axis, skip):
        ctx.axis, ctx.skip = axis, skip
        ctx.sizes = [0 if s else a.shape[axis] for a, s in zip(arrays, skip)]
        return c_order(xp_of(arrays[0]).concatenate([a for a, s in zip(arrays, skip) if not s], axis=axis))

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for size, skipped, needed in zip(ctx.sizes, ctx.skip, ctx.needs_input_grad):
            index = (slice(None),) * ctx.axis + (slice(start, start + size),)
            grads.append(None if not needed else xp_of(g).zeros((0,), g.dtype) if skipped else g[index])
            start += size
        return tuple(grads)


# ------------------------------------------------------------------ public functions
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _new_shape(op, input, shape):
    """``shape`` with its -1 (at most one) worked out from the number of elements."""
    shape = _shape_arg(shape)
    known = math.prod(s for s in shape if s != -1)
    n = input.numel()
    if (shape.count(-1) > 1 or any(s < -1 for s in shape) or (-1 in shape and (known == 0 or n % known))
            or (-1 not in shape and known != n)):
        raise ValueError(f"{op}: cannot view a tensor of shape {tuple(input.shape)} ({n} elements) as {shape}")
    return tuple(n // known if s == -1 else s for s in shape)


def reshape(input, *shape):
    """The same values in a new shape (one entry may be -1): a view when the strides allow it, else a copy."""
    check_tensor("reshape", input)
    return _reshape(input, _new_shape("reshape", input, shape))


def _reshape(input, shape):
    a = input.array
    fn = ReshapeFn if viewable(a.shape, [st // a.itemsize for st in a.strides], shape) else UnsafeViewFn
    return fn.apply(input, shape=shape)


class ViewError(RuntimeError, ValueError):
    """A view that the strides do not allow: a ``RuntimeError`` as in PyTorch, a ``ValueError`` as other bad input."""


def viewable(shape, strides, new_shape) -> bool:
    """Whether an array of ``shape`` and ``strides`` (in elements) can be seen as ``new_shape`` without
    a copy, by PyTorch's rule for ``view``.

    Leave out the dims of size 1 (their stride never matters) and cut the others into blocks: a dim
    joins the block of the dim before it when that dim's stride is this dim's stride times its size
    (the two walk memory as one longer dim). A view can only split or merge dims inside a block, so
    the new sizes (size 1 left out), multiplied in order, must reach each block's size exactly.
    An empty tensor can always be viewed.
    """
    if math.prod(shape) == 0:
        return True
    blocks, previous = [], None
    for n, stride in zip(shape, strides):
        if n == 1:
            continue
        if blocks and previous == stride * n:
            blocks[-1] *= n
        else:
            blocks.append(n)
        previous = stride
    sizes = iter(n for n in new_shape if n != 1)
    for block in blocks:
        product = 1
        while product < block:
            product *= next(sizes, block + 1)  # running out of sizes overshoots: not viewable
        if product != block:
            return False
    return next(sizes, None) is None


def view(input, *shape):
    """The same memory seen with a new shape (one entry may be -1), as ``torch.Tensor.view``: an error when
    the input's strides do not allow it (after a transpose, say); ``reshape`` copies in that case."""
    check_tensor("view", input)
    shape = _new_shape("view", input, shape)
    a = input.array
    if not viewable(a.shape, [st // a.itemsize for st in a.strides], shape):
        raise ViewError(f"view: view size {shape} is not compatible with input tensor's size {tuple(input.shape)} and "
                        "stride (at least one dimension spans across two contiguous subspaces). "
                        "Use .reshape(...) instead.")
    return ReshapeFn.apply(input, shape=shape)


def contiguous(input):
    """``input`` itself when its memory is C-contiguous, else a C-contiguous copy (da = g), as
    ``torch.Tensor.contiguous``."""
    check_tensor("contiguous", input)
    return input if input.array.flags.c_contiguous else ContiguousFn.apply(input)


class ContiguousFn(Function):
    """out = a copied into C order.   da = g."""

    @staticmethod
    def forward(ctx, a):
        return xp_of(a).ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        return (g,)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge the axes ``start_dim..end_dim`` into one."""
    check_tensor("flatten", input)
    s, e = normalize_dim("flatten", start_dim, input.ndim), normalize_dim("flatten", end_dim, input.ndim)
    if input.ndim == 0:
        return reshape(input, 1)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:s] + (math.prod(input.shape[s : e + 1]),) + input.shape[e + 1 :]
    return _reshape(input, shape)


def permute(input, *dims):
    """Reorder the axes: ``out.shape[i] = input.shape[dims[i]]``. The dims are required, as PyTorch's:
    a 0-d tensor takes ``permute(())``."""
    check_tensor("permute", input)
    if not dims:
        raise TypeError("permute: missing the dims argument (a 0-d tensor takes permute(()))")
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
    if input.ndim:  # a 0-d tensor accepts dims 0 and -1 and stays as it is
        dims[a], dims[b] = dims[b], dims[a]
    return TransposeFn.apply(input, dims=tuple(dims))


def t(input):
    """The transpose of a matrix; a 0-D or 1-D tensor is returned as it is, as ``torch.t``."""
    check_tensor("t", input)
    if input.ndim > 2:
        raise ValueError(f"t: expected a tensor with at most 2 dimensions, got shape {tuple(input.shape)}; "
                         "use transpose or permute")
    return TFn.apply(input, dims=tuple(reversed(range(input.ndim))))


def squeeze(input, dim=None):
    """Remove axes of size 1: all of them, or those among ``dim`` (an int or a tuple of ints)."""
    check_tensor("squeeze", input)
    if dim is None:
        dims = range(input.ndim)
    else:
        dims = [normalize_dim("squeeze", d, input.ndim) for d in ((dim,) if isinstance(dim, int) else dim)]
        if len(set(dims)) != len(dims):
            raise ValueError(f"squeeze: a dim appears more than once in dim={dim!r}")
    shape = tuple(n for i, n in enumerate(input.shape) if not (i in dims and n == 1))
    form = 0 if dim is None else 1 if isinstance(dim, int) else 2
    return SqueezeFn.apply(input, shape=shape, form=form)


def unsqueeze(input, dim):
    """Insert an axis of size 1 at ``dim``."""
    check_tensor("unsqueeze", input)
    d = normalize_dim("unsqueeze", dim, input.ndim + 1)
    return UnsqueezeFn.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def raw_index(index):
    """An index with any Tensors in it replaced by their arrays, checked as PyTorch checks it: a slice
    step must be positive. A list (or a tuple inside the index tuple) becomes an integer array; an empty
    one picks nothing (an int64 array, where NumPy would make it float). As PyTorch, a list holding a
    sequence, a slice, None, ``...`` or a Tensor is read as a tuple (a deprecated form)."""
    if isinstance(index, list) and any(p is None or p is Ellipsis or isinstance(p, (list, tuple, slice, Tensor))
                                       for p in index):
        index = tuple(index)
    parts = index if isinstance(index, tuple) else (index,)
    raw = tuple(_raw_part(p) for p in parts)
    return raw if isinstance(index, tuple) else raw[0]


def _raw_part(part):
    if isinstance(part, slice) and part.step is not None and part.step < 0:
        raise ValueError(f"getitem: step must be greater than zero, got the slice {part} (PyTorch has no negative "
                         "steps; use flip)")
    if isinstance(part, Tensor):
        return part.array
    if isinstance(part, (list, tuple)):
        array = Tensor(list(part)).array
        return array.astype(np.int64) if array.size == 0 else array
    return part


def _is_int(part) -> bool:
    """A Python or NumPy integer, or a 0-d integer array (an integer tensor of one element): PyTorch
    indexes with it as with an int."""
    if isinstance(part, bool):
        return False
    return isinstance(part, (int, np.integer)) or (hasattr(part, "ndim") and part.ndim == 0 and part.dtype.kind in "iu")


def split_index(index, ndim):
    """``index`` (arrays, not Tensors) as ``(basic, advanced)`` with ``a[index]`` = ``a[basic][advanced]``
    by PyTorch's rule.

    PyTorch first applies the ints, slices and None (a view), then the integer and boolean arrays to
    what is left. NumPy counts an int as an array index too, which changes where the gathered axes
    go: for ``x`` of shape (2, 3, 4), ``x[0, :, [1, 2]]`` has shape (3, 2) in PyTorch, (2, 3) in NumPy.
    ``advanced`` is None when there are no arrays.
    """
    parts = list(index) if isinstance(index, tuple) else [index]
    if sum(p is Ellipsis for p in parts) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")

    def dims_used(p):
        if p is None or isinstance(p, bool) or (hasattr(p, "ndim") and p.ndim == 0 and p.dtype.kind == "b"):
            return 0
        return p.ndim if hasattr(p, "ndim") and p.dtype.kind == "b" else 1

    if any(p is Ellipsis for p in parts):
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        rest = ndim - sum(dims_used(p) for p in parts if p is not Ellipsis)
        parts[at : at + 1] = [slice(None)] * max(rest, 0)
    basic, advanced = [], []
    for p in parts:
        if _is_int(p):
            basic.append(int(p))
        elif p is None or isinstance(p, slice):
            basic.append(p)
            advanced.append(slice(None))
        elif dims_used(p) == 0:  # True / False: a new axis of size 1 / 0, chosen in the second step
            advanced.append(p)
        else:
            basic.extend([slice(None)] * dims_used(p))
            advanced.append(p)
    has_arrays = any(not isinstance(p, slice) for p in advanced)
    return tuple(basic) + (Ellipsis,), (tuple(advanced) if has_arrays else None)


def index_node_name(index, shape) -> str:
    """PyTorch's node for ``a[index]`` with ints, slices, None and Ellipsis: named by the last step that
    does something. A lone slice is always a SliceBackward0; inside a tuple a slice over a whole dim
    (step 1) is skipped, and when every part is skipped the node is an AliasBackward0 (``x[...]``, ``x[:, :]``)."""
    if not isinstance(index, tuple):
        if isinstance(index, slice):
            return "SliceBackward0"
        index = (index,)
    parts = list(index)
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        parts[at : at + 1] = [slice(None)] * (len(shape) - sum(p is not None for p in parts if p is not Ellipsis))
    name, dim = "AliasBackward0", 0
    for p in parts:
        if p is None:
            name = "UnsqueezeBackward0"
            continue
        if isinstance(p, slice):
            if dim < len(shape) and p.indices(shape[dim]) != (0, shape[dim], 1):
                name = "SliceBackward0"
        else:
            name = "SelectBackward0"
        dim += 1
    return name


def getitem(input, index):
    """``input[index]`` with ints, slices, None, Ellipsis and integer/boolean index tensors, by PyTorch's
    rule for where the gathered axes go (see ``split_index``)."""
    check_tensor("getitem", input)
    index = raw_index(index)
    try:
        basic, advanced = split_index(index, input.ndim)
        name = "IndexBackward0" if advanced is not None else index_node_name(index, input.shape)
        return GetItemFn.apply(input, basic=basic, advanced=advanced, name=name)
    except (IndexError, TypeError) as exc:
        raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {tuple(input.shape)}: {exc}") from None


def _check_join(op, tensors, dim, same_shape):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for t in tensors:
        check_tensor(op, t, "every element")
    first = tensors[0]
    if not same_shape and any(t.ndim == 0 for t in tensors):
        raise ValueError(f"{op}: zero-dimensional tensors cannot be concatenated; stack them or unsqueeze first")
    for i, t in enumerate(tensors):
        if t.device != first.device:
            raise ValueError(f"{op}: all tensors must be on one device, got {first.device} and {t.device} (tensor {i})")
    shaped = tensors if same_shape else [t for t in tensors if not _skipped_in_cat(t)]
    first = shaped[0] if shaped else first
    axis = normalize_dim(op, dim, first.ndim + (1 if same_shape else 0)) if shaped else 0
    for i, t in enumerate(tensors):
        if not same_shape and _skipped_in_cat(t):
            continue
        other_dims = [d for d in range(first.ndim) if same_shape or d != axis]
        if t.ndim != first.ndim or any(t.shape[d] != first.shape[d] for d in other_dims):
            what = "the same shape" if same_shape else f"equal sizes except along dim {axis}"
            raise ValueError(f"{op}: expected tensors of {what}, got {tuple(first.shape)} and {tuple(t.shape)} (tensor {i})")
    dtype = functools.reduce(promote_types, [t.dtype for t in tensors])  # mixed dtypes promote, as PyTorch
    return [t if t.dtype == dtype else t.to(dtype=dtype) for t in tensors], axis


def _skipped_in_cat(t) -> bool:
    """PyTorch's legacy rule: ``cat`` leaves out 1-D empty tensors (shape (0,)) whatever the others' shapes
    and ``dim`` (they still take part in the dtype promotion)."""
    return t.shape == (0,)


def cat(tensors, dim=0):
    """Join tensors along an existing axis ``dim``; 1-D empty tensors are left out, as PyTorch's."""
    tensors, axis = _check_join("cat", tensors, dim, same_shape=False)
    if not all(_skipped_in_cat(t) for t in tensors):
        return CatFn.apply(*tensors, axis=axis, skip=tuple(_skipped_in_cat(t) for t in tensors))
    return CatFn.apply(*tensors, axis=0, skip=(False,) * len(tensors))


def stack(tensors, dim=0):
    """Join same-shape tensors along a new axis ``dim``."""
    tensors, axis = _check_join("stack", tensors, dim, same_shape=True)
    return StackFn.apply(*tensors, axis=axis)


# ------------------------------------------------------------------ expand and meshgrid
class ExpandFn(Function):
    """out = a broadcast to ``shape``: a view of a, whose copies along the broadcast axes share their memory
    (stride 0), as PyTorch's, so it cannot be written to, and ``view`` refuses to merge a broadcast dim
    with a real one. da = g, which the engine sums back over the broadcast axes to a's shape
    (``autograd.sum_to``): each input element receives the sum of the gradients of all its copies."""

    @staticmethod
    def forward(ctx, a, *, shape):
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return (g,)


def expand(input, *sizes):
    """``input`` repeated along its size-1 axes (and new leading axes) to ``sizes``; -1 keeps a size."""
    check_tensor("expand", input)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {tuple(input.shape)} to fewer dimensions {sizes}")
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, n in enumerate(input.shape):
        if n != 1 and n != shape[lead + i]:
            raise ValueError(f"expand: size {n} of dim {i} of shape {tuple(input.shape)} cannot become {shape[lead + i]} "
                             f"(target {sizes}); only size-1 dims expand")
    if min(shape, default=1) < 0:
        raise ValueError(f"expand: -1 is allowed only for existing dims, got {sizes} for shape {tuple(input.shape)}")
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
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
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
