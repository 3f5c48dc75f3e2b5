"""Small helpers shared by the op families: argument checks, PyTorch's type promotion, scalar wrapping."""

from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype, is_array, xp_of
from ..tensor import Tensor


def _category(dtype) -> int:
    """bool < integer < floating point: the three categories of PyTorch's type promotion."""
    return 0 if dtype.kind == "b" else 2 if dtype.kind in "fc" else 1


def promote_types(a, b):
    """``torch.promote_types``: the dtype of the higher category; within one category, the wider one
    (int64 with float32 gives float32, where NumPy would give float64)."""
    a, b = np.dtype(a), np.dtype(b)
    if _category(a) != _category(b):
        return a if _category(a) > _category(b) else b
    return np.promote_types(a, b)


def _number_dtype(value):
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(value, (float, np.floating)):
        return np.dtype(get_default_dtype())
    return None


def result_type(op: str, *operands):
    """The dtype of an op on ``operands`` (Tensors and Python numbers), as ``torch.result_type``.

    The operands fall in three groups: tensors with dimensions, 0-d tensors, plain numbers. Start
    from the first group's promoted dtype; a later group changes it only when it belongs to a higher
    category (bool < integer < float). So ``int32 tensor + tensor(2)`` stays int32, ``float32 tensor +
    tensor(2., float64)`` stays float32, and ``int tensor + 2.5`` gives the default float dtype.
    """
    groups = [None, None, None]
    for x in operands:
        if isinstance(x, Tensor) or is_array(x):  # an array counts as the tensor it would become
            dtype, group = x.dtype, (0 if x.ndim else 1)
        else:
            dtype, group = _number_dtype(x), 2
            if dtype is None:
                raise TypeError(f"{op}: expected a Tensor or a number, got {type(x).__name__}")
        groups[group] = dtype if groups[group] is None else promote_types(groups[group], dtype)
    result = None
    for dtype in groups:
        if dtype is not None and (result is None or _category(dtype) > _category(result)):
            result = dtype if result is None else promote_types(result, dtype)
    return result


def as_tensor(value, like: Tensor, op: str, dtype=None) -> Tensor:
    """``value`` as a tensor of ``dtype`` (default: unchanged for a Tensor, ``like``'s for a number) on
    ``like``'s device; a Tensor of another dtype is cast with ``to``, so its gradient flows back."""
    if isinstance(value, Tensor):
        return value if dtype is None or value.dtype == dtype else value.to(dtype=dtype)
    if _number_dtype(value) is not None or (is_array(value) and value.ndim == 0):
        return Tensor(value, dtype=like.dtype if dtype is None else dtype, device=like.device)
    if is_array(value):
        return Tensor(value, dtype=dtype, device=like.device)
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")


def promoted(op: str, *operands, dtype=None):
    """``operands`` (Tensors and numbers, at least one Tensor) as Tensors of ``dtype``, by default their
    ``result_type``."""
    like = next(x for x in operands if isinstance(x, Tensor))
    dtype = result_type(op, *operands) if dtype is None else dtype
    return tuple(as_tensor(x, like, op, dtype) for x in operands)


def as_float(op: str, x) -> Tensor:
    """``x`` in floating point: integer and bool tensors become the default float dtype, as PyTorch's
    exp, log, sqrt, sigmoid, ... do."""
    check_tensor(op, x)
    return x if x.dtype.kind == "f" else x.to(dtype=get_default_dtype())


def check_tensor(op: str, x, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")
    return x


def check_float(op: str, x: Tensor, name: str = "input") -> Tensor:
    check_tensor(op, x, name)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point {name} (float32 or float64), got dtype {x.dtype.name}")
    return x


def check_ndim(op: str, x: Tensor, ndims, name: str = "input") -> Tensor:
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{op}: expected a {want} {name}, got shape {tuple(x.shape)} ({x.ndim}-D)")
    return x


class DimError(IndexError, ValueError):
    """A dim out of range: an ``IndexError`` as in PyTorch, and a ``ValueError`` as this engine raised before."""


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` in ``[0, ndim)``. A 0-d tensor accepts dim 0 and -1, as PyTorch (the result is 0)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: expected dim to be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise DimError(f"{op}: dim {dim} is out of range for a {ndim}-D tensor "
                         f"(expected a dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
    return int(dim) % max(ndim, 1)


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


def c_order(out):
    """``out`` in C order: itself when it already is, else a copy. PyTorch's reductions, softmax, cumsum,
    cat and stack give contiguous results whatever the input's layout, where NumPy's keep it; a later
    ``view`` depends on it. The common case (a C-ordered input) costs nothing."""
    return out if out.flags.c_contiguous else xp_of(out).ascontiguousarray(out)


def torch_layout(out, *operands):
    """``out``, the result of an elementwise op on ``operands`` (arrays broadcasting to its shape), laid out
    in memory as PyTorch's TensorIterator lays out its result: a copy only when some operand is not in C
    order (then NumPy and PyTorch may differ: NumPy's ``x.T + y`` is C-ordered, PyTorch's follows ``x.T``).

    PyTorch orders the dims from the fastest-varying: of two dims, the one with the smaller stride in the
    first operand that tells them apart (broadcast dims, of stride 0, tell nothing; equal strides put
    the smaller size first), by an insertion sort from the C order.
    """
    if out.ndim < 2 or all(x.flags.c_contiguous for x in operands if hasattr(x, "flags")):
        return out
    shape = out.shape
    strides = []
    for x in operands:
        lead = out.ndim - x.ndim
        strides.append([0 if d < lead or x.shape[d - lead] != n else x.strides[d - lead] for d, n in enumerate(shape)])

    def should_swap(d0, d1):
        for st in strides:
            if st[d0] == 0 or st[d1] == 0:
                continue
            if st[d0] != st[d1]:
                return 1 if st[d0] > st[d1] else -1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    perm = list(reversed(range(out.ndim)))  # perm[0]: the fastest-varying dim
    for i in range(1, out.ndim):
        d1 = i
        for d0 in reversed(range(i)):
            swap = should_swap(perm[d0], perm[d1])
            if swap < 0:
                break
            if swap > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
    order = perm[::-1]  # slowest first
    laid = xp_of(out).empty([shape[d] for d in order], dtype=out.dtype).transpose(tuple(np.argsort(order).tolist()))
    laid[...] = out
    return laid
