"""Depthwise convolution (``groups = C = O``) as its own op: ``conv2d`` sends such a call here.

The im2col path of ``Conv2d`` is the one to read for how convolution works; it would give the
same numbers here, as G = C products of a 1×(kh·kw) row by a (kh·kw)×(N·L) column matrix, slowly.
This op computes the same sums directly (``kernels/depthwise.py``, where the definitions of the
forward and of both gradients are written out). The tests check it against the im2col path, plain
loops, finite differences and PyTorch.
"""

from __future__ import annotations

from minitorch_cnn.kernels import (
    depthwise_conv2d_backward_input,
    depthwise_conv2d_backward_weight,
    depthwise_conv2d_forward,
)

from ..autograd import Function


class DepthwiseConv2dFn(Function):
    """Y = depthwise_conv2d(X, W) + b with X (N, C, H, W), W (C, 1, kh, kw), b (C,), Y (N, C, Ho, Wo).

    Backward (kernels/depthwise.py): dX = the adjoint of the forward (each pixel collects w[c, i, j]·g
    from every tap that read it), dW[c, 0, i, j] = Σ_{n, oh, ow} g · (the input tap (i, j) read),
    db = Σ_{n, oh, ow} g. ``padding`` is (ph, pw), the same on both sides.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, stride, padding, dilation):
        C, _, kh, kw = weight.shape
        geometry = (*stride, *padding, *dilation)  # sh, sw, ph, pw, dh, dw
        w = weight.reshape(C, kh, kw)
        y = depthwise_conv2d_forward(x, w, *geometry)
        if bias is not None:
            y += bias.reshape(1, C, 1, 1)
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(x if need_w else None, w if need_x else None)
        ctx.geometry, ctx.x_shape, ctx.kernel = geometry, x.shape, (kh, kw)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        kh, kw = ctx.kernel
        dx = depthwise_conv2d_backward_input(grad, w, ctx.x_shape, *ctx.geometry) if need_x else None
        dw = None
        if need_w:
            dw = depthwise_conv2d_backward_weight(grad, x, kh, kw, *ctx.geometry).reshape(-1, 1, kh, kw)
        db = grad.sum(axis=(0, 2, 3)) if need_b else None  # (N, C, Ho, Wo) -> (C,)
        return dx, dw, db


__all__ = ["DepthwiseConv2dFn"]
