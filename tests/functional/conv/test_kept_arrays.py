"""Work arrays kept from forward for the weight gradient, or built again in backward.

The column matrix (im2col and batch-last layouts) of a small layer, at most ``policy.KEEP_COLS_BYTES``
for all chunks together, and Winograd's transformed input V, at most ``policy.KEEP_TILES_BYTES``, are
built once, in forward; one byte over, backward builds them again per chunk. The same bits either
way, and PyTorch's numbers. (That a one-byte budget keeps nothing and gives the unchunked numbers is
checked for every algorithm by the conformance suite.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import assert_round_off

import minitorch_cnn as mt
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import fast, policy
from minitorch_cnn.tensor import Tensor

# (algorithm, dtype, x, w shapes, padding, stride, builders counted, setting that caps what is kept,
#  bytes of one image's work array in a chunk, bytes of the whole batch's kept array)
CASES = {
    "im2col": (np.float64, (6, 3, 7, 6), (4, 3, 3, 2), 1, 2, ["im2col"], "KEEP_COLS_BYTES",
               3 * 3 * 2 * 4 * 4 * 8, 6 * 3 * 3 * 2 * 4 * 4 * 8),  # C·kh·kw·Ho·Wo float64 bytes per image
    "batch_last": (np.float64, (6, 3, 7, 6), (4, 3, 3, 2), 1, 1, ["batch_last_columns"], "KEEP_COLS_BYTES",
                   3 * 3 * 2 * 7 * 7 * 8, 6 * 3 * 3 * 2 * 7 * 7 * 8),
    # F(4×4): α² = 36 values per 4×4 tile; a chunk holds V and M (max(C, O) channels), the kept V has C
    "winograd": (np.float32, (6, 3, 8, 8), (5, 3, 3, 3), 1, 1, ["winograd_input_tiles", "winograd_tiles_forward"],
                 "KEEP_TILES_BYTES", 36 * 5 * 4 * 4, 6 * 36 * 3 * 4 * 4),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_kept_work_arrays_give_the_bits_of_rebuilt_ones(monkeypatch, name):
    dtype, x_shape, w_shape, padding, stride, builders, keep_setting, per_image, all_images = CASES[name]
    module = fast.ALGORITHMS[name]
    calls = []
    for builder in builders:
        real = getattr(module, builder)
        monkeypatch.setattr(module, builder, lambda *a, _real=real, **k: (calls.append(1), _real(*a, **k))[1])
    rng = np.random.default_rng(8)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[0]))
    monkeypatch.setattr(policy, "CPU_CONV_TILE_BYTES", 2 * per_image)  # 3 chunks of 2 images
    runs, g = [], None
    for keep_bytes, builds in ((all_images, 3), (all_images - 1, 6)):  # kept; one byte short: built again
        monkeypatch.setattr(policy, keep_setting, keep_bytes)
        calls.clear()
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        with mt.conv_algorithm(name):
            y = conv2d(xt, wt, bt, stride=stride, padding=padding)
        assert y.grad_fn.function is module.FUNCTION and len(y.grad_fn.chunks) == 3
        g = np.random.default_rng(9).standard_normal(y.shape).astype(dtype) if g is None else g
        y.backward(g)
        assert len(calls) == builds
        runs.append([t.numpy() for t in (y, xt.grad, wt.grad, bt.grad)])
        assert all(r.dtype == dtype for r in runs[-1])
    for kept, rebuilt in zip(*runs):
        np.testing.assert_array_equal(kept, rebuilt)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv2d(tx, tw, tb, stride=stride, padding=padding)
    ty.backward(torch.from_numpy(g))
    for ours, theirs, what in zip(runs[0], (ty.detach(), tx.grad, tw.grad, tb.grad), ("y", "dx", "dW", "db")):
        assert_round_off(ours, theirs.numpy(), f"{name} {what}")


@pytest.mark.parametrize("name", CASES)
def test_work_arrays_are_kept_only_for_the_weight_gradient(name):
    """The columns or tiles are kept for dW alone: a frozen weight (a trainable input and bias) keeps
    none, a trainable weight beside a frozen bias and input keeps them; the weight is saved only for dx."""
    dtype, x_shape, w_shape, padding, stride = CASES[name][:5]
    rng = np.random.default_rng(3)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
    for need_x, need_w, need_b in ((True, False, True), (False, True, False)):
        xt, wt, bt = Tensor(x, requires_grad=need_x), Tensor(w, requires_grad=need_w), Tensor(b, requires_grad=need_b)
        with mt.conv_algorithm(name):
            node = conv2d(xt, wt, bt, stride=stride, padding=padding).grad_fn
        assert node.function is fast.ALGORITHMS[name].FUNCTION
        saved = node.saved_tensors
        chunk_lists = [a for a in saved if isinstance(a, list)]  # the kept work arrays, one per chunk
        if need_w:  # dW only: its work arrays kept, nothing else
            assert len(chunk_lists) == 1 and sum(a is not None for a in saved) == 1, name
        else:  # dx only: no work arrays, one array for dx (the weight, or Winograd's U)
            assert not chunk_lists and sum(a is not None for a in saved) == 1, name
