"""Activations (relu, relu6 / hardtanh, sigmoid, tanh, softmax, log_softmax) and dropout.

Oracles: gradcheck over hypothesis shapes, plain per-element / per-row loops, PyTorch.
"""

import math

import numpy as np
import pytest
import torch
from _op_oracles import assert_close, away_from, check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F
from minitorch_cnn.testing import arrays, gradcheck, shapes

POINTWISE = {
    "relu": (F.relu, torch.relu, lambda v: v if v > 0 else 0.0),
    "sigmoid": (F.sigmoid, torch.sigmoid, lambda v: 1 / (1 + math.exp(-v))),
    "tanh": (F.tanh, torch.tanh, math.tanh),
}


@pytest.mark.parametrize("op", POINTWISE)
@given(a=arrays(low=-6, high=6))
def test_pointwise_against_torch_a_loop_and_gradcheck(op, a):
    ours, theirs, scalar = POINTWISE[op]
    out = check_against_torch(ours, theirs, [a])  # includes exact zeros: ReLU'(0) = 0 on both sides
    for idx in np.ndindex(a.shape):
        assert out.numpy()[idx] == pytest.approx(scalar(float(a[idx])), rel=1e-14, abs=1e-16)
    a = away_from(a) if op == "relu" else a  # finite differences cannot see through the kink
    assert gradcheck(ours, [mt.Tensor(a, requires_grad=True)])


def test_relu_derivative_at_zero_is_zero():
    x = mt.tensor([-1.0, 0.0, 2.0], dtype=mt.float64, requires_grad=True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    check_against_torch(F.relu, torch.relu, [np.array([-1.0, 0.0, -0.0, 2.0])])


def test_sigmoid_keeps_relative_precision_on_the_negative_tail():
    a = np.array([-700.0, -100.0, -40.0, -30.0, -20.0, -10.0, -1.0, 1.0, 10.0, 40.0])
    x, t = mt.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, ref = F.sigmoid(x), torch.sigmoid(t)
    assert_close(out, ref, "forward", atol=0)  # σ(-40) ≈ 4e-18 must not come out as 0
    out.backward(mt.ones(a.shape, dtype=mt.float64))
    ref.backward(torch.ones(a.shape, dtype=torch.float64))
    assert_close(x.grad, t.grad, "gradient", atol=0)


@pytest.mark.parametrize("op", ["sigmoid", "tanh"])
def test_saturating_activations_stay_finite_for_huge_inputs_as_torch(op):
    a = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    out = check_against_torch(POINTWISE[op][0], POINTWISE[op][1], [a])
    assert np.isfinite(out.numpy()).all()


# ------------------------------------------------------------------ hardtanh, relu6
CLIPS = {  # name: (ours, PyTorch's, (lo, hi)) -- the range the definition below clips to
    "relu6": (F.relu6, torch.nn.functional.relu6, (0.0, 6.0)),
    "hardtanh": (F.hardtanh, torch.nn.functional.hardtanh, (-1.0, 1.0)),
    "hardtanh(-0.5, 2.5)": (
        lambda x: F.hardtanh(x, -0.5, 2.5), lambda t: torch.nn.functional.hardtanh(t, -0.5, 2.5), (-0.5, 2.5)
    ),
}


def _clip_loop(a, lo, hi):
    """The definition, one element at a time: lo below the range, hi above it, the value inside."""
    out = np.empty_like(a)
    for idx in np.ndindex(a.shape):
        v = float(a[idx])
        out[idx] = lo if v < lo else hi if v > hi else v
    return out


@pytest.mark.parametrize("op", CLIPS)
@given(a=arrays(low=-8, high=8))
def test_clips_against_torch_a_loop_and_gradcheck(op, a):
    ours, theirs, (lo, hi) = CLIPS[op]
    out = check_against_torch(ours, theirs, [a])
    np.testing.assert_array_equal(out.numpy(), _clip_loop(a, lo, hi))
    assert gradcheck(ours, [mt.Tensor(away_from(a, (lo, hi)), requires_grad=True)])


def test_clip_gradient_is_zero_at_both_ends_as_torch():
    a = np.array([-1.0, 0.0, 0.5, 6.0, 7.0, -0.0, 5.999])
    x = mt.Tensor(a, requires_grad=True)
    F.relu6(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1, 0, 0, 0, 1])
    check_against_torch(F.relu6, torch.nn.functional.relu6, [a])
    check_against_torch(F.hardtanh, torch.nn.functional.hardtanh, [np.array([-1.0, 1.0, 0.0, -2.0, 0.99])])


def test_clip_layers_match_their_functions_and_torch_reprs():
    a = np.linspace(-8, 8, 33).reshape(3, 11)
    check_against_torch(mt.nn.ReLU6(), torch.nn.ReLU6(), [a])
    check_against_torch(mt.nn.Hardtanh(-2, 3), torch.nn.Hardtanh(-2, 3), [a])
    assert repr(mt.nn.ReLU6(inplace=True)) == "ReLU6(inplace=True)"
    assert repr(mt.nn.Hardtanh(-2.0, 3.0)) == "Hardtanh(min_val=-2.0, max_val=3.0)"
    y = F.relu6(mt.ones(2, 3, dtype=mt.float32) * 9)
    assert y.dtype == np.float32 and (y.numpy() == 6).all()


def test_clip_bad_arguments_name_the_op():
    with pytest.raises(TypeError, match=r"hardtanh: bool inputs are not supported"):
        F.relu6(mt.tensor([True, False]))
    with pytest.raises(ValueError, match=r"hardtanh: expected min_val <= max_val, got min_val=2 and max_val=1"):
        F.hardtanh(mt.ones(2), 2, 1)
    with pytest.raises(TypeError, match=r"hardtanh: expected max_val to be a number, got 'x'"):
        F.hardtanh(mt.ones(2), 0, "x")
    with pytest.raises(ValueError, match=r"Hardtanh: expected min_val <= max_val"):
        mt.nn.Hardtanh(1, 0)


def _softmax_loop(a, axis):
    """Softmax one line at a time, straight from the definition (shifted by the line's max)."""
    moved = np.moveaxis(np.array(a), axis, -1)
    out = np.empty_like(moved)
    for idx in np.ndindex(moved.shape[:-1]):
        line = moved[idx]
        m = max(line)
        e = [math.exp(v - m) for v in line]
        out[idx] = [v / math.fsum(e) for v in e]
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family_against_torch_a_loop_and_gradcheck(op, data):
    a = data.draw(arrays(data.draw(shapes(max_dims=3)), low=-5, high=5))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    out = check_against_torch(lambda x: getattr(F, op)(x, dim), lambda t: getattr(torch, op)(t, dim), [a])
    expected = _softmax_loop(a, dim)
    np.testing.assert_allclose(out.numpy(), expected if op == "softmax" else np.log(expected), rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda x: getattr(F, op)(x, dim), [mt.Tensor(a, requires_grad=True)])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_family_is_stable_for_logits_of_1e4(op):
    a = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4 + 2, -1e4, -1e4], [1e4, 1e4, 1e4, 1e4]])
    out = check_against_torch(lambda x: getattr(x, op)(1), lambda t: getattr(t, op)(1), [a])
    assert np.isfinite(out.numpy()).all()
    x = mt.Tensor(a, requires_grad=True)
    getattr(F, op)(x, 1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh", "softmax", "log_softmax"])
def test_integer_input_follows_torch(op):
    """relu keeps an integer dtype, sigmoid and tanh compute in float32, softmax wants a float or a dtype=."""
    args = (1,) if "softmax" in op else ()
    values = [[1, -2], [3, 4]]
    if "softmax" in op:
        with pytest.raises(TypeError, match=rf"{op}: expected a floating-point input.*got dtype"):
            getattr(F, op)(mt.tensor(values), *args)
        with pytest.raises(NotImplementedError):
            getattr(torch, op)(torch.tensor(values), *args)
        out, ref = getattr(F, op)(mt.tensor(values), 1, dtype=mt.float64), getattr(torch, op)(
            torch.tensor(values), 1, dtype=torch.float64)
    else:
        out, ref = getattr(F, op)(mt.tensor(values, dtype="int32")), getattr(torch, op)(
            torch.tensor(values, dtype=torch.int32))
    assert out.dtype == np.dtype(str(ref.dtype).removeprefix("torch."))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_bad_dim_names_the_op(op):
    with pytest.raises(ValueError, match=rf"{op}: dim 2 is out of range for a 2-D tensor"):
        getattr(F, op)(mt.ones(2, 3), 2)


def test_backward_twice_through_softmax_names_the_op():
    x = mt.ones(2, 3, requires_grad=True)
    y = F.softmax(x * 2, 1)[:, 0].sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through \w+ a second time"):
        y.backward()


# ------------------------------------------------------------------ dropout
def test_dropout_eval_and_p0_are_the_identity():
    x = mt.randn(4, 5, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_scales_survivors_by_one_over_keep_and_zeroes_the_rest():
    p = 0.3
    a = np.random.default_rng(0).uniform(1, 2, size=(50, 40))  # no zeros: a zero output means dropped
    x = mt.Tensor(a, requires_grad=True)
    out = F.dropout(x, p).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], a[kept] / (1 - p), rtol=1e-15)
    # 2000 Bernoulli(0.7) draws: the kept fraction is 0.7 ± 4.5 standard deviations (0.0102)
    assert abs(kept.mean() - (1 - p)) < 0.05


def test_dropout_gradient_is_mask_over_keep_probability():
    p = 0.4
    a = np.random.default_rng(1).uniform(1, 2, size=(30, 20))
    x = mt.Tensor(a, requires_grad=True)
    out = F.dropout(x, p)
    g = np.random.default_rng(2).standard_normal(a.shape)
    out.backward(mt.tensor(g))
    mask = (out.numpy() != 0).astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), g * mask / (1 - p), rtol=1e-15)
    # the same as PyTorch's gradient when PyTorch is given our mask
    t = torch.tensor(a, requires_grad=True)
    (t * torch.tensor(mask) / (1 - p)).backward(torch.tensor(g))
    assert_close(x.grad, t.grad, "dropout grad")


def test_dropout_is_deterministic_under_manual_seed_and_differs_between_draws():
    x = mt.ones(8, 16)
    mt.manual_seed(123)
    first, second = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    mt.manual_seed(123)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), second)
    assert not np.array_equal(first, second)


def test_dropout_keeps_dtype_and_p1_drops_everything():
    x = mt.ones(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5).dtype == np.float32
    out = F.dropout(x, 1.0)
    assert (out.numpy() == 0).all()
    out.sum().backward()
    assert (x.grad.numpy() == 0).all()


def test_dropout_gradcheck_with_a_fixed_mask():
    # the mask is random, so reseed before every evaluation: then fn is a fixed function of x
    a = np.random.default_rng(3).standard_normal((4, 6))

    def fn(x):
        mt.manual_seed(7)
        return F.dropout(x, 0.5)

    assert gradcheck(fn, [mt.Tensor(a, requires_grad=True)])


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_probability_names_the_op(p):
    with pytest.raises(ValueError, match=rf"dropout: expected 0 <= p <= 1, got {p}"):
        F.dropout(mt.ones(2), p)


def test_dropout_of_an_integer_tensor_names_the_op():
    with pytest.raises(TypeError, match=r"dropout: expected a floating-point input"):
        F.dropout(mt.tensor([1, 2]), 0.5)
