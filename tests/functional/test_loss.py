"""Losses: cross_entropy, nll_loss, mse_loss — the formula per row, PyTorch, gradcheck, bad labels."""

import math

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F
from minitorch_cnn.testing import arrays, gradcheck

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def _logits_and_labels(draw, low=-5.0, high=5.0):
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    z = draw(arrays((n, k), low=low, high=high))
    y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    return z, y


def _reduce(losses, reduction):
    return {"mean": math.fsum(losses) / len(losses), "sum": math.fsum(losses), "none": np.array(losses)}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=_logits_and_labels())
def test_cross_entropy_against_torch_the_formula_per_row_and_gradcheck(reduction, case):
    z, y = case
    ours = lambda x: F.cross_entropy(x, mt.Tensor(y), reduction=reduction)
    out = check_against_torch(
        ours, lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y), reduction=reduction), [z])
    # loss_i = log Σ_k exp(z_ik) − z_i,y_i, row by row
    rows = [math.log(math.fsum(math.exp(v) for v in z[i])) - z[i, y[i]] for i in range(len(y))]
    np.testing.assert_allclose(out.numpy(), _reduce(rows, reduction), rtol=1e-12, atol=1e-12)
    assert gradcheck(ours, [mt.Tensor(z, requires_grad=True)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_stable_for_logits_of_1e4(reduction):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 3], [1e4, 1e4, -1e4]])
    y = np.array([1, 2, 0])
    out = check_against_torch(lambda x: F.cross_entropy(x, mt.Tensor(y), reduction=reduction),
                              lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y), reduction=reduction), [z])
    assert np.isfinite(out.numpy()).all()


def test_cross_entropy_float32_against_torch_and_int32_labels():
    z = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 3, 1, 1, 2, 0], dtype=np.int32)
    x, t = mt.Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    loss, ref = F.cross_entropy(x, mt.Tensor(y)), torch.nn.functional.cross_entropy(t, torch.tensor(y).long())
    loss.backward()
    ref.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=_logits_and_labels())
def test_nll_loss_against_torch_the_formula_and_gradcheck(reduction, case):
    z, y = case
    ours = lambda x: F.nll_loss(x, mt.Tensor(y), reduction=reduction)
    out = check_against_torch(ours, lambda t: torch.nn.functional.nll_loss(t, torch.tensor(y), reduction=reduction),
                              [z])
    np.testing.assert_allclose(out.numpy(), _reduce([-z[i, y[i]] for i in range(len(y))], reduction), rtol=1e-12)
    assert gradcheck(ours, [mt.Tensor(z, requires_grad=True)])


def test_nll_of_log_softmax_equals_cross_entropy_as_torch():
    z, y = np.random.default_rng(1).standard_normal((5, 3)), np.array([2, 0, 1, 1, 2])
    check_against_torch(lambda x: F.nll_loss(F.log_softmax(x, 1), mt.Tensor(y)),
                        lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y)), [z])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_mse_loss_against_torch_the_formula_and_gradcheck_of_both_inputs(reduction, data):
    a = data.draw(arrays())
    b = data.draw(arrays(a.shape))
    ours = lambda x, y: F.mse_loss(x, y, reduction=reduction)
    out = check_against_torch(ours, lambda s, t: torch.nn.functional.mse_loss(s, t, reduction=reduction), [a, b])
    squares = [(float(a[i]) - float(b[i])) ** 2 for i in np.ndindex(a.shape)]
    expected = _reduce(squares, reduction)
    np.testing.assert_allclose(out.numpy(), expected.reshape(a.shape) if reduction == "none" else expected,
                               rtol=1e-12, atol=1e-15)
    assert gradcheck(ours, [mt.Tensor(a, requires_grad=True), mt.Tensor(b, requires_grad=True)])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("labels, bad", [([0, 3], 3), ([-1, 0], -1), ([7, 2], 7)])
def test_out_of_range_labels_name_the_op_the_label_and_the_range(op, labels, bad):
    with pytest.raises(ValueError, match=rf"{op}: target label {bad} is out of range for 3 classes \[0, 2\]"):
        getattr(F, op)(mt.zeros(2, 3), mt.tensor(labels))


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_non_integer_targets_name_the_op(op):
    with pytest.raises(TypeError, match=rf"{op}: expected integer class indices as target, got dtype float32"):
        getattr(F, op)(mt.zeros(2, 3), mt.tensor([0.0, 1.0]))


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_loss_shapes_and_reductions_are_checked_naming_the_op(op):
    fn = getattr(F, op)
    with pytest.raises(ValueError, match=rf"{op}: expected target of shape \(2,\), got \(3,\)"):
        fn(mt.zeros(2, 3), mt.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=rf"{op}: expected a 2-D input, got shape \(3,\)"):
        fn(mt.zeros(3), mt.tensor([0]))
    with pytest.raises(ValueError, match=rf"{op}: reduction must be one of .*got 'avg'"):
        fn(mt.zeros(2, 3), mt.tensor([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match=rf"{op}: expected target to be a Tensor, got list"):
        fn(mt.zeros(2, 3), [0, 1])
    with pytest.raises(TypeError, match=rf"{op}: expected a floating-point input"):
        fn(mt.tensor([[1, 2]]), mt.tensor([0]))


def test_mse_loss_bad_input_names_the_op():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2, 3\) differs from target shape \(3,\)"):
        F.mse_loss(mt.zeros(2, 3), mt.zeros(3))
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of"):
        F.mse_loss(mt.zeros(2), mt.zeros(2), reduction="max")
