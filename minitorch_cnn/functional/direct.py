"""Direct convolution as its own op, for layers with few input taps: ``conv2d`` sends them here.

The im2col ``Conv2dFn`` is the one to read for how convolution works; on a layer like LeNet's first
(1 input channel, 5×5 kernel, 6 output channels) its column matrix costs 25 times the input in
memory traffic and its product is too thin for BLAS. This op computes the same sums straight from
the padded image (``kernels/direct.py``, where the definitions and the loops are). The tests hold it
equal to the im2col path in float64 to round-off, and check it against plain loops, finite
differences and PyTorch.
"""

from __future__ import annotations

from minitorch_cnn.kernels.direct import (
    direct_conv2d_backward_input,
    direct_conv2d_backward_params,
    direct_conv2d_forward,
)

from ..autograd import Function


def direct_applies(weight_shape, stride, dilation, groups, padding) -> bool:
    """Stride 1, dilation 1, no groups, the same padding on both sides: the layers the loops compute."""
    top, bottom, left, right = padding
    return tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1 and top == bottom and left == right


def direct_pays(weight_shape) -> bool:
    """Where the direct loops were measured faster than im2col, forward + backward (``python -m
    benchmarks.direct``, benchmarks/RESULTS.md): windows of at most 75 taps (C·kh·kw: three 5×5
    channels) and at most 32 output channels, such as the first layer of a net. The loops do
    O·C·kh·kw multiply-adds per output position without BLAS's register blocking, so wider layers
    belong to the matrix product (LeNet's second layer, 6·5·5 = 150 taps, is 5-12% faster by im2col
    in cache-sized chunks)."""
    O, C, kh, kw = weight_shape
    return C * kh * kw <= 75 and O <= 32


class DirectConv2dFn(Function):
    """Y = conv2d(X, W) + b, stride 1, by direct loops (kernels/direct.py); X (N, C, H, W), W (O, C, kh, kw).

    Backward, with g = dL/dY: dX = the adjoint of the forward (each pixel collects w[o, c, i, j]·g
    from every tap that read it), dW[o, c, i, j] = Σ_{n, oh, ow} g[n, o, oh, ow] · x̃[n, c, oh + i, ow + j]
    (x̃ the padded input), db = Σ_{n, oh, ow} g. ``padding`` is (ph, pw), the same on both sides.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, padding):
        y = direct_conv2d_forward(x, weight, bias, *padding)
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(x if need_w else None, weight if need_x else None)
        ctx.padding, ctx.x_shape, ctx.kernel = padding, x.shape, weight.shape[2:]
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = direct_conv2d_backward_input(g, weight, ctx.x_shape, *ctx.padding) if need_x else None
        dw = db = None
        if need_w:  # db comes with dw, from the same pass over g
            dw, db = direct_conv2d_backward_params(g, x, ctx.kernel, *ctx.padding)
        elif need_b:
            db = g.sum(axis=(0, 2, 3))  # (N, O, Ho, Wo) -> (O,)
        return dx, dw, db if need_b else None


__all__ = ["DirectConv2dFn", "direct_applies", "direct_pays"]
