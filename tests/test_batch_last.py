"""The batch-last columns (kernels/batch_last.py, functional/batch_last.py) against the oracles: plain
loops (conv2d_reference and its backward), the im2col ``Conv2d`` in float64 to round-off, PyTorch in
float32, float64 finite differences (gradcheck), the un-jitted loops and im2col's own columns; the
same bits on one and every thread, chunked or not; and where ``conv2d`` sends a layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import (
    assert_same_bits,
    check_only_the_needed_gradients,
    conv2d_backward_reference,
    conv2d_reference,
    examples,
    on_one_and_every_thread,
    run_algorithm,
)
from hypothesis import given
from hypothesis import strategies as st
from minitorch_cnn.kernels import Window, im2col_numba
from minitorch_cnn.kernels import batch_last as bk

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.batch_last import MIN_RUN_IMAGES, BatchLastConv2dFn, batch_last_pays
from minitorch_cnn.functional.conv import Conv2dFn
from minitorch_cnn.functional.direct import DirectConv2dFn
from minitorch_cnn.testing import gradcheck


@examples(15)
@given(
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(1, 5),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(0, 2),
    st.integers(0, 2),
    st.booleans(),
    st.sampled_from([None, 1, 2]),  # images per chunk (None: the default chunks)
)
def test_equals_loops_and_im2col_in_float64(N, C, O, H, W, kh, kw, ph, pw, with_bias, per_chunk):
    if kh > H + 2 * ph or kw > W + 2 * pw:
        return
    rng = np.random.default_rng(N * 1000 + C * 100 + O * 10 + H + W + kh + kw + ph + pw)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, kh, kw))
    b = rng.standard_normal(O) if with_bias else None
    Ho, Wo = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
    g = rng.standard_normal((N, O, Ho, Wo))
    budget = backend.get_conv_memory_budget() if per_chunk is None else per_chunk * C * kh * kw * Ho * Wo * 8
    with backend.conv_memory_budget(budget):
        fn, y, dx, dw, db = run_algorithm("batch_last", x, w, b, (ph, pw), g)
    assert fn is BatchLastConv2dFn

    np.testing.assert_allclose(y, conv2d_reference(x, w, b, padding=(ph, pw)), rtol=1e-10, atol=1e-10)
    rdx, rdw, rdb = conv2d_backward_reference(x, w, g, padding=(ph, pw))
    np.testing.assert_allclose(dx, rdx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, rdw, rtol=1e-10, atol=1e-10)
    if with_bias:
        np.testing.assert_allclose(db, rdb, rtol=1e-10, atol=1e-10)

    fn, *im2col = run_algorithm("im2col", x, w, b, (ph, pw), g)  # the reading path, to round-off
    assert fn is Conv2dFn
    for ours, theirs in zip((y, dx, dw, db), im2col):
        if theirs is not None:
            scale = max(1.0, np.abs(theirs).max())
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-13 * scale * (1 + N * H * W * (ours is dw)))


def test_columns_are_im2cols_with_the_batch_moved_last():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 6, 7))
    cols = bk.batch_last_columns(bk.to_batch_last(x, 1, 2), (3, 2))  # (C, kh, kw, Ho, Wo, n)
    reference = im2col_numba(x, Window.fit((6, 7), (3, 2), (1, 1), (1, 2), (1, 1)))  # (C, kh, kw, N, Ho, Wo)
    np.testing.assert_array_equal(cols, reference.transpose(0, 1, 2, 4, 5, 3))
    # col2im is the adjoint: <cols(x), c> = <x, col2im(c)> (padding dropped by the caller)
    c = rng.standard_normal(cols.shape)
    dxb = bk.batch_last_col2im(c, (2, 8, 11, 3))
    dx = dxb[:, 1:7, 2:9].transpose(3, 0, 1, 2)
    assert abs(np.vdot(cols, c) - np.vdot(x, dx)) < 1e-10 * (1 + abs(np.vdot(cols, c)))


@pytest.mark.parametrize(("shape", "O", "kernel", "pad", "algorithm"),
                         [((40, 6, 14, 14), 16, 5, 0, "default"), ((33, 3, 7, 10), 4, 3, 1, "batch_last")])
def test_matches_pytorch_in_float32(shape, O, kernel, pad, algorithm):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((O, shape[1], kernel, kernel)) / kernel).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    g = rng.standard_normal((shape[0], O, shape[2] + 2 * pad - kernel + 1, shape[3] + 2 * pad - kernel + 1)).astype(np.float32)
    fn, y, dx, dw, db = run_algorithm(algorithm, x, w, b, (pad, pad), g)
    assert fn is BatchLastConv2dFn and y.dtype == dx.dtype == dw.dtype == db.dtype == np.float32

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv2d(tx, tw, tb, padding=pad)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6 * np.abs(theirs).max())


def test_gradcheck():
    rng = np.random.default_rng(3)
    x = mt.tensor(rng.standard_normal((3, 2, 5, 6)), requires_grad=True)
    w = mt.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = mt.tensor(rng.standard_normal(3), requires_grad=True)
    with backend.conv_memory_budget(2 * 12 * 6 * 9 * 8):  # 2 images per chunk: two chunks
        assert gradcheck(lambda x, w, b: BatchLastConv2dFn.apply(x, w, b, padding=(1, 2)), [x, w, b])


@pytest.mark.parametrize("keep", [True, False])
def test_only_the_needed_gradients_are_computed(monkeypatch, keep):
    if not keep:  # the columns are built again in backward
        monkeypatch.setattr(backend, "KEEP_COLS_BYTES", 0)
    check_only_the_needed_gradients("batch_last", BatchLastConv2dFn)


def test_plain_loops_unjitted_give_the_compiled_numbers():
    """The ``*_loops`` functions are plain Python: run as written, they give the compiled kernels' bits."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4, 5))
    xb = np.empty((2, 6, 9, 3))
    bk.to_batch_last_loops(x, 1, 2, xb)
    np.testing.assert_array_equal(xb, bk.to_batch_last(x, 1, 2))
    cols = np.empty((2, 3, 2, 4, 8, 3))
    bk.batch_last_columns_loops(xb, cols)
    np.testing.assert_array_equal(cols, bk.batch_last_columns(xb, (3, 2)))
    c = rng.standard_normal(cols.shape)
    dxb = np.empty_like(xb)
    bk.batch_last_col2im_loops(c, dxb)
    np.testing.assert_array_equal(dxb, bk.batch_last_col2im(c, xb.shape))


def test_same_bits_on_one_and_on_every_thread():
    """One thread (numba's and OpenBLAS's, as OMP_NUM_THREADS=1 gives) against every thread, where the
    chunks run on a thread each with OpenBLAS on one thread inside (minitorch_cnn/_chunks.py)."""
    from minitorch_cnn import _chunks

    if not _chunks._pool_takes_threads():  # numba's workqueue layer: chunks stay on the caller, BLAS on 2 threads
        pytest.skip("chunks run on the calling thread here (numba's pool is not OpenMP/TBB): BLAS's own "
                    "threads then split the products and may change the last bits")
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((70, 6, 14, 14)).astype(np.float32), rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    g = rng.standard_normal((70, 16, 10, 10)).astype(np.float32)
    assert_same_bits(*on_one_and_every_thread(lambda: run_algorithm("batch_last", x, w, None, (0, 0), g)[1:]))


# ---------------------------------------------------------------- where conv2d sends a layer
def test_default_sends_layers_with_many_images_per_chunk_here():
    assert mt.get_conv_algorithm() == "default"
    lenet_second = (mt.randn(256, 6, 14, 14, requires_grad=True), mt.randn(16, 6, 5, 5, requires_grad=True))
    assert conv2d(*lenet_second).grad_fn.function is BatchLastConv2dFn  # 60 KiB of columns per image: 34 per chunk
    assert conv2d(lenet_second[0][:8], lenet_second[1]).grad_fn.function is Conv2dFn  # a batch of 8: short runs
    assert conv2d(*lenet_second, stride=2).grad_fn.function is Conv2dFn  # the loops are stride 1 only
    lenet_first = (mt.randn(256, 1, 28, 28), mt.randn(6, 1, 5, 5, requires_grad=True))
    assert conv2d(*lenet_first, padding=2).grad_fn.function is DirectConv2dFn  # few taps: the direct loops first
    tile = backend.CPU_CONV_TILE_BYTES
    assert tile == 2 * 2**20
    per_image = tile // MIN_RUN_IMAGES  # exactly MIN_RUN_IMAGES images per chunk pays, one channel more does not
    assert 16 * 2 * 2 * 16 * 16 * 4 == per_image  # C = 16, 2×2 kernel, 16×16 outputs, float32
    assert batch_last_pays((64, 16, 17, 17), (8, 16, 2, 2), (0, 0), 4)
    assert not batch_last_pays((64, 17, 17, 17), (8, 17, 2, 2), (0, 0), 4)
    assert not batch_last_pays((MIN_RUN_IMAGES - 1, 1, 8, 8), (16, 1, 3, 3), (1, 1), 4)
    with mt.conv_algorithm("im2col"):
        assert conv2d(*lenet_second).grad_fn.function is Conv2dFn
    with mt.conv_algorithm("batch_last"):
        assert conv2d(*lenet_first, padding=2).grad_fn.function is BatchLastConv2dFn


def test_generic_path_uses_im2col(kernel_path):
    """The batch-last loops are numba-only; the array-generic path (CuPy's) takes the column matrix."""
    y = conv2d(mt.randn(64, 6, 14, 14), mt.randn(16, 6, 5, 5, requires_grad=True))
    assert y.grad_fn.function is (BatchLastConv2dFn if kernel_path == "numba" else Conv2dFn)
