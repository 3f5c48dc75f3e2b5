"""Matrix products: ``matmul`` (with NumPy's batching rules), its fixed-shape forms ``dot``, ``mv``, ``mm``,
``bmm``, and ``linear``."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import xp_of
from ._util import check_float, check_ndim, check_tensor


class MatMulFn(Function):
    """out = a @ b.

    For matrices, da = g @ bᵀ and db = aᵀ @ g. A 1-D operand is treated as a row (a) or a column
    (b) and the added axis is removed again; batch axes broadcast, and the engine sums the
    gradient back over the axes an operand was broadcast along.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        ctx.a_ndim, ctx.b_ndim = a.ndim, b.ndim
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        if ctx.b_ndim == 1:
            g = xp.expand_dims(g, -1)  # (..., n, 1); first, so that a 1-D @ 1-D scalar g becomes (1, 1)
        if ctx.a_ndim == 1:
            g = xp.expand_dims(g, -2)  # (..., 1, m)
        da = db = None
        if ctx.needs_input_grad[0]:
            bm = b[:, None] if ctx.b_ndim == 1 else b  # (..., k, m)
            da = g @ xp.swapaxes(bm, -1, -2)  # (..., n, m) @ (..., m, k) -> (..., n, k)
            if ctx.a_ndim == 1:
                da = da[..., 0, :]
        if ctx.needs_input_grad[1]:
            am = a[None, :] if ctx.a_ndim == 1 else a  # (..., n, k)
            db = xp.swapaxes(am, -1, -2) @ g  # (..., k, n) @ (..., n, m) -> (..., k, m)
            if ctx.b_ndim == 1:
                db = db[..., 0]
        return da, db


class LinearFn(Function):
    """out = x Wᵀ + b, x (N, in), W (out, in), b (out,).

    dx = g W  (N, out)@(out, in);   dW = gᵀ x  (out, N)@(N, in);   db = Σ_N g.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        out = x @ weight.T  # (N, in) @ (in, out) -> (N, out)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        dx = g @ weight if ctx.needs_input_grad[0] else None  # (N, out) @ (out, in) -> (N, in)
        dw = db = None
        n = math.prod(g.shape[:-1])  # the leading axes folded into N (spelled out: -1 fails on empty arrays)
        if ctx.needs_input_grad[1]:
            dw = g.reshape(n, g.shape[-1]).T @ x.reshape(n, x.shape[-1])  # (out, N) @ (N, in) -> (out, in)
        if ctx.needs_input_grad[2]:
            db = g.reshape(n, g.shape[-1]).sum(axis=0)  # (out,)
        return dx, dw, db


def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics (1-D operands, broadcast batch axes)."""
    check_tensor("matmul", input)
    check_tensor("matmul", other, "other")
    if input.ndim == 0 or other.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {tuple(input.shape)} and {tuple(other.shape)}")
    k_a = input.shape[-1]
    k_b = other.shape[0] if other.ndim == 1 else other.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {tuple(input.shape)} and {tuple(other.shape)} cannot be multiplied "
            f"(inner dimensions {k_a} and {k_b} differ)"
        )
    try:
        np.broadcast_shapes(input.shape[:-2], other.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dims of shapes {tuple(input.shape)} and {tuple(other.shape)} do not "
                         "broadcast together") from None
    batched = (input.ndim > 2 or other.ndim > 2) and not _folds(input, other)
    input = _check_dtypes("matmul", input, other, _nothing_to_multiply(input, other), batched)
    return MatMulFn.apply(input, other)


def _nothing_to_multiply(a, b) -> bool:
    """Whether ``a @ b`` is empty or sums over an empty inner dimension (a result of zeros)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    rows, cols = (a.shape[-2],) if a.ndim > 1 else (), (b.shape[-1],) if b.ndim > 1 else ()
    return a.shape[-1] == 0 or math.prod(batch + rows + cols) == 0


def _folds(a, b) -> bool:
    """Whether PyTorch's matmul folds a batched operand into one matrix (an mm or mv call) rather than
    calling bmm; the two check dtypes differently (``_check_dtypes``). It folds when the other operand
    has at most 2 dims and requires grad, or is not a matrix on the left and the folded operand is
    empty or its leading dims walk memory as one. Two 3-D operands, one with a batch of 1 that requires
    grad, fold too (PyTorch drops that batch dim first)."""
    if a.ndim == b.ndim == 3 and a.shape[0] != b.shape[0] and any(t.shape[0] == 1 and t.requires_grad for t in (a, b)):
        return True
    big, small = (a, b) if a.ndim >= b.ndim else (b, a)
    if big.ndim < 3 or small.ndim > 2:
        return False
    if small.requires_grad:
        return True
    if a.ndim == 2:
        return False
    if big.numel() == 0:
        return True
    shape, strides = list(big.shape), [st // big.array.itemsize for st in big.array.strides]
    if big is b:  # PyTorch folds bᵀ: its last two dims swapped
        shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _check_dtypes(op, a, b, nothing=False, batched=False):
    """As PyTorch: no promotion in matrix products, and no bool products; ``a`` is returned, cast where
    PyTorch lets the dtypes differ. Where there is ``nothing`` to multiply (an empty result, or an empty
    inner dimension: zeros) PyTorch skips its kernels' checks: bool operands pass except in ``dot``, and
    the batched product (``bmm``) takes operands of two dtypes and gives ``b``'s dtype (refused when ``a``
    requires grad and that dtype is not a float one, which cannot carry a gradient)."""
    if a.dtype != b.dtype:
        if not (nothing and batched):
            raise TypeError(f"{op}: expected operands of one dtype, got {a.dtype.name} and {b.dtype.name}")
        if a.requires_grad and b.dtype.kind != "f":
            raise TypeError(f"{op}: the empty product of {a.dtype.name} (which requires grad) and {b.dtype.name} "
                            f"would be {b.dtype.name}, which cannot require grad, as in PyTorch")
        a = a.to(dtype=b.dtype)
    if a.dtype.kind == "b" and not (nothing and a.ndim + b.ndim > 2):
        raise TypeError(f"{op}: bool operands are not supported, as in PyTorch")
    return a


def _check_dims(op, a, b, ndims, names):
    check_tensor(op, a)
    check_tensor(op, b, names[1])
    if (a.ndim, b.ndim) != ndims:
        raise ValueError(f"{op}: expected a {ndims[0]}-D {names[0]} and a {ndims[1]}-D {names[1]}, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def dot(input, other):
    """The dot product Σ input_i · other_i of two 1-D tensors of one size and dtype, as ``torch.dot``
    (``MatMulFn``: d input = g · other, d other = g · input)."""
    _check_dims("dot", input, other, (1, 1), ("input", "other"))
    if input.shape != other.shape:
        raise ValueError(f"dot: expected vectors of one size, got {input.shape[0]} and {other.shape[0]} elements")
    _check_dtypes("dot", input, other)
    return MatMulFn.apply(input, other)


def mv(input, vec):
    """The product of an (n, m) matrix and an (m,) vector, an (n,) vector, as ``torch.mv`` (``MatMulFn``)."""
    _check_dims("mv", input, vec, (2, 1), ("input", "vec"))
    if input.shape[1] != vec.shape[0]:
        raise ValueError(f"mv: size mismatch, got matrix {tuple(input.shape)} and vector {tuple(vec.shape)}")
    _check_dtypes("mv", input, vec, _nothing_to_multiply(input, vec))
    return MatMulFn.apply(input, vec)


def mm(input, mat2):
    """The product of an (n, k) and a (k, m) matrix, as ``torch.mm`` (``MatMulFn``; no broadcasting)."""
    _check_dims("mm", input, mat2, (2, 2), ("input", "mat2"))
    if input.shape[1] != mat2.shape[0]:
        raise ValueError(f"mm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} cannot be multiplied "
                         f"(inner dimensions {input.shape[1]} and {mat2.shape[0]} differ)")
    _check_dtypes("mm", input, mat2, _nothing_to_multiply(input, mat2))
    return MatMulFn.apply(input, mat2)


class BmmFn(MatMulFn):
    """``bmm``: the batched matrix product of ``MatMulFn`` (its backward), named BmmBackward0 as PyTorch's."""


def linear(input, weight, bias=None):
    """y = input @ weightᵀ + bias, input (..., in), weight (out, in), bias (out,); the input's dtype.

    Dtypes as PyTorch 2.13, which has two paths. A 1-D or 2-D input, or a contiguous one (a 3-D input, or
    any with a 1-D bias), with a bias goes through one fused product (``addmm``): the three dtypes must be
    equal. Otherwise the product is computed first (weight of the input's dtype) and the bias is added in
    place, cast to the product's dtype: a float64 bias is then accepted for a float32 input.
    """
    check_float("linear", input)
    check_float("linear", weight, "weight")
    check_ndim("linear", weight, 2, "weight")
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected input with last dimension {weight.shape[1]} (weight is {tuple(weight.shape)}), "
            f"got input of shape {tuple(input.shape)}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    fused = bias is not None and (input.ndim <= 2 or input.array.flags.c_contiguous)
    for name, t in (("weight", weight), ("bias", bias if fused else None)):
        if t is not None and t.dtype != input.dtype:  # as PyTorch: no promotion, even for an empty input
            raise TypeError(f"linear: expected {name} of the input's dtype {input.dtype.name}, got {t.dtype.name}")
    if bias is not None and bias.dtype != input.dtype:
        bias = bias.to(dtype=input.dtype)  # PyTorch's in-place add: the bias cast to the product's dtype
    return LinearFn.apply(input, weight, bias)


def bmm(input, mat2):
    """Batched matrix product of (B, n, k) and (B, k, m) tensors -> (B, n, m), as ``torch.bmm``.

    The same op as :func:`matmul` (its backward: da = g @ bᵀ, db = aᵀ @ g per batch), restricted to
    3-D operands with equal batch sizes (no broadcasting), as PyTorch's ``bmm`` is.
    """
    check_tensor("bmm", input)
    check_tensor("bmm", mat2, "mat2")
    if input.ndim != 3 or mat2.ndim != 3:
        raise ValueError(f"bmm: expected two 3-D tensors (B, n, k) and (B, k, m), got shapes {tuple(input.shape)} "
                         f"and {tuple(mat2.shape)}")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise ValueError(f"bmm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} do not fit (B, n, k) @ (B, k, m)")
    input = _check_dtypes("bmm", input, mat2, _nothing_to_multiply(input, mat2), batched=True)
    return BmmFn.apply(input, mat2)
