"""The chunked column matrix (functional/conv/fast/im2col.py): how it cuts a batch into chunks, and
the layout of its weight gradient. Its numbers are checked by the conformance suite."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import assert_round_off

import minitorch_cnn as mt
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import policy
from minitorch_cnn.functional.conv.fast.im2col import Im2colConv2dFn
from minitorch_cnn.tensor import Tensor


def test_chunks_are_whole_images_that_fit_the_budget():
    """The memory budget caps a chunk's columns: one chunk within it, one image per chunk under a
    budget of one byte, two images per chunk under a budget of two images' columns; same numbers."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    g = rng.standard_normal((5, 4, 4, 4))
    image_cols = 3 * 3 * 2 * 4 * 4 * 8  # C·kh·kw·Ho·Wo float64 bytes of one image
    results = []
    for budget, n_chunks in ((policy.get_conv_memory_budget(), 1), (1, 5), (2 * image_cols, 3)):
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        with policy.conv_memory_budget(budget), mt.conv_algorithm("im2col"):
            y = conv2d(xt, wt, bt, stride=(2, 2), padding=1)
        assert y.grad_fn.function is Im2colConv2dFn and len(y.grad_fn.chunks) == n_chunks
        assert [c.stop - c.start for c in y.grad_fn.chunks] == {1: [5], 5: [1] * 5, 3: [2, 2, 1]}[n_chunks]
        y.backward(g)
        results.append([t.numpy() for t in (y, xt.grad, wt.grad, bt.grad)])
    for other in results[1:]:
        for a, c in zip(other, results[0]):
            assert_round_off(a, c, "chunked against one chunk")


def test_a_layer_whose_columns_are_smaller_than_its_weight_runs_in_one_chunk(monkeypatch):
    """Deep layers on small images: cache-sized chunks would each read the whole weight again."""
    monkeypatch.setattr(policy, "CPU_CONV_TILE_BYTES", 4096)  # a few images' columns at most
    w = mt.randn(64, 64, 3, 3, dtype=mt.float64, requires_grad=True)  # 64·576·8 = 295 KB
    for N, one_chunk in ((4, True), (8, False)):  # columns 4·576·9·8 = 166 KB; 8 images: 332 KB
        x = mt.randn(N, 64, 3, 3, dtype=mt.float64, requires_grad=True)
        with mt.conv_algorithm("im2col"):
            y = conv2d(x, w, padding=1)
        assert (len(y.grad_fn.chunks) == 1) == one_chunk
        with policy.conv_memory_budget(1):  # the memory budget still caps it
            with mt.conv_algorithm("im2col"):
                assert len(conv2d(x, w, padding=1).grad_fn.chunks) == N


@pytest.mark.parametrize(("N", "C", "H"), [(16, 2, 12), (2, 16, 3)], ids=["long_contraction", "short_contraction"])
def test_weight_gradient_is_contiguous_and_pytorchs(N, C, H):
    """dW = g @ colsᵀ is computed as (cols @ gᵀ)ᵀ, a transposed array, only where the contraction
    (N·Ho·Wo) is longer than the window (C·kh·kw); elsewhere the op's weight gradient is C-contiguous
    (the leaf's copy of a transposed one is a slow strided copy). PyTorch's numbers either way."""
    rng = np.random.default_rng(N + C)
    x, w = rng.standard_normal((N, C, H, H)), rng.standard_normal((5, C, 3, 3))
    g = rng.standard_normal((N, 5, H, H))
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    with mt.conv_algorithm("im2col"):
        y = conv2d(xt, wt, padding=1)
    assert y.grad_fn.function is Im2colConv2dFn
    _, dw, _ = y.grad_fn.function.backward(y.grad_fn, g)
    assert dw.flags.c_contiguous == (N * H * H <= C * 9)
    y.backward(g)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    TF.conv2d(tx, tw, padding=1).backward(torch.tensor(g))
    np.testing.assert_allclose(wt.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
