"""Shared oracle helpers for the op tests: PyTorch as a reference (test-only), float64 round-off tolerances.

``check_against_torch`` runs one op on the same float64 inputs in minitorch_cnn and in PyTorch,
compares the forward, then pushes one random upstream gradient through both and compares the
gradient of every input. The expected values always come from PyTorch, never from our op.
"""

from __future__ import annotations

import numpy as np
import torch

import minitorch_cnn as mt

RTOL = 1e-12  # float64 round-off: both sides sum in different orders, nothing more
ATOL = 1e-12


def assert_close(actual, expected, err_msg="", rtol=RTOL, atol=ATOL):
    actual = actual.numpy() if isinstance(actual, mt.Tensor) else np.asarray(actual)
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape, f"{err_msg}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=err_msg)


def check_against_torch(mt_fn, torch_fn, arrays, *, grad=True, seed=0, requires_grad=None):
    """Forward and every input's gradient of ``mt_fn`` vs ``torch_fn`` on the same float64 ``arrays``.

    ``arrays`` may be non-contiguous NumPy views; our tensors keep that layout, PyTorch gets a copy.
    ``requires_grad``: per-input flags (default: every float input). Returns our output tensor.
    """
    if requires_grad is None:
        requires_grad = [np.asarray(a).dtype.kind == "f" and grad for a in arrays]
    ours = [mt.Tensor(a, requires_grad=r) for a, r in zip(arrays, requires_grad)]
    theirs = [torch.tensor(np.array(a), requires_grad=r) for a, r in zip(arrays, requires_grad)]
    out, ref = mt_fn(*ours), torch_fn(*theirs)
    assert out.dtype == np.dtype(str(ref.dtype).removeprefix("torch.")), f"dtype {out.dtype} vs torch {ref.dtype}"
    assert_close(out, ref, "forward")
    if not grad:
        return out
    upstream = np.random.default_rng(seed).standard_normal(tuple(ref.shape))
    out.backward(mt.tensor(upstream))
    ref.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        if not x.requires_grad:
            continue
        assert x.grad is not None, f"input {i} received no gradient"
        assert x.grad.dtype == x.dtype and x.grad.shape == x.shape, f"input {i}: grad {x.grad.shape} {x.grad.dtype}"
        expected = np.zeros(x.shape) if t.grad is None else t.grad
        assert_close(x.grad, expected, f"gradient of input {i}")
    return out


def away_from(a, points=(0.0,), gap=0.05):
    """``a`` with every value within ``gap`` of a kink moved to ``point + 2·gap`` (for gradchecks at kinks)."""
    a = np.array(a)  # keeps the float dtype; a fresh contiguous array
    for p in points:
        near = np.abs(a - p) < gap
        a[near] = p + 2 * gap
    return a


def distinct(shape, permutation, scale=0.25):
    """An array of ``shape`` whose values are all different by at least ``scale`` (no ties for max/min)."""
    return (np.asarray(permutation, dtype=np.float64) * scale - 1.0).reshape(shape)
