"""Depthwise convolution (``groups = C = O``): one kh×kw filter per channel, computed directly.

The column matrix would give the same numbers as G = C products of a 1×(kh·kw) row by a
(kh·kw)×(N·L) column matrix, slowly. These kernels compute the same sums directly
(``kernels/depthwise.py``, where the definitions of the forward and of both gradients are written
out), on every kernel path.
"""

from __future__ import annotations

from minitorch_cnn.kernels.depthwise import (
    depthwise_conv2d_backward_input,
    depthwise_conv2d_backward_weight,
    depthwise_conv2d_forward,
)

from ....autograd import Function
from ._common import keep_for_backward, kept_for_backward

NAME = "depthwise"


def applies(spec) -> bool:
    """One input and one output channel per group (groups = C = O > 1), any stride, padding, dilation."""
    return spec.is_depthwise


def pays(spec) -> bool:
    """Always, where it applies: the column matrix's C products of one row each are far slower."""
    return True


class DepthwiseConv2dFn(Function):
    """Y = depthwise_conv2d(X, W) + b with X (N, C, H, W), W (C, 1, kh, kw), b (C,), Y (N, C, Ho, Wo).

    Backward (kernels/depthwise.py): dX = the adjoint of the forward (each pixel collects w[c, i, j]·g
    from every tap that read it), dW[c, 0, i, j] = Σ_{n, oh, ow} g · (the input tap (i, j) read),
    db = Σ_{n, oh, ow} g.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, spec):
        C, _, kh, kw = weight.shape
        window = spec.window
        w = weight.reshape(C, kh, kw)
        y = depthwise_conv2d_forward(x, w, *_geometry(window))
        if bias is not None:
            y += bias.reshape(1, C, 1, 1)
        keep_for_backward(ctx, spec, x, w)
        return y

    @staticmethod
    def backward(ctx, grad):
        (x, _, w), (need_x, need_w, need_b), window = kept_for_backward(ctx)
        dx = depthwise_conv2d_backward_input(grad, w, ctx.x_shape, *_geometry(window)) if need_x else None
        dw = depthwise_conv2d_backward_weight(grad, x, *window.kernel, *_geometry(window)).reshape(-1, 1, *window.kernel) if need_w else None
        db = grad.sum(axis=(0, 2, 3)) if need_b else None  # (N, C, Ho, Wo) -> (C,)
        return dx, dw, db


FUNCTION = DepthwiseConv2dFn


def _geometry(window):
    """``(sh, sw, ph, pw, dh, dw)``, the plain ints the kernels take."""
    return (*window.stride, *window.padding, *window.dilation)

__all__ = ["FUNCTION", "NAME", "DepthwiseConv2dFn", "applies", "pays"]
