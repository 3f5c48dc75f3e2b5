"""im2col with the batch as the last axis: every copy into the columns is one long contiguous run.

im2col's layout ``(C, kh, kw, N, Ho, Wo)`` (kernels/im2col.py) copies runs of Wo values, one per
window row: for LeNet's second layer (6 channels, 5×5 kernel, 10×10 outputs) that is 10 values per
run, and the bounds checks and index arithmetic per value cost more than the copy. Move the images
to the last axis and the same entries line up:

    xb[c, h, v, k]            = x̃[k, c, h, v]            the chunk's padded images, image index last
    cols[c, i, j, oh, ow, k]  = xb[c, oh + i, ow + j, k]  (stride 1, dilation 1)

For fixed (c, i, j, oh) the entries over (ow, k) are ``xb[c, oh + i, j : j + Wo, :]``: one block of
Wo·n contiguous values (n the chunk's images), copied as a whole. As a matrix, cols is
``(C·kh·kw, Ho·Wo·n)``, so the products are im2col's with the columns in another order::

    y     = w_mat @ cols        (O, K) @ (K, Ho·Wo·n) -> (O, Ho, Wo, n), then (n, O, Ho, Wo) + b
    dw    = g @ colsᵀ           g as (O, Ho·Wo·n)
    dcols = w_matᵀ @ g          (K, Ho·Wo·n) -> dxb[c, oh + i, j : j + Wo, :] += dcols[c, i, j, oh]

and col2im adds the same blocks back (the adjoint), then the padding is dropped and the images
moved back to the first axis. The two transposes touch the input and output once each, a small
part of the columns' traffic when a chunk holds many images. Stride 1, dilation 1, groups 1.

Loops: ``prange`` over the channels (channel c writes only its own rows of cols and of dxb), so
the results do not depend on the thread count. numba only: the array-generic path (CuPy) sends
these layers to im2col (functional/batch_last.py).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import compile_loops
from .window import conv_out_size


def to_batch_last_loops(x, ph, pw, xb):
    """``xb (C, H + 2·ph, W + 2·pw, n)`` = ``x (n, C, H, W)`` zero-padded, image index last."""
    n, C, H, W = x.shape
    for c in prange(C):
        xb[c] = 0
        for h in range(H):
            for v in range(W):
                for k in range(n):
                    xb[c, ph + h, pw + v, k] = x[k, c, h, v]


def batch_last_columns_loops(xb, cols):
    """``cols (C, kh, kw, Ho, Wo, n)``: ``cols[c, i, j, oh] = xb[c, oh + i, j : j + Wo]``, a (Wo, n) block."""
    C, kh, kw, Ho, Wo = cols.shape[:5]
    for c in prange(C):
        for i in range(kh):
            for j in range(kw):
                for oh in range(Ho):
                    cols[c, i, j, oh] = xb[c, oh + i, j : j + Wo]


def batch_last_col2im_loops(dcols, dxb):
    """The adjoint of ``batch_last_columns_loops``: ``dxb`` (zeroed here) ``[c, oh + i, j : j + Wo] += dcols[c, i, j, oh]``."""
    C, kh, kw, Ho, Wo = dcols.shape[:5]
    for c in prange(C):
        dxb[c] = 0
        for i in range(kh):
            for j in range(kw):
                for oh in range(Ho):
                    dxb[c, oh + i, j : j + Wo] += dcols[c, i, j, oh]


_to_batch_last_jit = compile_loops(to_batch_last_loops)
_columns_jit = compile_loops(batch_last_columns_loops)
_col2im_jit = compile_loops(batch_last_col2im_loops)


def to_batch_last(x, ph, pw):
    """The padded chunk ``(C, H + 2·ph, W + 2·pw, n)`` of ``x (n, C, H, W)``, a new array."""
    n, C, H, W = x.shape
    xb = np.empty((C, H + 2 * ph, W + 2 * pw, n), dtype=x.dtype)
    _to_batch_last_jit(np.ascontiguousarray(x), ph, pw, xb)
    return xb


def batch_last_columns(xb, kernel):
    """``cols (C, kh, kw, Ho, Wo, n)`` of the padded chunk ``xb (C, Hp, Wp, n)``.

    >>> xb = np.arange(9.0).reshape(1, 3, 3, 1)          # one 3×3 image, one channel
    >>> batch_last_columns(xb, (2, 2))[0, :, :, 0, 0, 0]  # the taps of the top-left 2×2 window
    array([[0., 1.],
           [3., 4.]])
    """
    C, Hp, Wp, n = xb.shape
    kh, kw = kernel
    cols = np.empty((C, kh, kw, conv_out_size(Hp, kh), conv_out_size(Wp, kw), n), dtype=xb.dtype)
    _columns_jit(xb, cols)
    return cols


def batch_last_col2im(dcols, padded_shape):
    """``dxb (C, Hp, Wp, n)``: every entry of ``dcols (C, kh, kw, Ho, Wo, n)`` added back to the pixel it came from."""
    dxb = np.empty(tuple(padded_shape), dtype=dcols.dtype)
    _col2im_jit(np.ascontiguousarray(dcols), dxb)
    return dxb


__all__ = [
    "batch_last_col2im",
    "batch_last_col2im_loops",
    "batch_last_columns",
    "batch_last_columns_loops",
    "to_batch_last",
    "to_batch_last_loops",
]
