"""conv2d itself, under the default setting, on every kernel path: the book's worked values of
cross-correlation (corr2d), output shapes, a kernel learned by gradient descent beside PyTorch's,
padding "same" and "valid", an unbatched image, float32 with partial gradients, and bad input.

Each algorithm behind conv2d is checked against the plain loops, the reference op, PyTorch and
gradcheck by the conformance suite (test_conformance.py); the setting and the memory budget by
test_policy.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import (
    corr2d,
    leaf,
    path,
    to_xp,
)

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import conv2d
from minitorch_cnn.tensor import Tensor

__all__ = ["path"]

X = np.arange(9.0).reshape(3, 3)
K = np.array([[0.0, 1.0], [2.0, 3.0]])


def host(t):
    return backend.to_numpy(t.array)


# ---------------------------------------------------------------- the book's worked values (d2l, secs. 7.2-7.4)
def test_worked_values(path):
    y = conv2d(leaf(X[None, None], path), leaf(K[None, None], path))
    np.testing.assert_array_equal(host(y)[0, 0], [[19, 25], [37, 43]])
    np.testing.assert_array_equal(corr2d(X, K), [[19, 25], [37, 43]])

    x2 = np.stack([X, X + 1])[None]  # (1, 2, 3, 3)
    k2 = np.stack([K, K + 1])  # (2, 2, 2)
    y2 = conv2d(leaf(x2, path), leaf(k2[None], path))
    np.testing.assert_array_equal(host(y2)[0, 0], [[56, 72], [104, 120]])

    k3 = np.stack([k2, k2 + 1, k2 + 2])  # (3, 2, 2, 2): three output channels
    y3 = host(conv2d(leaf(x2, path), leaf(k3, path)))[0]
    assert y3.shape == (3, 2, 2)
    for o in range(3):
        np.testing.assert_array_equal(y3[o], sum(corr2d(x2[0, c], k3[o, c]) for c in range(2)))


@pytest.mark.parametrize(
    ("kernel", "padding", "stride", "shape"),
    [(3, 1, 1, (8, 8)), ((5, 3), (2, 1), 1, (8, 8)), (3, 1, 2, (4, 4)), ((3, 5), (0, 1), (3, 4), (2, 2))],
)
def test_output_shapes_on_8x8(path, kernel, padding, stride, shape):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    y = conv2d(leaf(np.zeros((1, 1, 8, 8)), path), leaf(np.zeros((1, 1, kh, kw)), path), stride=stride, padding=padding)
    assert y.shape == (1, 1) + shape


def test_edge_detection_kernel_is_learned(path):
    """The book's edge detector (d2l, sec. 7.2): a bias-free Conv(1,1,(1,2)) fitted to the edges of X by
    10 gradient steps."""
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    y = corr2d(x, np.array([[1.0, -1.0]]))
    assert (y[:, 1] == 1).all() and (y[:, 5] == -1).all() and (np.abs(y).sum() == 12)
    mt.manual_seed(0)
    start = backend.rng().uniform(-0.5**0.5, 0.5**0.5, (1, 1, 1, 2))  # nn.Conv2d's default range
    weight = leaf(start.astype(np.float32), path)
    xt, yt = leaf(x.reshape(1, 1, 6, 8).astype(np.float32), path, False), y.reshape(1, 1, 6, 7)
    tw = torch.tensor(start.astype(np.float32), requires_grad=True)  # the same steps in PyTorch
    tx, ty = torch.tensor(xt.numpy()), torch.tensor(yt, dtype=torch.float32)
    for _ in range(10):
        y_hat = conv2d(xt, weight)
        diff = y_hat.array - to_xp(yt.astype(np.float32), path)
        loss = float((diff**2).sum())
        y_hat.backward(2 * diff)  # d(Σ (ŷ − y)²)/dŷ
        weight.data -= 3e-2 * weight.grad.data
        weight.grad = None
        t_loss = ((TF.conv2d(tx, tw) - ty) ** 2).sum()
        t_loss.backward()
        with torch.no_grad():
            tw -= 3e-2 * tw.grad
            tw.grad = None
    np.testing.assert_allclose(host(weight), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-4)
    np.testing.assert_allclose(host(weight).reshape(2), [1.0, -1.0], atol=0.15)
    assert loss < 0.5


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 2), (4, 3)])
@pytest.mark.parametrize("dilation", [1, 2])
def test_padding_same_and_valid(path, kernel, dilation):
    """'same' keeps H×W (an even kernel pads one more at the bottom/right), 'valid' pads nothing."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 8, 9)), rng.standard_normal((3, 2) + kernel)
    g = rng.standard_normal((2, 3, 8, 9))
    for padding in ("same", "valid"):
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        ty = TF.conv2d(tx, tw, padding=padding, dilation=dilation)
        ty.backward(torch.tensor(g[..., : ty.shape[2], : ty.shape[3]]))
        xt, wt = leaf(x, path), leaf(w, path)
        y = conv2d(xt, wt, padding=padding, dilation=dilation)
        y.backward(to_xp(g[..., : y.shape[2], : y.shape[3]], path))
        np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(host(wt.grad), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
        if padding == "same":
            assert y.shape == (2, 3, 8, 9)


def test_unbatched_input_is_a_batch_of_one_as_pytorch(path):
    """conv2d of one (C, H, W) image gives (O, Ho, Wo): the batched values and gradients, and PyTorch's."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 6, 5)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    single, batch = leaf(x, path), leaf(x[None], path)
    ws, wb = leaf(w, path), leaf(w, path)
    y = conv2d(single, ws, leaf(b, path), stride=(2, 1), padding=1)
    yb = conv2d(batch, wb, leaf(b, path), stride=(2, 1), padding=1)
    assert y.shape == yb.shape[1:] == (4, 3, 6)
    y.sum().backward()
    yb.sum().backward()
    np.testing.assert_array_equal(host(y), host(yb)[0])
    np.testing.assert_array_equal(host(single.grad), host(batch.grad)[0])
    np.testing.assert_array_equal(host(ws.grad), host(wb.grad))
    ty = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=(2, 1), padding=1)
    np.testing.assert_allclose(host(y), ty.numpy(), rtol=1e-12, atol=1e-12)


def test_float32_end_to_end_and_partial_grads(path):
    rng = np.random.default_rng(5)
    x = leaf(rng.standard_normal((2, 3, 5, 5)).astype(np.float32), path)
    w = leaf(rng.standard_normal((4, 3, 1, 1)).astype(np.float32), path, requires_grad=False)  # 1×1 kernel
    y = conv2d(x, w)
    assert y.dtype == np.float32
    y.backward(to_xp(np.ones(y.shape, np.float32), path))
    assert x.grad.dtype == np.float32 and w.grad is None
    expected = np.broadcast_to(host(w).sum(axis=0)[:, 0, 0][None, :, None, None], x.shape)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-6)

    x2 = leaf(host(x), path, requires_grad=False)
    w2 = leaf(host(w), path)
    conv2d(x2, w2).backward(to_xp(np.ones(y.shape, np.float32), path))
    assert x2.grad is None and w2.grad.shape == (4, 3, 1, 1)


# ---------------------------------------------------------------- bad input
def _t(shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((_t((4, 4)), _t((1, 3, 2, 2))), {}, ValueError, r"conv2d: expected a 3-D or 4-D input, got shape (minitorch_cnn\.Size\(\[4, 4\]\)|\(4, 4\))"),
        ((_t((1, 1, 3, 4, 4)), _t((1, 3, 2, 2))), {}, ValueError, r"conv2d: expected a 3-D or 4-D input, got shape (minitorch_cnn\.Size\(\[1, 1, 3, 4, 4\]\)|\(1, 1, 3, 4, 4\))"),
        ((_t((1, 3, 4, 4)), _t((3, 2, 2))), {}, ValueError, "conv2d: expected a 4-D weight"),
        ((_t((1, 3, 4, 4)), _t((2, 2, 2, 2))), {}, ValueError, "conv2d: weight of shape .* expects 2 input channels"),
        ((_t((1, 4, 4, 4)), _t((3, 2, 2, 2))), {"groups": 2}, ValueError, "conv2d: groups=2 must divide"),
        ((_t((1, 3, 4, 4)), _t((2, 3, 2, 2))), {"groups": 0}, ValueError, "conv2d: expected groups to be a positive"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 4, 4))), {"padding": 0}, ValueError, "conv2d: kernel .* larger than the padded"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"dilation": 3}, ValueError, "larger than the padded input"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"stride": 0}, ValueError, "conv2d: expected a positive stride"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"padding": -1}, ValueError, "conv2d: expected a non-negative padding"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"padding": "full"}, ValueError, "conv2d: expected padding to be"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"padding": "same", "stride": 2}, ValueError, "needs stride 1"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"stride": (1, 2, 3)}, TypeError, "conv2d: expected stride"),
        ((_t((1, 1, 3, 3), np.int64), _t((1, 1, 2, 2))), {}, TypeError, "conv2d: expected a floating-point input"),
        ((_t((1, 1, 3, 3), np.float32), _t((1, 1, 2, 2))), {}, TypeError, "conv2d: expected weight of the input's"),
        ((_t((1, 1, 3, 3)), _t((2, 1, 2, 2)), _t((3,))), {}, ValueError, r"conv2d: expected bias of shape \(2,\)"),
        ((np.zeros((1, 1, 3, 3)), _t((1, 1, 2, 2))), {}, TypeError, "conv2d: expected input to be a Tensor"),
    ],
)
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv2d(*args, **kwargs)
