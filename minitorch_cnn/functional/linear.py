"""Matrix products: ``matmul`` (with NumPy's batching rules) and ``linear``."""

from __future__ import annotations

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
        if ctx.needs_input_grad[1]:
            g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])  # fold leading axes into N
            dw = g2.T @ x2  # (out, N) @ (N, in) -> (out, in)
        if ctx.needs_input_grad[2]:
            db = g.reshape(-1, g.shape[-1]).sum(axis=0)  # (out,)
        return dx, dw, db


def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics (1-D operands, broadcast batch axes)."""
    check_tensor("matmul", input)
    check_tensor("matmul", other, "other")
    if input.ndim == 0 or other.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {input.shape} and {other.shape}")
    k_a = input.shape[-1]
    k_b = other.shape[0] if other.ndim == 1 else other.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {input.shape} and {other.shape} cannot be multiplied "
            f"(inner dimensions {k_a} and {k_b} differ)"
        )
    if input.dtype != other.dtype and (input.requires_grad or other.requires_grad):
        raise TypeError(f"matmul: expected operands of one dtype, got {input.dtype} and {other.dtype}")
    return MatMulFn.apply(input, other)


def linear(input, weight, bias=None):
    """y = input @ weightᵀ + bias, input (..., in), weight (out, in), bias (out,)."""
    check_float("linear", input)
    check_float("linear", weight, "weight")
    check_ndim("linear", weight, 2, "weight")
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected input with last dimension {weight.shape[1]} (weight is {weight.shape}), "
            f"got input of shape {input.shape}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), got {bias.shape}")
    if input.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {input.dtype} differs from weight dtype {weight.dtype}")
    return LinearFn.apply(input, weight, bias)


def bmm(input, mat2):
    """Batched matrix product of (B, n, k) and (B, k, m) tensors -> (B, n, m), as ``torch.bmm``.

    The same op as :func:`matmul` (its backward: da = g @ bᵀ, db = aᵀ @ g per batch), restricted to
    3-D operands with equal batch sizes (no broadcasting), as PyTorch's ``bmm`` is.
    """
    check_tensor("bmm", input)
    check_tensor("bmm", mat2, "mat2")
    if input.ndim != 3 or mat2.ndim != 3:
        raise ValueError(f"bmm: expected two 3-D tensors (B, n, k) and (B, k, m), got shapes {input.shape} "
                         f"and {mat2.shape}")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise ValueError(f"bmm: shapes {input.shape} and {mat2.shape} do not fit (B, n, k) @ (B, k, m)")
    return matmul(input, mat2)
