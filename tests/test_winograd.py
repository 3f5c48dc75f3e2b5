"""Winograd convolution (kernels/winograd.py, functional/winograd.py) against four oracles: the 1-D
definition of minimal filtering, plain loops (conv2d_reference and its backward), the im2col
``Conv2d`` in float64 to round-off, PyTorch, and float64 finite differences (gradcheck); and the
algorithm switch of conv2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import conv2d_backward_reference, conv2d_reference, examples, path
from hypothesis import given
from hypothesis import strategies as st
from minitorch_cnn.kernels import winograd as wk

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.winograd import WinogradConv2dFn, winograd_conv2d, winograd_pays, winograd_tile
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]


def host(a):
    return backend.to_numpy(a.array if isinstance(a, Tensor) else a)


def leaf(a, device="cpu"):
    return Tensor(backend.to_device(np.asarray(a), device), requires_grad=True)


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


def test_transformed_input_is_kept_for_the_backward_pass(monkeypatch):
    """V (all chunks, at most backend.KEEP_TILES_BYTES) is built once, in forward; one byte over the
    budget, backward builds it again per chunk. The same bits either way, in float32 throughout."""
    from minitorch_cnn.functional import winograd as fw

    calls = []
    real = fw.winograd_input_tiles
    monkeypatch.setattr(fw, "winograd_input_tiles", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    real_forward = fw.winograd_tiles_forward
    monkeypatch.setattr(fw, "winograd_tiles_forward", lambda *a, **k: (calls.append(1), real_forward(*a, **k))[1])
    rng = np.random.default_rng(12)
    x, w, g = (rng.standard_normal(s).astype(np.float32) for s in ((6, 3, 8, 8), (5, 3, 3, 3), (6, 5, 8, 8)))
    b = rng.standard_normal(5).astype(np.float32)
    image_tiles = 36 * 5 * 4 * 4  # α²·max(C, O)·tiles float32 bytes of one image, F(4×4)
    all_V = 6 * 36 * 3 * 4 * 4  # α²·C·tiles bytes of the 6 images' V
    monkeypatch.setattr(backend, "CPU_CONV_TILE_BYTES", 2 * image_tiles)  # 3 chunks of 2 images
    runs = []
    for keep_bytes, builds in ((all_V, 3), (all_V - 1, 6)):
        monkeypatch.setattr(backend, "KEEP_TILES_BYTES", keep_bytes)
        calls.clear()
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        y = winograd_conv2d(xt, wt, bt, (1, 1, 1, 1), m=4)
        assert len(y.grad_fn.chunks) == 3
        y.backward(g)
        assert len(calls) == builds
        runs.append([t.numpy() for t in (y, xt.grad, wt.grad, bt.grad)])
        assert all(r.dtype == np.float32 for r in runs[-1])
    for kept, rebuilt in zip(*runs):
        np.testing.assert_array_equal(kept, rebuilt)
    _, dw, db = conv2d_backward_reference(*(a.astype(np.float64) for a in (x, w, g)), padding=(1, 1))
    np.testing.assert_allclose(runs[0][2], dw, rtol=1e-4, atol=1e-4)  # float32 against float64
    np.testing.assert_allclose(runs[0][3], db, rtol=1e-5, atol=1e-5)


@examples(12)
@given(
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(3, 9),
    st.integers(3, 9),
    st.integers(0, 2),
    st.sampled_from([2, 4]),
    st.booleans(),
)
def test_equals_loops_and_im2col_in_float64(path, N, C, O, H, W, pad, m, with_bias):
    rng = np.random.default_rng(N * 100 + C * 10 + O + H + W + pad)
    if H + 2 * pad < 3 or W + 2 * pad < 3:
        return
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, 3, 3))
    b = rng.standard_normal(O) if with_bias else None
    xt, wt = leaf(x, path), leaf(w, path)
    bt = leaf(b, path) if with_bias else None
    y = winograd_conv2d(xt, wt, bt, (pad,) * 4, m=m)
    assert isinstance(y.grad_fn.function, type) and y.grad_fn.function is WinogradConv2dFn
    g = rng.standard_normal(y.shape)
    y.backward(Tensor(backend.to_device(g, path)))

    np.testing.assert_allclose(host(y), conv2d_reference(x, w, b, padding=(pad, pad)), rtol=1e-10, atol=1e-10)
    dx, dw, db = conv2d_backward_reference(x, w, g, padding=(pad, pad))
    np.testing.assert_allclose(host(xt.grad), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(host(wt.grad), dw, rtol=1e-10, atol=1e-10)
    if with_bias:
        np.testing.assert_allclose(host(bt.grad), db, rtol=1e-10, atol=1e-10)

    with mt.conv_algorithm("im2col"):  # the reading path, to round-off
        xi, wi = leaf(x, path), leaf(w, path)
        yi = conv2d(xi, wi, padding=pad)
        yi.backward(Tensor(backend.to_device(g, path)))
    assert yi.grad_fn is None or yi.grad_fn.function is not WinogradConv2dFn
    scale = max(1.0, np.abs(host(yi)).max())
    np.testing.assert_allclose(host(y) - (0 if b is None else b.reshape(-1, 1, 1)), host(yi), atol=1e-12 * scale)
    np.testing.assert_allclose(host(xt.grad), host(xi.grad), atol=1e-12 * scale)
    np.testing.assert_allclose(host(wt.grad), host(wi.grad), atol=1e-12 * scale * N * H * W)


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(("shape", "padding"), [((2, 3, 8, 8), (1, 1, 1, 1)), ((1, 4, 7, 10), (0, 0, 0, 0)), ((2, 2, 5, 6), (2, 2, 1, 1))])
def test_matches_pytorch(path, m, shape, padding):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((5, shape[1], 3, 3)), rng.standard_normal(5)
    xt, wt, bt = leaf(x, path), leaf(w, path), leaf(b, path)
    y = winograd_conv2d(xt, wt, bt, padding, m=m)
    g = rng.standard_normal(y.shape)
    y.backward(Tensor(backend.to_device(g, path)))

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv2d(tx, tw, tb, padding=(padding[0], padding[2]))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((xt, tx), (wt, tw), (bt, tb)):
        np.testing.assert_allclose(host(ours.grad), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("m", [2, 4])
def test_gradcheck(kernel_path, m):
    rng = np.random.default_rng(3)
    x = mt.tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    w = mt.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = mt.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: winograd_conv2d(x, w, b, (1, 1, 1, 1), m=m), [x, w, b])


# ---------------------------------------------------------------- float32 accuracy on the nets' layers
# (C, O, H) of 3×3 stride-1 layers of the six nets at their input sizes (VGG-11-small, ResNet-18,
# GoogLeNet, DenseNet), inputs of unit scale and PyTorch's default weight scale.
NET_LAYERS = [(16, 32, 56), (64, 64, 24), (128, 128, 12), (256, 256, 6), (96, 128, 12), (128, 32, 24), (512, 512, 3)]


@pytest.mark.parametrize(("C", "O", "H"), NET_LAYERS)
def test_float32_error_on_the_nets_layers_stays_within_1e_4(C, O, H):
    """F(4×4, 3×3) in float32 against float64: relative error (max |err| / max |y|) under 1e-4."""
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


# ---------------------------------------------------------------- the algorithm switch
def test_each_algorithm_takes_the_winograd_tile_its_rule_gives():
    """"default": never; "auto": F(4×4) from 8×8 outputs and 8 channels, F(2×2) on 6×6 and 7×7
    outputs from 128 channels; "winograd": F(4×4) everywhere; stride, dilation, groups: never."""
    def tile(x, w, **kw):
        y = conv2d(x, w, padding=kw.pop("padding", 1), **kw)
        return y.grad_fn.m if y.grad_fn.function is WinogradConv2dFn else None

    wide_6 = (mt.randn(1, 128, 6, 6), mt.randn(32, 128, 3, 3, requires_grad=True))
    narrow_6 = (mt.randn(1, 64, 6, 6), mt.randn(32, 64, 3, 3, requires_grad=True))
    narrow_8 = (mt.randn(1, 8, 8, 8), mt.randn(8, 8, 3, 3, requires_grad=True))
    wide_3 = (mt.randn(1, 256, 3, 3), mt.randn(16, 256, 3, 3, requires_grad=True))
    few_taps = (mt.randn(1, 3, 32, 32), mt.randn(4, 3, 3, 3, requires_grad=True))
    assert mt.get_conv_algorithm() == "default"
    assert [tile(*wide_6), tile(*narrow_6), tile(*narrow_8), tile(*wide_3), tile(*few_taps)] == [None] * 5
    assert winograd_pays(wide_6[0].shape, wide_6[1].shape, m=2) and not winograd_pays(wide_6[0].shape, wide_6[1].shape, m=4)
    assert winograd_pays(narrow_8[0].shape, narrow_8[1].shape, m=4)
    assert not winograd_pays(narrow_8[0].shape, narrow_8[1].shape, (0, 0, 0, 0), m=4)  # 6×6 outputs
    assert winograd_tile(narrow_8[0].shape, narrow_8[1].shape, (1, 1, 1, 1), "im2col") is None
    assert not winograd_pays((1, 8, 8, 8), (4, 8, 3, 3), m=4)  # 4 output channels
    assert not winograd_pays((1, 4, 8, 8), (8, 4, 3, 3), m=4)  # 4 input channels
    assert not winograd_pays((1, 8, 7, 8), (8, 8, 3, 3), m=4)  # 7 rows of outputs
    assert not winograd_pays((1, 8, 8, 7), (8, 8, 3, 3), m=4)  # 7 columns
    assert not winograd_pays((1, 128, 5, 6), (8, 128, 3, 3), m=2) and not winograd_pays((1, 128, 6, 5), (8, 128, 3, 3), m=2)
    assert winograd_pays((1, 128, 7, 7), (8, 128, 3, 3), m=2) and not winograd_pays((1, 128, 8, 8), (8, 128, 3, 3), m=2)
    with pytest.raises(ValueError, match="m = 2 or 4"):
        winograd_pays(wide_6[0].shape, wide_6[1].shape, m=3)
    previous = mt.set_conv_algorithm("auto")
    assert [tile(*wide_6), tile(*narrow_6), tile(*narrow_8), tile(*wide_3), tile(*few_taps)] == [2, None, 4, None, None]
    assert tile(*narrow_8, padding=0) is None  # 6×6 outputs: not F(4×4), too narrow for F(2×2)
    assert tile(*wide_6, padding=0) is None  # 4×4 outputs
    assert tile(*narrow_8, stride=2) is None
    assert tile(*narrow_8, padding=2, dilation=2) is None
    grouped = mt.randn(8, 4, 3, 3, requires_grad=True)
    assert tile(narrow_8[0], grouped, groups=2) is None
    with mt.conv_algorithm("winograd"):
        assert [tile(*wide_6), tile(*narrow_6), tile(*few_taps)] == [4, 4, 4]
        with mt.conv_algorithm("im2col"):
            assert [tile(*wide_6), tile(*narrow_8)] == [None, None]
        assert mt.get_conv_algorithm() == "winograd"
    assert mt.get_conv_algorithm() == "auto"
    assert mt.set_conv_algorithm(previous) == "auto" and mt.get_conv_algorithm() == "default"


@pytest.mark.parametrize(("C", "O", "H"), NET_LAYERS)
def test_f2x2_float32_error_is_im2cols(C, O, H):
    """F(2×2, 3×3) stays within 2× im2col's own float32 error against float64 (forward)."""
    rng = np.random.default_rng(C + O + H)
    x = rng.standard_normal((2, C, H, H))
    bound = 1 / np.sqrt(C * 9)
    w = rng.uniform(-bound, bound, (O, C, 3, 3))
    reference = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    y2, _, _ = wk.winograd_conv2d_forward(x.astype(np.float32), w.astype(np.float32), (1, 1, 1, 1), m=2)
    with mt.conv_algorithm("im2col"):
        yi = conv2d(mt.tensor(x.astype(np.float32)), mt.tensor(w.astype(np.float32)), padding=1).numpy()
    assert np.abs(y2 - reference).max() <= 2 * np.abs(yi - reference).max()


def test_padding_same_goes_through_winograd():
    x, w = mt.randn(2, 3, 7, 5, dtype=mt.float64), mt.randn(4, 3, 3, 3, dtype=mt.float64)
    with mt.conv_algorithm("winograd"):
        y = conv2d(x, w, padding="same")
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x.numpy(), w.numpy(), padding=(1, 1)), atol=1e-12)


def test_unknown_algorithm_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"set_conv_algorithm: expected one of \('default', 'auto', 'im2col', 'direct', 'batch_last', 'winograd'\), got 'fft'"):
        mt.set_conv_algorithm("fft")
    assert mt.get_conv_algorithm() == "default"


@pytest.mark.parametrize("needs", ["input only", "weight only"])
def test_only_the_needed_gradient(needs):
    """Backward with one of x, w not requiring a gradient (a network's first layer: x is data)."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3))
    xt = mt.tensor(x, requires_grad=needs == "input only")
    wt = mt.tensor(w, requires_grad=needs == "weight only")
    g = rng.standard_normal((2, 4, 6, 7))
    winograd_conv2d(xt, wt, None, (1, 1, 1, 1), m=4).backward(mt.tensor(g))
    dx, dw, _ = conv2d_backward_reference(x, w, g, padding=(1, 1))
    if needs == "input only":
        assert wt.grad is None
        np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10, atol=1e-10)
    else:
        assert xt.grad is None
        np.testing.assert_allclose(wt.grad.numpy(), dw, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("needs", [(True, True), (False, True), (True, False)])
def test_chunked_equals_unchunked(path, needs):
    """A small memory budget runs the batch one image at a time (V rebuilt in backward); same numbers."""
    from minitorch_cnn.backend import conv_memory_budget

    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((3, 2, 6, 7)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((3, 4, 6, 7))
    results = []
    for budget in (None, 1):
        xt, wt, bt = leaf(x, path), leaf(w, path), leaf(b, path)
        xt.requires_grad, wt.requires_grad = needs
        with conv_memory_budget(budget or backend.get_conv_memory_budget()):
            y = winograd_conv2d(xt, wt, bt, (1, 1, 1, 1), m=4)
            assert len(y.grad_fn.chunks) == (1 if budget is None else 3)
            y.backward(Tensor(backend.to_device(g, path)))
        results.append([None if t.grad is None else host(t.grad) for t in (xt, wt, bt)] + [host(y)])
    (dx, dw, db, y), (dx1, dw1, db1, y1) = results
    np.testing.assert_allclose(y1, y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db1, db, rtol=1e-12, atol=1e-12)
    for whole, chunked, needed in ((dx, dx1, needs[0]), (dw, dw1, needs[1])):
        assert (chunked is not None) == needed
        if needed:
            np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)
    _, rdw, _ = conv2d_backward_reference(x, w, g, padding=(1, 1))
    if needs[1]:
        np.testing.assert_allclose(dw1, rdw, rtol=1e-10, atol=1e-10)
