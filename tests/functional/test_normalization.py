"""batch_norm (2-D and 4-D, training and eval, running statistics) against PyTorch, a plain-loop
reference and gradcheck; on every kernel path (the op itself is array-generic)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import examples, leaf, path, to_xp
from hypothesis import given
from hypothesis import strategies as st

from minitorch_cnn import backend
from minitorch_cnn.functional import batch_norm
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]


def host(a):
    return backend.to_numpy(a.array if isinstance(a, Tensor) else a)


def batch_norm_reference(x, gamma, beta, eps):
    """Training-mode batch norm, channel by channel, the statistics summed by hand."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        values = x[:, c].reshape(-1)
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)  # biased
        y[:, c] = gamma[c] * (x[:, c] - mean) / np.sqrt(var + eps) + beta[c]
    return y


shapes = st.sampled_from([(4, 3), (2, 3), (3, 2, 1, 1), (2, 3, 4, 5), (1, 2, 3, 2), (5, 1, 2, 3)])


@examples(30)
@given(
    shape=shapes, training=st.booleans(), affine=st.booleans(), momentum=st.sampled_from([0.1, 0.5, None]),
    dtype=st.sampled_from([np.float64, np.float32]), stats_as=st.sampled_from(["tensor", "array"]),
    seed=st.integers(0, 2**16),
)
def test_matches_pytorch(path, shape, training, affine, momentum, dtype, stats_as, seed):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    count = 3  # batches seen before this one

    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) if affine else (None, None)
    factor = momentum if momentum is not None else 1 / (count + 1)  # what nn.BatchNorm2d passes
    ty = TF.batch_norm(tx, trm, trv, tw, tb, training, factor, 1e-5)
    g = rng.standard_normal(shape).astype(dtype)
    ty.backward(torch.tensor(g))

    xt = leaf(x, path)
    wt, bt = (leaf(w, path), leaf(b, path)) if affine else (None, None)
    rm_mine, rv_mine = to_xp(rm.copy(), path), to_xp(rv.copy(), path)
    if stats_as == "tensor":
        rm_mine, rv_mine = Tensor(rm_mine), Tensor(rv_mine)
    tracked = to_xp(np.array(count, np.int64), path)
    y = batch_norm(xt, rm_mine, rv_mine, wt, bt, training, momentum, 1e-5, num_batches_tracked=tracked)
    y.backward(to_xp(g, path))

    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    assert y.dtype == dtype and xt.grad.dtype == dtype
    np.testing.assert_allclose(host(y), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), **tol)
    if affine:
        np.testing.assert_allclose(host(wt.grad), tw.grad.numpy(), **tol)
        np.testing.assert_allclose(host(bt.grad), tb.grad.numpy(), **tol)
    # running statistics: updated in place in training mode (unbiased variance), untouched in eval
    np.testing.assert_allclose(host(rm_mine), trm.numpy(), **tol)
    np.testing.assert_allclose(host(rv_mine), trv.numpy(), **tol)
    assert host(rm_mine).dtype == dtype
    assert int(host(tracked)) == (count + 1 if training else count)


def test_matches_plain_loops_and_updates_stats(path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4, 5))
    gamma, beta = np.array([1.5, -0.5]), np.array([0.25, 2.0])
    running_mean, running_var = to_xp(np.zeros(2), path), to_xp(np.ones(2), path)
    y = batch_norm(leaf(x, path), running_mean, running_var, leaf(gamma, path), leaf(beta, path), training=True)
    np.testing.assert_allclose(host(y), batch_norm_reference(x, gamma, beta, 1e-5), rtol=1e-10, atol=1e-10)
    M = 3 * 4 * 5
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(host(running_mean), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(host(running_var), 0.9 + 0.1 * var * M / (M - 1), rtol=1e-12)

    # eval mode: y = γ (x − running_mean) / √(running_var + ε) + β, with the statistics just stored
    y_eval = batch_norm(leaf(x, path), running_mean, running_var, leaf(gamma, path), leaf(beta, path))
    rm, rv = host(running_mean), host(running_var)
    expected = gamma[None, :, None, None] * (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(host(y_eval), expected + beta[None, :, None, None], rtol=1e-10, atol=1e-12)


def test_cumulative_average_over_batches(path):
    """momentum=None: after k batches the running mean is the plain average of the k batch means."""
    rng = np.random.default_rng(1)
    running_mean, running_var = to_xp(np.zeros(3), path), to_xp(np.ones(3), path)
    tracked = to_xp(np.array(0, np.int64), path)
    means = []
    for _ in range(4):
        x = rng.standard_normal((5, 3)) + rng.standard_normal(3)
        means.append(x.mean(axis=0))
        batch_norm(leaf(x, path), running_mean, running_var, training=True, momentum=None, num_batches_tracked=tracked)
    assert int(host(tracked)) == 4
    np.testing.assert_allclose(host(running_mean), np.mean(means, axis=0), rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3, 2), (1, 2, 2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(path, shape, training):
    rng = np.random.default_rng(2)
    C = shape[1]
    x, w, b = rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = to_xp(rng.standard_normal(C), path), to_xp(rng.uniform(0.5, 2, C), path)
    if training:  # no running statistics: the finite differences call the op many times
        fn = lambda t, wt, bt: batch_norm(t, None, None, wt, bt, training=True)
    else:
        fn = lambda t, wt, bt: batch_norm(t, rm, rv, wt, bt, training=False)
    gradcheck(fn, [leaf(x, path), leaf(w, path), leaf(b, path)])


def test_float32_stays_float32(path):
    x = leaf(np.random.default_rng(3).standard_normal((4, 2, 3, 3)).astype(np.float32), path)
    rm, rv = to_xp(np.zeros(2, np.float32), path), to_xp(np.ones(2, np.float32), path)
    y = batch_norm(x, rm, rv, training=True)
    y.backward(to_xp(np.ones(y.shape, np.float32), path))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and rm.dtype == np.float32


# ---------------------------------------------------------------- bad input
def _t(shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((_t((4,)), None, None), {"training": True}, ValueError, r"batch_norm: expected an \(N, C\) or"),
        ((_t((4, 3)), np.zeros(2), np.ones(2)), {}, ValueError, r"batch_norm: expected running_mean of shape \(3,\)"),
        ((_t((4, 3)), np.zeros(3), np.ones(3), _t((2,))), {}, ValueError, r"expected weight of shape \(3,\) for 3"),
        ((_t((4, 3)), np.zeros(3), np.ones(3), None, _t((4,))), {}, ValueError, r"expected bias of shape \(3,\)"),
        ((_t((4, 3)), np.zeros(3), None), {}, ValueError, "both given or both None"),
        ((_t((4, 3)), None, None), {}, ValueError, "eval mode .* needs running_mean"),
        ((_t((1, 3)), None, None), {"training": True}, ValueError, "more than 1 value per channel"),
        ((_t((4, 3)), np.zeros(3), np.ones(3)), {"training": True, "momentum": None}, ValueError,
         "needs num_batches_tracked"),
        ((_t((4, 3), np.int64), None, None), {"training": True}, TypeError, "batch_norm: expected a floating-point"),
        ((_t((4, 3)), [0, 0, 0], [1, 1, 1]), {}, TypeError, "running_mean to be a Tensor or an array"),
        ((_t((4, 3)), np.zeros(3), np.ones(3), _t((3,), np.float32)), {}, TypeError, "expected weight of the input's"),
    ],
)
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        batch_norm(*args, **kwargs)


# ---------------------------------------------------------------- edge shapes, as PyTorch
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1)])
def test_one_value_per_channel_in_training_is_refused_as_torch(shape):
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel when training"):
        batch_norm(_t(shape), None, None, training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.functional.batch_norm(torch.zeros(shape), None, None, training=True)
    out = batch_norm(_t(shape), Tensor(np.zeros(3)), Tensor(np.ones(3)), training=False)  # eval: fine, as torch
    assert out.shape == shape


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 2, 2), (2, 3, 0, 0)])
@pytest.mark.parametrize("training", [True, False])
def test_an_empty_batch_passes_through_as_torch(path, shape, training):
    """No values: an empty output, zero weight and bias gradients, running statistics untouched."""
    rm, rv = to_xp(np.arange(3.0), path), to_xp(np.ones(3) * 2, path)
    count = to_xp(np.array(4), path)
    x, w, b = leaf(np.zeros(shape), path), leaf(np.ones(3), path), leaf(np.zeros(3), path)
    y = batch_norm(x, rm, rv, w, b, training=training, num_batches_tracked=count)
    y.backward(Tensor(to_xp(np.zeros(shape), path)))
    trm, trv = torch.arange(3.0, dtype=torch.float64), torch.ones(3, dtype=torch.float64) * 2
    tw = torch.ones(3, dtype=torch.float64, requires_grad=True)
    ty = torch.nn.functional.batch_norm(torch.zeros(shape, dtype=torch.float64), trm, trv, tw, training=training)
    ty.sum().backward()
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(backend.to_numpy(w.grad.array), tw.grad.numpy())
    np.testing.assert_array_equal(backend.to_numpy(rm), trm.numpy())
    np.testing.assert_array_equal(backend.to_numpy(rv), trv.numpy())
    assert not backend.to_numpy(b.grad.array).any() and x.grad.shape == shape
    assert int(backend.to_numpy(count)) == 4 + training  # counted, as nn.BatchNorm2d counts every training call
