"""Pooling kernels: max pooling (with argmax) and sum pooling, forward and backward.

Shapes: ``x (N, C, H, W)`` -> ``y (N, C, Ho, Wo)``; windows as in ``im2col`` (kernel kh×kw,
stride sh, sw, padding ph, pw, dilation dh, dw; ``Ho``/``Wo`` may be given larger than the floor
formula for ceil_mode, the extra windows overhanging the bottom/right edge).

Max pooling returns the window maximum and ``argmax (N, C, Ho, Wo)``, the position of the maximum
inside its window, ``k = i*kw + j`` for tap (i, j) in row-major order. Padding never wins: it
reads as -inf. Ties go to the first position in row-major order, as PyTorch's CPU kernel does,
and a NaN wins over numbers (the first NaN). The backward sends each window's gradient to its
one argmax pixel; pixels in several windows add up.

Sum pooling is the building block of average pooling: ``y = sum of the window`` (padding reads 0)
and its adjoint adds each window's gradient to every pixel of the window. The division by the
window count (which depends on count_include_pad and ceil_mode) is done by the caller.

Two paths, as in ``im2col``: the generic path reuses ``im2col``/``col2im`` (pad with -inf for
max, 0 for sum, then reduce over the kh×kw axis), written with ``xp`` only so CuPy runs it; the
numba path loops over windows directly (no column tensor), ``prange`` over the batch. CuPy
arrays take the CUDA kernels of ``kernels/cuda.py`` (the backward passes as gathers, no atomics)
unless the generic path is forced.
``NUMBA_DISABLE_JIT=1`` runs the plain loops un-jitted.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import use_cuda_kernels, use_numba, xp_of

from ._jit import compile_loops
from .im2col import col2im_generic, conv_out_size, im2col_generic


def _out_sizes(H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo):
    Ho = conv_out_size(H, kh, sh, ph, dh) if Ho is None else Ho
    Wo = conv_out_size(W, kw, sw, pw, dw) if Wo is None else Wo
    return Ho, Wo


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def max_pool2d_forward_generic(x, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    """``(y, argmax)`` of max pooling ``x (N, C, H, W)``, through ``im2col`` padded with -inf."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    cols = im2col_generic(x, kh, kw, sh, sw, ph, pw, dh, dw, -np.inf, Ho, Wo)  # (N, C, kh, kw, Ho, Wo)
    Ho, Wo = cols.shape[4], cols.shape[5]
    cols = cols.reshape(N, C, kh * kw, Ho, Wo)  # (N, C, kh·kw, Ho, Wo)
    argmax = cols.argmax(axis=2)  # (N, C, Ho, Wo): first maximum in row-major window order
    y = xp.take_along_axis(cols, argmax[:, :, None], axis=2)[:, :, 0]  # (N, C, Ho, Wo)
    return y, argmax


def max_pool2d_backward_generic(grad, argmax, x_shape, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1):
    """dL/dx: each window's gradient ``grad (N, C, Ho, Wo)`` goes to its argmax pixel."""
    xp = xp_of(grad)
    N, C, Ho, Wo = grad.shape
    taps = xp.arange(kh * kw).reshape(1, 1, kh * kw, 1, 1)  # (1, 1, kh·kw, 1, 1)
    # one-hot over the window: dcols[n, c, k, oh, ow] = grad[n, c, oh, ow] where k is the argmax
    dcols = xp.where(taps == argmax[:, :, None], grad[:, :, None], 0).astype(grad.dtype, copy=False)
    dcols = dcols.reshape(N, C, kh, kw, Ho, Wo)  # (N, C, kh, kw, Ho, Wo)
    return col2im_generic(dcols, x_shape, sh, sw, ph, pw, dh, dw)


def sum_pool2d_forward_generic(x, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    """Window sums ``(N, C, Ho, Wo)`` of ``x (N, C, H, W)``, padding read as 0."""
    cols = im2col_generic(x, kh, kw, sh, sw, ph, pw, dh, dw, 0.0, Ho, Wo)  # (N, C, kh, kw, Ho, Wo)
    return cols.sum(axis=(2, 3))  # (N, C, Ho, Wo)


def sum_pool2d_backward_generic(grad, x_shape, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1):
    """Adjoint of sum pooling: every pixel of a window receives that window's gradient."""
    xp = xp_of(grad)
    N, C, Ho, Wo = grad.shape
    dcols = xp.broadcast_to(grad[:, :, None, None], (N, C, kh, kw, Ho, Wo))  # (N, C, kh, kw, Ho, Wo)
    return col2im_generic(dcols, x_shape, sh, sw, ph, pw, dh, dw)


# ---------------------------------------------------------------- numba path (NumPy, CPU)
def max_pool2d_forward_loops(x, y, argmax, kh, kw, sh, sw, ph, pw, dh, dw):
    """Fill ``y`` and ``argmax (N, C, Ho, Wo)``; padding taps are skipped (they read -inf)."""
    N, C, H, W = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    best = -np.inf
                    best_k = 0
                    for i in range(kh):
                        h = oh * sh - ph + i * dh
                        if h < 0 or h >= H:
                            continue
                        for j in range(kw):
                            w = ow * sw - pw + j * dw
                            if w < 0 or w >= W:
                                continue
                            v = x[n, c, h, w]
                            # strictly greater keeps the first of equal values; NaN beats numbers
                            if v > best or (v != v and best == best):
                                best = v
                                best_k = i * kw + j
                    y[n, c, oh, ow] = best
                    argmax[n, c, oh, ow] = best_k


def max_pool2d_backward_loops(grad, argmax, dx, kw, sh, sw, ph, pw, dh, dw):
    """Add ``grad (N, C, Ho, Wo)`` into the zeroed ``dx (N, C, H, W)`` at each window's argmax."""
    N, C, H, W = dx.shape
    Ho, Wo = grad.shape[2], grad.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    k = argmax[n, c, oh, ow]
                    h = oh * sh - ph + (k // kw) * dh
                    w = ow * sw - pw + (k % kw) * dw
                    if 0 <= h < H and 0 <= w < W:
                        dx[n, c, h, w] += grad[n, c, oh, ow]


def sum_pool2d_forward_loops(x, y, kh, kw, sh, sw, ph, pw, dh, dw):
    """Fill ``y (N, C, Ho, Wo)`` with window sums; padding taps add nothing."""
    N, C, H, W = x.shape
    Ho, Wo = y.shape[2], y.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    total = 0.0
                    for i in range(kh):
                        h = oh * sh - ph + i * dh
                        if h < 0 or h >= H:
                            continue
                        for j in range(kw):
                            w = ow * sw - pw + j * dw
                            if 0 <= w < W:
                                total += x[n, c, h, w]
                    y[n, c, oh, ow] = total


def sum_pool2d_backward_loops(grad, dx, kh, kw, sh, sw, ph, pw, dh, dw):
    """Add each window's ``grad (N, C, Ho, Wo)`` to every in-bounds pixel of the window."""
    N, C, H, W = dx.shape
    Ho, Wo = grad.shape[2], grad.shape[3]
    for n in prange(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    g = grad[n, c, oh, ow]
                    for i in range(kh):
                        h = oh * sh - ph + i * dh
                        if h < 0 or h >= H:
                            continue
                        for j in range(kw):
                            w = ow * sw - pw + j * dw
                            if 0 <= w < W:
                                dx[n, c, h, w] += g


_max_fwd_jit = compile_loops(max_pool2d_forward_loops)
_max_bwd_jit = compile_loops(max_pool2d_backward_loops)
_sum_fwd_jit = compile_loops(sum_pool2d_forward_loops)
_sum_bwd_jit = compile_loops(sum_pool2d_backward_loops)


def max_pool2d_forward_numba(x, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    N, C, H, W = x.shape
    Ho, Wo = _out_sizes(H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)
    x = np.ascontiguousarray(x)
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    argmax = np.empty((N, C, Ho, Wo), dtype=np.int64)
    _max_fwd_jit(x, y, argmax, kh, kw, sh, sw, ph, pw, dh, dw)
    return y, argmax


def max_pool2d_backward_numba(grad, argmax, x_shape, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1):
    dx = np.zeros(tuple(x_shape), dtype=grad.dtype)
    _max_bwd_jit(np.ascontiguousarray(grad), np.ascontiguousarray(argmax), dx, kw, sh, sw, ph, pw, dh, dw)
    return dx


def sum_pool2d_forward_numba(x, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    N, C, H, W = x.shape
    Ho, Wo = _out_sizes(H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)
    x = np.ascontiguousarray(x)
    y = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    _sum_fwd_jit(x, y, kh, kw, sh, sw, ph, pw, dh, dw)
    return y


def sum_pool2d_backward_numba(grad, x_shape, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1):
    dx = np.zeros(tuple(x_shape), dtype=grad.dtype)
    _sum_bwd_jit(np.ascontiguousarray(grad), dx, kh, kw, sh, sw, ph, pw, dh, dw)
    return dx


# ---------------------------------------------------------------- dispatch
def max_pool2d_forward(x, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    """Max pooling of ``x (N, C, H, W)``: returns ``y (N, C, Ho, Wo)`` and ``argmax`` (int64, same
    shape), the row-major position ``i*kw + j`` of each window's maximum.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> y, argmax = max_pool2d_forward(x, 2, 2, 1, 1)
    >>> y[0, 0], argmax[0, 0]
    (array([[4., 5.],
           [7., 8.]]), array([[3, 3],
           [3, 3]]))
    """
    if use_cuda_kernels(x):
        from .cuda import max_pool2d_forward_cuda as impl  # loaded with the first CuPy array
    else:
        impl = max_pool2d_forward_numba if use_numba(x) else max_pool2d_forward_generic
    return impl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)


def max_pool2d_backward(grad, argmax, x_shape, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1):
    """dL/dx ``(N, C, H, W)`` of max pooling: ``grad (N, C, Ho, Wo)`` added at each argmax pixel."""
    if use_cuda_kernels(grad):
        from .cuda import max_pool2d_backward_cuda as impl  # loaded with the first CuPy array
    else:
        impl = max_pool2d_backward_numba if use_numba(grad) else max_pool2d_backward_generic
    return impl(grad, argmax, x_shape, kh, kw, sh, sw, ph, pw, dh, dw)


def sum_pool2d_forward(x, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    """Window sums ``(N, C, Ho, Wo)`` of ``x (N, C, H, W)`` (padding reads 0)."""
    if use_cuda_kernels(x):
        from .cuda import sum_pool2d_forward_cuda as impl  # loaded with the first CuPy array
    else:
        impl = sum_pool2d_forward_numba if use_numba(x) else sum_pool2d_forward_generic
    return impl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)


def sum_pool2d_backward(grad, x_shape, kh, kw, sh, sw, ph=0, pw=0, dh=1, dw=1):
    """Adjoint of ``sum_pool2d_forward``: ``(N, C, H, W)``, each pixel gets the sum of its windows' grads."""
    if use_cuda_kernels(grad):
        from .cuda import sum_pool2d_backward_cuda as impl  # loaded with the first CuPy array
    else:
        impl = sum_pool2d_backward_numba if use_numba(grad) else sum_pool2d_backward_generic
    return impl(grad, x_shape, kh, kw, sh, sw, ph, pw, dh, dw)
