"""Pooling with PyTorch's semantics on the calls that used to differ or be refused: inf and NaN
(which element wins a max and gets its gradient, each adaptive bin seeing only its own inputs),
``return_indices`` and empty batches. Every check runs on the numba and the generic kernel path,
against PyTorch, a plain-loop definition, and (for the new calls) float64 finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import leaf, path, to_xp

from minitorch_cnn import backend
from minitorch_cnn.functional import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]

INF, NAN = np.inf, np.nan


def host(t):
    return backend.to_numpy(t.array)


def ours_and_torch(device, ours, theirs, x, g=None, out_index=None):
    """(our y, our dx, torch's y, torch's dx) of ``ours``/``theirs`` on the float64 ``x``, upstream ``g``."""
    mx = leaf(x.copy(), device)
    tx = torch.tensor(x, requires_grad=True)
    my, ty = ours(mx), theirs(tx)
    if out_index is not None:
        my, ty = my[out_index], ty[out_index]
    g = np.arange(1.0, ty.numel() + 1).reshape(ty.shape) if g is None else g
    my.backward(Tensor(to_xp(g, device)))
    ty.backward(torch.tensor(g))
    return host(my), host(mx.grad), ty.detach().numpy(), tx.grad.numpy()


def assert_same(a, b):
    """Equal, NaN where NaN, inf where inf (values to round-off)."""
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- plain-loop definitions of the winner
def torch_rule_max(values):
    """PyTorch's CPU max over a window's (index, value) list, in order: a value replaces the running
    max when greater or NaN; the index starts at the first entry."""
    best, best_i = -INF, values[0][0]
    for i, v in values:
        if v > best or np.isnan(v):
            best, best_i = v, i
    return best, best_i


def max_pool_loops(x, k, s, p, ceil_mode=False):
    """(y, flat index h·W + w) of max pooling x (N, C, H, W) by the rule above; padding skipped."""
    N, C, H, W = x.shape
    Ho, Wo = TF.max_pool2d(torch.zeros(1, 1, H, W), k, s, p, ceil_mode=ceil_mode).shape[2:]
    y, idx = np.empty((N, C, Ho, Wo)), np.empty((N, C, Ho, Wo), dtype=np.int64)
    for n, c, oh, ow in itertools.product(range(N), range(C), range(Ho), range(Wo)):
        taps = [(h * W + w, x[n, c, h, w]) for h in range(oh * s - p, oh * s - p + k)
                for w in range(ow * s - p, ow * s - p + k) if 0 <= h < H and 0 <= w < W]
        y[n, c, oh, ow], idx[n, c, oh, ow] = torch_rule_max(taps)
    return y, idx


def bins(size, out):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_loops(x, out, reduce):
    """Adaptive pooling of x by ``reduce(list of (flat index, value))`` over each bin, plain loops."""
    N, C, H, W = x.shape
    y = np.empty((N, C, *out))
    idx = np.empty((N, C, *out), dtype=np.int64)
    for n, c in itertools.product(range(N), range(C)):
        for (i, (h0, h1)), (j, (w0, w1)) in itertools.product(enumerate(bins(H, out[0])), enumerate(bins(W, out[1]))):
            taps = [(h * W + w, x[n, c, h, w]) for h in range(h0, h1) for w in range(w0, w1)]
            y[n, c, i, j], idx[n, c, i, j] = reduce(taps)
    return y, idx


def gradient_of_winners(idx, g, x_shape):
    """dx of a max pool: each output's gradient added at its winner."""
    dx = np.zeros(x_shape)
    N, C = x_shape[:2]
    for n, c in itertools.product(range(N), range(C)):
        np.add.at(dx[n, c].reshape(-1), idx[n, c].reshape(-1), g[n, c].reshape(-1))
    return dx


# windows with NaN (one, two, a NaN beside an inf), all -inf, ties, and -inf beside NaN
PLANES = [
    [[1, NAN, 3, 2], [NAN, 0, 2, 2], [-INF, -INF, 5, 5], [-INF, -INF, 5, NAN]],
    [[NAN, NAN, 3, 3], [0, 0, 3, 3], [-INF, -INF, 1, 1], [-INF, -INF, 1, 1]],
    [[INF, 1, 2, 2], [0, 0, 2, 2], [-INF, NAN, 1, 1], [NAN, -INF, 1, 1]],
    [[-INF, -INF, -INF, -INF], [-INF, -INF, -INF, -INF], [7, 7, 7, 7], [7, NAN, 7, NAN]],
]
SPECIAL = np.array(PLANES, dtype=np.float64)[None]  # (1, 4, 4, 4): four channels


@pytest.mark.parametrize("k, s, p, ceil_mode", [(2, 2, 0, False), (2, 1, 0, False), (3, 1, 1, False), (3, 2, 1, True),
                                                 (2, 2, 1, False), (3, 2, 0, True)])
def test_max_pool2d_nan_inf_and_ties_as_torch_and_the_loops(path, k, s, p, ceil_mode):
    ours = lambda t: max_pool2d(t, k, s, p, ceil_mode=ceil_mode, return_indices=True)
    theirs = lambda t: TF.max_pool2d(t, k, s, p, ceil_mode=ceil_mode, return_indices=True)
    y, dx, ty, tdx = ours_and_torch(path, ours, theirs, SPECIAL, out_index=0)
    assert_same(y, ty)
    assert_same(dx, tdx)  # the gradient went to torch's winner: the last NaN, the first of ties
    indices = max_pool2d(leaf(SPECIAL, path), k, s, p, ceil_mode=ceil_mode, return_indices=True)[1]
    np.testing.assert_array_equal(host(indices), theirs(torch.tensor(SPECIAL))[1].numpy())
    y_loop, idx_loop = max_pool_loops(SPECIAL, k, s, p, ceil_mode)
    assert_same(y, y_loop)
    np.testing.assert_array_equal(host(indices), idx_loop)
    g = np.arange(1.0, y.size + 1).reshape(y.shape)
    assert_same(dx, gradient_of_winners(idx_loop, g, SPECIAL.shape))


@pytest.mark.parametrize("out", [(2, 2), (3, 3), (1, 1), (3, 2), (4, 4)])
def test_adaptive_max_pool2d_nan_inf_and_ties_as_torch_and_the_loops(path, out):
    ours = lambda t: adaptive_max_pool2d(t, out, return_indices=True)
    theirs = lambda t: TF.adaptive_max_pool2d(t, out, return_indices=True)
    y, dx, ty, tdx = ours_and_torch(path, ours, theirs, SPECIAL, out_index=0)
    assert_same(y, ty)
    assert_same(dx, tdx)
    indices = host(adaptive_max_pool2d(leaf(SPECIAL, path), out, return_indices=True)[1])
    np.testing.assert_array_equal(indices, theirs(torch.tensor(SPECIAL))[1].numpy())
    y_loop, idx_loop = adaptive_loops(SPECIAL, out, torch_rule_max)
    assert_same(y, y_loop)
    np.testing.assert_array_equal(indices, idx_loop)


@pytest.mark.parametrize("out", [(2, 2), (3, 3), (1, 1), (3, 2), (4, 4), (6, 5)])
def test_adaptive_avg_pool2d_keeps_an_inf_in_its_own_bins(path, out):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    x[0, 0, 1, 2], x[0, 1, 4, 0], x[1, 2, 0, 0], x[1, 2, 3, 3] = INF, -INF, NAN, INF
    g = np.random.default_rng(1).standard_normal((2, 3, *out))
    g[0, 0, 0, 0], g[1, 1, -1, -1] = INF, NAN
    y, dx, ty, tdx = ours_and_torch(path, lambda t: adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), x, g)
    assert_same(y, ty)
    assert_same(dx, tdx)
    mean = lambda taps: (sum(v for _, v in taps) / len(taps), 0)
    assert_same(y, adaptive_loops(x, out, mean)[0])
    assert np.isfinite(y[0, 2]).all() and np.isfinite(dx[0, 2]).all()  # a channel without inf stays finite


def test_adaptive_avg_pool2d_gradcheck_on_overlapping_bins(path):
    x = leaf(np.random.default_rng(2).standard_normal((2, 2, 5, 7)), path)
    assert gradcheck(lambda t: adaptive_avg_pool2d(t, (3, 4)), [x])


@pytest.mark.parametrize("k, s, p, d", [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), (2, 1, 1, 1)])
def test_max_pool2d_return_indices_random_against_torch_and_gradcheck(path, k, s, p, d):
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) * 0.5  # distinct: one winner per window
    y, idx = max_pool2d(leaf(x, path), k, s, p, d, return_indices=True)
    ty, tidx = TF.max_pool2d(torch.tensor(x), k, s, p, d, return_indices=True)
    assert idx.dtype == np.int64 and idx.shape == tuple(tidx.shape)
    np.testing.assert_array_equal(host(idx), tidx.numpy())
    np.testing.assert_array_equal(host(y), ty.numpy())
    # the indices point at the maxima: y == x.flat[idx] plane by plane
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1), host(idx).reshape(2, 3, -1), 2).reshape(y.shape),
                                  host(y))
    assert gradcheck(lambda t: max_pool2d(t, k, s, p, d, return_indices=True)[0], [leaf(x, path)])


def test_return_indices_unbatched_and_adaptive_gradcheck(path):
    x = np.random.default_rng(4).permutation(3 * 5 * 6).reshape(3, 5, 6) * 0.25
    y, idx = max_pool2d(leaf(x, path), 2, return_indices=True)
    ty, tidx = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert y.shape == tuple(ty.shape) == idx.shape
    np.testing.assert_array_equal(host(idx), tidx.numpy())
    y, idx = adaptive_max_pool2d(leaf(x, path), (2, 4), return_indices=True)
    np.testing.assert_array_equal(host(idx), TF.adaptive_max_pool2d(torch.tensor(x), (2, 4), return_indices=True)[1])
    assert gradcheck(lambda t: adaptive_max_pool2d(t, (2, 4), return_indices=True)[0], [leaf(x[None], path)])


POOLS = [
    ("max_pool2d", lambda t: max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2)),
    ("max_pool2d indices", lambda t: max_pool2d(t, 3, 2, 1, return_indices=True)[0],
     lambda t: TF.max_pool2d(t, 3, 2, 1, return_indices=True)[0]),
    ("avg_pool2d", lambda t: avg_pool2d(t, 3, 2, 1), lambda t: TF.avg_pool2d(t, 3, 2, 1)),
    ("adaptive_avg_pool2d", lambda t: adaptive_avg_pool2d(t, (2, 3)), lambda t: TF.adaptive_avg_pool2d(t, (2, 3))),
    ("adaptive_max_pool2d", lambda t: adaptive_max_pool2d(t, (2, 3), return_indices=True)[0],
     lambda t: TF.adaptive_max_pool2d(t, (2, 3), return_indices=True)[0]),
]


@pytest.mark.parametrize("name, ours, theirs", POOLS, ids=[p[0] for p in POOLS])
def test_empty_batch_as_torch(path, name, ours, theirs):
    x = np.zeros((0, 3, 5, 6))
    y, dx, ty, tdx = ours_and_torch(path, ours, theirs, x)
    assert y.shape == ty.shape and dx.shape == tdx.shape == x.shape


def test_empty_batch_indices_and_refused_empty_planes():
    y, idx = max_pool2d(Tensor(np.zeros((0, 2, 4, 4))), 2, return_indices=True)
    assert y.shape == idx.shape == (0, 2, 2, 2) and idx.dtype == np.int64
    with pytest.raises(ValueError, match=r"max_pool2d: expected non-empty C, H and W"):
        max_pool2d(Tensor(np.zeros((2, 2, 0, 4))), 2)


# ---------------------------------------------------------------- fuzzer findings: empty channels, -0, overflow
def _on_both(fn):
    import minitorch_cnn as mt

    out = []
    for T in (mt, torch):
        try:
            out.append(fn(T))
        except (ValueError, RuntimeError, IndexError) as exc:
            out.append(type(exc))
    return out


@pytest.mark.parametrize("op,shape", [
    ("adaptive_avg_pool2d", (1, 0, 1, 1)), ("adaptive_avg_pool2d", (0, 2, 2)), ("adaptive_avg_pool2d", (1, 2, 0, 2)),
    ("adaptive_max_pool2d", (1, 0, 1, 1)), ("adaptive_max_pool2d", (0, 2, 2)), ("adaptive_max_pool2d", (2, 0, 2)),
    ("max_pool2d", (1, 0, 2, 2)), ("avg_pool2d", (0, 2, 2)), ("avg_pool2d", (0, 2, 2, 2)),
])
def test_empty_axes_are_refused_or_pooled_where_pytorch_does(op, shape):
    """PyTorch checks H and W for adaptive_avg_pool2d (C = 0 gives an empty output), every axis after
    the first for adaptive_max_pool2d, C, H and W (all three axes of one image) for the windowed pools."""
    ours, theirs = _on_both(lambda T: getattr(T.nn.functional, op)(T.zeros(*shape), 2 if "adaptive" in op else 1))
    assert isinstance(ours, type) == isinstance(theirs, type), (ours, theirs)
    if not isinstance(ours, type):
        assert tuple(ours.shape) == tuple(theirs.shape)


def test_adaptive_avg_pool2d_with_no_channels_has_zero_gradients():
    """PyTorch's backward refuses C = 0 (its own check, the forward succeeds); ours gives the empty gradient."""
    x = leaf(np.zeros((1, 0, 3, 3)), "cpu")
    adaptive_avg_pool2d(x, 2).sum().backward()
    assert x.grad.shape == (1, 0, 3, 3)


def test_average_of_negative_zeros_is_positive_zero(path):
    """PyTorch's window sums start from +0, so a window of -0.0 averages to +0.0 (1/y = +inf)."""
    x = np.full((1, 1, 4, 4), -0.0)
    cases = [(avg_pool2d, dict(kernel_size=2)), (avg_pool2d, dict(kernel_size=1)),
             (avg_pool2d, dict(kernel_size=3, stride=1)), (adaptive_avg_pool2d, dict(output_size=3))]
    for fn, kw in cases:
        ours = host(fn(leaf(x, path), **kw))
        theirs = getattr(TF, fn.__name__)(torch.from_numpy(x), **kw).numpy()
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))
        assert not np.signbit(ours).any()


def test_adaptive_avg_pool2d_sums_do_not_overflow_into_nan():
    """Fuzzer: float32 3e38 + 3e38 overflowed to inf in a partial sum, which met a -inf (NaN); PyTorch and
    the float64 run give -inf. The sums are float64 now."""
    x = np.ones((1, 1, 7, 7), np.float32)
    x[0, 0, 0, 0] = x[0, 0, 3, 0] = x[0, 0, 0, 3] = 3e38
    x[0, 0, 0, 1] = x[0, 0, 2, 1] = x[0, 0, 2, 2] = x[0, 0, 5, 2] = -np.inf
    ours = adaptive_avg_pool2d(Tensor(x), (1, 3)).numpy()
    theirs = TF.adaptive_avg_pool2d(torch.from_numpy(x), (1, 3)).numpy()
    want = TF.adaptive_avg_pool2d(torch.from_numpy(x.astype(np.float64)), (1, 3)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, want.astype(np.float32))
