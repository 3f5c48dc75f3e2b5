"""kernels/: im2col / col2im and the pooling kernels, on both paths, against plain loops.

Oracles: the defining formula of the column layout written as loops; the adjoint identity
<im2col(x), c> = <x, col2im(c)>; the numba and generic paths against each other; the un-jitted
numba loops against the jitted ones.
"""

from __future__ import annotations

import os

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


def test_parallel_loops_run_on_numbas_tbb_or_openmp_pool():
    """kernels/ picks numba's TBB layer where the tbb package is installed (a kernel starts in
    microseconds there, against ~60 us on OpenMP's sleeping workers), else OpenMP (the LeNet step's
    short kernels hand over faster than on the workqueue pool), and as many kernel threads as
    OMP_NUM_THREADS says (else every core), unless the user set NUMBA_THREADING_LAYER / NUMBA_NUM_THREADS."""
    import os

    import numba
    from minitorch_cnn.kernels import im2col
    from minitorch_cnn.kernels._jit import load_tbb

    im2col(np.ones((2, 2, 5, 5), np.float32), window(5, 5, 3, 3))  # starts numba's pool
    expected = os.environ.get("NUMBA_THREADING_LAYER", "tbb" if load_tbb() else "omp")
    if "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ and expected in ("workqueue", "omp", "tbb"):
        assert numba.threading_layer() == expected
    if "NUMBA_NUM_THREADS" not in os.environ:
        assert numba.get_num_threads() == kernels.default_threads()


def test_load_tbb_says_no_where_the_package_or_its_library_is_missing(monkeypatch):
    import importlib.metadata

    from minitorch_cnn.kernels._jit import load_tbb

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    assert load_tbb() is False
    no_library = type("Dist", (), {"files": [importlib.metadata.PackagePath("tbb-2022.3.1.dist-info/METADATA")]})()
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: no_library)
    assert load_tbb() is False


def test_thread_defaults_follow_omp_num_threads(monkeypatch):
    import numba

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert kernels.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "100000")
    assert kernels.default_threads() == numba.config.NUMBA_NUM_THREADS  # never above the pool
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert kernels.default_threads() == numba.config.NUMBA_NUM_THREADS
    monkeypatch.setenv("OMP_NUM_THREADS", "four")
    assert kernels.default_threads() == numba.config.NUMBA_NUM_THREADS


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


def test_compiled_loops_are_cached_outside_the_package(monkeypatch, tmp_path):
    """numba's cache goes to the user's cache folder: files beside an installed package are unknown to
    pip, outlive an uninstall, and then shadow an editable install as an empty namespace package."""
    import importlib
    from pathlib import Path

    import numba
    from minitorch_cnn.kernels import _jit

    im2col_module = importlib.import_module("minitorch_cnn.kernels.im2col")
    package = Path(im2col_module.__file__).resolve().parent
    for disp in (im2col_module._im2col_jit, importlib.import_module("minitorch_cnn.kernels.pooling")._max_fwd_jit):
        cache = Path(disp._cache._cache_path).resolve()
        assert cache.is_relative_to(Path(_jit.cache_dir()).resolve())
        assert not cache.is_relative_to(package)
    assert numba.config.CACHE_DIR != _jit.cache_dir() or "NUMBA_CACHE_DIR" in os.environ  # set per call only

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _jit.cache_dir() == str(tmp_path / "minitorch_cnn" / "numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert _jit.cache_dir() == str(tmp_path / "mine")
    with_cache = _jit.compile_loops(lambda a: a + 1)
    assert Path(with_cache._cache._cache_path).is_relative_to(tmp_path / "mine")


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
