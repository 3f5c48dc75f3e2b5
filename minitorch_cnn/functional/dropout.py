"""Dropout: zero each element with probability p and scale the survivors by 1/(1−p)."""

from __future__ import annotations

from ..autograd import Function
from ..backend import rng, xp_of
from ..tensor import Tensor
from ._util import check_float


class DropoutFn(Function):
    """out = a · mask / (1 − p), mask_i ~ Bernoulli(1 − p).   da = g · mask / (1 − p)."""

    @staticmethod
    def forward(ctx, a, *, p):
        keep = rng().random(a.shape, dtype=a.dtype) >= p  # drawn on the host from the seeded generator
        # the bool mask crosses to a's device (1 byte per element), then becomes a's dtype there
        scale = xp_of(a).asarray(keep).astype(a.dtype) * a.dtype.type(1 / (1 - p))  # mask / (1 - p)
        ctx.save_for_backward(scale)
        return xp_of(a).multiply(a, scale, out=xp_of(a).empty_like(a))  # in a's memory layout, as PyTorch's

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_tensors
        return (g * scale,)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability ``p`` in training; identity in eval or when p = 0.

    As PyTorch, only a real draw (training, 0 < p < 1) needs a float input: the identity returns
    any tensor (int, bool) as it is, and p = 1 gives zeros of the input's dtype.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: expected 0 <= p <= 1, got {p}")
    if not training or p == 0:
        return input
    if p == 1 and input.dtype.is_floating_point:
        return input * 0  # inf · 0 = NaN, as PyTorch's
    if p == 1:
        return Tensor(xp_of(input.array).zeros_like(input.array))
    check_float("dropout", input)
    return DropoutFn.apply(input, p=p)
