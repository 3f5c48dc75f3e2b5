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
from ..tensor import Tensor
from ._util import check_float, check_ndim, pair


class MaxPool2dFn(Function):
    """y[n, c, oh, ow] = max of the window; the kernel also returns which tap won (argmax).

    Backward: the max is locally a copy of its winning pixel, so dx gets g at each window's argmax
    and 0 elsewhere; a pixel that wins several (overlapping) windows receives the sum. The winner
    is PyTorch's (CPU): the first of equal numbers, the last NaN if the window has one, the first
    in-bounds tap for a window of -inf; padding never wins.

    ``indices``, when a list, receives the int64 index ``h·W + w`` of each maximum in its (H, W)
    plane (``return_indices=True``).
    """

    @staticmethod
    def forward(ctx, x, *, window, indices=None):
        y, argmax = max_pool2d_forward(x, window)  # (N, C, Ho, Wo) twice
        if indices is not None:
            indices.append(_plane_index(argmax, window, x.shape[3]))
        ctx.save_for_backward(argmax)
        ctx.x_shape, ctx.window = x.shape, window
        return y

    @staticmethod
    def backward(ctx, g):
        (argmax,) = ctx.saved_tensors
        return (max_pool2d_backward(g, argmax, ctx.x_shape, ctx.window),)  # (N, C, H, W)


def _plane_index(argmax, window, W):
    """The index ``h·W + w`` in the input plane of tap ``argmax = i·kw + j`` of each window (oh, ow)."""
    xp = xp_of(argmax)
    (_, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = window
    h = xp.arange(Ho).reshape(Ho, 1) * sh - ph + (argmax // kw) * dh  # (N, C, Ho, Wo)
    w = xp.arange(Wo).reshape(1, Wo) * sw - pw + (argmax % kw) * dw
    return (h * W + w).astype(xp.int64)


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
    """y[n, c, i, j] = mean of x[n, c] over bin (i, j) = rows [h0_i, h1_i) × columns [w0_j, w1_j).

    The bins are rectangles, so the mean is taken in two steps, each looping over the few bins of
    one axis: the sum of each row-bin's rows, then of each column-bin's columns of those sums,
    divided by the bin's size. The sums are float64 (rounded once to x's dtype at the end): a
    partial sum of large float32 values cannot overflow to inf and meet a -inf (NaN) where
    PyTorch's running sum gives -inf. Each output sees only its own bin's inputs (an inf elsewhere stays
    elsewhere, as in PyTorch; a matrix of bin weights would multiply it by 0 and spread NaN).
    Backward (the adjoint of each step): every pixel of bin (i, j) receives g[n, c, i, j] / size(i, j);
    a pixel in several (overlapping) bins receives the sum. Done as the forward, axis by axis:
    spread g over each column-bin's columns, then over each row-bin's rows.
    """

    @staticmethod
    def forward(ctx, x, *, out_size):
        xp = xp_of(x)
        N, C, H, W = x.shape
        rows, cols = _bins(H, out_size[0]), _bins(W, out_size[1])
        by_rows = xp.empty((N, C, len(rows), W), dtype=xp.float64)  # float64 sums: no overflow on the way
        for i, (h0, h1) in enumerate(rows):
            by_rows[:, :, i] = x[:, :, h0:h1].sum(axis=2, dtype=xp.float64)  # (N, C, W): the rows of bin i added up
        y = xp.empty((N, C, *out_size), dtype=xp.float64)
        for j, (w0, w1) in enumerate(cols):
            y[:, :, :, j] = by_rows[:, :, :, w0:w1].sum(axis=3)  # (N, C, Ho): the bins' sums
        y /= _bin_sizes(xp, rows, cols, xp.float64)  # (Ho, Wo)
        ctx.x_shape, ctx.bins = x.shape, (rows, cols)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        N, C, H, W = ctx.x_shape
        rows, cols = ctx.bins
        g = g / _bin_sizes(xp, rows, cols, g.dtype)  # (N, C, Ho, Wo)
        by_rows = xp.zeros((N, C, len(rows), W), dtype=g.dtype)
        for j, (w0, w1) in enumerate(cols):
            by_rows[:, :, :, w0:w1] += g[:, :, :, j : j + 1]  # bin (i, j)'s gradient on its columns
        dx = xp.zeros((N, C, H, W), dtype=g.dtype)
        for i, (h0, h1) in enumerate(rows):
            dx[:, :, h0:h1] += by_rows[:, :, i : i + 1]  # ... and on its rows
        return (dx,)


def _bins(size, out):
    """PyTorch's adaptive bins along one axis: [(floor(i·size/out), ceil((i+1)·size/out)) for i < out]."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _bin_sizes(xp, rows, cols, dtype):
    """(Ho, Wo) number of pixels of each bin: (h1 − h0)·(w1 − w0)."""
    heights = xp.asarray([h1 - h0 for h0, h1 in rows], dtype=dtype)
    widths = xp.asarray([w1 - w0 for w0, w1 in cols], dtype=dtype)
    return heights[:, None] * widths[None, :]


class AdaptiveMaxPool2dFn(Function):
    """y[n, c, i, j] = max over bin (i, j), the bins of ``adaptive_avg_pool2d`` (PyTorch's boundaries).

    The bins have different sizes, so there is no fixed window for the kernels: the forward loops
    over the Ho·Wo bins (few) and takes each bin's max over all images and channels at once. The
    winner is PyTorch's: the first of equal numbers, the last NaN when the bin has one.
    Backward: as in max pooling, g goes to the bin's winning pixel, and a pixel that wins several
    overlapping bins receives the sum. ``indices``, when a list, receives the winners' int64
    indices ``h·W + w`` in their plane (``return_indices=True``).
    """

    @staticmethod
    def forward(ctx, x, *, out_size, indices=None):
        xp = xp_of(x)
        N, C, H, W = x.shape
        y = xp.empty((N, C, *out_size), dtype=x.dtype)
        winner = xp.empty((N, C, *out_size), dtype=xp.int64)  # flat index h·W + w of the max in x[n, c]
        for i, (h0, h1) in enumerate(_bins(H, out_size[0])):
            for j, (w0, w1) in enumerate(_bins(W, out_size[1])):
                region = x[:, :, h0:h1, w0:w1].reshape(N, C, (h1 - h0) * (w1 - w0))  # (N, C, L): the bin's pixels
                is_nan = region != region
                last_nan = region.shape[2] - 1 - is_nan[:, :, ::-1].argmax(axis=2)
                k = xp.where(is_nan.any(axis=2), last_nan, region.argmax(axis=2))  # (N, C)
                y[:, :, i, j] = region.max(axis=2)
                winner[:, :, i, j] = (h0 + k // (w1 - w0)) * W + w0 + k % (w1 - w0)
        if indices is not None:
            indices.append(winner)
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
def _check_input(op, input, checked=(-3, -2, -1)):
    """A float (N, C, H, W) or (C, H, W) input whose ``checked`` axes are not empty. PyTorch's: C, H
    and W for the windowed pools (an empty batch, N = 0, is fine); H and W for adaptive_avg_pool2d;
    every axis after the first (C, H, W of a batch; H, W of one image) for adaptive_max_pool2d."""
    check_float(op, input)
    check_ndim(op, input, (3, 4))
    if min((input.shape[a] for a in checked), default=1) < 1:
        names = [("NCHW" if input.ndim == 4 else "CHW")[a] for a in checked]
        names = ", ".join(names[:-1]) + " and " + names[-1]
        raise ValueError(f"{op}: expected non-empty {names} in the (N, C, H, W) or (C, H, W) input, "
                         f"got shape {tuple(input.shape)}")


def _unbatched(pool, input, *args, **kwargs):
    """Run ``pool`` on one (C, H, W) image as a batch of one, as PyTorch allows (also on the indices)."""
    out = pool(input.unsqueeze(0), *args, **kwargs)
    return tuple(t.squeeze(0) for t in out) if isinstance(out, tuple) else out.squeeze(0)


def _with_indices(fn, input, return_indices, **params):
    """``fn.apply(input, **params)``, and with ``return_indices`` also the int64 index tensor it fills."""
    if not return_indices:
        return fn.apply(input, **params)
    indices = []
    y = fn.apply(input, indices=indices, **params)
    return y, Tensor(indices[0])


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
            f"input ({H + 2 * padding_hw[0]}, {W + 2 * padding_hw[1]}); input shape {tuple(input.shape)}, padding {padding!r}"
        )
    return window


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window, as ``torch.nn.functional.max_pool2d``.

    Args:
        input: (N, C, H, W) float tensor, or one (C, H, W) image.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); defaults to the kernel size (windows side by side).
        padding: int or (ph, pw), at most half the kernel; padded positions never win.
        dilation: int or (dil_h, dil_w), the step between the taps of a window.
        ceil_mode: round the output size up, keeping a last partial window.
        return_indices: also return the int64 index ``h·W + w`` of each maximum in its (H, W) plane.

    The gradient of each window goes to its one maximum: the first in row-major order on ties, the
    last NaN if the window holds NaN (which is then its max), as PyTorch's CPU kernel.

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 3, stride=2, padding=1).numpy()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    op = "max_pool2d"
    _check_input(op, input)
    if input.ndim == 3:
        return _unbatched(max_pool2d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    window = _window(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    return _with_indices(MaxPool2dFn, input, return_indices, window=window)


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
    _check_input(op, input, checked=(-2, -1))  # C = 0 gives an empty output, as PyTorch
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
    (the first in row-major order on ties, the last NaN if the bin holds NaN). ``return_indices``
    also returns the int64 index ``h·W + w`` of each maximum in its (H, W) plane.

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> adaptive_max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), (2, 1)).numpy()[0, 0]
    array([[ 7.],
           [15.]])
    """
    op = "adaptive_max_pool2d"
    _check_input(op, input, checked=range(1, input.ndim))  # one (0, H, W) image passes, as in PyTorch
    if input.ndim == 3:
        return _unbatched(_adaptive_max_pool2d, input, op, output_size, return_indices)
    return _adaptive_max_pool2d(input, op, output_size, return_indices)


def _adaptive_max_pool2d(input, op, output_size, return_indices):
    return _with_indices(AdaptiveMaxPool2dFn, input, return_indices, out_size=_adaptive_size(op, input, output_size))


__all__ = [
    "AdaptiveAvgPool2dFn", "AdaptiveMaxPool2dFn", "AvgPool2dFn", "MaxPool2dFn",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool2d",
]
