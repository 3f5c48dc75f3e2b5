"""Pooling kernels: max pooling (with argmax) and sum pooling, forward and backward.

Shapes: ``x (N, C, H, W)`` -> ``y (N, C, Ho, Wo)``; the windows are a ``Window`` (kernels/window.py:
kernel, stride, padding, dilation, out), as in ``im2col``; ``out`` may be larger than the floor
formula (ceil_mode), the extra windows overhanging the bottom/right edge. ``g`` is the upstream
gradient dL/dy ``(N, C, Ho, Wo)``, as in the ops.

Max pooling returns the window maximum and ``argmax (N, C, Ho, Wo)``, the position of the maximum
inside its window, ``k = i*kw + j`` for tap (i, j) in row-major order. PyTorch's CPU rule, tap by
tap in row-major order: a value replaces the running maximum when it is greater or when it is
NaN. So ties of numbers go to the first, a NaN beats every number and the *last* NaN of a window
wins; the running index starts at the window's first in-bounds tap, so a window of -inf only
sends its gradient there. Padding never wins (it is skipped). The backward sends each window's
gradient to its one argmax pixel; pixels in several windows add up.

Sum pooling is the building block of average pooling: ``y = sum of the window`` (padding reads 0)
and its adjoint adds each window's gradient to every pixel of the window. The division by the
window count (which depends on count_include_pad and ceil_mode) is done by the caller.

Three paths, chosen as in ``im2col`` (``dispatch.pick``): the numba path loops over windows directly
(no column matrix), ``prange`` over the batch; where the windows tile the input (stride = kernel,
no padding, as LeNet's 2×2 pools) sum pooling takes loops over whole rows instead (``_tiles``:
a window's kh rows are added as contiguous rows first, then each kw-wide run of that row sum,
so the inner loops vectorise, and run faster than the window loops: ``benchmarks/RESULTS.md``);
CuPy arrays take the CUDA kernels of ``kernels/cuda.py`` (the backward passes as gathers, no
atomics); the generic path reuses
``im2col_generic``/``col2im_generic`` (pad with -inf for max, 0 for sum, then reduce over the kh×kw
taps), written with ``xp`` only.
``NUMBA_DISABLE_JIT=1`` runs the plain loops un-jitted.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import xp_of

from ._jit import compile_loops
from .dispatch import pick
from .im2col import col2im_generic, im2col_generic
from .window import Window, tap_index


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def _nchw(a):
    """``(C, N, Ho, Wo)`` (the column layout's order) -> a contiguous ``(N, C, Ho, Wo)``."""
    return xp_of(a).ascontiguousarray(a.transpose(1, 0, 2, 3))


def max_pool2d_forward_generic(x, window: Window):
    """``(y, argmax)`` of max pooling ``x (N, C, H, W)``, through ``im2col`` padded with -inf."""
    xp = xp_of(x)
    (N, C, H, W), K = x.shape, window.kernel[0] * window.kernel[1]
    cols = im2col_generic(x, window, -np.inf).reshape(C, K, N, *window.out)  # (C, kh·kw, N, Ho, Wo)
    inside = im2col_generic(xp.ones((1, 1, H, W), dtype=x.dtype), window, 0.0).reshape(1, K, 1, *window.out) > 0
    top = cols.max(axis=1, keepdims=True)  # (C, 1, N, Ho, Wo); NaN where the window holds NaN
    first_max = ((cols == top) & inside).argmax(axis=1)  # the first in-bounds tap equal to the max
    is_nan = cols != cols
    last_nan = K - 1 - is_nan[:, ::-1].argmax(axis=1)  # the last NaN tap
    argmax = xp.where(is_nan.any(axis=1), last_nan, first_max)  # (C, N, Ho, Wo)
    y = xp.take_along_axis(cols, argmax[:, None], axis=1)[:, 0]  # the winner's own bits (0.0 or -0.0)
    return _nchw(y), _nchw(argmax)


def max_pool2d_backward_generic(g, argmax, x_shape, window: Window):
    """dL/dx: each window's gradient ``g (N, C, Ho, Wo)`` goes to its argmax pixel."""
    xp = xp_of(g)
    (kh, kw), (N, C, Ho, Wo) = window.kernel, g.shape
    taps = xp.arange(kh * kw).reshape(1, kh * kw, 1, 1, 1)  # (1, kh·kw, 1, 1, 1)
    g_t, argmax_t = g.transpose(1, 0, 2, 3), argmax.transpose(1, 0, 2, 3)  # (C, N, Ho, Wo)
    # one-hot over the window: dcols[c, k, n, oh, ow] = g[n, c, oh, ow] where k is the argmax
    dcols = xp.where(taps == argmax_t[:, None], g_t[:, None], 0).astype(g.dtype, copy=False)
    return col2im_generic(dcols.reshape(C, kh, kw, N, Ho, Wo), x_shape, window)


def sum_pool2d_forward_generic(x, window: Window):
    """Window sums ``(N, C, Ho, Wo)`` of ``x (N, C, H, W)``, padding read as 0."""
    cols = im2col_generic(x, window, 0.0)  # (C, kh, kw, N, Ho, Wo)
    sums = cols.sum(axis=(1, 2))  # (C, N, Ho, Wo)
    sums += 0.0  # a window of −0 sums to +0, as PyTorch's sums (which start from +0)
    return _nchw(sums)  # (C, N, Ho, Wo) -> (N, C, Ho, Wo)


def sum_pool2d_backward_generic(g, x_shape, window: Window):
    """Adjoint of sum pooling: every pixel of a window receives that window's gradient."""
    xp = xp_of(g)
    (kh, kw), (N, C, Ho, Wo) = window.kernel, g.shape
    g_t = g.transpose(1, 0, 2, 3)[:, None, None]  # (C, 1, 1, N, Ho, Wo)
    dcols = xp.broadcast_to(g_t, (C, kh, kw, N, Ho, Wo))
    return col2im_generic(dcols, x_shape, window)


# ---------------------------------------------------------------- numba path (NumPy, CPU)
def max_pool2d_forward_loops(x, y, argmax, kh, kw, sh, sw, ph, pw, dil_h, dil_w):
    """Fill ``y`` and ``argmax (N, C, Ho, Wo)``; padding taps are skipped (they never win)."""
    N, C, H, W = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    best = x.dtype.type(-np.inf)
                    i0 = 0  # the first in-bounds tap (i0, j0): the index of a window of -inf
                    while i0 < kh - 1 and tap_index(oh, sh, ph, i0, dil_h) < 0:
                        i0 += 1
                    j0 = 0
                    while j0 < kw - 1 and tap_index(ow, sw, pw, j0, dil_w) < 0:
                        j0 += 1
                    best_k = i0 * kw + j0
                    for i in range(i0, kh):
                        h = tap_index(oh, sh, ph, i, dil_h)
                        if h >= H:
                            break
                        for j in range(j0, kw):
                            w = tap_index(ow, sw, pw, j, dil_w)
                            if w >= W:
                                break
                            v = x[n, c, h, w]
                            # PyTorch's rule: take v when greater (ties keep the first) or NaN (the
                            # last NaN wins). Branch-free: with maxima anywhere in the window, a
                            # branch on `take` is mispredicted about half the time. `take` moves
                            # best_k as integer arithmetic; `max` keeps best unless v > best, and
                            # only a NaN v (rare, so predicted) takes the other side (faster on
                            # ResNet-18's stem pool: `python -m benchmarks --only ops --threads 1`,
                            # figures in benchmarks/RESULTS.md).
                            take = np.int64((v > best) | (v != v))
                            best_k += take * (i * kw + j - best_k)
                            best = max(best, v) if v == v else v
                    y[n, c, oh, ow] = best
                    argmax[n, c, oh, ow] = best_k


def max_pool2d_backward_loops(g, argmax, dx, kw, sh, sw, ph, pw, dil_h, dil_w):
    """Add ``g (N, C, Ho, Wo)`` into the zeroed ``dx (N, C, H, W)`` at each window's argmax."""
    N, C, H, W = dx.shape
    Ho, Wo = g.shape[2], g.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    k = argmax[n, c, oh, ow]
                    h = tap_index(oh, sh, ph, k // kw, dil_h)
                    w = tap_index(ow, sw, pw, k % kw, dil_w)
                    if 0 <= h < H and 0 <= w < W:
                        dx[n, c, h, w] += g[n, c, oh, ow]


def sum_pool2d_forward_loops(x, y, kh, kw, sh, sw, ph, pw, dil_h, dil_w):
    """Fill ``y (N, C, Ho, Wo)`` with window sums; padding taps add nothing."""
    N, C, H, W = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    total = 0.0
                    for i in range(kh):
                        h = tap_index(oh, sh, ph, i, dil_h)
                        if h < 0 or h >= H:
                            continue
                        for j in range(kw):
                            w = tap_index(ow, sw, pw, j, dil_w)
                            if 0 <= w < W:
                                total += x[n, c, h, w]
                    y[n, c, oh, ow] = total


def sum_pool2d_backward_loops(g, dx, kh, kw, sh, sw, ph, pw, dil_h, dil_w):
    """Add each window's ``g (N, C, Ho, Wo)`` to every in-bounds pixel of the window."""
    N, C, H, W = dx.shape
    Ho, Wo = g.shape[2], g.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    g_window = g[n, c, oh, ow]
                    for i in range(kh):
                        h = tap_index(oh, sh, ph, i, dil_h)
                        if h < 0 or h >= H:
                            continue
                        for j in range(kw):
                            w = tap_index(ow, sw, pw, j, dil_w)
                            if 0 <= w < W:
                                dx[n, c, h, w] += g_window


_max_fwd_jit = compile_loops(max_pool2d_forward_loops)
_max_bwd_jit = compile_loops(max_pool2d_backward_loops)
_sum_fwd_jit = compile_loops(sum_pool2d_forward_loops)
_sum_bwd_jit = compile_loops(sum_pool2d_backward_loops)


def max_pool2d_forward_numba(x, window: Window):
    """Same contract as ``max_pool2d_forward_generic``, with the jitted loops."""
    x = np.ascontiguousarray(x)
    y = np.empty((*x.shape[:2], *window.out), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int64)
    _max_fwd_jit(x, y, argmax, *window.ints)
    return y, argmax


def max_pool2d_backward_numba(g, argmax, x_shape, window: Window):
    """Same contract as ``max_pool2d_backward_generic``, with the jitted loops."""
    dx = np.zeros(tuple(x_shape), dtype=g.dtype)
    _max_bwd_jit(np.ascontiguousarray(g), np.ascontiguousarray(argmax), dx, *window.ints[1:])
    return dx


def sum_pool2d_forward_numba(x, window: Window):
    """Same contract as ``sum_pool2d_forward_generic``, with the jitted loops (the row loops when
    the windows tile the input, ``_tiles``)."""
    x = np.ascontiguousarray(x)
    y = np.empty((*x.shape[:2], *window.out), dtype=x.dtype)
    if window.tiles(x.shape[2:]):
        _sum_fwd_tiles_jit(x, y)
    else:
        _sum_fwd_jit(x, y, *window.ints)
    return y


def sum_pool2d_backward_numba(g, x_shape, window: Window):
    """Same contract as ``sum_pool2d_backward_generic``, with the jitted loops (the row loops when
    the windows tile the input, ``_tiles``)."""
    if window.tiles(x_shape[2:]):
        dx = np.empty(tuple(x_shape), dtype=g.dtype)
        _sum_bwd_tiles_jit(np.ascontiguousarray(g), dx)
        return dx
    dx = np.zeros(tuple(x_shape), dtype=g.dtype)
    _sum_bwd_jit(np.ascontiguousarray(g), dx, *window.ints)
    return dx


def sum_pool2d_forward_tiles_loops(x, y):
    """Window sums ``y (N, C, Ho, Wo)`` of ``x (N, C, Ho·kh, Wo·kw)`` when the windows tile x (``Window.tiles``).

    Per row of windows: add its kh input rows into one row (contiguous, vectorised), then sum each
    run of kw values of that row: y[n, c, oh, ow] = Σ_j (Σ_i x[n, c, oh·kh + i, ow·kw + j]).
    """
    N, C, H, W = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    kh, kw = H // Ho, W // Wo
    zero = x.dtype.type(0.0)
    for n in prange(N):
        rows = np.empty(W, dtype=x.dtype)  # the kh rows of one row of windows, added up
        for c in range(C):
            for oh in range(Ho):
                rows[:] = x[n, c, oh * kh]
                for i in range(1, kh):
                    x_row = x[n, c, oh * kh + i]
                    for v in range(W):
                        rows[v] += x_row[v]
                for ow in range(Wo):
                    total = rows[ow * kw] + zero  # + 0: a window of −0 sums to +0, as the other paths
                    for j in range(1, kw):
                        total += rows[ow * kw + j]
                    y[n, c, oh, ow] = total


def sum_pool2d_backward_tiles_loops(g, dx):
    """Sum pooling's adjoint when the windows tile the input: each pixel lies in exactly one window, so
    ``dx[n, c, oh·kh + i, ow·kw + j] = g[n, c, oh, ow]``; one row is built and copied kh times."""
    N, C, H, W = dx.shape
    Ho, Wo = g.shape[2], g.shape[3]
    kh, kw = H // Ho, W // Wo
    for n in prange(N):
        row = np.empty(W, dtype=dx.dtype)
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    for j in range(kw):
                        row[ow * kw + j] = g[n, c, oh, ow]
                for i in range(kh):
                    dx[n, c, oh * kh + i, :] = row


_sum_fwd_tiles_jit = compile_loops(sum_pool2d_forward_tiles_loops)
_sum_bwd_tiles_jit = compile_loops(sum_pool2d_backward_tiles_loops)


# ---------------------------------------------------------------- dispatch
def max_pool2d_forward(x, window: Window):
    """Max pooling of ``x (N, C, H, W)``: returns ``y (N, C, Ho, Wo)`` and ``argmax`` (int64, same
    shape), the row-major position ``i*kw + j`` of each window's maximum.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> y, argmax = max_pool2d_forward(x, Window.fit((3, 3), kernel=(2, 2)))
    >>> y[0, 0], argmax[0, 0]
    (array([[4., 5.],
           [7., 8.]]), array([[3, 3],
           [3, 3]]))
    """
    return pick(x, max_pool2d_forward_numba, max_pool2d_forward_generic, "max_pool2d_forward_cuda")(x, window)


def max_pool2d_backward(g, argmax, x_shape, window: Window):
    """dL/dx ``(N, C, H, W)`` of max pooling: ``g (N, C, Ho, Wo)`` added at each argmax pixel."""
    impl = pick(g, max_pool2d_backward_numba, max_pool2d_backward_generic, "max_pool2d_backward_cuda")
    return impl(g, argmax, x_shape, window)


def sum_pool2d_forward(x, window: Window):
    """Window sums ``(N, C, Ho, Wo)`` of ``x (N, C, H, W)`` (padding reads 0)."""
    return pick(x, sum_pool2d_forward_numba, sum_pool2d_forward_generic, "sum_pool2d_forward_cuda")(x, window)


def sum_pool2d_backward(g, x_shape, window: Window):
    """Adjoint of ``sum_pool2d_forward``: ``(N, C, H, W)``, each pixel gets the sum of its windows' grads."""
    impl = pick(g, sum_pool2d_backward_numba, sum_pool2d_backward_generic, "sum_pool2d_backward_cuda")
    return impl(g, x_shape, window)
