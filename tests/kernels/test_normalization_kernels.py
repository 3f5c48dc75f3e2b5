"""Batch norm's numba loops (kernels/normalization.py) against the generic NumPy lines (float64, to
round-off), PyTorch (float32, at ResNet's sizes), gradcheck through the op with the loops forced on
small arrays, the un-jitted loops, and the same bits on one and every thread."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import assert_same_bits, on_one_and_every_thread
from hypothesis import given
from hypothesis import strategies as st
from minitorch_cnn.kernels import normalization as K

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import batch_norm
from minitorch_cnn.testing import gradcheck


@contextlib.contextmanager
def every_array_fused():
    """The numba path on every C-contiguous array, however small; yields the compiled loops' calls."""
    calls = []
    saved = {name: getattr(K, name) for name in ("SMALL", "_mean_var_jit", "_normalize_jit", "_backward_jit")}
    previous = backend.get_kernel_path()
    K.SMALL = 0
    for name in ("_mean_var_jit", "_normalize_jit", "_backward_jit"):
        setattr(K, name, lambda *a, _jit=saved[name], _name=name: (calls.append(_name), _jit(*a))[1])
    backend.set_kernel_path("numba")
    try:
        yield calls
    finally:
        backend.set_kernel_path(previous)
        for name, value in saved.items():
            setattr(K, name, value)


@given(
    shape=st.sampled_from([(2, 3), (3, 2, 1, 1), (2, 3, 4, 5), (1, 2, 3, 2), (5, 1, 2, 3), (4, 6, 3)]),
    affine=st.booleans(),
    training=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_loops_equal_the_generic_lines_in_float64(shape, affine, training, seed):
    with every_array_fused() as calls:
        _loops_equal_the_generic_lines(shape, affine, training, seed, calls)


def _loops_equal_the_generic_lines(shape, affine, training, seed, calls):
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    C = shape[1]
    w, b = (rng.standard_normal(C), rng.standard_normal(C)) if affine else (None, None)
    mean, var = K.channel_mean_var(x)
    axes = (0, *range(2, x.ndim))
    np.testing.assert_allclose(mean, x.mean(axis=axes), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=axes), rtol=1e-12, atol=1e-12)
    inv_std = 1.0 / (var + 1e-5) ** 0.5
    x_hat, y = K.normalize(x, mean, inv_std, w, b)
    ref_hat, ref_y = K.normalize_generic(x, mean, inv_std, w, b)
    np.testing.assert_allclose(x_hat, ref_hat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, ref_y, rtol=1e-12, atol=1e-12)
    got = K.batch_norm_backward(g, x_hat, inv_std, w, training)
    ref = K.batch_norm_backward_generic(g, ref_hat, inv_std, w, training)
    for ours, theirs in zip(got, ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    assert calls.count("_mean_var_jit") == calls.count("_normalize_jit") == calls.count("_backward_jit") == 1


def test_the_op_on_the_loops_passes_gradcheck():
    with every_array_fused() as calls:
        _op_gradcheck(calls)


def _op_gradcheck(calls):
    rng = np.random.default_rng(1)
    x = mt.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    w, b = mt.tensor(rng.standard_normal(2), requires_grad=True), mt.tensor(rng.standard_normal(2), requires_grad=True)
    rm, rv = np.zeros(2), np.ones(2) * 1.5  # momentum 0: they stay as they are
    for training in (True, False):
        assert gradcheck(lambda x, w, b, t=training: batch_norm(x, rm, rv, w, b, training=t, momentum=0.0), [x, w, b])
    assert "_normalize_jit" in calls and "_backward_jit" in calls


@pytest.mark.parametrize("training", [True, False])
def test_matches_pytorch_in_float32_at_resnet_sizes(training):
    """(32, 64, 24, 24): above SMALL, so the loops run by default."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((32, 64, 24, 24)) * 2 + 0.5).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    assert K._fused(x)
    rm, rv = np.zeros(64, np.float32), np.ones(64, np.float32)
    xt, wt, bt = (mt.tensor(a, requires_grad=True) for a in (x, w, b))
    y = batch_norm(xt, rm, rv, wt, bt, training=training)
    y.backward(mt.tensor(g))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.batch_norm(tx, torch.zeros(64), torch.ones(64), tw, tb, training=training)
    ty.backward(torch.from_numpy(g))
    for ours, theirs in ((y, ty), (xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=2e-5 * np.abs(theirs).max())


def test_plain_loops_unjitted_equal_the_compiled_ones():
    """normalize: the same bits; the backward, compiled with reassociated sums (and fused
    multiply-adds), to float64 round-off."""
    rng = np.random.default_rng(3)
    x_hat, g = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 5))
    mean, inv_std, w, b = (rng.standard_normal(3) for _ in range(4))
    x = rng.standard_normal((2, 3, 5))
    plain = np.empty_like(x), np.empty_like(x)
    K.normalize_loops(x, mean, inv_std, w, b, *plain)
    jitted = np.empty_like(x), np.empty_like(x)
    K._normalize_jit(x, mean, inv_std, w, b, *jitted)
    for p, j in zip(plain, jitted):
        np.testing.assert_array_equal(p, j)
    for training in (True, False):
        outs = [(np.empty_like(g), np.empty(3), np.empty(3)) for _ in range(2)]
        K.batch_norm_backward_loops(g, x_hat, inv_std, w, training, *outs[0])
        K._backward_jit(g, x_hat, inv_std, w, training, *outs[1])
        for p, j in zip(*outs):
            np.testing.assert_allclose(p, j, rtol=1e-13, atol=1e-13)


def test_same_bits_on_one_and_on_every_thread():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 16, 20, 20)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)

    def work():
        mean, var = K.channel_mean_var(x)
        inv_std = (1.0 / (var + 1e-5) ** 0.5).astype(np.float32)
        x_hat, y = K.normalize(x, mean, inv_std, w, b)
        return (x_hat, y, *K.batch_norm_backward(g, x_hat, inv_std, w, True))

    assert_same_bits(*on_one_and_every_thread(work))


def test_small_strided_and_generic_path_arrays_take_numpys_lines(monkeypatch):
    calls = []
    monkeypatch.setattr(K, "_normalize_jit", lambda *a: calls.append(a))
    monkeypatch.setattr(K, "_backward_jit", lambda *a: calls.append(a))
    rng = np.random.default_rng(5)
    big = rng.standard_normal((4, 8, 40, 40)).astype(np.float32)
    one = np.ones(8, np.float32)
    for x in (big[:, :, :2, :2], big[..., ::2]):  # below SMALL; not contiguous
        K.normalize(x, one * 0, one, None, None)
        K.batch_norm_backward(x, x, one, None, True)
    previous = backend.get_kernel_path()
    backend.set_kernel_path("generic")
    try:
        K.normalize(big, one * 0, one, None, None)
    finally:
        backend.set_kernel_path(previous)
    assert not calls


@pytest.mark.parametrize("shape", [(256, 3), (32, 64, 6, 6), (8, 16, 24, 24), (2, 3, 4, 5, 6)])
def test_float32_statistics_on_the_loops_are_the_exact_ones(shape):
    """The loops sum in float64 (in vector lanes): their float64 mean and variance of float32 values
    are the exact statistics of those values to float64 round-off, as are the un-jitted loops'."""
    x = (np.random.default_rng(len(shape)).standard_normal(shape) * 3 + 1).astype(np.float32)
    axes = (0, *range(2, x.ndim))
    exact = x.astype(np.float64)
    with every_array_fused() as calls:
        mean, var = K.channel_mean_var(x)
    assert calls == ["_mean_var_jit"] and mean.dtype == var.dtype == np.float64
    np.testing.assert_allclose(mean, exact.mean(axis=axes), rtol=1e-13)
    np.testing.assert_allclose(var, exact.var(axis=axes), rtol=1e-13)
    plain_mean, plain_var = np.empty(shape[1]), np.empty(shape[1])
    K.channel_mean_var_loops(x.reshape(shape[0], shape[1], -1), plain_mean, plain_var)  # un-jitted, source order
    np.testing.assert_allclose(mean, plain_mean, rtol=1e-13)
    np.testing.assert_allclose(var, plain_var, rtol=1e-13)


@pytest.mark.parametrize("shape", [(7, 3), (4, 5, 6, 7), (2, 3, 4, 5, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_statistics_are_numpys_float64_mean_and_var_bit_for_bit(shape, dtype):
    """The generic path (small arrays, CuPy): the float64 mean is summed once and handed to NumPy's
    var, the same bits as float64 mean() and var() apart."""
    from minitorch_cnn.kernels.normalization import channel_mean_var

    x = (np.random.default_rng(len(shape)).standard_normal(shape) * 3 + 1).astype(dtype)
    axes = (0, *range(2, x.ndim))
    mean, var = channel_mean_var(x)
    np.testing.assert_array_equal(mean, x.mean(axis=axes, dtype=np.float64))
    np.testing.assert_array_equal(var, x.var(axis=axes, dtype=np.float64))
    assert mean.dtype == var.dtype == np.float64 and mean.shape == var.shape == (shape[1],)


@pytest.mark.parametrize("fused", [False, True])
def test_float32_x_hat_is_the_exact_one_rounded_when_the_spread_is_small_beside_the_mean(fused):
    """Values near 2.5 spread by 1e-3: x − μ with μ rounded to float32 would be off by up to 1.2e-7
    of a spread of 1e-3. In float64 (both paths), x̂ and y are the exact ones rounded once; PyTorch's
    (y = x·α + β, α and β rounded to float32) are within 1e-5 of them, and never closer than ours."""
    rng = np.random.default_rng(7)
    reps = K.SMALL // 9 + 1 if fused else 1
    x = (2.5 + 1e-3 * rng.standard_normal((reps, 1, 3, 3))).astype(np.float32)
    exact = x.astype(np.float64)
    mu, var = exact.mean(), exact.var()
    want = (exact - mu) / np.sqrt(var + 1e-5)
    with every_array_fused() if fused else contextlib.nullcontext():
        mean, var = K.channel_mean_var(x)
        x_hat, y = K.normalize(x, mean, 1.0 / np.sqrt(var + 1e-5), None, None)
    for got in (x_hat, y):
        np.testing.assert_array_max_ulp(got, want.astype(np.float32), maxulp=1)
    theirs = TF.batch_norm(torch.from_numpy(x), None, None, training=True).numpy()
    np.testing.assert_allclose(theirs, want, rtol=0, atol=1e-5)
    ours = batch_norm(mt.tensor(x), None, None, training=True).numpy()
    np.testing.assert_array_max_ulp(ours, want.astype(np.float32), maxulp=1)
    assert np.abs(ours - want).max() <= np.abs(theirs - want).max()


def _layouts(a):
    """``a`` (N, C, H, W) as PyTorch's batch norm sees three layouts: contiguous, channels-last, strided."""
    return {"contiguous": a, "channels last": np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
            "strided": np.ascontiguousarray(a.T).T}


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("layout", ["contiguous", "channels last", "strided"])
@pytest.mark.parametrize("case,training", [("inf weight", True), ("inf weight", False), ("inf bias", True),
                                           ("inf input", True), ("inf running mean", False)])
def test_non_finite_channels_follow_pytorchs_formula_for_the_layout(fused, layout, case, training):
    """Fuzzer (seed 20240611 program 1415): with γ = inf, PyTorch gives NaN for a contiguous input (its
    x·α + β' = x·inf − inf) and −inf/+inf for a strided one (((x − μ)·s)·γ + β); ours the same on both
    kernel paths, the finite channels untouched."""
    inf = np.inf
    rng = np.random.default_rng(3)
    a = rng.random((2, 3, 4, 5)) + 0.1  # positive: μ > 0 and x̂ of both signs
    if case == "inf input":
        a[1, 1, 2, 3] = -inf
    w = np.array([1.5, inf if case == "inf weight" else 2.0, -inf if case == "inf weight" else 1.0])
    b = np.array([0.5, -inf if case == "inf bias" else 0.0, 1.0])
    rm = np.array([0.2, inf if case == "inf running mean" else 0.3, 0.4])
    x = _layouts(a)[layout]
    outs = []
    for T in (mt, torch):
        stats = (None, None) if training else (T.from_numpy(rm.copy()), T.from_numpy(np.ones(3)))
        with every_array_fused() if fused and T is mt else contextlib.nullcontext() as calls:
            y = T.nn.functional.batch_norm(T.from_numpy(x), *stats, T.from_numpy(w), T.from_numpy(b),
                                           training=training, eps=1e-3)
        outs.append(y.numpy())
        if T is mt and fused:
            assert "_normalize_jit" in calls
    ours, theirs = outs
    assert not np.isfinite(theirs).all()  # the case has non-finite channels
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)  # the same infinities, signs included
