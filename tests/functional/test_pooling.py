"""max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d on every kernel path, against the worked values of
the book (d2l, sec. 7.5), plain-loop pool2d references, PyTorch (outputs and gradients) and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import (
    avg_pool2d_reference,
    distinct_values,
    examples,
    geometries,
    leaf,
    max_pool2d_reference,
    out_size,
    path,
    to_xp,
    windows,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from minitorch_cnn import backend, nn
from minitorch_cnn.functional import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]


def host(t):
    return backend.to_numpy(t.array)


# ---------------------------------------------------------------- the book's worked values (d2l, sec. 7.5)
def test_worked_values(path):
    x = leaf(np.arange(9.0).reshape(1, 1, 3, 3), path)
    np.testing.assert_array_equal(host(max_pool2d(x, 2, stride=1))[0, 0], [[4, 5], [7, 8]])
    np.testing.assert_array_equal(host(avg_pool2d(x, 2, stride=1))[0, 0], [[2, 3], [5, 6]])

    x16 = leaf(np.arange(16.0).reshape(1, 1, 4, 4), path)
    np.testing.assert_array_equal(host(max_pool2d(x16, 3)), [[[[10]]]])
    np.testing.assert_array_equal(host(max_pool2d(x16, 3, padding=1, stride=2))[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(host(max_pool2d(x16, (2, 3), stride=(2, 3), padding=(0, 1)))[0, 0], [[5, 7], [13, 15]])

    two = leaf(np.stack([np.arange(16.0), np.arange(16.0) + 1]).reshape(1, 2, 4, 4), path)
    assert max_pool2d(two, 3, padding=1, stride=2).shape == (1, 2, 2, 2)
    assert avg_pool2d(two, 3, padding=1, stride=2).shape == (1, 2, 2, 2)


def test_worked_gradients(path):
    """The pooling example of docs/conv_backprop.md: 2×2 windows, stride 1, on the 3×3 input."""
    g = to_xp(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), path)
    x = leaf(np.arange(9.0).reshape(1, 1, 3, 3), path)
    max_pool2d(x, 2, stride=1).backward(g)
    np.testing.assert_array_equal(host(x.grad)[0, 0], [[0, 0, 0], [0, 1, 2], [0, 3, 4]])
    x = leaf(np.arange(9.0).reshape(1, 1, 3, 3), path)
    avg_pool2d(x, 2, stride=1).backward(g)
    np.testing.assert_array_equal(host(x.grad)[0, 0], [[0.25, 0.75, 0.5], [1.0, 2.5, 1.5], [0.75, 1.75, 1.0]])


def test_max_pool_ties_as_pytorch(path):
    """All-equal windows: the whole gradient goes to one pixel per window, the first in row-major order."""
    x = np.zeros((1, 1, 4, 4))
    g = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    tx = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(tx, 2, stride=1).backward(torch.tensor(g))
    xt = leaf(x, path)
    max_pool2d(xt, 2, stride=1).backward(to_xp(g, path))
    np.testing.assert_array_equal(host(xt.grad), tx.grad.numpy())


# ---------------------------------------------------------------- hypothesis
@st.composite
def pool_cases(draw, dilation=True):
    geo = draw(geometries(pool=True, dilation=dilation))
    ceil_mode = draw(st.booleans())
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    Ho, Wo = out_size(H, kh, sh, ph, dh, ceil_mode), out_size(W, kw, sw, pw, dw, ceil_mode)
    assume(Ho >= 1 and Wo >= 1)
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return dict(shape=(n, c, H, W), geo=geo, ceil_mode=ceil_mode, out=(Ho, Wo), seed=draw(st.integers(0, 2**16)))


def _max_args(case):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = case["geo"]
    return dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), ceil_mode=case["ceil_mode"])


def _avg_args(case, count_include_pad):
    args = _max_args(case)
    del args["dilation"]
    return dict(args, count_include_pad=count_include_pad)


def _every_window_sees_input(x, case):
    H, W, *geometry = case["geo"]
    return all(taps for _, taps, _ in windows(x, *geometry, *case["out"]))


@examples(30)
@given(case=pool_cases(), dtype=st.sampled_from([np.float64, np.float32]))
def test_max_pool_matches_loops_and_pytorch(path, case, dtype):
    rng = np.random.default_rng(case["seed"])
    x = distinct_values(rng, case["shape"], dtype)
    assume(_every_window_sees_input(x, case))
    xt = leaf(x, path)
    y = max_pool2d(xt, **_max_args(case))
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(to_xp(g, path))
    assert y.dtype == dtype and xt.grad.dtype == dtype

    y_ref, _, dx_ref = max_pool2d_reference(x.astype(np.float64), g, *case["geo"][2:], *case["out"])
    np.testing.assert_array_equal(host(y), y_ref.astype(dtype))
    np.testing.assert_allclose(host(xt.grad), dx_ref, rtol=1e-6, atol=1e-6)

    tx = torch.tensor(x, requires_grad=True)
    ty = TF.max_pool2d(tx, **_max_args(case))
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(host(y), ty.detach().numpy())
    # a pixel that wins several windows sums their gradients, in an order that may differ from PyTorch's
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), **tol)


@examples(30)
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]))
def test_avg_pool_matches_loops_and_pytorch(path, case, count_include_pad, dtype):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["shape"]).astype(dtype)
    xt = leaf(x, path)
    y = avg_pool2d(xt, **_avg_args(case, count_include_pad))
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(to_xp(g, path))
    assert y.dtype == dtype and xt.grad.dtype == dtype
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)

    H, W, kh, kw, sh, sw, ph, pw, _, _ = case["geo"]
    y_ref, dx_ref = avg_pool2d_reference(x.astype(np.float64), g, kh, kw, sh, sw, ph, pw, *case["out"], count_include_pad)
    np.testing.assert_allclose(host(y), y_ref, **tol)
    np.testing.assert_allclose(host(xt.grad), dx_ref, **tol)

    tx = torch.tensor(x, requires_grad=True)
    ty = TF.avg_pool2d(tx, **_avg_args(case, count_include_pad))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(host(y), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), **tol)


@examples(20)
@given(case=pool_cases())
def test_pool_gradcheck(path, case):
    rng = np.random.default_rng(case["seed"])
    x = distinct_values(rng, case["shape"])
    assume(_every_window_sees_input(x, case))
    gradcheck(lambda t: max_pool2d(t, **_max_args(case)), [leaf(x, path)])
    if case["geo"][8:] == (1, 1):
        gradcheck(lambda t: avg_pool2d(t, **_avg_args(case, True)), [leaf(x, path)])
        gradcheck(lambda t: avg_pool2d(t, **_avg_args(case, False)), [leaf(x, path)])


@examples(30)
@given(
    H=st.integers(1, 9), W=st.integers(1, 9), Ho=st.integers(1, 6), Wo=st.integers(1, 6),
    dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16),
)
def test_adaptive_avg_pool(path, H, W, Ho, Wo, dtype, seed):
    """Any output size (also larger than the input), PyTorch's bins; loops, PyTorch and gradcheck."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, H, W)).astype(dtype)
    xt = leaf(x, path)
    y = adaptive_avg_pool2d(xt, (Ho, Wo))
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(to_xp(g, path))
    assert y.shape == (2, 2, Ho, Wo) and y.dtype == dtype and xt.grad.dtype == dtype
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)

    y_ref, dx_ref = np.zeros((2, 2, Ho, Wo)), np.zeros(x.shape)
    for i in range(Ho):
        for j in range(Wo):
            h0, h1 = (i * H) // Ho, -(-((i + 1) * H) // Ho)
            w0, w1 = (j * W) // Wo, -(-((j + 1) * W) // Wo)
            y_ref[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
            dx_ref[:, :, h0:h1, w0:w1] += g[:, :, i, j][:, :, None, None] / ((h1 - h0) * (w1 - w0))
    check_adaptive((adaptive_avg_pool2d, TF.adaptive_avg_pool2d), (Ho, Wo), x, g, (y, xt.grad), (y_ref, dx_ref), tol, path)



def check_adaptive(ops, size, x, g, ours, loops, tol, path):
    """``ours`` (y and dx of ``ops[0]``) against the plain ``loops`` and PyTorch's ``ops[1]`` on the same
    x and g; gradcheck in float64."""
    (y, dx), tx = ours, torch.tensor(x, requires_grad=True)
    ty = ops[1](tx, size)
    ty.backward(torch.tensor(g))
    for expected in (loops, (ty.detach().numpy(), tx.grad.numpy())):
        np.testing.assert_allclose(host(y), expected[0], **tol)
        np.testing.assert_allclose(host(dx), expected[1], **tol)
    if x.dtype == np.float64:
        gradcheck(lambda t: ops[0](t, size), [leaf(x, path)])

def test_adaptive_output_size_forms(path):
    x = leaf(np.arange(2 * 3 * 5 * 7.0).reshape(2, 3, 5, 7), path)
    assert adaptive_avg_pool2d(x, 1).shape == (2, 3, 1, 1)
    assert adaptive_avg_pool2d(x, (2, None)).shape == (2, 3, 2, 7)
    np.testing.assert_allclose(host(adaptive_avg_pool2d(x, 1))[..., 0, 0], host(x).mean(axis=(2, 3)))


@examples(30)
@given(
    H=st.integers(1, 9), W=st.integers(1, 9), Ho=st.integers(1, 6), Wo=st.integers(1, 6),
    dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16),
)
def test_adaptive_max_pool(path, H, W, Ho, Wo, dtype, seed):
    """PyTorch's bins (overlapping when the sizes do not divide); loops, PyTorch and gradcheck."""
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, (2, 3, H, W)).astype(dtype)  # distinct: one maximum per bin
    xt = leaf(x, path)
    y = adaptive_max_pool2d(xt, (Ho, Wo))
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(to_xp(g, path))
    assert y.shape == (2, 3, Ho, Wo) and y.dtype == dtype and xt.grad.dtype == dtype

    y_ref, dx_ref = np.zeros((2, 3, Ho, Wo)), np.zeros(x.shape)
    for n in range(2):
        for c in range(3):
            for i in range(Ho):
                for j in range(Wo):
                    h0, h1 = (i * H) // Ho, -(-((i + 1) * H) // Ho)
                    w0, w1 = (j * W) // Wo, -(-((j + 1) * W) // Wo)
                    best = (h0, w0)
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if x[n, c, h, w] > x[n, c][best]:
                                best = (h, w)
                    y_ref[n, c, i, j] = x[n, c][best]
                    dx_ref[n, c][best] += g[n, c, i, j]
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-6)
    check_adaptive((adaptive_max_pool2d, TF.adaptive_max_pool2d), (Ho, Wo), x, g, (y, xt.grad), (y_ref, dx_ref), tol, path)


def test_adaptive_max_pool_ties_and_layer_as_pytorch(path):
    """Equal values: each bin's gradient goes to its first pixel in row-major order, as PyTorch's."""
    x = np.ones((1, 2, 5, 4))
    xt = leaf(x, path)
    layer = nn.AdaptiveMaxPool2d((3, 3))
    assert repr(layer) == repr(torch.nn.AdaptiveMaxPool2d((3, 3)))
    y = layer(xt)
    y.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    TF.adaptive_max_pool2d(tx, (3, 3)).sum().backward()
    np.testing.assert_array_equal(host(xt.grad), tx.grad.numpy())
    assert host(xt.grad).sum() == 2 * 9  # one pixel per bin, bins can share a pixel


@pytest.mark.parametrize("divisor", [1, 3, 7])
def test_avg_pool_divisor_override_as_pytorch(path, divisor):
    rng = np.random.default_rng(divisor)
    x = rng.standard_normal((2, 2, 5, 6))
    xt = leaf(x, path)
    y = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, divisor_override=divisor)(xt)
    g = rng.standard_normal(y.shape)
    y.backward(to_xp(g, path))
    tx = torch.tensor(x, requires_grad=True)
    ty = TF.avg_pool2d(tx, 3, stride=2, padding=1, ceil_mode=True, divisor_override=divisor)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    gradcheck(lambda t: avg_pool2d(t, 3, 2, 1, True, True, divisor), [leaf(x, path)])


# (H, W, kernel, stride, padding): with ceil_mode the last window overhangs the padded input
OVERHANGING = [(6, 6, 3, 2, 1), (6, 7, 3, 2, 0), (5, 8, (2, 3), (2, 3), (0, 1)), (7, 4, 4, 3, 1)]


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", OVERHANGING, ids=str)
def test_avg_pool_ceil_mode_overhanging_window_divisor_as_pytorch(path, case, count_include_pad):
    """A ceil_mode window that runs past the padded input divides by its part inside the padded input
    (count_include_pad) or inside the input, never by the full kernel area; outputs and gradients
    against PyTorch and the plain loops, and one divisor by hand."""
    H, W, k, s, p = case
    rng = np.random.default_rng(H * W)
    x = rng.standard_normal((2, 3, H, W))
    xt = leaf(x, path)
    y = avg_pool2d(xt, k, s, p, ceil_mode=True, count_include_pad=count_include_pad)
    g = rng.standard_normal(y.shape)
    y.backward(to_xp(g, path))
    tx = torch.tensor(x, requires_grad=True)
    ty = TF.avg_pool2d(tx, k, s, p, ceil_mode=True, count_include_pad=count_include_pad)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (s, s) if isinstance(s, int) else s
    ph, pw = (p, p) if isinstance(p, int) else p
    y_ref, dx_ref = avg_pool2d_reference(x, g, kh, kw, sh, sw, ph, pw, *y.shape[2:], count_include_pad)
    np.testing.assert_allclose(host(y), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(xt.grad), dx_ref, rtol=1e-12, atol=1e-12)


def test_avg_pool_ceil_mode_last_window_by_hand(path):
    """6x6 ones, kernel 3, stride 2, padding 1, ceil_mode: 4x4 outputs; the last window row starts at
    row 5 and covers rows 5..7 of which 5 and 6 lie in the padded input [-1, 7) and only row 5 in the
    input. count_include_pad: 1 real row / 2 counted rows; without it: 1 / 1."""
    x = leaf(np.ones((1, 1, 6, 6)), path)
    y = avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)
    assert y.shape == (1, 1, 4, 4)
    assert host(y)[0, 0, 3, 1] == pytest.approx(3 / 6)  # 1 real row x 3 real columns / (2 x 3 counted)
    assert host(y)[0, 0, 3, 3] == pytest.approx(1 / 4)  # 1 x 1 real / (2 x 2 counted)
    y.backward(to_xp(np.ones(y.shape), path))
    # pixel (5, 5) sits in windows (2, 2): 9 counted, (2, 3) and (3, 2): 6 each, (3, 3): 4
    assert host(x.grad)[0, 0, 5, 5] == pytest.approx(1 / 9 + 1 / 6 + 1 / 6 + 1 / 4)
    y = avg_pool2d(leaf(np.ones((1, 1, 6, 6)), path), 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(host(y), np.ones((1, 1, 4, 4)))


def test_unbatched_input_is_a_batch_of_one_as_pytorch(path):
    """A (C, H, W) image pools to (C, Ho, Wo): the values and gradients of the same image batched."""
    rng = np.random.default_rng(5)
    x = distinct_values(rng, (3, 7, 6))
    for fn, args in ((max_pool2d, (3, 2, 1)), (avg_pool2d, (2,)), (adaptive_avg_pool2d, ((3, 2),)),
                     (adaptive_max_pool2d, ((3, 2),))):
        single, batch = leaf(x, path), leaf(x[None], path)
        y, yb = fn(single, *args), fn(batch, *args)
        assert y.shape == yb.shape[1:]
        y.sum().backward()
        yb.sum().backward()
        np.testing.assert_array_equal(host(y), host(yb)[0])
        np.testing.assert_array_equal(host(single.grad), host(batch.grad)[0])
        ty = getattr(TF, fn.__name__)(torch.tensor(x), *args)
        np.testing.assert_allclose(host(y), ty.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- bad input
def _t(shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "error", "match"),
    [
        (max_pool2d, (_t((4, 4)), 2), {}, ValueError, r"max_pool2d: expected a 3-D or 4-D input, got shape (minitorch_cnn\.Size\(\[4, 4\]\)|\(4, 4\))"),
        (avg_pool2d, (_t((1, 1, 1, 4, 4)), 2), {}, ValueError, "avg_pool2d: expected a 3-D or 4-D input"),
        (max_pool2d, (_t((1, 1, 4, 4), np.int64), 2), {}, TypeError, "max_pool2d: expected a floating-point"),
        (max_pool2d, (_t((1, 1, 2, 2)), 3), {}, ValueError, "max_pool2d: the window .* larger than the padded input"),
        (avg_pool2d, (_t((1, 1, 2, 2)), (1, 3)), {}, ValueError, "avg_pool2d: the window .* larger"),
        (max_pool2d, (_t((1, 1, 4, 4)), 2), {"padding": 2}, ValueError, "padding should be at most half"),
        (max_pool2d, (_t((1, 1, 4, 4)), 2), {"stride": 0}, ValueError, "max_pool2d: expected a positive stride"),
        (max_pool2d, (_t((1, 1, 4, 4)), 0), {}, ValueError, "max_pool2d: expected a positive kernel_size"),
        (max_pool2d, (_t((1, 1, 4, 4)), 2), {"padding": -1}, ValueError, "non-negative padding"),
        (max_pool2d, (_t((1, 1, 4, 4)), 2), {"dilation": 0}, ValueError, "positive dilation"),
        (avg_pool2d, (_t((1, 1, 4, 4)), 2.5), {}, TypeError, "avg_pool2d: expected kernel_size"),
        (adaptive_avg_pool2d, (_t((4, 4)), 1), {}, ValueError, "adaptive_avg_pool2d: expected a 3-D or 4-D input"),
        (adaptive_avg_pool2d, (_t((1, 1, 4, 4)), 0), {}, ValueError, "adaptive_avg_pool2d: expected a positive"),
        (adaptive_max_pool2d, (_t((4, 4)), 1), {}, ValueError, "adaptive_max_pool2d: expected a 3-D or 4-D input"),
        (adaptive_max_pool2d, (_t((1, 1, 4, 4)), (2, 0)), {}, ValueError, "adaptive_max_pool2d: expected a positive"),
        (adaptive_max_pool2d, (_t((1, 1, 4, 4), np.int64), 1), {}, TypeError, "adaptive_max_pool2d: expected a floating"),
        (avg_pool2d, (_t((1, 1, 4, 4)), 2), {"divisor_override": 0}, ValueError, "avg_pool2d: expected divisor_override"),
    ],
)
def test_bad_input(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("kernels", ["numba", "generic"])
def test_max_pool_nan_beats_numbers_and_the_last_nan_takes_the_gradient(kernels):
    """A window holding NaN gives NaN (as PyTorch), and its gradient goes to its last NaN in
    row-major order (PyTorch's CPU rule: each NaN replaces the running max), also after a larger number."""
    x = np.array([[[[1.0, 9.0, 0.0, 2.0],
                    [np.nan, np.nan, 3.0, 4.0],
                    [5.0, 6.0, np.nan, 7.0],
                    [8.0, 0.5, 1.5, 2.5]]]])
    previous = backend.get_kernel_path()
    backend.set_kernel_path(kernels)
    try:
        xt = Tensor(x, requires_grad=True)
        y = max_pool2d(xt, 2)
        y.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    finally:
        backend.set_kernel_path(previous)
    yv = y.numpy()[0, 0]
    assert np.isnan(yv[0, 0]) and yv[0, 1] == 4.0 and yv[1, 0] == 8.0 and np.isnan(yv[1, 1])
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[3, 0], expected[2, 2] = 10.0, 20.0, 30.0, 40.0
    np.testing.assert_array_equal(xt.grad.numpy()[0, 0], expected)
    assert np.isnan(TF.max_pool2d(torch.tensor(x), 2).numpy()[0, 0, [0, 1], [0, 1]]).all()  # PyTorch's NaN too
    tx = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(tx, 2).backward(torch.tensor([[[[10.0, 20.0], [30.0, 40.0]]]], dtype=torch.float64))
    np.testing.assert_array_equal(tx.grad.numpy()[0, 0], expected)  # PyTorch's gradient


@examples(30)
@given(case=pool_cases(), dtype=st.sampled_from([np.float64, np.float32]))
def test_max_pool_ties_signed_zeros_and_nans_same_bits_on_both_paths_and_pytorch(case, dtype):
    """Values drawn from {-1, -0.0, 0.0, 1, NaN}: every window has ties, many a NaN, and 0.0 and -0.0
    compare equal, so the first of them must win. The numba loop's branch-free running maximum
    (``max_pool2d_forward_loops``) gives the generic path's value bits and argmax (the first maximum,
    the last NaN), and PyTorch's values; the gradients go to the same pixels, PyTorch's."""
    rng = np.random.default_rng(case["seed"])
    x = rng.choice(np.array([-1.0, -0.0, 0.0, 1.0, np.nan]), size=case["shape"]).astype(dtype)
    assume(_every_window_sees_input(x, case))
    results = {}
    previous = backend.get_kernel_path()
    try:
        for kernels in ("numba", "generic"):
            backend.set_kernel_path(kernels)
            xt = Tensor(x, requires_grad=True)
            y = max_pool2d(xt, **_max_args(case))
            y.backward(np.arange(1.0, y.array.size + 1).reshape(y.shape).astype(dtype))  # a distinct gradient per window
            results[kernels] = (y.numpy(), xt.grad.numpy())
    finally:
        backend.set_kernel_path(previous)
    bits = np.int64 if dtype == np.float64 else np.int32
    (y_numba, dx_numba), (y_generic, dx_generic) = results["numba"], results["generic"]
    np.testing.assert_array_equal(y_numba.view(bits), y_generic.view(bits))
    np.testing.assert_array_equal(dx_numba, dx_generic)
    tx = torch.tensor(x, requires_grad=True)
    ty = TF.max_pool2d(tx, **_max_args(case))
    ty.backward(torch.arange(1.0, ty.numel() + 1).reshape(ty.shape).to(ty.dtype))
    ty = ty.detach().numpy()
    np.testing.assert_array_equal(np.signbit(y_numba), np.signbit(ty))
    np.testing.assert_array_equal(y_numba, ty)  # NaN where PyTorch has NaN
    np.testing.assert_array_equal(dx_numba, tx.grad.numpy())  # PyTorch's winners got the gradient
