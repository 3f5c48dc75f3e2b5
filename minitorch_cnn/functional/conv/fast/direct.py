"""Direct convolution: the layers with few input taps (a net's first layer), without a column matrix.

On a layer such as LeNet's first (1 input channel, 5×5 kernel, 6 output channels) the column
matrix costs 25 times the input in memory traffic and its product is too thin for BLAS. These
loops compute the same sums straight from the padded image (``kernels/direct.py``, where the
definitions and the loops are). NumPy arrays on the numba path only.
"""

from __future__ import annotations

from minitorch_cnn.kernels.direct import (
    direct_conv2d_backward_input,
    direct_conv2d_backward_params,
    direct_conv2d_forward,
)

from ....autograd import Function
from ._common import keep_for_backward, kept_for_backward

NAME = "direct"
MAX_TAPS, MAX_OUT_CHANNELS = 75, 32  # where the loops beat the column matrix (benchmarks.direct)


def applies(spec) -> bool:
    """Stride 1, dilation 1, no groups, NumPy arrays on the numba path."""
    return spec.numba and spec.is_plain


def pays(spec) -> bool:
    """Windows of at most 75 taps (C·kh·kw: three 5×5 channels) and at most 32 output channels.
    The loops do O·C·kh·kw multiply-adds per output position without BLAS's register blocking, so
    wider layers belong to the matrix product."""
    O, C, kh, kw = spec.weight_shape
    return C * kh * kw <= MAX_TAPS and O <= MAX_OUT_CHANNELS


class DirectConv2dFn(Function):
    """Y = conv2d(X, W) + b, stride 1, by direct loops (kernels/direct.py); X (N, C, H, W), W (O, C, kh, kw).

    Backward, with g = dL/dY: dX = the adjoint of the forward (each pixel collects w[o, c, i, j]·g
    from every tap that read it), dW[o, c, i, j] = Σ_{n, oh, ow} g[n, o, oh, ow] · x̃[n, c, oh + i, ow + j]
    (x̃ the padded input), db = Σ_{n, oh, ow} g, summed in the same pass over g as dW.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, spec):
        y = direct_conv2d_forward(x, weight, bias, *spec.window.padding)
        keep_for_backward(ctx, spec, x, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        (x, _, weight), (need_x, need_w, need_b), window = kept_for_backward(ctx)
        dx = direct_conv2d_backward_input(g, weight, ctx.x_shape, *window.padding) if need_x else None
        dw = db = None
        if need_w:  # db comes with dw, from the same pass over g
            dw, db = direct_conv2d_backward_params(g, x, window.kernel, *window.padding)
        elif need_b:
            db = g.sum(axis=(0, 2, 3))  # (N, O, Ho, Wo) -> (O,)
        return dx, dw, db if need_b else None


FUNCTION = DirectConv2dFn

__all__ = ["FUNCTION", "NAME", "DirectConv2dFn", "applies", "pays"]
