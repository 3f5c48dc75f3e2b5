"""The pooling kernels (kernels/pooling.py), on every kernel path, against plain loops: max pooling's
values, first-largest taps and gradient, sum pooling and its adjoint, and the numba path's row loops
for windows that tile the input (jitted and as plain Python). The ops built on them are checked in
functional/test_pooling.py."""

from __future__ import annotations

import numpy as np
import pytest
from _conv_cases import (
    distinct_values,
    examples,
    geometries,
    max_pool2d_reference,
    out_size,
    path,
    to_xp,
    window,
    windows,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from minitorch_cnn import backend, kernels

__all__ = ["path"]  # the fixture, imported for pytest


@examples(30)
@given(
    geo=geometries(pool=True), ceil_mode=st.booleans(), n=st.integers(1, 2), c=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_pool_kernels_match_loops(path, geo, ceil_mode, n, c, seed):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    Ho, Wo = out_size(H, kh, sh, ph, dh, ceil_mode), out_size(W, kw, sw, pw, dw, ceil_mode)
    assume(Ho >= 1 and Wo >= 1)
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, (n, c, H, W))
    assume(all(taps for _, taps, _ in windows(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)))
    g = rng.standard_normal((n, c, Ho, Wo))
    geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
    win = window(H, W, *geometry, Ho, Wo)

    y_ref, argmax_ref, dx_ref = max_pool2d_reference(x, g, *geometry, Ho, Wo)
    y, argmax = kernels.max_pool2d_forward(to_xp(x, path), win)
    np.testing.assert_array_equal(backend.to_numpy(y), y_ref)
    np.testing.assert_array_equal(backend.to_numpy(argmax), argmax_ref)
    dx = kernels.max_pool2d_backward(to_xp(g, path), argmax, x.shape, win)
    np.testing.assert_allclose(backend.to_numpy(dx), dx_ref, rtol=1e-12, atol=1e-12)

    s = backend.to_numpy(kernels.sum_pool2d_forward(to_xp(x, path), win))
    s_ref = np.zeros((n, c, Ho, Wo))
    for idx, taps, _ in windows(x, *geometry, Ho, Wo):
        s_ref[idx] = sum(t[0] for t in taps)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-12)
    # sum pooling's backward is its adjoint
    back = backend.to_numpy(kernels.sum_pool2d_backward(to_xp(g, path), x.shape, win))
    assert abs(np.vdot(s, g) - np.vdot(x, back)) <= 1e-10 * (1 + abs(np.vdot(s, g)))


def test_max_pool_ties_go_to_the_first_tap(path):
    """Equal values: the first in row-major window order wins (PyTorch's CPU rule); padding never wins."""
    x = to_xp(np.zeros((1, 1, 2, 2)), path)
    y, argmax = kernels.max_pool2d_forward(x, window(2, 2, 2, 2, 1, 1))
    assert int(backend.to_numpy(argmax)[0, 0, 0, 0]) == 0
    x = to_xp(-np.ones((1, 1, 2, 2)), path)  # with padding 1, -1 must still beat the -inf padding
    y, argmax = kernels.max_pool2d_forward(x, window(2, 2, 2, 2, 2, 2, 1, 1))
    np.testing.assert_array_equal(backend.to_numpy(y), -np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(backend.to_numpy(argmax)[0, 0], [[3, 2], [1, 0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, kernel", [((2, 3, 4, 6), (2, 2)), ((1, 2, 6, 6), (3, 2)), ((2, 1, 5, 5), (1, 5)),
                                           ((2, 2, 5, 4), (2, 2)), ((3, 6, 28, 28), (2, 2))])
def test_sum_pool_of_tiling_windows_equals_the_loops(shape, kernel, dtype):
    """The numba path's row loops for windows that tile the input (stride = kernel, no padding) give
    the window loops' sums (to round-off: another order of additions) and exactly their dx; (5, 4)
    with a 2×2 kernel leaves a row out and takes the window loops. The row loops run un-jitted too."""
    from minitorch_cnn.kernels.pooling import (
        sum_pool2d_backward_loops,
        sum_pool2d_backward_numba,
        sum_pool2d_backward_tiles_loops,
        sum_pool2d_forward_loops,
        sum_pool2d_forward_numba,
        sum_pool2d_forward_tiles_loops,
    )

    H, W = shape[2:]
    win = window(H, W, *kernel, *kernel, 0, 0, 1, 1, H // kernel[0], W // kernel[1])
    tiles = H % kernel[0] == 0 and W % kernel[1] == 0
    assert win.tiles(shape[2:]) == tiles
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal((*shape[:2], *win.out)).astype(dtype)

    y_ref = np.zeros(g.shape)
    sum_pool2d_forward_loops(x.astype(np.float64), y_ref, *win.ints)  # un-jitted: prange is range in plain Python
    y = sum_pool2d_forward_numba(x, win)
    assert y.shape == g.shape and y.dtype == dtype
    abs_sums = np.zeros(g.shape)
    sum_pool2d_forward_loops(np.abs(x).astype(np.float64), abs_sums, *win.ints)
    # a sum of k terms in any order is within (k - 1)·eps·Σ|terms| of the exact sum (k = kh·kw)
    assert np.all(np.abs(y - y_ref) <= kernel[0] * kernel[1] * np.finfo(dtype).eps * abs_sums)

    dx_ref = np.zeros(shape, dtype=dtype)
    sum_pool2d_backward_loops(g, dx_ref, *win.ints)
    dx = sum_pool2d_backward_numba(g, shape, win)
    assert dx.shape == shape and dx.dtype == dtype
    np.testing.assert_array_equal(dx, dx_ref)

    if tiles:  # the row loops themselves, as plain Python
        y_plain, dx_plain = np.empty_like(y), np.empty_like(x)
        sum_pool2d_forward_tiles_loops(x, y_plain)
        sum_pool2d_backward_tiles_loops(g, dx_plain)
        np.testing.assert_array_equal(y_plain, y)
        np.testing.assert_array_equal(dx_plain, dx)
