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

    # PyTorch in float64 on the same values: the exact result to compare a float32 run with (with N = 2
    # the training gradient is ill-conditioned and PyTorch's float32 one is 100x further from it than ours)
    f64 = dict(dtype=torch.float64)
    trm, trv = torch.tensor(rm, **f64), torch.tensor(rv, **f64)
    tx = torch.tensor(x, requires_grad=True, **f64)
    tw, tb = (torch.tensor(w, requires_grad=True, **f64), torch.tensor(b, requires_grad=True, **f64)) if affine \
        else (None, None)
    factor = momentum if momentum is not None else 1 / (count + 1)  # what nn.BatchNorm2d passes
    ty = TF.batch_norm(tx, trm, trv, tw, tb, training, factor, 1e-5)
    g = rng.standard_normal(shape).astype(dtype)
    ty.backward(torch.tensor(g, **f64))

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


# ---------------------------------------------------------------- PyTorch's semantics at the edges (fuzzer findings)
def _both(fn):
    """fn(T) run on minitorch_cnn and on PyTorch: (ours, theirs) as NumPy arrays, or the exception class."""
    import minitorch_cnn as mt

    out = []
    for T in (mt, torch):
        try:
            out.append(fn(T))
        except (ValueError, TypeError, IndexError, RuntimeError) as exc:
            out.append(type(exc))
    return out


def test_float32_statistics_and_x_hat_are_float64_ones_rounded_when_the_mean_dwarfs_the_spread():
    """Fuzzer: a channel near 2.5 spread by 1e-3 gave 0.0038340 where the exact value is 0.0038183
    (a float32 μ). Ours is now within 1 ulp of the exact value, and no further from it than PyTorch."""
    x = (np.float32(2.5) + np.array([-1.755e-3, 1.818e-3, 1.353e-3, 1.53e-4, -7.2e-4, 5.31e-4, -5.11e-4, -8.71e-4,
                                     1.265e-3], dtype=np.float32)).reshape(1, 1, 3, 3)
    exact = x.astype(np.float64)
    want = (exact - exact.mean()) / np.sqrt(exact.var() + 1e-5)
    ours, theirs = _both(lambda T: T.nn.functional.batch_norm(T.from_numpy(x), None, None, training=True).numpy())
    np.testing.assert_array_max_ulp(ours, want.astype(np.float32), maxulp=1)
    assert np.abs(ours - want).max() <= np.abs(theirs - want).max()


@pytest.mark.parametrize("case", ["inf input", "inf running mean and weight", "inf running var", "big values"])
def test_infinities_give_pytorchs_nan_and_inf(case):
    inf = np.inf

    def run(T):
        F, t = T.nn.functional, (lambda v: T.from_numpy(np.array(v, dtype=np.float64)))
        if case == "inf input":
            return F.batch_norm(t([[1.0, inf], [2.0, 3.0], [0.0, 1.0]]), None, None, t([1.0, 2.0]), t([0.0, 1.0]),
                                training=True).numpy()
        if case == "inf running mean and weight":  # PyTorch: x·α + β = 0·(−inf) + (−inf) = NaN
            return F.batch_norm(t([[-2.0, 0.0, 3.0]]), t([1.0, -inf, 1.0]), t([1.0, 1.0, 1.0]), t([1.0, -inf, 1.0]),
                                None, training=False, eps=1e-3).numpy()
        if case == "inf running var":
            return F.batch_norm(t([[1.0, 2.0], [2.0, 3.0]]), t([0.0, 0.0]), t([inf, 1.0]), t([1.0, 2.0]),
                                t([3.0, 1.0]), training=False).numpy()
        x = T.from_numpy(np.array([[3e38, 2.0], [-3e38, 3.0], [1.0, 1.0]], dtype=np.float32))
        return F.batch_norm(x, None, None, training=True).numpy()  # x − μ would overflow float32

    ours, theirs = _both(run)
    if case == "big values":  # PyTorch's float32 variance overflows (it gives 0); ours is the float64 run's
        x = np.array([[3e38, 2.0], [-3e38, 3.0], [1.0, 1.0]])
        want = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
        np.testing.assert_allclose(ours, want, rtol=1e-6)
        assert np.isfinite(theirs).all()
        return
    np.testing.assert_array_equal(ours, theirs)  # NaN where PyTorch has NaN, the same infinities


@pytest.mark.parametrize("shape,training,stats,affine", [
    ((1, 0), True, False, False), ((1, 0), True, True, False), ((1, 0, 2, 2), True, True, False),
    ((2, 0), False, True, False), ((2, 0), False, True, True), ((2, 0, 3, 3), True, False, True),
    ((2, 0), True, False, False), ((0, 3), True, True, True), ((1, 3, 1, 1), True, False, True),
    ((1, 3, 0, 2), True, True, True),
])
def test_empty_channels_and_one_value_per_channel_raise_where_pytorch_does(shape, training, stats, affine):
    def run(T):
        C = shape[1]
        rm, rv = (T.zeros(C), T.ones(C)) if stats else (None, None)
        w, b = (T.ones(C), T.zeros(C)) if affine else (None, None)
        return T.nn.functional.batch_norm(T.zeros(*shape), rm, rv, w, b, training=training).numpy()

    ours, theirs = _both(run)
    if isinstance(theirs, type):
        assert isinstance(ours, type), f"PyTorch raised {theirs.__name__}, we returned"
    else:
        assert not isinstance(ours, type), f"we raised {ours.__name__}, PyTorch returned"
        assert ours.shape == theirs.shape


def test_a_strided_input_gives_a_contiguous_output_that_views_as_pytorchs():
    """Fuzzer: ``batch_norm(x.T).view(-1)`` raised in ours (the output kept x's layout), not in PyTorch."""
    a = np.random.default_rng(0).standard_normal((3, 2, 1, 1)).T  # (1, 1, 2, 3), strided
    ours, theirs = _both(lambda T: T.nn.functional.batch_norm(T.from_numpy(a), None, None, training=True)
                         .view(-1).numpy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_gradients_with_a_strided_input_match_pytorch_on_a_contiguous_copy(training):
    """PyTorch's CPU backward is wrong for a channels-last-looking input (a transposed (1, C, 1, W)
    array: its bias gradient 2.5 instead of 1.5); ours is compared with PyTorch on a contiguous copy."""
    import minitorch_cnn as mt

    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 1, 4, 1)).astype(np.float32).T  # (1, 4, 1, 6)
    g = rng.standard_normal((1, 4, 1, 6)).astype(np.float32)
    grads = []
    for T, x in ((mt, a), (torch, np.ascontiguousarray(a))):
        xt = T.from_numpy(x).requires_grad_()
        w, b = T.ones(4, requires_grad=True), T.ones(4, requires_grad=True)
        y = T.nn.functional.batch_norm(xt, T.ones(4), T.ones(4), w, b, training=training, eps=1e-3)
        (y * T.from_numpy(g)).sum().backward()
        grads.append([t.grad.numpy() for t in (xt, w, b)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
