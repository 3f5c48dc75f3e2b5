"""conv2d with PyTorch's semantics on every algorithm (``mt.conv_algorithm``) and kernel path, on the
calls that used to differ or be refused: inf and NaN in the input, the weight or the upstream
gradient (the output and every gradient have PyTorch's NaN and ±inf positions), and empty batches.

PyTorch's float64 CPU kernel multiplies the padding's zeros (inf · 0 = NaN); its float32 kernel
(oneDNN) skips them, so the NaN positions are compared in float64. Winograd mixes a tile's values
in its transforms: it is documented to differ (``fast/winograd.py``), and ``"default"`` never picks it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import leaf, path, to_xp

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import fast, policy
from minitorch_cnn.functional.conv.fast.winograd import WinogradConv2dFn
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]

EXACT = ["reference", *(name for name in fast.ALGORITHMS if name not in policy.NOT_IN_DEFAULT), "default"]

LAYERS = [  # (C, O, k, conv2d's keyword arguments): plain, padded, strided, dilated, grouped, depthwise
    (2, 3, 3, dict(padding=1)),
    (2, 2, 3, dict(padding=0)),
    (1, 4, 5, dict(padding=2)),  # a first layer: the direct loops
    (2, 4, 3, dict(stride=2, padding=1)),
    (2, 2, 3, dict(padding=2, dilation=2)),
    (4, 4, 3, dict(padding=1, groups=2)),
    (3, 3, 3, dict(padding=1, groups=3)),  # depthwise
    (3, 3, 3, dict(stride=2, padding=1, dilation=2, groups=3)),
]


def kinds(a):
    """'n' for NaN, '+'/'-' for ±inf, '.' for a finite number."""
    return np.where(np.isnan(a), "n", np.where(np.isposinf(a), "+", np.where(np.isneginf(a), "-", ".")))


def run(device, x, w, b, g, kwargs):
    tensors = [leaf(a, device) for a in (x, w, b)]
    y = conv2d(*tensors, **kwargs)
    y.backward(Tensor(to_xp(g, device)))
    return [backend.to_numpy(t.array) for t in (y, *(t.grad for t in tensors))]


def run_torch(x, w, b, g, kwargs):
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = TF.conv2d(*tensors, **kwargs)
    y.backward(torch.tensor(g))
    return [t.detach().numpy() for t in (y, *(t.grad for t in tensors))]


def nonfinite_case(layer, where, seed):
    """Random float64 arrays of ``layer`` with infs and NaN planted in ``where`` (x, w or g)."""
    C, O, k, kwargs = layer
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, C, 7, 7))
    w = rng.standard_normal((O, C // kwargs.get("groups", 1), k, k))
    b = rng.standard_normal(O)
    g = rng.standard_normal(TF.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).shape)
    a = {"x": x, "w": w, "g": g}[where]
    flat = a.reshape(-1)
    spots = rng.choice(flat.size, size=3, replace=False)
    flat[spots] = [np.inf, -np.inf, np.nan]
    return x, w, b, g


@pytest.mark.parametrize("algorithm", EXACT)
@pytest.mark.parametrize("layer", LAYERS, ids=[f"{c}-{o}-{k}-{kw}" for c, o, k, kw in LAYERS])
@pytest.mark.parametrize("where", ["x", "w", "g"])
def test_inf_and_nan_land_where_torch_puts_them(path, algorithm, layer, where):
    for seed in range(3):
        x, w, b, g = nonfinite_case(layer, where, seed)
        expected = run_torch(x, w, b, g, layer[3])
        with mt.conv_algorithm(algorithm):
            ours = run(path, x, w, b, g, layer[3])
        for name, a, e in zip(["y", "dx", "dw", "db"], ours, expected):
            np.testing.assert_array_equal(kinds(a), kinds(e), err_msg=f"{name} of {algorithm}, seed {seed}")
            finite = np.isfinite(e)
            np.testing.assert_allclose(a[finite], e[finite], rtol=1e-10, atol=1e-10, err_msg=name)


def test_winograd_spreads_an_inf_over_its_tile_and_default_never_picks_it(path):
    """The documented difference: and why "default" leaves Winograd out."""
    layer = (8, 8, 3, dict(padding=1))
    x, w, b, g = nonfinite_case(layer, "x", 0)
    with mt.conv_algorithm("winograd"):
        y = run(path, x, w, b, g, layer[3])[0]
    assert (kinds(y) != kinds(run_torch(x, w, b, g, layer[3])[0])).any()
    assert "winograd" in policy.NOT_IN_DEFAULT
    for shape in [(64, 64, 32, 32), (8, 128, 7, 7), (2, 256, 14, 14)]:  # layers where Winograd pays
        spec = policy.spec_for(np.empty(shape), np.empty((shape[1], shape[1], 3, 3)), stride=(1, 1), padding=(1, 1),
                               dilation=(1, 1), groups=1)
        with mt.conv_algorithm("default"):
            assert policy.choose(spec) is not WinogradConv2dFn


@pytest.mark.parametrize("algorithm", [*fast.ALGORITHMS, "reference", "default", "auto"])
@pytest.mark.parametrize("layer", LAYERS + [(2, 3, 3, dict(padding="same"))],
                         ids=[f"{c}-{o}-{k}-{kw}" for c, o, k, kw in LAYERS] + ["same"])
def test_an_empty_batch_as_torch(path, algorithm, layer):
    C, O, k, kwargs = layer
    rng = np.random.default_rng(0)
    x, w, b = np.zeros((0, C, 7, 7)), rng.standard_normal((O, C // kwargs.get("groups", 1), k, k)), rng.standard_normal(O)
    g = np.zeros(TF.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).shape)
    with mt.conv_algorithm(algorithm):
        ours = run(path, x, w, b, g, kwargs)
    expected = run_torch(x, w, b, g, kwargs)
    for a, e in zip(ours, expected):
        assert a.shape == e.shape
        np.testing.assert_array_equal(a, e)  # empty, or zero weight and bias gradients
    assert ours[0].shape[0] == 0 and not ours[2].any() and not ours[3].any()  # the plain definition: empty sums


def test_an_empty_batch_gradcheck_and_unbatched_refusals():
    x = Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = Tensor(np.random.default_rng(1).standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    assert gradcheck(lambda w_, b_: conv2d(x, w_, b_, padding=1), [w, b])
    with pytest.raises(ValueError, match=r"conv2d: expected non-empty weight and input channels and size"):
        conv2d(Tensor(np.zeros((2, 2, 0, 5))), w)
