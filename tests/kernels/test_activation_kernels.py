"""The fused activation kernels (kernels/activation.py).

Oracles: the per-element definition in a plain loop, the generic NumPy path (same bits: the loops
keep its order of operations), PyTorch's gradients, gradcheck through the ops with the numba path
forced on small arrays, float32 and float64, and the same bits on one and several threads. The
float32 sigmoid forward has its own e^t: it is held to the exact σ computed in float64 (ulps),
the un-jitted loop's bits, and the tails' limits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch
from minitorch_cnn.kernels import activation

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn import functional as F
from minitorch_cnn.testing import gradcheck

BIG = (4, 3, 61, 53)  # 38 772 elements: above activation.SMALL, so the numba loops run


@pytest.fixture
def numba_path():
    previous = backend.get_kernel_path()
    backend.set_kernel_path("numba")
    yield
    backend.set_kernel_path(previous)


def _inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(BIG).astype(dtype)
    out = rng.random(BIG).astype(dtype)  # a sigmoid's output lies in (0, 1)
    return g, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_backward_is_the_loop_definition_and_the_generic_bits(numba_path, dtype):
    g, out = _inputs(dtype)
    da = activation.sigmoid_backward(g, out)
    assert da.dtype == dtype and da.shape == BIG
    flat_g, flat_o, flat_d = g.reshape(-1), out.reshape(-1), da.reshape(-1)
    for i in range(0, flat_d.size, 997):  # the definition, element by element, in the array's dtype
        o = flat_o[i]
        assert flat_d[i] == (dtype(1) - o) * o * flat_g[i]
    np.testing.assert_array_equal(da, activation.sigmoid_backward_generic(g, out))


def _ulps_from_exact_sigmoid(a, s):
    exact = 1 / (1 + np.exp(-a.astype(np.float64)))
    return np.abs(s.astype(np.float64) - exact) / np.spacing(exact.astype(np.float32)).astype(np.float64)


def test_sigmoid_forward_is_within_3_ulp_of_the_exact_value(numba_path, monkeypatch):
    calls = []
    jit = activation._sigmoid_forward_jit
    monkeypatch.setattr(activation, "_sigmoid_forward_jit", lambda *a: (calls.append(1), jit(*a)))
    rng = np.random.default_rng(11)
    a = np.concatenate([np.linspace(-88, 100, 200_001, dtype=np.float32),  # every range of k
                        rng.standard_normal(50_000).astype(np.float32) * 4,
                        np.float32(2.0) ** -np.arange(1, 40, dtype=np.float32)])  # near 0: σ ≈ 1/2 + a/4
    s = activation.sigmoid_forward(a)
    assert calls and s.dtype == np.float32
    assert _ulps_from_exact_sigmoid(a, s).max() <= 3
    # the NumPy path is held to the same bound (the kernel is no worse than what it replaces)
    assert _ulps_from_exact_sigmoid(a, activation.sigmoid_forward_generic(a)).max() <= 3


def test_sigmoid_forward_tails_and_nan(numba_path):
    a = np.zeros(activation.SMALL, dtype=np.float32)
    special = [np.nan, np.inf, -np.inf, 88.0, 100.0, 1e30, -88.5, -100.0, -1e30, -87.0]
    a[: len(special)] = special
    s = activation.sigmoid_forward(a)
    assert np.isnan(s[0])
    assert list(s[1:6]) == [1, 0, 1, 1, 1]
    assert list(s[6:9]) == [0, 0, 0]  # below the smallest normal float32: 0
    assert s[9] == np.float32(1 / (1 + np.exp(87.0)))  # σ(−87) = 1.6e−38, a normal float32, exact here
    assert np.all(s[len(special):] == 0.5)


def test_sigmoid_forward_loop_runs_as_plain_python_with_the_same_bits():
    a = np.random.default_rng(12).uniform(-90, 90, 2000).astype(np.float32)
    a[:3] = [np.nan, -89.0, 0.0]
    plain = np.empty_like(a)
    activation.sigmoid_forward_loops(a, plain)  # un-jitted: prange is range in plain Python
    jitted = np.empty_like(a)
    activation._sigmoid_forward_jit(a, jitted)
    np.testing.assert_array_equal(plain, jitted)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_is_the_loop_definition_and_the_generic_bits(numba_path, dtype):
    g, out = _inputs(dtype)
    out = out - dtype(0.5)
    out.reshape(-1)[:7] = 0  # the kink: ReLU'(0) = 0
    g.reshape(-1)[:3] = [np.nan, -1.0, np.inf]
    out.reshape(-1)[7] = np.nan  # a NaN input: ReLU passes g there, as PyTorch
    da = activation.relu_backward(g, out)
    generic = activation.relu_backward_generic(g, out)
    expected_all = [dtype(0.0) if out.flat[i] <= 0 else g.flat[i] for i in range(da.size)]
    for i, expected in enumerate(expected_all):
        assert da.flat[i] == expected or (math.isnan(da.flat[i]) and math.isnan(expected))
    np.testing.assert_array_equal(da, generic)
    assert not np.signbit(da.flat[1]) and da.flat[2] == 0  # selected: +0, and inf g gives 0 (not NaN), as PyTorch
    assert da.flat[7] == g.flat[7]


def test_the_loops_give_the_same_bits_on_one_and_several_threads(numba_path):
    import numba

    threads = min(4, numba.config.NUMBA_NUM_THREADS)
    if threads < 2:
        pytest.skip("numba sees a single CPU")
    g, out = _inputs(np.float32, seed=3)
    previous, runs = numba.get_num_threads(), []
    try:
        for t in (1, threads):
            numba.set_num_threads(t)
            runs.append((activation.sigmoid_backward(g, out), activation.relu_backward(g, out - 0.5),
                         activation.sigmoid_forward(g)))
    finally:
        numba.set_num_threads(previous)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_other_layouts_and_small_arrays_take_the_generic_path(numba_path, monkeypatch):
    calls = []
    monkeypatch.setattr(activation, "_sigmoid_backward_jit", lambda *a: calls.append(a))
    g, out = _inputs(np.float32)
    small = activation.sigmoid_backward(g[:1, :1, :4], out[:1, :1, :4])
    strided = activation.sigmoid_backward(g[..., ::2], out[..., ::2])  # not contiguous
    mixed = activation.sigmoid_backward(g.astype(np.float64), out)
    out_t = np.ascontiguousarray(out.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0)  # out's shape, other strides
    one_strided = activation.sigmoid_backward(g, out_t)  # g contiguous, out not
    assert not calls
    np.testing.assert_array_equal(one_strided, activation.sigmoid_backward_generic(g, out))
    np.testing.assert_array_equal(strided, activation.sigmoid_backward_generic(g[..., ::2], out[..., ::2]))
    assert small.shape == (1, 1, 4, 53) and mixed.dtype == np.float32  # the generic path keeps out's dtype


def test_sigmoid_forward_takes_numpys_path_for_float64_small_and_strided(numba_path, monkeypatch):
    calls = []
    monkeypatch.setattr(activation, "_sigmoid_forward_jit", lambda *a: calls.append(a))
    g, _ = _inputs(np.float32)
    for a in (g.astype(np.float64), g[:1, :1, :4], g[..., ::2]):
        np.testing.assert_array_equal(activation.sigmoid_forward(a), activation.sigmoid_forward_generic(a))
    assert not calls


@pytest.mark.parametrize("op", ["sigmoid", "relu"])
def test_ops_on_the_fused_path_against_torch_and_gradcheck(numba_path, monkeypatch, op):
    monkeypatch.setattr(activation, "SMALL", 0)  # every array through the numba loops
    calls = []
    jit = getattr(activation, f"_{op}_backward_jit")
    monkeypatch.setattr(activation, f"_{op}_backward_jit", lambda *a: (calls.append(1), jit(*a)))
    fn, ref = getattr(F, op), getattr(torch, op)
    a = np.random.default_rng(5).uniform(-4, 4, (3, 4, 5))
    if op == "relu":
        a[np.abs(a) < 0.05] = 0.5  # finite differences cannot see through the kink
    check_against_torch(fn, ref, [a])
    assert gradcheck(fn, [mt.Tensor(a, requires_grad=True)])
    assert calls
    big = np.random.default_rng(6).uniform(-4, 4, BIG).astype(np.float32)  # float32 at LeNet's sizes
    x, t = mt.Tensor(big, requires_grad=True), torch.tensor(big, requires_grad=True)
    gout = np.random.default_rng(7).standard_normal(BIG).astype(np.float32)
    fn(x).backward(mt.Tensor(gout))
    ref(t).backward(torch.from_numpy(gout))
    # a 1-ulp difference in σ(a) becomes up to 1/(1 − σ) ≈ 55 ulp in 1 − σ for |a| <= 4: 55 · 2⁻²⁴ ≈ 3.3e-6
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_take_0d_and_non_contiguous_arrays_on_both_paths(kernel_path, dtype):
    """0-d arrays (NumPy's arithmetic returns scalars there) and strided views give arrays of the
    definition's values on both paths."""
    rng = np.random.default_rng(2)
    for a in (np.array(0.7, dtype=dtype), rng.standard_normal((300, 260)).astype(dtype).T[::2]):
        s = activation.sigmoid_forward(a)
        assert isinstance(s, np.ndarray) and s.shape == a.shape and s.dtype == dtype
        np.testing.assert_allclose(s, 1 / (1 + np.exp(-a.astype(np.float64))), rtol=4e-7 if dtype == np.float32 else 1e-15)
        g = np.ones_like(a)
        da = activation.sigmoid_backward(g, s)
        assert isinstance(da, np.ndarray) and da.shape == a.shape
        np.testing.assert_array_equal(da, (1 - s) * s * g)
        r = activation.relu_backward(g, a)
        assert isinstance(r, np.ndarray) and r.shape == a.shape
        np.testing.assert_array_equal(r, np.where(a <= 0, 0, g))
