"""Winograd's op (functional/conv/fast/winograd.py) beyond the conformance suite: the F(2×2, 3×3) tile,
which the suite's small layers never choose (it pays from 128 channels), against the same oracles;
its float32 error against the column matrix's; and padding "same" through it. The kernels' own
checks (the 1-D definition of minimal filtering, the tile loops, F(4×4)'s float32 error) are in
kernels/test_winograd_kernels.py; its tile rule in test_policy.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import assert_round_off, conv2d_backward_reference, conv2d_reference, leaf, path, to_xp
from minitorch_cnn.kernels import winograd as wk

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import policy
from minitorch_cnn.functional.conv.fast import winograd
from minitorch_cnn.functional.conv.fast.winograd import WinogradConv2dFn
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]  # the fixture, imported for pytest


@pytest.fixture
def f2x2(monkeypatch):
    """Every Winograd layer on F(2×2, 3×3)."""
    monkeypatch.setattr(winograd, "output_tile", lambda spec: 2)


@pytest.mark.parametrize(("shape", "padding"), [((2, 3, 8, 8), 1), ((1, 4, 7, 10), 0), ((2, 2, 5, 6), (2, 1)), ((3, 2, 3, 4), 2)])
def test_f2x2_matches_the_loops_pytorch_and_gradcheck(path, f2x2, shape, padding):
    """Outputs and every gradient against the plain loops and PyTorch (float64), chunked (one image
    per chunk) and not, and float64 finite differences."""
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((5, shape[1], 3, 3)), rng.standard_normal(5)
    pad = (padding, padding) if isinstance(padding, int) else padding
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv2d(tx, tw, tb, padding=pad)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    loops = [conv2d_reference(x, w, b, padding=pad), *conv2d_backward_reference(x, w, g, padding=pad)]
    for budget in (policy.get_conv_memory_budget(), 1):
        xt, wt, bt = leaf(x, path), leaf(w, path), leaf(b, path)
        with mt.conv_algorithm("winograd"), policy.conv_memory_budget(budget):
            y = conv2d(xt, wt, bt, padding=pad)
        assert y.grad_fn.function is WinogradConv2dFn and y.grad_fn.m == 2
        y.backward(to_xp(g, path))
        for what, ours, want, torch_value in zip(("y", "dx", "dW", "db"), (y, xt.grad, wt.grad, bt.grad), loops,
                                                 (ty.detach(), tx.grad, tw.grad, tb.grad)):  # fmt: skip
            assert_round_off(backend.to_numpy(ours.array), want, f"F(2x2) {what} against the loops")
            assert_round_off(backend.to_numpy(ours.array), torch_value.numpy(), f"F(2x2) {what} against PyTorch")
    inputs = [leaf(a, path) for a in (x[:, :, :5, :5], w, b)]
    with mt.conv_algorithm("winograd"):
        assert gradcheck(lambda *t: conv2d(*t, padding=pad), inputs)


# the 3×3 stride-1 layers of the nets (C, O, H) where F(4×4) or F(2×2) pays, and the wide 3×3 ones
NET_LAYERS = [(16, 32, 56), (64, 64, 24), (128, 128, 12), (256, 256, 6), (96, 128, 12), (128, 32, 24), (512, 512, 3)]


@pytest.mark.parametrize(("C", "O", "H"), NET_LAYERS)
def test_f2x2_float32_error_is_im2cols(C, O, H):
    """F(2×2, 3×3) stays within 2× the column matrix's own float32 error against float64 (forward)."""
    rng = np.random.default_rng(C + O + H)
    x = rng.standard_normal((2, C, H, H))
    bound = 1 / np.sqrt(C * 9)
    w = rng.uniform(-bound, bound, (O, C, 3, 3))
    reference = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    y2, _, _ = wk.winograd_conv2d_forward(x.astype(np.float32), w.astype(np.float32), (1, 1, 1, 1), m=2)
    with mt.conv_algorithm("im2col"):
        yi = conv2d(mt.tensor(x.astype(np.float32)), mt.tensor(w.astype(np.float32)), padding=1).numpy()
    assert np.abs(y2 - reference).max() <= 2 * np.abs(yi - reference).max()


def test_padding_same_goes_through_winograd():
    x, w = mt.randn(2, 3, 7, 5, dtype=mt.float64), mt.randn(4, 3, 3, 3, dtype=mt.float64, requires_grad=True)
    with mt.conv_algorithm("winograd"):
        y = conv2d(x, w, padding="same")
    assert y.grad_fn.function is WinogradConv2dFn and y.shape == (2, 4, 7, 5)
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x.numpy(), w.numpy(), padding=(1, 1)), atol=1e-12)
