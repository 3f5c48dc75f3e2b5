"""im2col and col2im: turn convolution into one matrix product, and send its gradient back.

Vocabulary (used in every shape comment of the repo)::

    N batch, C input channels, H, W input height and width, O output channels,
    kh, kw kernel height and width, Ho, Wo output height and width (``Window``, kernels/window.py:
    kernel, stride, padding, dilation and out, each an (h, w) pair).

The column layout (the only one; every path writes it)
------------------------------------------------------
``im2col(x, window)`` returns ``cols`` of shape ``(C, kh, kw, N, Ho, Wo)``::

    cols[c, i, j, n, oh, ow] = x_padded[n, c, oh·stride[0] + i·dilation[0], ow·stride[1] + j·dilation[1]]

where ``x_padded`` is ``x`` with ``padding`` rows/columns of ``pad_value`` on each side. Read as a
matrix, ``cols.reshape(C·kh·kw, N·Ho·Wo)`` is the column matrix of the whole batch: one row per tap
(c, i, j), one column per window (n, oh, ow), each column holding the C·kh·kw values its window
sees. That is the matrix the products need: convolution is ``W_mat (O, C·kh·kw) @ cols`` in one
BLAS call. For one image (N = 1) it is the ``(C·kh·kw, Ho·Wo)`` matrix of ``docs/conv_backprop.md``.

``col2im(cols, x_shape, window)`` is the exact adjoint (transpose) of ``im2col``: it scatters every
column entry back to the input pixel it was copied from, *adding* where windows overlap (a pixel seen
by several windows receives the sum of their gradients), and drops what landed in the padding. So
for any x and c of matching shapes, ``<im2col(x), c> == <x, col2im(c)>``.

Three paths, one contract
-------------------------
* numba (``im2col_numba``, ``col2im_numba``), NumPy arrays: the plain loops ``im2col_loops`` and
  ``col2im_loops`` (importable and runnable un-jitted), compiled with
  ``numba.njit(parallel=True, cache=True)`` (``kernels/_jit.py``); ``prange`` runs the images in
  parallel (image n writes only its own entries, so there are no races). The padding is a bounds
  check, not a padded copy.
* CUDA (``kernels/cuda.py``), CuPy arrays: the same index math, one thread per entry.
* generic (``im2col_generic``, ``col2im_generic``): written with ``xp`` only, so it runs on NumPy
  and CuPy. It loops over the kh×kw taps and copies one strided slice per tap.

``im2col`` / ``col2im`` choose with ``dispatch.pick``: the compiled kernels by default, the generic
path when ``MINITORCH_CNN_KERNELS=generic`` or ``backend.set_kernel_path("generic")``. A 1×1 window
at stride 1 without padding needs no kernel: its columns are x with N and C swapped.
Set ``NUMBA_DISABLE_JIT=1`` to run the numba loops as ordinary Python (steppable in a debugger).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import xp_of

from ._jit import compile_loops
from .dispatch import pick
from .window import Window, tap_index


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def _padded_size(H, W, window: Window):
    """(rows, columns) of the padded input: ``padding`` on each side, and further bottom/right as far
    as the last window reaches (pooling's ceil_mode asks for windows overhanging the padded input)."""
    (kh, kw), (sh, sw), (ph, pw), (dil_h, dil_w), (Ho, Wo) = window
    return (max(H + 2 * ph, (Ho - 1) * sh + (kh - 1) * dil_h + 1),
            max(W + 2 * pw, (Wo - 1) * sw + (kw - 1) * dil_w + 1))


def _tap(window: Window, i: int, j: int):
    """The (rows, columns) slices of the padded input that tap (i, j) of every window reads."""
    (_, _), (sh, sw), _, (dil_h, dil_w), (Ho, Wo) = window
    top, left = i * dil_h, j * dil_w
    return slice(top, top + sh * (Ho - 1) + 1, sh), slice(left, left + sw * (Wo - 1) + 1, sw)


def im2col_generic(x, window: Window, pad_value=0.0):
    """``cols (C, kh, kw, N, Ho, Wo)`` of ``x (N, C, H, W)``, with ``xp`` slicing only."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    (kh, kw), (Ho, Wo) = window.kernel, window.out
    (ph, pw), (H, W) = window.padding, x.shape[2:]
    Hp, Wp = _padded_size(H, W, window)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, Hp - H - ph), (pw, Wp - W - pw)), constant_values=pad_value)
    cols = xp.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _tap(window, i, j)
            cols[:, i, j] = x_pad[:, :, rows, columns].transpose(1, 0, 2, 3)  # (N, C, Ho, Wo) -> (C, N, Ho, Wo)
    return cols


def col2im_generic(cols, x_shape, window: Window):
    """Adjoint of ``im2col_generic``: ``cols (C, kh, kw, N, Ho, Wo)`` summed back into ``(N, C, H, W)``."""
    xp = xp_of(cols)
    N, C, H, W = x_shape
    (kh, kw), (ph, pw) = window.kernel, window.padding
    dx_pad = xp.zeros((N, C, *_padded_size(H, W, window)), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _tap(window, i, j)
            # added back where im2col copied it from; overlapping windows add up. Within one tap
            # (i, j) the target pixels are distinct, so `+=` on a slice is exact.
            dx_pad[:, :, rows, columns] += cols[:, i, j].transpose(1, 0, 2, 3)  # (C, N, Ho, Wo) -> (N, C, Ho, Wo)
    return dx_pad[:, :, ph : ph + H, pw : pw + W]  # (N, C, H, W): drop the padding


# ---------------------------------------------------------------- numba path (NumPy, CPU)
def im2col_loops(x, cols, sh, sw, ph, pw, dil_h, dil_w, pad_value):
    """Fill ``cols (C, kh, kw, N, Ho, Wo)`` from ``x (N, C, H, W)``; plain loops, parallel over N."""
    N, C, H, W = x.shape
    kh, kw, Ho, Wo = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for n in prange(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(Ho):
                        h = tap_index(oh, sh, ph, i, dil_h)
                        for ow in range(Wo):
                            w = tap_index(ow, sw, pw, j, dil_w)
                            if 0 <= h < H and 0 <= w < W:
                                cols[c, i, j, n, oh, ow] = x[n, c, h, w]
                            else:
                                cols[c, i, j, n, oh, ow] = pad_value


def col2im_loops(cols, dx, sh, sw, ph, pw, dil_h, dil_w):
    """Add ``cols (C, kh, kw, N, Ho, Wo)`` into the zeroed ``dx (N, C, H, W)``; the adjoint loops."""
    N, C, H, W = dx.shape
    kh, kw, Ho, Wo = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for n in prange(N):  # image n writes only dx[n]: no two threads touch the same pixel
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(Ho):
                        h = tap_index(oh, sh, ph, i, dil_h)
                        if h < 0 or h >= H:
                            continue  # this row of windows sits in the padding
                        for ow in range(Wo):
                            w = tap_index(ow, sw, pw, j, dil_w)
                            if 0 <= w < W:
                                dx[n, c, h, w] += cols[c, i, j, n, oh, ow]


_im2col_jit = compile_loops(im2col_loops)
_col2im_jit = compile_loops(col2im_loops)


def im2col_numba(x, window: Window, pad_value=0.0):
    """Same contract as ``im2col_generic``, for NumPy arrays, with the jitted loops."""
    N, C = x.shape[:2]
    x = np.ascontiguousarray(x)  # one compiled layout per dtype
    cols = np.empty((C, *window.kernel, N, *window.out), dtype=x.dtype)
    _im2col_jit(x, cols, *window.ints[2:], x.dtype.type(pad_value))
    return cols


def col2im_numba(cols, x_shape, window: Window):
    """Same contract as ``col2im_generic``, for NumPy arrays, with the jitted loops."""
    dx = np.zeros(tuple(x_shape), dtype=cols.dtype)
    _col2im_jit(np.ascontiguousarray(cols), dx, *window.ints[2:])
    return dx


# ---------------------------------------------------------------- dispatch
def im2col(x, window: Window, pad_value=0.0):
    """Gather every window of ``x (N, C, H, W)`` into ``cols (C, kh, kw, N, Ho, Wo)`` (a new array).

    ``cols[c, i, j, n, oh, ow] = x_padded[n, c, oh·sh + i·dil_h, ow·sw + j·dil_w]``; positions in
    the padding read ``pad_value`` (0 for convolution and average pooling, -inf for max pooling).

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, Window.fit((3, 3), kernel=(2, 2))).reshape(4, 4)   # rows: taps (i, j); columns: windows (oh, ow)
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    if window.is_pointwise:  # each window is one pixel: the columns are x with N and C swapped
        N, C, H, W = x.shape
        return xp_of(x).ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(C, 1, 1, N, H, W)
    return pick(x, im2col_numba, im2col_generic, "im2col_cuda")(x, window, pad_value)


def col2im(cols, x_shape, window: Window):
    """Adjoint of ``im2col``: add every entry of ``cols (C, kh, kw, N, Ho, Wo)`` back to its pixel.

    Returns ``(N, C, H, W)`` (``x_shape``); entries that came from the padding are dropped,
    entries from overlapping windows add up.

    >>> col2im(np.ones((1, 2, 2, 1, 2, 2)), (1, 1, 3, 3), Window.fit((3, 3), kernel=(2, 2)))[0, 0]   # windows per pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    if window.is_pointwise:  # the adjoint of the swap: a view of cols as (N, C, H, W)
        N, C, H, W = x_shape
        return cols.reshape(C, N, H, W).transpose(1, 0, 2, 3)
    return pick(cols, col2im_numba, col2im_generic, "col2im_cuda")(cols, x_shape, window)
