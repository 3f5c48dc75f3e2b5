"""Direct convolution for layers with few input taps (LeNet's first layer): no column matrix.

For a layer such as LeNet's first, ``conv2d(x (N, 1, 28, 28), w (6, 1, 5, 5), padding=2)``, the
im2col path builds a column matrix of C·kh·kw = 25 rows by N·Ho·Wo = 200 704 columns (20 MB in
float32) and multiplies it by a 6×25 weight matrix: a product so thin that BLAS runs it far below
its speed (``benchmarks/RESULTS.md``), after a copy 25 times the input. These loops compute the same sums from the padded
image, which stays in the core's cache. Stride 1, dilation 1, groups 1 only.

Definitions, with x̃ the input zero-padded by ph rows and pw columns on each side, g = dL/dy::

    y[n, o, oh, ow] = b[o] + Σ_{c, i, j} w[o, c, i, j] · x̃[n, c, oh + i, ow + j]        forward
    dw[o, c, i, j]  = Σ_{n, oh, ow} g[n, o, oh, ow] · x̃[n, c, oh + i, ow + j]
    db[o]           = Σ_{n, oh, ow} g[n, o, oh, ow]
    dx̃[n, c, oh + i, ow + j] += w[o, c, i, j] · g[n, o, oh, ow]   (every o, i, j, oh, ow); dx = dx̃ unpadded

The wide-row trick
------------------
Store one padded image channel row after row, ``Wp = W + 2·pw`` values per row: pixel (h, v)
sits at ``h·Wp + v`` of a flat vector ``xf[c]``. Number the outputs the same way, ``q = oh·Wp + ow``.
Then ``x̃[oh + i, ow + j] = xf[c, q + i·Wp + j]``: tap (i, j) of *every* window reads the flat
vector shifted by ``s = i·Wp + j``. So the forward is, per image, one loop per (o, c, i, j)::

    yf[o, q] += w[o, c, i, j] · xf[c, q + s]      for q = 0 .. Ho·Wp − 1

a contiguous multiply-add that the compiler vectorises. The ``Wp − Wo`` values of each output row
with ow ≥ Wo are junk (their windows wrap into the next row); they are computed and dropped, a
waste of (Wp − Wo)/Wp (1/8 for LeNet's first layer). The backward passes use the same shifts:
``gf`` is g written into wide rows with zeros in the junk places, then

    dw[o, c, i, j] = Σ_n Σ_q gf[o, q] · xf[c, q + s]        a dot product per tap
    db[o]          = Σ_n Σ_q gf[o, q]                       in the same pass over gf
    dxf[c, q + s] += w[o, c, i, j] · gf[o, q]                 the forward's loop, transposed

where the dw and dxf loops run over the real places q = oh·Wp + ow (ow < Wo) only: a junk place's
0 would add nothing for finite numbers, but 0 · inf is NaN, and PyTorch's gradients have no such
term (an inf or NaN in x or w must reach exactly the gradients PyTorch's do). The padding's zeros,
in contrast, are multiplied as PyTorch does: g · 0 is NaN in dw where g is inf or NaN.

Threads and order: the forward and dx run the images in parallel (image n writes only its own
output). dw and db sum over the images: each fixed block of ``DW_BLOCK`` images writes its own
partial gradients, and the partials are added in block order, so the result does not depend on the
thread count. Its dot products are compiled with reassociation allowed (so they vectorise): their order
of additions is fixed by the compiled code, the same on every run.

The array-generic path (CuPy, or ``MINITORCH_CNN_KERNELS=generic``) has no direct kernel:
``conv2d`` sends these layers to im2col there (``functional/direct.py``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._jit import compile_loops
from .window import conv_out_size

DW_BLOCK = 8  # images per partial weight and bias gradient (fixed, so the sums' order is too)


def _load_wide(x, n, xf, ph, pw):
    """Write image n of ``x (N, C, H, W)`` into the zeroed wide rows ``xf (C, (Hp + 1)·Wp)``.

    The extra row at the bottom keeps the junk outputs' reads of the last row inside the vector.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    Wp = W + 2 * pw
    for c in range(C):
        for h in range(H):
            row = xf[c, (h + ph) * Wp + pw : (h + ph) * Wp + pw + W]
            src = x[n, c, h]
            for v in range(W):
                row[v] = src[v]


def _load_wide_grad(g, n, gf, Wp):
    """Write image n of ``g (N, O, Ho, Wo)`` into ``gf (O, Ho·Wp)``; the junk places stay zero."""
    O, Ho, Wo = g.shape[1], g.shape[2], g.shape[3]
    for o in range(O):
        for oh in range(Ho):
            row = gf[o, oh * Wp : oh * Wp + Wo]
            src = g[n, o, oh]
            for ow in range(Wo):
                row[ow] = src[ow]


_load_wide = numba.njit(_load_wide)  # called from the loops below (from Python when they run un-jitted)
_load_wide_grad = numba.njit(_load_wide_grad)


def direct_forward_loops(x, w, b, y, ph, pw):
    """y (N, O, Ho, Wo) = the convolution of x (N, C, H, W) by w (O, C, kh, kw), plus b (O,)."""
    N, C, H, W = x.shape
    O, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    Ho, Wo = y.shape[2], y.shape[3]
    Wp = W + 2 * pw
    Q = Ho * Wp  # wide output positions of one channel
    for n in prange(N):
        xf = np.zeros((C, (H + 2 * ph + 1) * Wp), dtype=x.dtype)
        _load_wide(x, n, xf, ph, pw)
        yf = np.empty(Q, dtype=y.dtype)
        for o in range(O):
            yf[:] = b[o]
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        wv = w[o, c, i, j]
                        xs = xf[c, i * Wp + j : i * Wp + j + Q]  # tap (i, j) of every window
                        for q in range(Q):
                            yf[q] += wv * xs[q]
            for oh in range(Ho):  # drop the junk columns
                for ow in range(Wo):
                    y[n, o, oh, ow] = yf[oh * Wp + ow]


def direct_backward_params_loops(g, x, dw_blocks, db_blocks, ph, pw):
    """dw_blocks[k] (O, C, kh, kw) and db_blocks[k] (O,) = the weight and bias gradients of images
    k·DW_BLOCK .. (k+1)·DW_BLOCK − 1."""
    N, C, H, W = x.shape
    O, Ho, Wo = g.shape[1], g.shape[2], g.shape[3]
    kh, kw = dw_blocks.shape[3], dw_blocks.shape[4]
    Wp = W + 2 * pw
    Q = Ho * Wp
    for k in prange(dw_blocks.shape[0]):  # block k writes only dw_blocks[k] and db_blocks[k]
        xf = np.zeros((C, (H + 2 * ph + 1) * Wp), dtype=x.dtype)
        gf = np.zeros((O, Q), dtype=g.dtype)
        dw, db = dw_blocks[k], db_blocks[k]
        dw[...] = 0
        db[:] = 0
        zero = dw_blocks.dtype.type(0)
        for n in range(k * DW_BLOCK, min(N, (k + 1) * DW_BLOCK)):
            _load_wide(x, n, xf, ph, pw)
            _load_wide_grad(g, n, gf, Wp)
            for o in range(O):
                go = gf[o]
                total = zero
                for q in range(Q):  # the junk places hold zeros
                    total += go[q]
                db[o] += total
                for c in range(C):
                    for i in range(kh):
                        for j in range(kw):
                            xs = xf[c, i * Wp + j : i * Wp + j + Q]
                            total = zero
                            for oh in range(Ho):  # the Wo real places of each wide row: a junk place's
                                row = oh * Wp  # 0 times an inf or NaN of x would make NaN
                                for ow in range(Wo):
                                    total += go[row + ow] * xs[row + ow]
                            dw[o, c, i, j] += total


def direct_backward_input_loops(g, w, dx, ph, pw):
    """dx (N, C, H, W) from g (N, O, Ho, Wo): every tap's gradient added back to the pixel it read."""
    N, C, H, W = dx.shape
    O, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    Ho, Wo = g.shape[2], g.shape[3]
    Wp = W + 2 * pw
    Q = Ho * Wp
    for n in prange(N):  # image n writes only dx[n]
        gf = np.zeros((O, Q), dtype=g.dtype)
        _load_wide_grad(g, n, gf, Wp)
        dxf = np.zeros((H + 2 * ph + 1) * Wp, dtype=dx.dtype)
        for c in range(C):
            dxf[:] = 0
            for o in range(O):
                go = gf[o]
                for i in range(kh):
                    for j in range(kw):
                        wv = w[o, c, i, j]
                        ds = dxf[i * Wp + j : i * Wp + j + Q]
                        for oh in range(Ho):  # the real places only: an inf or NaN weight times a
                            row = oh * Wp  # junk place's 0 would make NaN
                            for ow in range(Wo):
                                ds[row + ow] += wv * go[row + ow]
            for h in range(H):  # drop the padding
                for v in range(W):
                    dx[n, c, h, v] = dxf[(h + ph) * Wp + pw + v]


_forward_jit = compile_loops(direct_forward_loops)
_backward_params_jit = compile_loops(direct_backward_params_loops, reassociate=True)
_backward_input_jit = compile_loops(direct_backward_input_loops)


def direct_conv2d_forward(x, w, b, ph, pw):
    """y (N, O, Ho, Wo) = conv2d(x, w, b, padding=(ph, pw)) for NumPy arrays; b may be None.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> direct_conv2d_forward(x, np.ones((1, 1, 2, 2)), None, 0, 0)[0, 0]   # sums of 2×2 windows
    array([[ 8., 12.],
           [20., 24.]])
    """
    N, H, W = x.shape[0], x.shape[2], x.shape[3]
    O, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    y = np.empty((N, O, conv_out_size(H, kh, p=ph), conv_out_size(W, kw, p=pw)), dtype=x.dtype)
    b = np.zeros(O, dtype=x.dtype) if b is None else np.ascontiguousarray(b)
    _forward_jit(np.ascontiguousarray(x), np.ascontiguousarray(w), b, y, ph, pw)
    return y


def direct_conv2d_backward_params(g, x, kernel, ph, pw):
    """(dw (O, C, kh, kw), db (O,)) from g (N, O, Ho, Wo) and the input x (N, C, H, W)."""
    N, C = x.shape[:2]
    O = g.shape[1]
    dw_blocks = np.empty((-(-N // DW_BLOCK), O, C, *kernel), dtype=x.dtype)
    db_blocks = np.empty((len(dw_blocks), O), dtype=x.dtype)
    _backward_params_jit(np.ascontiguousarray(g), np.ascontiguousarray(x), dw_blocks, db_blocks, ph, pw)
    dw, db = dw_blocks[0].copy(), db_blocks[0].copy()
    for k in range(1, len(dw_blocks)):  # in block order, whatever the thread count
        dw += dw_blocks[k]
        db += db_blocks[k]
    return dw, db


def direct_conv2d_backward_input(g, w, x_shape, ph, pw):
    """dx (``x_shape``) from g (N, O, Ho, Wo) and w (O, C, kh, kw): the adjoint of the forward."""
    dx = np.empty(tuple(x_shape), dtype=g.dtype)
    _backward_input_jit(np.ascontiguousarray(g), np.ascontiguousarray(w), dx, ph, pw)
    return dx


__all__ = [
    "DW_BLOCK",
    "direct_backward_input_loops",
    "direct_backward_params_loops",
    "direct_conv2d_backward_input",
    "direct_conv2d_backward_params",
    "direct_conv2d_forward",
    "direct_forward_loops",
]
