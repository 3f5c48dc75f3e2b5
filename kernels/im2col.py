"""im2col and col2im: turn convolution into one matrix product, and send its gradient back.

Vocabulary (used in every shape comment of the repo)::

    N batch, C input channels, H, W input height and width, O output channels,
    kh, kw kernel height and width, Ho, Wo output height and width,
    s stride (sh, sw), p zero padding (ph, pw), d dilation (dh, dw).

The column layout
-----------------
``im2col(x)`` returns ``cols`` of shape ``(N, C, kh, kw, Ho, Wo)``::

    cols[n, c, i, j, oh, ow] = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw]

where ``x_padded`` is ``x`` with ``ph`` rows of ``pad_value`` above and below and ``pw`` columns
left and right. Read per image, ``cols[n].reshape(C*kh*kw, Ho*Wo)`` is the column matrix: one
column per output position, holding the C·kh·kw input values its window sees. A convolution is
then ``W_mat (O, C·kh·kw) @ cols[n] (C·kh·kw, Ho·Wo) -> (O, Ho·Wo)``, already in NCHW order.

``col2im(cols, x_shape)`` is the exact adjoint (transpose) of ``im2col``: it scatters every column
entry back to the input pixel it was copied from, *adding* where windows overlap (a pixel seen by
several windows receives the sum of their gradients), and drops what landed in the padding. So
for any x and c of matching shapes, ``<im2col(x), c> == <x, col2im(c)>``.

Two paths, one contract
-----------------------
* generic (``im2col_generic``, ``col2im_generic``): written with the array namespace ``xp`` only,
  so the same source runs on NumPy and CuPy. It loops over the kh×kw kernel offsets and copies one
  strided slice per offset, never looping over output positions.
* numba (``im2col_numba``, ``col2im_numba``): plain Python loops (``im2col_loops``,
  ``col2im_loops``, importable and runnable un-jitted, written for conv2d's batch-inner layout
  ``(C, kh, kw, N, Ho, Wo)``; other layouts are viewed or copied to it) compiled once at module level with
  ``numba.njit(parallel=True, cache=True)`` (``compile_loops``: the cache goes to the user's cache
  folder, see ``kernels/_jit.py``); ``prange`` runs the images of the batch in parallel
  (each image writes only its own slice of the output, so there are no races). The padding is
  handled by a bounds check instead of a padded copy.

``im2col`` / ``col2im`` dispatch: a NumPy array takes the numba path when
``backend.use_numba(array)`` (the default; force the generic path with the environment variable
``MINITORCH_CNN_KERNELS=generic`` or ``backend.set_kernel_path("generic")``); a CuPy array takes
the CUDA kernels of ``kernels/cuda.py`` (col2im as a gather, no atomics) on the same default
path, and the generic path when it is forced.

Set ``NUMBA_DISABLE_JIT=1`` in the environment to run the numba kernels as ordinary Python
(slow, but steppable in a debugger and printable).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import use_cuda_kernels, use_numba, xp_of

from ._jit import compile_loops


def conv_out_size(size: int, k: int, s: int = 1, p: int = 0, d: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a sliding window along one axis.

    ``out = floor((size + 2p - d·(k-1) - 1) / s) + 1`` (ceil instead of floor with ``ceil_mode``).

    Args:
        size: input length (H or W).
        k: kernel length (kh or kw); the window spans ``d·(k-1) + 1`` input positions.
        s: stride, the step between two windows.
        p: zero padding added on *both* sides.
        d: dilation, the step between two taps of one window.
        ceil_mode: round up, so a last partial window is kept (pooling's ``ceil_mode``); as in
            PyTorch, a window that would start inside the right padding is dropped.

    Returns the number of windows; it can be 0 or negative when the window does not fit, which the
    callers turn into an error naming the op. See also ``im2col``.
    """
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + p:  # the last window would start in the right padding
        out -= 1
    return out


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def im2col_generic(x, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, pad_value=0.0, Ho=None, Wo=None, out=None):
    """Column tensor ``(N, C, kh, kw, Ho, Wo)`` of ``x (N, C, H, W)``, with ``xp`` slicing only.

    ``Ho``/``Wo`` default to ``conv_out_size``; a larger value (pooling's ceil_mode) pads the
    bottom/right with ``pad_value`` as far as the last window needs. ``out``: see ``im2col``.
    """
    xp = xp_of(x)
    N, C, H, W = x.shape
    Ho = conv_out_size(H, kh, sh, ph, dh) if Ho is None else Ho
    Wo = conv_out_size(W, kw, sw, pw, dw) if Wo is None else Wo
    # rows the windows reach: (Ho-1)·sh + (kh-1)·dh + 1; pad below beyond ph when they reach further
    extra_h = max(0, (Ho - 1) * sh + (kh - 1) * dh + 1 - (H + 2 * ph))
    extra_w = max(0, (Wo - 1) * sw + (kw - 1) * dw + 1 - (W + 2 * pw))
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph + extra_h), (pw, pw + extra_w)), constant_values=pad_value)
    cols = xp.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype) if out is None else out
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            # (N, C, Ho, Wo): the input pixels that tap (i, j) of every window sees
            cols[:, :, i, j] = x_pad[:, :, top : top + sh * (Ho - 1) + 1 : sh, left : left + sw * (Wo - 1) + 1 : sw]
    return cols


def col2im_generic(cols, x_shape, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """Adjoint of ``im2col_generic``: ``cols (N, C, kh, kw, Ho, Wo)`` summed back into ``(N, C, H, W)``."""
    xp = xp_of(cols)
    N, C, kh, kw, Ho, Wo = cols.shape
    H, W = x_shape[2], x_shape[3]
    extra_h = max(0, (Ho - 1) * sh + (kh - 1) * dh + 1 - (H + 2 * ph))
    extra_w = max(0, (Wo - 1) * sw + (kw - 1) * dw + 1 - (W + 2 * pw))
    dx_pad = xp.zeros((N, C, H + 2 * ph + extra_h, W + 2 * pw + extra_w), dtype=cols.dtype)
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            # (N, C, Ho, Wo) added back where im2col copied it from; overlapping windows add up.
            # Within one offset (i, j) the target pixels are distinct, so `+=` on a slice is exact.
            dx_pad[:, :, top : top + sh * (Ho - 1) + 1 : sh, left : left + sw * (Wo - 1) + 1 : sw] += cols[:, :, i, j]
    return dx_pad[:, :, ph : ph + H, pw : pw + W]  # (N, C, H, W): drop the padding


# ---------------------------------------------------------------- numba path (NumPy, CPU)
# The loops write and read the batch-inner layout cols_t (C, kh, kw, N, Ho, Wo), conv2d's, where
# cols_t[c, i, j, n] == cols[n, c, i, j] and cols_t read as (C·kh·kw, N·Ho·Wo) is the column matrix
# of the whole batch. im2col_numba hands the (N, C, kh, kw, Ho, Wo) view of it to other callers.
def im2col_loops(x, cols_t, sh, sw, ph, pw, dh, dw, pad_value):
    """Fill ``cols_t (C, kh, kw, N, Ho, Wo)`` from ``x (N, C, H, W)``; plain loops, parallel over N."""
    N, C, H, W = x.shape
    kh, kw, Ho, Wo = cols_t.shape[1], cols_t.shape[2], cols_t.shape[4], cols_t.shape[5]
    for n in prange(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(Ho):
                        h = oh * sh - ph + i * dh
                        for ow in range(Wo):
                            w = ow * sw - pw + j * dw
                            if 0 <= h < H and 0 <= w < W:
                                cols_t[c, i, j, n, oh, ow] = x[n, c, h, w]
                            else:
                                cols_t[c, i, j, n, oh, ow] = pad_value


def col2im_loops(cols_t, dx, sh, sw, ph, pw, dh, dw):
    """Add ``cols_t (C, kh, kw, N, Ho, Wo)`` into the zeroed ``dx (N, C, H, W)``; the adjoint loops."""
    N, C, H, W = dx.shape
    kh, kw, Ho, Wo = cols_t.shape[1], cols_t.shape[2], cols_t.shape[4], cols_t.shape[5]
    for n in prange(N):  # image n writes only dx[n]: no two threads touch the same pixel
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(Ho):
                        h = oh * sh - ph + i * dh
                        if h < 0 or h >= H:
                            continue  # this row of windows sits in the padding
                        for ow in range(Wo):
                            w = ow * sw - pw + j * dw
                            if 0 <= w < W:
                                dx[n, c, h, w] += cols_t[c, i, j, n, oh, ow]


_im2col_jit = compile_loops(im2col_loops)
_col2im_jit = compile_loops(col2im_loops)


def _batch_inner(cols):
    """``cols (N, C, kh, kw, Ho, Wo)`` as ``(C, kh, kw, N, Ho, Wo)`` when that is its contiguous layout, else None."""
    cols_t = cols.transpose(1, 2, 3, 0, 4, 5)
    return cols_t if cols_t.flags.c_contiguous else None


def im2col_numba(x, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, pad_value=0.0, Ho=None, Wo=None, out=None):
    """Same contract as ``im2col_generic``, for NumPy arrays, with the jitted loops.

    Without ``out``, the result is the (N, C, kh, kw, Ho, Wo) view of a new batch-inner array.
    """
    N, C, H, W = x.shape
    Ho = conv_out_size(H, kh, sh, ph, dh) if Ho is None else Ho
    Wo = conv_out_size(W, kw, sw, pw, dw) if Wo is None else Wo
    x = np.ascontiguousarray(x)  # one compiled layout per dtype
    cols_t = _batch_inner(out) if out is not None else np.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    if cols_t is None:  # an ``out`` in another layout: fill a batch-inner array, then copy
        out[...] = im2col_numba(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, Ho, Wo)
        return out
    _im2col_jit(x, cols_t, sh, sw, ph, pw, dh, dw, x.dtype.type(pad_value))
    return cols_t.transpose(3, 0, 1, 2, 4, 5) if out is None else out


def col2im_numba(cols, x_shape, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """Same contract as ``col2im_generic``, for NumPy arrays, with the jitted loops.

    ``cols`` in any other layout than conv2d's batch-inner one is first copied into it.
    """
    dx = np.zeros(tuple(x_shape), dtype=cols.dtype)
    cols_t = _batch_inner(cols)
    if cols_t is None:
        cols_t = np.ascontiguousarray(cols.transpose(1, 2, 3, 0, 4, 5))  # (C, kh, kw, N, Ho, Wo)
    _col2im_jit(cols_t, dx, sh, sw, ph, pw, dh, dw)
    return dx


# ---------------------------------------------------------------- dispatch
def im2col(x, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, pad_value=0.0, Ho=None, Wo=None, out=None):
    """Gather every kh×kw window of ``x (N, C, H, W)`` into ``cols (N, C, kh, kw, Ho, Wo)``.

    ``cols[n, c, i, j, oh, ow] = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw]``; positions in the
    padding read ``pad_value`` (0 for convolution and average pooling, -inf for max pooling).
    Always a new array (never a view of ``x``), or ``out`` when given: an array of that shape
    and dtype with any strides, e.g. ``buf.transpose(3, 0, 1, 2, 4, 5)`` of a ``buf`` laid out
    ``(C, kh, kw, N, Ho, Wo)`` so that ``buf.reshape(C·kh·kw, N·Ho·Wo)`` is one column matrix for
    the whole batch (conv2d's layout). The numba path serves NumPy arrays, the generic path CuPy
    arrays (and NumPy when the generic path is forced).

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2, 2).reshape(4, 4)   # rows: taps (i, j); columns: output positions (oh, ow)
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    if use_cuda_kernels(x):
        from .cuda import im2col_cuda  # loaded with the first CuPy array

        cols = im2col_cuda(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, Ho, Wo)
        if out is None:
            return cols
        out[...] = cols
        return out
    impl = im2col_numba if use_numba(x) else im2col_generic
    return impl(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, Ho, Wo, out)


def col2im(cols, x_shape, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1):
    """Adjoint of ``im2col``: add every entry of ``cols (N, C, kh, kw, Ho, Wo)`` back to its pixel.

    ``cols`` may be a strided view (the transposed layout ``im2col``'s ``out`` describes).

    Returns a new ``(N, C, H, W)`` array (``x_shape``); entries that came from the padding are
    dropped, entries from overlapping windows add up.

    >>> col2im(np.ones((1, 1, 2, 2, 2, 2)), (1, 1, 3, 3))[0, 0]   # how many windows see each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    if use_cuda_kernels(cols):
        from .cuda import col2im_cuda as impl  # loaded with the first CuPy array
    else:
        impl = col2im_numba if use_numba(cols) else col2im_generic
    return impl(cols, x_shape, sh, sw, ph, pw, dh, dw)
