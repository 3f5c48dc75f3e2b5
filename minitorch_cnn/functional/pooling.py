"""Pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``, ``adaptive_max_pool2d``, with
PyTorch's semantics.

Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo); the channel count never changes. One unbatched
image (C, H, W) is pooled as a batch of one and gives (C, Ho, Wo), as in PyTorch. The windows are a
``Window`` as in convolution (kernel kh×kw, stride defaulting to the kernel, padding, dilation for
max pooling); the loops live in ``minitorch_cnn.kernels`` (numba on NumPy, CUDA on CuPy, or the
``xp``-only path). g below is the upstream gradient dL/dy (N, C, Ho, Wo), as in conv.py.
"""

from __future__ import annotations

from minitorch_cnn.kernels import (
    Window,
    max_pool2d_backward,
    max_pool2d_forward,
    sum_pool2d_backward,
    sum_pool2d_forward,
)

from ..autograd import Function
from ..backend import xp_of
from ._util import check_float, check_ndim, pair


class MaxPool2dFn(Function):
    """y[n, c, oh, ow] = max of the window; the kernel also returns which tap won (argmax).

    Backward: the max is locally a copy of its winning pixel, so dx gets g at each window's argmax
    and 0 elsewhere; a pixel that wins several (overlapping) windows receives the sum. Ties go to
    the first tap in row-major window order, padding never wins — PyTorch's choice on the CPU.
    """

    @staticmethod
    def forward(ctx, x, *, window):
        y, argmax = max_pool2d_forward(x, window)  # (N, C, Ho, Wo) twice
        ctx.save_for_backward(argmax)
        ctx.x_shape, ctx.window = x.shape, window
        return y

    @staticmethod
    def backward(ctx, g):
        (argmax,) = ctx.saved_tensors
        return (max_pool2d_backward(g, argmax, ctx.x_shape, ctx.window),)  # (N, C, H, W)


class AvgPool2dFn(Function):
    """y = (sum of the window) / divisor, divisor (Ho, Wo) = the window's count (see ``avg_pool2d``).

    Backward: y is linear in x; every pixel of a window receives g / divisor of that window, and
    pixels shared by overlapping windows add up: dx = sum_pool_adjoint(g / divisor).
    """

    @staticmethod
    def forward(ctx, x, *, window, divisor):
        ctx.x_shape, ctx.window, ctx.divisor = x.shape, window, divisor
        return sum_pool2d_forward(x, window) / divisor  # (N, C, Ho, Wo) / (Ho, Wo)

    @staticmethod
    def backward(ctx, g):
        return (sum_pool2d_backward(g / ctx.divisor, ctx.x_shape, ctx.window),)  # (N, C, H, W)


class AdaptiveAvgPool2dFn(Function):
    """y = A_h @ x @ A_wᵀ, with A_h (Ho, H) and A_w (Wo, W) the bin-averaging matrices.

    Average pooling over rectangular bins is separable: average the rows of each row-bin, then the
    columns of each column-bin. A_h[i, h] = 1/(end_i − start_i) for start_i ≤ h < end_i, else 0.
    Backward (the transpose of each linear map): dx = A_hᵀ @ g @ A_w.
    """

    @staticmethod
    def forward(ctx, x, *, out_size):
        xp = xp_of(x)
        a_h = _bin_average_matrix(xp, x.shape[2], out_size[0], x.dtype)  # (Ho, H)
        a_w = _bin_average_matrix(xp, x.shape[3], out_size[1], x.dtype)  # (Wo, W)
        ctx.save_for_backward(a_h, a_w)
        return a_h @ x @ a_w.T  # (Ho, H) @ (N, C, H, W) @ (W, Wo) -> (N, C, Ho, Wo)

    @staticmethod
    def backward(ctx, g):
        a_h, a_w = ctx.saved_tensors
        return (a_h.T @ g @ a_w,)  # (H, Ho) @ (N, C, Ho, Wo) @ (Wo, W) -> (N, C, H, W)


def _bins(size, out):
    """PyTorch's adaptive bins along one axis: [(floor(i·size/out), ceil((i+1)·size/out)) for i < out]."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _bin_average_matrix(xp, size, out, dtype):
    """(out, size) matrix averaging the bins of ``_bins``: row i is 1/(end − start) on [start, end)."""
    a = xp.zeros((out, size), dtype=dtype)
    for i, (start, end) in enumerate(_bins(size, out)):
        a[i, start:end] = 1 / (end - start)
    return a


class AdaptiveMaxPool2dFn(Function):
    """y[n, c, i, j] = max over bin (i, j), the bins of ``adaptive_avg_pool2d`` (PyTorch's boundaries).

    The bins have different sizes, so there is no fixed window for the kernels: the forward loops
    over the Ho·Wo bins (few) and takes each bin's max over all images and channels at once.
    Backward: as in max pooling, g goes to the bin's winning pixel (the first in row-major order on
    ties), and a pixel that wins several overlapping bins receives the sum.
    """

    @staticmethod
    def forward(ctx, x, *, out_size):
        xp = xp_of(x)
        N, C, H, W = x.shape
        y = xp.empty((N, C, *out_size), dtype=x.dtype)
        winner = xp.empty((N, C, *out_size), dtype=xp.int64)  # flat index h·W + w of the max in x[n, c]
        for i, (h0, h1) in enumerate(_bins(H, out_size[0])):
            for j, (w0, w1) in enumerate(_bins(W, out_size[1])):
                region = x[:, :, h0:h1, w0:w1].reshape(N, C, -1)  # (N, C, bin rows · bin cols)
                k = region.argmax(axis=2)  # (N, C), the first maximum on ties
                y[:, :, i, j] = region.max(axis=2)
                winner[:, :, i, j] = (h0 + k // (w1 - w0)) * W + w0 + k % (w1 - w0)
        ctx.save_for_backward(winner)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx, g):
        (winner,) = ctx.saved_tensors
        xp = xp_of(g)
        N, C, H, W = ctx.x_shape
        dx = xp.zeros(N * C * H * W, dtype=g.dtype)
        plane = xp.arange(N * C) * (H * W)  # (N·C,) where each (n, c) plane starts in the flat dx
        for i in range(g.shape[2]):
            for j in range(g.shape[3]):  # bin by bin: within one bin every (n, c) hits a different pixel
                dx[plane + winner[:, :, i, j].reshape(-1)] += g[:, :, i, j].reshape(-1)
        return (dx.reshape(N, C, H, W),)


# ---------------------------------------------------------------- public functions
def _check_input(op, input):
    check_float(op, input)
    check_ndim(op, input, (3, 4))
    if min(input.shape) < 1:
        raise ValueError(f"{op}: expected a non-empty (N, C, H, W) or (C, H, W) input, got shape {input.shape}")


def _unbatched(pool, input, *args, **kwargs):
    """Run ``pool`` on one (C, H, W) image as a batch of one, as PyTorch allows."""
    return pool(input.unsqueeze(0), *args, **kwargs).squeeze(0)


def _window(op, input, kernel_size, stride, padding, dilation, ceil_mode) -> Window:
    """Normalise and check the window arguments of a pool over ``input (N, C, H, W)``."""
    kernel = pair(op, kernel_size, "kernel_size")
    stride_hw = kernel if stride is None or stride == () else pair(op, stride, "stride")
    padding_hw = pair(op, padding, "padding")
    dilation_hw = pair(op, dilation, "dilation")
    if min(kernel) < 1:
        raise ValueError(f"{op}: expected a positive kernel_size, got {kernel_size!r}")
    if min(stride_hw) < 1:
        raise ValueError(f"{op}: expected a positive stride, got {stride!r}")
    if min(dilation_hw) < 1:
        raise ValueError(f"{op}: expected a positive dilation, got {dilation!r}")
    if min(padding_hw) < 0:
        raise ValueError(f"{op}: expected a non-negative padding, got {padding!r}")
    if 2 * padding_hw[0] > kernel[0] or 2 * padding_hw[1] > kernel[1]:
        raise ValueError(f"{op}: padding should be at most half of the kernel size, got padding {padding!r} "
                         f"for kernel_size {kernel_size!r}")
    H, W = input.shape[2], input.shape[3]
    window = Window.fit((H, W), kernel, stride_hw, padding_hw, dilation_hw, ceil_mode)
    if min(window.out) < 1:
        span = [dilation_hw[a] * (kernel[a] - 1) + 1 for a in (0, 1)]
        raise ValueError(
            f"{op}: the window ({span[0]}, {span[1]}) (dilated) is larger than the padded "
            f"input ({H + 2 * padding_hw[0]}, {W + 2 * padding_hw[1]}); input shape {input.shape}, padding {padding!r}"
        )
    return window


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over each window, as ``torch.nn.functional.max_pool2d``.

    Args:
        input: (N, C, H, W) float tensor, or one (C, H, W) image.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); defaults to the kernel size (windows side by side).
        padding: int or (ph, pw), at most half the kernel; padded positions never win.
        dilation: int or (dil_h, dil_w), the step between the taps of a window.
        ceil_mode: round the output size up, keeping a last partial window.

    The gradient of each window goes to its one maximum (the first in row-major order on ties).

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 3, stride=2, padding=1).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    op = "max_pool2d"
    _check_input(op, input)
    if input.ndim == 3:
        return _unbatched(max_pool2d, input, kernel_size, stride, padding, dilation, ceil_mode)
    window = _window(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2dFn.apply(input, window=window)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Mean over each window, as ``torch.nn.functional.avg_pool2d``.

    Args:
        input: (N, C, H, W) float tensor, or one (C, H, W) image.
        kernel_size, stride, padding, ceil_mode: as in ``max_pool2d`` (stride defaults to the kernel).
        count_include_pad: divide by the whole window, padded zeros included (True, PyTorch's
            default), or only by the number of real input pixels in it (False). Either way, the part
            of a ceil_mode window that overhangs the padded input is not counted.
        divisor_override: a positive int dividing every window's sum instead of its count.

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> avg_pool2d(Tensor(np.arange(9.0).reshape(1, 1, 3, 3)), 2, stride=1).numpy()[0, 0]
    array([[2., 3.],
           [5., 6.]])
    """
    op = "avg_pool2d"
    _check_input(op, input)
    if input.ndim == 3:
        return _unbatched(avg_pool2d, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    window = _window(op, input, kernel_size, stride, padding, 1, ceil_mode)
    xp = xp_of(input.array)
    if divisor_override is None:
        divisor = _window_counts(xp, input.shape, window, count_include_pad, input.dtype)
    elif isinstance(divisor_override, bool) or not isinstance(divisor_override, int) or divisor_override < 1:
        raise ValueError(f"{op}: expected divisor_override to be a positive int, got {divisor_override!r}")
    else:
        divisor = xp.full(window.out, divisor_override, dtype=input.dtype)  # (Ho, Wo)
    return AvgPool2dFn.apply(input, window=window, divisor=divisor)


def _window_counts(xp, shape, window, count_include_pad, dtype):
    """(Ho, Wo) divisor of average pooling: the window's rows × columns inside the counted region.

    The counted region is the padded input [-p, size + p) with count_include_pad, else the input
    [0, size); it is separable, so count = rows_h[oh] · cols_w[ow].
    """
    (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = window.kernel, window.stride, window.padding, window.out

    def counts(size, k, s, p, out):
        start = xp.arange(out) * s - p  # (out,) first row of each window
        lo, hi = (-p, size + p) if count_include_pad else (0, size)
        return xp.minimum(start + k, hi) - xp.maximum(start, lo)  # (out,)

    rows = counts(shape[2], kh, sh, ph, Ho)  # (Ho,)
    cols = counts(shape[3], kw, sw, pw, Wo)  # (Wo,)
    return (rows[:, None] * cols[None, :]).astype(dtype)  # (Ho, 1) * (1, Wo) -> (Ho, Wo)


def adaptive_avg_pool2d(input, output_size):
    """Average over ``output_size`` bins, as ``torch.nn.functional.adaptive_avg_pool2d``.

    ``output_size`` is an int or (Ho, Wo); a None entry keeps that input size. Bin i along an axis
    of length H covers rows ``floor(i·H/Ho)`` to ``ceil((i+1)·H/Ho)`` (exclusive), so bins can
    overlap or differ by one in size when Ho does not divide H.

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> adaptive_avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 1).numpy()
    array([[[[7.5]]]])
    """
    op = "adaptive_avg_pool2d"
    _check_input(op, input)
    if input.ndim == 3:
        return _unbatched(adaptive_avg_pool2d, input, output_size)
    return AdaptiveAvgPool2dFn.apply(input, out_size=_adaptive_size(op, input, output_size))


def _adaptive_size(op, input, output_size):
    """(Ho, Wo) from an int or a pair; a None entry keeps that input size."""
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(input.shape[2 + a] if v is None else v for a, v in enumerate(output_size))
    Ho, Wo = pair(op, output_size, "output_size")
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{op}: expected a positive output_size, got {output_size!r}")
    return Ho, Wo


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over ``output_size`` bins, as ``torch.nn.functional.adaptive_max_pool2d``.

    The bins are those of ``adaptive_avg_pool2d``; the gradient of each bin goes to its one maximum
    (the first in row-major order on ties). ``return_indices`` is not supported.

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> adaptive_max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), (2, 1)).numpy()[0, 0]
    array([[ 7.],
           [15.]])
    """
    op = "adaptive_max_pool2d"
    if return_indices:
        raise ValueError(f"{op}: return_indices=True is not supported")
    _check_input(op, input)
    if input.ndim == 3:
        return _unbatched(adaptive_max_pool2d, input, output_size)
    return AdaptiveMaxPool2dFn.apply(input, out_size=_adaptive_size(op, input, output_size))


__all__ = [
    "AdaptiveAvgPool2dFn", "AdaptiveMaxPool2dFn", "AvgPool2dFn", "MaxPool2dFn",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool2d",
]
