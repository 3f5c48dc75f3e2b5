"""Depthwise convolution (groups = C = O), the direct kernels of kernels/depthwise.py behind conv2d.

Oracles: the plain-loop conv2d definition of _conv_cases (forward and every gradient), PyTorch,
gradcheck over hypothesis geometries; on the numba path, the generic path and CuPy (``path``).
Plus: the im2col path of Conv2dFn gives the same numbers, the un-jitted loops run, float32 paths
agree, and conv2d sends exactly the depthwise calls here.
"""

import numpy as np
import pytest
import torch
from _conv_cases import conv2d_backward_reference, conv2d_reference, examples, geometries, leaf, path  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st
from minitorch_cnn.kernels import Window
from minitorch_cnn.kernels import depthwise as dk

import minitorch_cnn as mt
from minitorch_cnn import kernels
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import Conv2dFn
from minitorch_cnn.testing import gradcheck


@st.composite
def depthwise_cases(draw):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = draw(geometries(max_kernel=3, max_side=7))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return dict(N=N, C=C, H=H, W=W, kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))  # fmt: skip


def _arrays(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    w = rng.standard_normal((case["C"], 1, *case["kernel"]))
    b = rng.standard_normal(case["C"]) if case["bias"] else None
    return rng, x, w, b


def _geometry(case):
    return dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])


@examples(40)
@given(case=depthwise_cases())
def test_depthwise_against_loops_torch_and_gradcheck(path, case):  # noqa: F811
    rng, x, w, b = _arrays(case)
    C, geo = case["C"], _geometry(case)
    xs, ws = leaf(x, path), leaf(w, path)
    bs = None if b is None else leaf(b, path)
    y = conv2d(xs, ws, bs, groups=C, **geo)
    if C > 1:
        assert y.grad_fn.name == "DepthwiseConv2dFn"  # conv2d chose the direct kernel
    g = rng.standard_normal(y.shape)
    y.backward(mt.tensor(g, device=path))

    ref_y = conv2d_reference(x, w, b, groups=C, **geo)  # the plain loops
    ref_dx, ref_dw, ref_db = conv2d_backward_reference(x, w, g, groups=C, **geo)
    np.testing.assert_allclose(y.numpy(), ref_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ws.grad.numpy(), ref_dw, rtol=1e-12, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(bs.grad.numpy(), ref_db, rtol=1e-12, atol=1e-12)

    ts = [torch.tensor(a, requires_grad=True) for a in (x, w) + (() if b is None else (b,))]
    ty = torch.nn.functional.conv2d(ts[0], ts[1], ts[2] if b is not None else None, groups=C, **geo)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in zip((xs, ws, bs), ts):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)

    args = [leaf(x, path), leaf(w, path)] + ([] if b is None else [leaf(b, path)])
    assert gradcheck(lambda *t: conv2d(*t, groups=C, **geo), args)


@examples(25)
@given(case=depthwise_cases())
def test_direct_kernel_equals_the_im2col_path(path, case):  # noqa: F811
    """The learners' path (Conv2dFn by im2col, G products) and the direct kernel: same numbers, all three."""
    rng, x, w, b = _arrays(case)
    C, (ph, pw) = case["C"], case["padding"]
    results = []
    for direct in (True, False):
        xs, ws = leaf(x, path), leaf(w, path)
        bs = None if b is None else leaf(b, path)
        if direct:
            y = conv2d(xs, ws, bs, groups=C, **_geometry(case))
        else:
            window = Window.fit(x.shape[2:], w.shape[2:], case["stride"], (ph, pw), case["dilation"])
            y = Conv2dFn.apply(xs, ws, bs, window=window, groups=C, extra_padding=(0, 0))
        y.backward(mt.tensor(np.random.default_rng(1).standard_normal(y.shape), device=path))
        results.append([y.numpy(), xs.grad.numpy(), ws.grad.numpy()] + ([] if b is None else [bs.grad.numpy()]))
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_unjitted_loops_match_the_generic_path():
    """The plain Python loops the numba path compiles, run as Python (what NUMBA_DISABLE_JIT=1 runs)."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 3, 2))
    geo = (2, 1, 1, 2, 2, 1)  # sh, sw, ph, pw, dh, dw
    y_ref = dk.depthwise_forward_generic(x, w, *geo)
    y = np.zeros_like(y_ref)
    dk.depthwise_forward_loops(x, w, y, *geo)
    np.testing.assert_allclose(y, y_ref, rtol=1e-13, atol=1e-13)
    g = rng.standard_normal(y.shape)
    dx = np.zeros_like(x)
    dk.depthwise_backward_input_loops(g, w, dx, *geo)
    np.testing.assert_allclose(dx, dk.depthwise_backward_input_generic(g, w, x.shape, *geo), rtol=1e-13, atol=1e-13)
    dwt = np.empty_like(w)
    dk.depthwise_backward_weight_loops(g, x, dwt, *geo)
    np.testing.assert_allclose(dwt, dk.depthwise_backward_weight_generic(g, x, 3, 2, *geo), rtol=1e-13, atol=1e-13)


def test_float32_numba_and_generic_agree_and_dw_sums_in_float64():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8, 28, 28)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3)).astype(np.float32)
    geo = (1, 1, 1, 1, 1, 1)
    y = kernels.depthwise_conv2d_forward(x, w, *geo)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, dk.depthwise_forward_generic(x, w, *geo), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = kernels.depthwise_conv2d_backward_input(g, w, x.shape, *geo)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, dk.depthwise_backward_input_generic(g, w, x.shape, *geo), rtol=1e-5, atol=1e-5)
    dwt = kernels.depthwise_conv2d_backward_weight(g, x, 3, 3, *geo)
    exact = dk.depthwise_backward_weight_generic(g.astype(np.float64), x.astype(np.float64), 3, 3, *geo)
    assert dwt.dtype == np.float32
    # a sum of 3136 products, accumulated in float64: off by the final rounding only
    np.testing.assert_allclose(dwt, exact, rtol=2**-23, atol=0)


def test_conv2d_sends_only_depthwise_calls_to_the_direct_kernel():
    x, w = mt.randn(2, 4, 6, 6, requires_grad=True), mt.randn(4, 1, 3, 3, requires_grad=True)
    assert conv2d(x, w, groups=4, padding=1).grad_fn.name == "DepthwiseConv2dFn"
    # a channel multiplier (O = 2C), ordinary groups, and the asymmetric padding of 'same' with an even
    # kernel stay on the im2col path
    assert conv2d(x, mt.randn(8, 1, 3, 3), groups=4).grad_fn.name == "Conv2dFn"
    assert conv2d(x, mt.randn(4, 2, 3, 3), groups=2).grad_fn.name == "Conv2dFn"
    assert conv2d(x, mt.randn(4, 1, 2, 2), groups=4, padding="same").grad_fn.name == "Conv2dFn"
    with pytest.raises(ValueError, match="conv2d: weight of shape"):
        conv2d(x, mt.randn(4, 2, 3, 3), groups=4)
