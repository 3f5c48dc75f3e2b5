"""The depthwise kernels (kernels/depthwise.py): the plain Python loops the numba path compiles, run
as Python, against the array-generic path; float32 on both paths, with dW summed in float64. The op
built on them is checked against every oracle by the conformance suite
(functional/conv/test_conformance.py)."""

import numpy as np
from minitorch_cnn.kernels import depthwise as dk

from minitorch_cnn import kernels


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


def test_inf_and_nan_times_the_padding_give_nan_on_both_paths_and_unjitted():
    """The numba loops skip the padded taps; where PyTorch's product with the padding's zero is NaN
    (an inf or NaN weight in y, an inf or NaN gradient in dw) they add it, as the generic path does."""
    rng = np.random.default_rng(7)
    x, w, g = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((3, 3, 3)), rng.standard_normal((2, 3, 3, 3))
    w[0, 0, 0], w[2, 1, 2] = np.inf, np.nan
    g[1, 1, 0, 0], g[0, 2, 2, 1] = -np.inf, np.nan
    geometry = (2, 2, 1, 1, 1, 1)  # stride 2, padding 1
    with np.errstate(invalid="ignore"):
        y_generic = dk.depthwise_forward_generic(x, w, *geometry)
        dw_generic = dk.depthwise_backward_weight_generic(g, x, 3, 3, *geometry)
        y_numba = dk.depthwise_forward_numba(x, w, *geometry)
        dw_numba = dk.depthwise_backward_weight_numba(g, x, 3, 3, *geometry)
        y_loops = np.zeros_like(y_numba)
        dk.depthwise_forward_loops(x, w, y_loops, *geometry)  # plain Python
        dw_loops = np.empty_like(w)
        dk.depthwise_backward_weight_loops(g, x, dw_loops, *geometry)
    assert np.isnan(y_generic).any() and np.isnan(dw_generic).any()
    for y in (y_numba, y_loops):
        np.testing.assert_array_equal(np.isnan(y), np.isnan(y_generic))
    for dw in (dw_numba, dw_loops):
        np.testing.assert_array_equal(np.isnan(dw), np.isnan(dw_generic))
