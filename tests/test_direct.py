"""Direct convolution (kernels/direct.py, functional/direct.py) against the oracles: plain loops
(conv2d_reference and its backward), the im2col ``Conv2d`` in float64 to round-off, PyTorch,
float64 finite differences (gradcheck), the un-jitted loops; its thread-count independence; and
where ``conv2d`` sends a layer under each algorithm setting."""

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
from minitorch_cnn.kernels import direct as dk

import minitorch_cnn as mt
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import Conv2dFn
from minitorch_cnn.functional.direct import DirectConv2dFn, direct_pays
from minitorch_cnn.testing import gradcheck


@examples(15)
@given(
    st.integers(1, 10),  # N: more than one DW_BLOCK of images at the top
    st.integers(1, 3),
    st.integers(1, 5),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(0, 2),
    st.integers(0, 2),
    st.booleans(),
)
def test_equals_loops_and_im2col_in_float64(N, C, O, H, W, kh, kw, ph, pw, with_bias):
    if kh > H + 2 * ph or kw > W + 2 * pw:
        return
    rng = np.random.default_rng(N * 1000 + C * 100 + O * 10 + H + W + kh + kw + ph + pw)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, kh, kw))
    b = rng.standard_normal(O) if with_bias else None
    g = rng.standard_normal((N, O, H + 2 * ph - kh + 1, W + 2 * pw - kw + 1))
    fn, y, dx, dw, db = run_algorithm("direct", x, w, b, (ph, pw), g)
    assert fn is DirectConv2dFn

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


@pytest.mark.parametrize(("shape", "O", "kernel", "pad"), [((9, 1, 28, 28), 6, 5, 2), ((3, 6, 14, 14), 16, 5, 0), ((2, 3, 7, 10), 4, 3, 1)])
def test_matches_pytorch_in_float32(shape, O, kernel, pad):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((O, shape[1], kernel, kernel)) / kernel).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    g = rng.standard_normal((shape[0], O, shape[2] + 2 * pad - kernel + 1, shape[3] + 2 * pad - kernel + 1)).astype(np.float32)
    fn, y, dx, dw, db = run_algorithm("direct", x, w, b, (pad, pad), g)
    assert fn is DirectConv2dFn and y.dtype == dx.dtype == dw.dtype == db.dtype == np.float32

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv2d(tx, tw, tb, padding=pad)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6 * np.abs(theirs).max())


def test_gradcheck():
    rng = np.random.default_rng(3)
    x = mt.tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    w = mt.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = mt.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: DirectConv2dFn.apply(x, w, b, padding=(1, 2)), [x, w, b])


def test_only_the_needed_gradients_are_computed():
    check_only_the_needed_gradients("direct", DirectConv2dFn)


def test_plain_loops_unjitted_give_the_compiled_numbers():
    """The ``*_loops`` functions are plain Python: run as written, they give the compiled kernels' results."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    g = rng.standard_normal((2, 3, 5, 5))
    y = np.empty((2, 3, 5, 5))
    dk.direct_forward_loops(x, w, b, y, 1, 1)
    np.testing.assert_allclose(y, dk.direct_conv2d_forward(x, w, b, 1, 1), rtol=1e-12)
    dx = np.empty_like(x)
    dk.direct_backward_input_loops(g, w, dx, 1, 1)
    np.testing.assert_allclose(dx, dk.direct_conv2d_backward_input(g, w, x.shape, 1, 1), rtol=1e-12)
    dw_blocks, db_blocks = np.empty((1, 3, 2, 2, 3)), np.empty((1, 3))
    dk.direct_backward_params_loops(g, x, dw_blocks, db_blocks, 1, 1)
    dw, db = dk.direct_conv2d_backward_params(g, x, (2, 3), 1, 1)
    np.testing.assert_allclose(dw_blocks[0], dw, rtol=1e-12)
    np.testing.assert_allclose(db_blocks[0], db, rtol=1e-12)
    np.testing.assert_allclose(db, g.sum(axis=(0, 2, 3)), rtol=1e-12)  # the definition


def test_same_bits_on_one_and_on_every_thread():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((37, 2, 12, 12)).astype(np.float32)  # 5 blocks of images, the last one short
    w = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    g = rng.standard_normal((37, 4, 12, 12)).astype(np.float32)
    assert_same_bits(*on_one_and_every_thread(lambda: (
        dk.direct_conv2d_forward(x, w, None, 2, 2), *dk.direct_conv2d_backward_params(g, x, (5, 5), 2, 2),
        dk.direct_conv2d_backward_input(g, w, x.shape, 2, 2))))


# ---------------------------------------------------------------- where conv2d sends a layer
def test_default_sends_small_windows_to_the_direct_loops():
    assert mt.get_conv_algorithm() == "default"
    lenet_first = (mt.randn(2, 1, 28, 28), mt.randn(6, 1, 5, 5, requires_grad=True))
    lenet_second = (mt.randn(2, 6, 14, 14, requires_grad=True), mt.randn(16, 6, 5, 5, requires_grad=True))
    wide = (mt.randn(2, 3, 8, 8), mt.randn(64, 3, 3, 3, requires_grad=True))
    assert conv2d(*lenet_first, padding=2).grad_fn.function is DirectConv2dFn
    assert conv2d(*lenet_second).grad_fn.function is Conv2dFn  # 150 taps per window
    assert conv2d(*wide, padding=1).grad_fn.function is Conv2dFn  # 64 output channels
    assert direct_pays((32, 3, 5, 5)) and not direct_pays((33, 3, 5, 5))
    assert not direct_pays((8, 4, 5, 5)) and not direct_pays((8, 1, 76, 1))  # 76 taps: one past the rule
    assert conv2d(*lenet_first, padding=2, stride=2).grad_fn.function is Conv2dFn
    assert conv2d(*lenet_first, padding=2, dilation=2).grad_fn.function is Conv2dFn
    assert conv2d(*lenet_first, padding="same").grad_fn.function is DirectConv2dFn  # odd kernel: even padding
    even = mt.randn(6, 1, 4, 4, requires_grad=True)
    assert conv2d(lenet_first[0], even, padding="same").grad_fn.function is Conv2dFn  # uneven padding
    with mt.conv_algorithm("im2col"):
        assert conv2d(*lenet_first, padding=2).grad_fn.function is Conv2dFn
    with mt.conv_algorithm("direct"):
        assert conv2d(*wide, padding=1).grad_fn.function is DirectConv2dFn


def test_generic_path_uses_im2col(kernel_path):
    """The direct loops are numba-only; the array-generic path (CuPy's) takes the column matrix."""
    y = conv2d(mt.randn(2, 1, 8, 8), mt.randn(6, 1, 5, 5, requires_grad=True), padding=2)
    assert y.grad_fn.function is (DirectConv2dFn if kernel_path == "numba" else Conv2dFn)


def test_padding_same_matches_the_definition():
    x, w = np.random.default_rng(8).standard_normal((2, 3, 7, 5)), np.random.default_rng(9).standard_normal((4, 3, 3, 3))
    with mt.conv_algorithm("direct"):
        y = conv2d(mt.tensor(x), mt.tensor(w), padding="same")
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x, w, padding=(1, 1)), atol=1e-12)

