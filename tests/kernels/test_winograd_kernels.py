"""Winograd's kernels (kernels/winograd.py) against their definitions: the 1-D definition of minimal
filtering, the adjoint of cutting tiles, the numba tile loops (jitted and as plain Python) against
the array-generic path, and F(4×4, 3×3)'s float32 error on the nets' layers, the bound the
conformance suite's one tolerance rests on (``_conv_cases.ROUND_OFF_EPS``). The op built on them is
checked by the conformance suite (functional/conv/test_conformance.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import examples
from hypothesis import given
from hypothesis import strategies as st
from minitorch_cnn.kernels import winograd as wk

from minitorch_cnn import backend


@pytest.mark.parametrize("m", [2, 4])
def test_matrices_compute_a_3_tap_correlation_in_1d(m):
    """y = Aᵀ[(G g) ⊙ (Bᵀ d)] is the correlation y_i = Σ_k d_(i+k) g_k, for any d and g."""
    BT, G, AT = wk.winograd_matrices(m)
    rng = np.random.default_rng(m)
    for _ in range(5):
        d, g = rng.standard_normal(m + 2), rng.standard_normal(3)
        direct = [sum(d[i + k] * g[k] for k in range(3)) for i in range(m)]
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), direct, rtol=1e-12, atol=1e-12)


def test_unknown_tile_size_is_refused():
    with pytest.raises(ValueError, match="m = 2 or 4"):
        wk.winograd_matrices(3)


@pytest.mark.parametrize("kernels", ["numba", "generic"])
@pytest.mark.parametrize(("T_rows", "k", "step", "top", "left"), [(4, 4, 2, 1, 1), (6, 6, 4, 0, 2), (6, 4, 4, 0, 0)])
def test_add_tiles_is_the_adjoint_of_cut_tiles(kernels, T_rows, k, step, top, left):
    """<cut(x), M> == <x, add(M)>: the backward's tile operation is the exact transpose of the forward's."""
    previous = backend.get_kernel_path()
    backend.set_kernel_path(kernels)
    try:
        rng = np.random.default_rng(1)
        T = rng.standard_normal((T_rows, k))
        x = rng.standard_normal((2, 3, 7, 9))
        tiles = (3, 3)
        cut = wk.cut_tiles(x, T, step, top, left, tiles)
        M = rng.standard_normal(cut.shape)
        back = wk.add_tiles(M, T.T, step, top, left, x.shape)
        assert back.shape == x.shape
        np.testing.assert_allclose(np.vdot(cut, M), np.vdot(x, back), rtol=1e-12)
    finally:
        backend.set_kernel_path(previous)


@examples(25)
@given(
    st.sampled_from([(4, 4, 2), (6, 6, 4), (6, 4, 4), (4, 2, 2), (5, 3, 2)]),
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_numba_tile_loops_equal_the_generic_path(shape, N, C, H, W, top, left, T_h, T_w):
    """cut_tiles / add_tiles: the numba loops (jitted, and as plain Python) against the array-generic
    path, in float64 to round-off, over matrices with zeros, tiles that overlap (k > step), tiles
    that reach past the input and into the padding on every side."""
    A, k, step = shape
    rng = np.random.default_rng(N + C + H + W + top + left + T_h + T_w + A + k)
    T = rng.standard_normal((A, k)) * (rng.random((A, k)) > 0.3)
    x = rng.standard_normal((N, C, H, W))
    expected = wk.cut_tiles_generic(x, T, step, top, left, (T_h, T_w))
    cut = wk.cut_tiles(x, T, step, top, left, (T_h, T_w))
    plain = np.empty_like(cut)
    wk.cut_tiles_loops(x, T, step, top, left, plain)
    np.testing.assert_allclose(cut, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(plain, expected, rtol=1e-12, atol=1e-12)

    M = rng.standard_normal(cut.shape)
    expected = wk.add_tiles_generic(M, T.T, step, top, left, x.shape)
    added = wk.add_tiles(M, T.T, step, top, left, x.shape)
    plain = np.full(x.shape, np.nan)  # every entry is written, the ones no tile covers with 0
    wk.add_tiles_loops(M, T.T, step, top, left, plain)
    np.testing.assert_allclose(added, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(plain, expected, rtol=1e-12, atol=1e-12)
    into = np.full((N + 2, C, H, W), np.nan)
    assert wk.add_tiles(M, T.T, step, top, left, x.shape, out=into[1 : N + 1]) is not None
    np.testing.assert_array_equal(into[1 : N + 1], added)  # written in place, the rest untouched
    assert np.isnan(into[0]).all() and np.isnan(into[N + 1]).all()


# ---------------------------------------------------------------- float32 accuracy on the nets' layers
# (C, O, H) of 3×3 stride-1 layers of the six nets at their input sizes (VGG-11-small, ResNet-18,
# GoogLeNet, DenseNet), inputs of unit scale and PyTorch's default weight scale.
NET_LAYERS = [(16, 32, 56), (64, 64, 24), (128, 128, 12), (256, 256, 6), (96, 128, 12), (128, 32, 24), (512, 512, 3)]


@pytest.mark.parametrize(("C", "O", "H"), NET_LAYERS)
def test_float32_error_on_the_nets_layers_stays_within_1e_4(C, O, H):
    """F(4×4, 3×3) in float32 against float64: relative error (max |err| / max |y|) under 1e-4, which
    is within the conformance suite's tolerance (ROUND_OFF_EPS float32 eps)."""
    rng = np.random.default_rng(C + O + H)
    x = rng.standard_normal((2, C, H, H))
    bound = 1 / np.sqrt(C * 9)  # PyTorch's kaiming-uniform scale for a conv layer
    w = rng.uniform(-bound, bound, (O, C, 3, 3))
    exact, _, _ = wk.winograd_conv2d_forward(x, w, (1, 1, 1, 1), m=4)
    reference = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(exact, reference, rtol=1e-10, atol=1e-10)
    y32, _, _ = wk.winograd_conv2d_forward(x.astype(np.float32), w.astype(np.float32), (1, 1, 1, 1), m=4)
    assert y32.dtype == np.float32
    relative = np.abs(y32 - reference).max() / np.abs(reference).max()
    assert relative < 1e-4, f"F(4x4, 3x3) float32 relative error {relative:.2e} on C={C} O={O} H={H}"
