"""Depthwise convolution (``groups = C = O``): each channel filtered by its own kh×kw kernel, directly.

The im2col path of ``conv2d`` handles groups as a batch of G matrix products, ``(Og, K) @ (K, N·L)``;
for a depthwise convolution Og = 1 and K = kh·kw (9 for 3×3), so every product is a row vector
times a tall, thin matrix: no BLAS gain, and the column tensor costs kh·kw times the input in
memory traffic. These kernels compute the same sums straight from the (padded) input instead.

Definitions, with x̃ the input zero-padded by ph rows and pw columns, w (C, kh, kw), g = dL/dy::

    y[n, c, oh, ow] = Σ_{i, j} w[c, i, j] · x̃[n, c, oh·sh + i·dh, ow·sw + j·dw]              forward
    dx̃[n, c, oh·sh + i·dh, ow·sw + j·dw] += w[c, i, j] · g[n, c, oh, ow]   (every i, j, oh, ow) dx = dx̃ unpadded
    dw[c, i, j] = Σ_{n, oh, ow} g[n, c, oh, ow] · x̃[n, c, oh·sh + i·dh, ow·sw + j·dw]

dx is the adjoint of the forward (each input pixel collects the gradient of every window tap
that read it, hence ``+=``); dw correlates the gradient with the input seen by tap (i, j). The
bias gradient is Σ_{n, oh, ow} g, left to the caller.

Two paths, one contract (as ``kernels/im2col.py``):

* generic (``*_generic``): ``xp`` only, so it runs on NumPy and CuPy: one strided slice of the
  padded input per kernel tap (i, j), multiplied by the tap's per-channel weight and added up;
  kh·kw passes over the data, no column tensor.
* numba (``*_loops``, compiled with ``compile_loops``): plain loops that read the input in place
  (no padded copy: the range of output rows/columns whose tap lands inside the image is computed
  per tap, so the inner loop has no bounds test). The taps on the padding are skipped where their
  product is 0, and added where it is NaN, as PyTorch's: w · 0 for an inf or NaN weight in y,
  g · 0 for an inf or NaN gradient in dw. Forward and dx run the batch in parallel (image n
  writes only its own output), dw runs the channels in parallel (channel c writes only dw[c]) and
  accumulates each weight's gradient, a sum over N·Ho·Wo products, in float64 before rounding it
  to the array's dtype (more accurate in float32 than a float32 running sum, never less).

Dispatch (``depthwise_conv2d_forward`` etc.): a NumPy array takes the numba path when
``backend.use_numba(array)``, anything else (CuPy, or the forced generic path) the generic one.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from minitorch_cnn.backend import use_numba, xp_of

from ._jit import compile_loops
from .window import conv_out_size, tap_index, tap_range


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def _tap_slices(i, j, sh, sw, dh, dw, Ho, Wo):
    """The (rows, cols) slices of the padded input that tap (i, j) reads for every output position."""
    top, left = i * dh, j * dw
    return slice(top, top + sh * (Ho - 1) + 1, sh), slice(left, left + sw * (Wo - 1) + 1, sw)


def depthwise_forward_generic(x, w, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """y (N, C, Ho, Wo) from x (N, C, H, W) and w (C, kh, kw), with ``xp`` slicing only."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    _, kh, kw = w.shape
    Ho, Wo = conv_out_size(H, kh, sh, ph, dh), conv_out_size(W, kw, sw, pw, dw)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    y = xp.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = _tap_slices(i, j, sh, sw, dh, dw, Ho, Wo)
            y += w[:, i, j].reshape(1, C, 1, 1) * x_pad[:, :, rows, cols]  # (1, C, 1, 1) * (N, C, Ho, Wo)
    return y


def depthwise_backward_input_generic(g, w, x_shape, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """dx (N, C, H, W) from g (N, C, Ho, Wo): the adjoint of the forward."""
    xp = xp_of(g)
    N, C, Ho, Wo = g.shape
    _, kh, kw = w.shape
    H, W = x_shape[2], x_shape[3]
    dx_pad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = _tap_slices(i, j, sh, sw, dh, dw, Ho, Wo)
            # within one tap the target pixels are distinct, so `+=` on the slice is exact
            dx_pad[:, :, rows, cols] += w[:, i, j].reshape(1, C, 1, 1) * g
    return dx_pad[:, :, ph : ph + H, pw : pw + W]


def depthwise_backward_weight_generic(g, x, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """dw (C, kh, kw): for each tap, Σ over N, Ho, Wo of g times the input that tap read."""
    xp = xp_of(x)
    N, C, Ho, Wo = g.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dwt = xp.empty((C, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = _tap_slices(i, j, sh, sw, dh, dw, Ho, Wo)
            dwt[:, i, j] = (g * x_pad[:, :, rows, cols]).sum(axis=(0, 2, 3))  # (N, C, Ho, Wo) -> (C,)
    return dwt


# ---------------------------------------------------------------- numba path (NumPy, CPU)
def _add_on_padding(y_nc, v, oh_lo, oh_hi, ow_lo, ow_hi):
    """Add v to every output (oh, ow) of ``y_nc (Ho, Wo)`` outside [oh_lo, oh_hi) × [ow_lo, ow_hi):
    the windows whose tap reads the padding. The loops skip those taps; PyTorch multiplies them
    (w · 0), which matters only for an inf or NaN weight (then v = w · 0 is NaN)."""
    for oh in range(y_nc.shape[0]):
        for ow in range(y_nc.shape[1]):
            if not (oh_lo <= oh < oh_hi and ow_lo <= ow < ow_hi):
                y_nc[oh, ow] += v


def _padding_products(g_nc, oh_lo, oh_hi, ow_lo, ow_hi):
    """Σ g · 0 over the outputs of ``g_nc (Ho, Wo)`` whose tap reads the padding (see ``_add_on_padding``):
    0, or NaN where g holds an inf or NaN there, as PyTorch's weight gradient."""
    total = 0.0
    for oh in range(g_nc.shape[0]):
        for ow in range(g_nc.shape[1]):
            if not (oh_lo <= oh < oh_hi and ow_lo <= ow < ow_hi):
                total += np.float64(g_nc[oh, ow]) * 0.0
    return total


_add_on_padding = numba.njit(_add_on_padding)  # called from the loops (from Python when they run un-jitted)
_padding_products = numba.njit(_padding_products)


def depthwise_forward_loops(x, w, y, sh, sw, ph, pw, dh, dw):
    """Add the depthwise convolution of x (N, C, H, W) by w (C, kh, kw) into the zeroed y (N, C, Ho, Wo)."""
    N, C, H, W = x.shape
    kh, kw = w.shape[1], w.shape[2]
    Ho, Wo = y.shape[2], y.shape[3]
    for n in prange(N):
        for c in range(C):
            for i in range(kh):
                oh_lo, oh_hi = tap_range(i, dh, sh, ph, H, Ho)
                for j in range(kw):
                    ow_lo, ow_hi = tap_range(j, dw, sw, pw, W, Wo)
                    wv = w[c, i, j]
                    for oh in range(oh_lo, oh_hi):
                        h = tap_index(oh, sh, ph, i, dh)
                        for ow in range(ow_lo, ow_hi):
                            y[n, c, oh, ow] += wv * x[n, c, h, tap_index(ow, sw, pw, j, dw)]
                    if wv - wv != 0:  # an inf or NaN weight times the padding's zeros: NaN, as in PyTorch
                        _add_on_padding(y[n, c], wv * 0, oh_lo, oh_hi, ow_lo, ow_hi)


def depthwise_backward_input_loops(g, w, dx, sh, sw, ph, pw, dh, dw):
    """Add into the zeroed dx (N, C, H, W) the gradient of every tap: the forward loops, reversed."""
    N, C, H, W = dx.shape
    kh, kw = w.shape[1], w.shape[2]
    Ho, Wo = g.shape[2], g.shape[3]
    for n in prange(N):  # image n writes only dx[n]
        for c in range(C):
            for i in range(kh):
                oh_lo, oh_hi = tap_range(i, dh, sh, ph, H, Ho)
                for j in range(kw):
                    ow_lo, ow_hi = tap_range(j, dw, sw, pw, W, Wo)
                    wv = w[c, i, j]
                    for oh in range(oh_lo, oh_hi):
                        h = tap_index(oh, sh, ph, i, dh)
                        for ow in range(ow_lo, ow_hi):
                            dx[n, c, h, tap_index(ow, sw, pw, j, dw)] += wv * g[n, c, oh, ow]


def depthwise_backward_weight_loops(g, x, dwt, sh, sw, ph, pw, dh, dw):
    """dwt (C, kh, kw)[c, i, j] = Σ_{n, oh, ow} g[n, c, oh, ow] · x̃[n, c, oh·sh + i·dh, ow·sw + j·dw]."""
    N, C, H, W = x.shape
    kh, kw = dwt.shape[1], dwt.shape[2]
    Ho, Wo = g.shape[2], g.shape[3]
    for c in prange(C):  # channel c writes only dwt[c]
        g_sum = 0.0
        for n in range(N):
            for oh in range(Ho):
                for ow in range(Wo):
                    g_sum += g[n, c, oh, ow]  # finite unless g holds an inf or NaN
        for i in range(kh):
            oh_lo, oh_hi = tap_range(i, dh, sh, ph, H, Ho)
            for j in range(kw):
                ow_lo, ow_hi = tap_range(j, dw, sw, pw, W, Wo)
                acc = 0.0  # float64, whatever the arrays' dtype
                for n in range(N):
                    for oh in range(oh_lo, oh_hi):
                        h = tap_index(oh, sh, ph, i, dh)
                        for ow in range(ow_lo, ow_hi):
                            acc += np.float64(g[n, c, oh, ow]) * np.float64(x[n, c, h, tap_index(ow, sw, pw, j, dw)])
                if g_sum - g_sum != 0:  # g holds an inf or NaN: its products with the padding's zeros count
                    for n in range(N):
                        acc += _padding_products(g[n, c], oh_lo, oh_hi, ow_lo, ow_hi)
                dwt[c, i, j] = acc


_forward_jit = compile_loops(depthwise_forward_loops)
_backward_input_jit = compile_loops(depthwise_backward_input_loops)
_backward_weight_jit = compile_loops(depthwise_backward_weight_loops)


def depthwise_forward_numba(x, w, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    N, C, H, W = x.shape
    _, kh, kw = w.shape
    y = np.zeros((N, C, conv_out_size(H, kh, sh, ph, dh), conv_out_size(W, kw, sw, pw, dw)), dtype=x.dtype)
    _forward_jit(np.ascontiguousarray(x), np.ascontiguousarray(w), y, sh, sw, ph, pw, dh, dw)
    return y


def depthwise_backward_input_numba(g, w, x_shape, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    dx = np.zeros(tuple(x_shape), dtype=g.dtype)
    _backward_input_jit(np.ascontiguousarray(g), np.ascontiguousarray(w), dx, sh, sw, ph, pw, dh, dw)
    return dx


def depthwise_backward_weight_numba(g, x, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    dwt = np.empty((x.shape[1], kh, kw), dtype=x.dtype)
    _backward_weight_jit(np.ascontiguousarray(g), np.ascontiguousarray(x), dwt, sh, sw, ph, pw, dh, dw)
    return dwt


# ---------------------------------------------------------------- dispatch
def depthwise_conv2d_forward(x, w, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """y (N, C, Ho, Wo) = the depthwise convolution of x (N, C, H, W) by w (C, kh, kw), no bias.

    >>> x = np.arange(18.0).reshape(1, 2, 3, 3)
    >>> w = np.stack([np.ones((2, 2)), np.eye(2)])  # channel 0: window sums; channel 1: the diagonal
    >>> depthwise_conv2d_forward(x, w)[0]
    array([[[ 8., 12.],
            [20., 24.]],
    <BLANKLINE>
           [[22., 24.],
            [28., 30.]]])
    """
    impl = depthwise_forward_numba if use_numba(x) else depthwise_forward_generic
    return impl(x, w, sh, sw, ph, pw, dh, dw)


def depthwise_conv2d_backward_input(g, w, x_shape, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """dx (``x_shape``) from g (N, C, Ho, Wo) and w (C, kh, kw): the adjoint of the forward."""
    impl = depthwise_backward_input_numba if use_numba(g) else depthwise_backward_input_generic
    return impl(g, w, x_shape, sh, sw, ph, pw, dh, dw)


def depthwise_conv2d_backward_weight(g, x, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """dw (C, kh, kw) from g (N, C, Ho, Wo) and the input x (N, C, H, W)."""
    impl = depthwise_backward_weight_numba if use_numba(x) else depthwise_backward_weight_generic
    return impl(g, x, kh, kw, sh, sw, ph, pw, dh, dw)


__all__ = [
    "depthwise_backward_input_generic",
    "depthwise_backward_input_loops",
    "depthwise_backward_input_numba",
    "depthwise_backward_weight_generic",
    "depthwise_backward_weight_loops",
    "depthwise_backward_weight_numba",
    "depthwise_conv2d_backward_input",
    "depthwise_conv2d_backward_weight",
    "depthwise_conv2d_forward",
    "depthwise_forward_generic",
    "depthwise_forward_loops",
    "depthwise_forward_numba",
]
