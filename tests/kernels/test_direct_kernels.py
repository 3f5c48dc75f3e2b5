"""The direct convolution's loops (kernels/direct.py): run un-jitted, as plain Python, they give the
compiled kernels' numbers, and the compiled kernels give the same bits on one thread and on every
thread (the images' fixed blocks of dW). The op built on them is checked against every oracle by the
conformance suite (functional/conv/test_conformance.py)."""

from __future__ import annotations

import numpy as np
from _conv_cases import assert_same_bits, on_one_and_every_thread
from minitorch_cnn.kernels import direct as dk


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


def _kinds(a):
    return np.where(np.isnan(a), "n", np.where(np.isposinf(a), "+", np.where(np.isneginf(a), "-", ".")))


def test_inf_and_nan_reach_only_the_gradients_of_the_definition():
    """The junk places of the wide rows hold zeros: 0 · inf would be NaN, so dw and dx skip them. The
    definitions below, on the zero-padded input, give the inf/NaN positions (PyTorch's float64 ones)."""
    rng = np.random.default_rng(6)
    x, w, g = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((2, 3, 5, 6))
    x[0, 1, 2, 5], x[1, 0, 4, 0], w[1, 0, 2, 2], w[2, 1, 0, 0] = np.inf, np.nan, -np.inf, np.nan
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    taps = lambda a, i, j: a[:, :, i : i + 5, j : j + 6]  # what tap (i, j) of every window reads
    with np.errstate(invalid="ignore"):
        dw = np.stack([np.einsum("nohw,nchw->oc", g, taps(xp, i, j)) for i in range(3) for j in range(3)], -1)
        dxp = np.zeros_like(xp)
        for i in range(3):
            for j in range(3):
                dxp[:, :, i : i + 5, j : j + 6] += np.einsum("oc,nohw->nchw", w[:, :, i, j], g)
        ours_dw, _ = dk.direct_conv2d_backward_params(g, x, (3, 3), 1, 1)
        ours_dx = dk.direct_conv2d_backward_input(g, w, x.shape, 1, 1)
    np.testing.assert_array_equal(_kinds(ours_dw), _kinds(dw.reshape(3, 2, 3, 3)))
    np.testing.assert_array_equal(_kinds(ours_dx), _kinds(dxp[:, :, 1:-1, 1:-1]))
