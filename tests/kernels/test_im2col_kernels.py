"""kernels/im2col.py: im2col / col2im on every kernel path against plain loops (and, where a test
covers both, the pooling kernels beside them: dtypes kept, un-jitted loops, several threads).

Oracles: the defining formula of the column layout written as loops; the adjoint identity
<im2col(x), c> = <x, col2im(c)>; the numba and generic paths against each other; the un-jitted
numba loops against the jitted ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from _conv_cases import (
    examples,
    geometries,
    out_size,
    path,
    to_xp,
    window,
)
from hypothesis import given
from hypothesis import strategies as st
from minitorch_cnn.kernels.im2col import col2im_loops, im2col_loops
from minitorch_cnn.kernels.pooling import max_pool2d_forward_generic, max_pool2d_forward_loops

from minitorch_cnn import backend, kernels

__all__ = ["path"]  # the fixture, imported for pytest


def im2col_reference(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value=0.0):
    """cols[c, i, j, n, oh, ow] = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw], one entry at a time."""
    N, C, H, W = x.shape
    Ho, Wo = out_size(H, kh, sh, ph, dh), out_size(W, kw, sw, pw, dw)
    cols = np.full((C, kh, kw, N, Ho, Wo), pad_value, dtype=x.dtype)
    for c, i, j, n, oh, ow in np.ndindex(cols.shape):
        h, w = oh * sh - ph + i * dh, ow * sw - pw + j * dw
        if 0 <= h < H and 0 <= w < W:
            cols[c, i, j, n, oh, ow] = x[n, c, h, w]
    return cols


def test_worked_column_matrix(path):
    """The 3×3 example of docs/conv_backprop.md: rows are taps, columns output positions."""
    x = to_xp(np.arange(9.0).reshape(1, 1, 3, 3), path)
    cols = backend.to_numpy(kernels.im2col(x, window(3, 3, 2, 2)))
    np.testing.assert_array_equal(cols.reshape(4, 4), [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    counts = backend.to_numpy(kernels.col2im(to_xp(np.ones((1, 2, 2, 1, 2, 2)), path), (1, 1, 3, 3), window(3, 3, 2, 2)))
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@examples(30)
@given(geo=geometries(), n=st.integers(1, 2), c=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_im2col_matches_definition_and_is_adjoint(path, geo, n, c, seed):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, H, W))
    win = window(H, W, kh, kw, sh, sw, ph, pw, dh, dw)
    cols = kernels.im2col(to_xp(x, path), win)
    np.testing.assert_array_equal(backend.to_numpy(cols), im2col_reference(x, kh, kw, sh, sw, ph, pw, dh, dw))

    c_arr = rng.standard_normal(cols.shape)
    back = backend.to_numpy(kernels.col2im(to_xp(c_arr, path), x.shape, win))
    assert back.shape == x.shape
    # col2im is the transpose of im2col: <im2col(x), c> = <x, col2im(c)>
    lhs, rhs = np.vdot(backend.to_numpy(cols), c_arr), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-12 * (1 + abs(lhs))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(path, dtype):
    x = to_xp(np.ones((2, 3, 5, 4), dtype), path)
    win = window(5, 4, 3, 2, 1, 2, 1, 0, 1, 1)
    cols = kernels.im2col(x, win)
    assert cols.dtype == dtype and cols.shape == (3, 3, 2, 2, 5, 2)
    assert kernels.col2im(cols, x.shape, win).dtype == dtype
    pool = window(5, 4, 2, 2, 2, 2)
    y, argmax = kernels.max_pool2d_forward(x, pool)
    assert y.dtype == dtype and argmax.dtype == np.int64
    assert kernels.max_pool2d_backward(y, argmax, x.shape, pool).dtype == dtype
    s = kernels.sum_pool2d_forward(x, pool)
    assert s.dtype == dtype and kernels.sum_pool2d_backward(s, x.shape, pool).dtype == dtype


def test_non_contiguous_input(path):
    base = np.random.default_rng(0).standard_normal((2, 3, 6, 10))
    x = base[:, :, :, ::2]  # (2, 3, 6, 5), strided view
    got = backend.to_numpy(kernels.im2col(to_xp(x, path) if path == "cuda" else x, window(6, 5, 2, 3, 1, 1, 1, 1, 1, 1)))
    np.testing.assert_array_equal(got, im2col_reference(np.ascontiguousarray(x), 2, 3, 1, 1, 1, 1, 1, 1))


def test_numba_and_generic_agree_float32():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 9, 7)).astype(np.float32)
    win = window(9, 7, 3, 2, 2, 1, 1, 1, 2, 1)
    a = kernels.im2col_numba(x, win)
    np.testing.assert_array_equal(a, kernels.im2col_generic(x, win))
    c = rng.standard_normal(a.shape).astype(np.float32)
    np.testing.assert_allclose(
        kernels.col2im_numba(c, x.shape, win), kernels.col2im_generic(c, x.shape, win), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("path", ["numba", "generic"])
def test_batch_inner_layout_equals_the_plain_one(path):
    """im2col's one layout (C, kh, kw, N, Ho, Wo) is the per-image (N, C, kh, kw, Ho, Wo) one with N
    moved inside; col2im reads any strides of it (a transposed view gives what its copy gives)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 9, 7)).astype(np.float32)
    win = window(9, 7, 3, 2, 2, 1, 1, 1, 2, 1)
    im2col, col2im = (
        (kernels.im2col_numba, kernels.col2im_numba) if path == "numba" else (kernels.im2col_generic, kernels.col2im_generic)
    )
    cols = im2col(x, win)
    plain = np.stack([im2col(x[n : n + 1], win)[:, :, :, 0] for n in range(len(x))])  # (N, C, kh, kw, Ho, Wo)
    np.testing.assert_array_equal(cols.transpose(3, 0, 1, 2, 4, 5), plain)
    c = rng.standard_normal(plain.shape).astype(np.float32)  # (N, C, kh, kw, Ho, Wo)
    view = c.transpose(1, 2, 3, 0, 4, 5)  # (C, kh, kw, N, Ho, Wo), strided
    np.testing.assert_array_equal(col2im(view, x.shape, win), col2im(np.ascontiguousarray(view), x.shape, win))


def test_unjitted_loops_run_as_plain_python():
    """The numba kernels are plain Python functions; run them un-jitted on a tiny input."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 4, 3))
    cols = np.empty((2, 2, 2, 1, 3, 2))  # the column layout (C, kh, kw, N, Ho, Wo)
    im2col_loops(x, cols, 1, 1, 0, 0, 1, 1, 0.0)
    np.testing.assert_array_equal(cols, im2col_reference(x, 2, 2, 1, 1, 0, 0, 1, 1))
    dx = np.zeros(x.shape)
    col2im_loops(cols, dx, 1, 1, 0, 0, 1, 1)
    np.testing.assert_allclose(dx, kernels.col2im_generic(cols, x.shape, window(4, 3, 2, 2)))
    y, argmax = np.empty((1, 2, 2, 1)), np.empty((1, 2, 2, 1), np.int64)
    max_pool2d_forward_loops(x, y, argmax, 2, 2, 2, 2, 0, 0, 1, 1)
    y_ref, argmax_ref = max_pool2d_forward_generic(x, window(4, 3, 2, 2, 2, 2))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)


def test_kernels_on_several_threads_equal_one_thread():
    """The prange loops give the same bits on every thread count (each image writes only its own
    slice, so there is nothing to race on)."""
    import numba
    from minitorch_cnn.kernels import pooling

    threads = min(4, numba.config.NUMBA_NUM_THREADS)
    if threads < 2:
        pytest.skip("numba sees a single CPU: nothing to run in parallel")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 3, 9, 8)).astype(np.float32)
    runs = []
    previous, previous_path = numba.get_num_threads(), backend.get_kernel_path()
    backend.set_kernel_path("numba")
    try:
        for t in (1, threads):
            numba.set_num_threads(t)
            win = window(9, 8, 3, 2, 2, 1, 1, 0, 1, 2)
            cols = kernels.im2col(x, win)
            dx = kernels.col2im(cols, x.shape, win)
            max_win, sum_win = window(9, 8, 3, 3, 2, 2, 1, 1), window(9, 8, 2, 2, 1, 1)
            y, arg = pooling.max_pool2d_forward(x, max_win)
            dmax = pooling.max_pool2d_backward(np.ones_like(y), arg, x.shape, max_win)
            s = pooling.sum_pool2d_forward(x, sum_win)
            ds = pooling.sum_pool2d_backward(np.ones_like(s), x.shape, sum_win)
            runs.append((cols, dx, y, arg, dmax, s, ds))
    finally:
        numba.set_num_threads(previous)
        backend.set_kernel_path(previous_path)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
