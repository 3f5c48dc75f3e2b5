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


def test_cross_entropy_float32_against_torch_and_uint8_labels():
    z = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 3, 1, 1, 2, 0], dtype=np.uint8)  # PyTorch's "Byte" labels are accepted, as int64
    x, t = mt.Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    loss, ref = F.cross_entropy(x, mt.Tensor(y)), torch.nn.functional.cross_entropy(t, torch.tensor(y))
    loss.backward()
    ref.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.int8, np.uint16])
def test_int32_labels_are_refused_as_torch_refuses_them(op, dtype):
    y = np.array([0, 2], dtype=dtype)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        getattr(torch.nn.functional, op)(torch.zeros(2, 3), torch.tensor(y))
    with pytest.raises(TypeError, match=rf"{op}: expected class indices of dtype int64 \(Long\) or uint8 \(Byte\) "
                                        rf"as target, got dtype (minitorch_cnn\.)?{np.dtype(dtype).name}$"):
        getattr(F, op)(mt.zeros(2, 3), mt.Tensor(y))


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
    with pytest.raises(TypeError, match=rf"{op}: expected class indices of dtype int64 \(Long\) .* got dtype (minitorch_cnn\.)?float32"):
        getattr(F, op)(mt.zeros(2, 3), mt.tensor([0.0, 1.0]))


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_loss_shapes_and_reductions_are_checked_naming_the_op(op):
    fn = getattr(F, op)
    with pytest.raises(ValueError, match=rf"{op}: expected target of shape \(2,\) for input of shape \(2, 3\), got \(3,\)"):
        fn(mt.zeros(2, 3), mt.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=rf"{op}: expected target of shape \(\) for input of shape \(3,\), got \(2,\)"):
        fn(mt.zeros(3), mt.tensor([0, 1]))
    with pytest.raises(ValueError, match=rf"{op}: expected input of shape \(C,\), \(N, C\) or \(N, C, d1, ...\)"):
        fn(mt.tensor(1.0), mt.tensor(0))
    with pytest.raises(ValueError, match=rf"{op}: reduction must be one of .*got 'avg'"):
        fn(mt.zeros(2, 3), mt.tensor([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match=rf"{op}: expected target to be a Tensor, got list"):
        fn(mt.zeros(2, 3), [0, 1])
    with pytest.raises(TypeError, match=rf"{op}: expected a floating-point input"):
        fn(mt.tensor([[1, 2]]), mt.tensor([0]))
    with pytest.raises(ValueError, match=rf"{op}: expected weight of shape \(3,\), one per class, got \(2,\)"):
        fn(mt.zeros(2, 3), mt.tensor([0, 1]), weight=mt.ones(2))
    with pytest.raises(TypeError, match=rf"{op}: expected weight of the input's dtype (minitorch_cnn\.)?float32, got (minitorch_cnn\.)?float64"):
        fn(mt.zeros(2, 3), mt.tensor([0, 1]), weight=mt.Tensor(np.ones(3)))


def test_cross_entropy_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"):
        F.cross_entropy(mt.zeros(2, 3), mt.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: ignore_index is not supported for probability targets"):
        F.cross_entropy(mt.zeros(2, 3), mt.zeros(2, 3), ignore_index=1)
    for kwargs in (dict(label_smoothing=1.5), dict(ignore_index=1)):
        target = torch.zeros(2, 3) if "ignore_index" in kwargs else torch.tensor([0, 1])
        with pytest.raises(RuntimeError):
            torch.nn.functional.cross_entropy(torch.zeros(2, 3), target, **kwargs)


def test_mse_loss_bad_input_names_the_op():
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of"):
        F.mse_loss(mt.zeros(2), mt.zeros(2), reduction="max")


# ------------------------------------------------------------------ PyTorch's other arguments
def _ce_loops(z, target, weight, ignore_index, label_smoothing, reduction):
    """cross_entropy row by row from its definition: z (M, C) logits; target (M,) labels or (M, C) probabilities."""
    M, C = z.shape
    w = np.ones(C) if weight is None else weight
    losses, divisor = [], 0.0
    for m in range(M):
        log_p = [z[m, c] - math.log(math.fsum(math.exp(v) for v in z[m])) for c in range(C)]
        if target.ndim == 2:
            q = [(1 - label_smoothing) * target[m, c] + label_smoothing / C for c in range(C)]
            losses.append(-math.fsum(w[c] * q[c] * log_p[c] for c in range(C)))
            divisor += 1
        elif target[m] == ignore_index:
            losses.append(0.0)
        else:
            y = target[m]
            smooth = -math.fsum(w[c] * log_p[c] for c in range(C)) * label_smoothing / C
            losses.append(-(1 - label_smoothing) * w[y] * log_p[y] + smooth)
            divisor += w[y]
    if reduction == "none":
        return np.array(losses)
    return math.fsum(losses) / (divisor if reduction == "mean" else 1.0)


@st.composite
def _ce_cases(draw):
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    z = draw(arrays((n, k), low=-4.0, high=4.0))
    if draw(st.booleans()):
        target = draw(arrays((n, k), low=0.0, high=1.0))
    else:
        target = np.array(draw(st.lists(st.sampled_from([*range(k), -100]), min_size=n, max_size=n)), dtype=np.int64)
    weight = draw(st.one_of(st.none(), arrays((k,), low=0.25, high=2.0)))
    return z, target, weight, draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=_ce_cases())
def test_cross_entropy_weight_ignore_index_label_smoothing_and_probabilities(reduction, case):
    z, target, weight, smoothing = case
    kept = target.ndim == 2 or (target != -100).any()
    w_t = None if weight is None else torch.tensor(weight)

    def ours(x):
        return F.cross_entropy(x, mt.Tensor(target), weight=None if weight is None else mt.Tensor(weight),
                               reduction=reduction, label_smoothing=smoothing)

    def theirs(t):
        return torch.nn.functional.cross_entropy(t, torch.tensor(target), weight=w_t, reduction=reduction,
                                                 label_smoothing=smoothing)

    if not kept and reduction == "mean":  # every row ignored: 0 / 0, as PyTorch; no gradient
        x = mt.Tensor(z, requires_grad=True)
        loss = ours(x)
        loss.backward()
        assert np.isnan(loss.item()) and np.isnan(theirs(torch.tensor(z)).item()) and not x.grad.numpy().any()
        return
    out = check_against_torch(ours, theirs, [z])
    np.testing.assert_allclose(out.numpy(), _ce_loops(z, target, weight, -100, smoothing, reduction),
                               rtol=1e-10, atol=1e-12)
    assert gradcheck(ours, [mt.Tensor(z, requires_grad=True)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_and_with_extra_axes_as_torch(reduction):
    rng = np.random.default_rng(3)
    for shape, target in [((4,), np.array(2)), ((4,), rng.random(4)), ((2, 4, 3), np.array([[0, 3, -100], [1, 1, 2]])),
                          ((2, 4, 2, 2), rng.random((2, 4, 2, 2))), ((0, 4), np.zeros(0, dtype=np.int64))]:
        z = rng.standard_normal(shape)
        ours = lambda x, target=target: F.cross_entropy(x, mt.Tensor(target), reduction=reduction, label_smoothing=0.2)
        theirs = lambda t, target=target: torch.nn.functional.cross_entropy(t, torch.tensor(target), reduction=reduction,
                                                                            label_smoothing=0.2)
        if z.size == 0:
            out, ref = ours(mt.Tensor(z)), theirs(torch.tensor(z))
            assert out.shape == tuple(ref.shape)
            np.testing.assert_array_equal(out.numpy(), ref.numpy())  # empty, 0 or NaN (mean over no rows)
            continue
        out = check_against_torch(ours, theirs, [z])
        as_rows = lambda a: np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]) if a.ndim > 1 else a[None]  # (M, C)
        rows, t_rows = as_rows(z), as_rows(target) if target.shape == shape else target.reshape(-1)
        expected = _ce_loops(rows, t_rows, None, -100, 0.2, reduction)
        expected = expected.reshape(out.shape) if reduction == "none" else expected
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
        assert gradcheck(ours, [mt.Tensor(z, requires_grad=True)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=_ce_cases())
def test_nll_loss_weight_and_ignore_index_against_torch_the_formula_and_gradcheck(reduction, case):
    z, target, weight, _ = case
    if target.ndim == 2 or (reduction == "mean" and (target == -100).all()):
        return
    ours = lambda x: F.nll_loss(x, mt.Tensor(target), weight=None if weight is None else mt.Tensor(weight),
                                ignore_index=-100, reduction=reduction)
    theirs = lambda t: torch.nn.functional.nll_loss(t, torch.tensor(target), reduction=reduction,
                                                    weight=None if weight is None else torch.tensor(weight))
    out = check_against_torch(ours, theirs, [z])
    w = np.ones(z.shape[1]) if weight is None else weight
    rows = [0.0 if y == -100 else -w[y] * z[m, y] for m, y in enumerate(target)]
    kept = sum(w[y] for y in target if y != -100)
    expected = {"none": np.array(rows), "sum": math.fsum(rows), "mean": math.fsum(rows) / (kept or 1)}[reduction]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(ours, [mt.Tensor(z, requires_grad=True)])


def test_nll_loss_unbatched_and_ignore_index_other_than_the_default():
    z = np.random.default_rng(4).standard_normal((3, 4))
    out = check_against_torch(lambda x: F.nll_loss(x, mt.Tensor(np.array([1, 2, 2])), ignore_index=2),
                              lambda t: torch.nn.functional.nll_loss(t, torch.tensor([1, 2, 2]), ignore_index=2), [z])
    np.testing.assert_allclose(out.item(), -z[0, 1])
    out = check_against_torch(lambda x: F.nll_loss(x, mt.Tensor(np.array(3))),
                              lambda t: torch.nn.functional.nll_loss(t, torch.tensor(3)), [z[0]])
    np.testing.assert_allclose(out.item(), -z[0, 3])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", [((3, 1), (3,)), ((2, 3), (3,)), ((4,), (2, 1, 4)), ((1,), (5,))])
def test_mse_loss_broadcasts_with_torchs_warning_and_gradient(reduction, shapes):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    ours = lambda x, y: F.mse_loss(x, y, reduction=reduction)
    with pytest.warns(UserWarning, match="Using a target size .* that is different to the input size"):
        out = check_against_torch(ours, lambda s, t: torch.nn.functional.mse_loss(s, t, reduction=reduction), [a, b])
    squares = (np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)) - b) ** 2  # the definition, broadcast
    expected = {"none": squares, "sum": squares.sum(), "mean": squares.mean()}[reduction]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    with pytest.warns(UserWarning):
        assert gradcheck(ours, [mt.Tensor(a, requires_grad=True), mt.Tensor(b, requires_grad=True)])


_NO_CLASSES = [  # (input shape, target, keyword arguments): every row ignored, or no rows
    ((1, 0), [0], dict(ignore_index=0)), ((2, 0), [3, 3], dict(ignore_index=3)), ((0, 0), [], {}),
    ((0,), 0, dict(ignore_index=0)), ((2, 0, 0), [[], []], {}), ((1, 0, 2, 2), [[[0, 0], [0, 0]]], dict(ignore_index=0)),
    ((1, 0), [0], dict(ignore_index=0, weight=True)), ((1, 0), [0], dict(ignore_index=0, label_smoothing=0.1)),
    ((0, 0), [], dict(label_smoothing=0.1)), ((1, 0, 2), [[0, 0]], dict(ignore_index=0)), ((1, 0), [0], {}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("shape, target, kwargs", _NO_CLASSES)
def test_zero_classes_give_torchs_nan_zero_or_error_and_an_empty_gradient(op, reduction, shape, target, kwargs):
    if op == "nll_loss" and "label_smoothing" in kwargs:
        pytest.skip("nll_loss has no label smoothing")

    def run(T):
        kw = dict(kwargs, weight=T.zeros(0, dtype=T.float64)) if "weight" in kwargs else kwargs
        x = T.zeros(*shape, dtype=T.float64, requires_grad=True)
        try:
            y = getattr(T.nn.functional, op)(x, T.tensor(target, dtype=T.int64), reduction=reduction, **kw)
        except (ValueError, IndexError, RuntimeError):
            return None
        y.sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    ours, theirs = run(mt), run(torch)
    assert (ours is None) == (theirs is None)  # both refuse (a label out of range; PyTorch's 3-d reshape) or neither
    if theirs is not None:
        np.testing.assert_array_equal(ours[0], theirs[0])  # NaN for "mean" (0 / 0) and with smoothing (0 · ε/0)
        assert ours[1].shape == theirs[1].shape == shape


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0])
@pytest.mark.parametrize("case", ["inf weight", "nan upstream"])
def test_ignored_rows_get_exactly_zero_gradient_as_torch(reduction, smoothing, case):
    # fuzzer seed 6163 programs 1122 and 1396: 0 · inf or 0 · NaN on an ignored row gave NaN, PyTorch gives 0
    z = np.array([[1.0, -0.5], [0.25, 2.0], [-1.0, 0.5]])
    y = np.array([0, 1, 0], dtype=np.int64)  # rows 0 and 2 are ignored (ignore_index=0)
    w = np.array([math.inf if case == "inf weight" else 1.0, 2.0])
    up = np.array([math.nan, 1.0, math.nan]) if reduction == "none" else np.array(1.0)
    if case == "nan upstream" and reduction != "none":
        up = np.array(math.nan)  # every row's gradient is NaN but the ignored rows'
    grads = []
    for lib in (mt, torch):
        x = lib.tensor(z, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(y), weight=lib.tensor(w), ignore_index=0,
                                               reduction=reduction, label_smoothing=smoothing)
        loss.backward(lib.tensor(up if case == "nan upstream" else np.ones(loss.shape)))
        grads.append(np.asarray(x.grad.numpy()))
    np.testing.assert_array_equal(grads[0][[0, 2]], 0.0)  # the ignored rows: exactly 0, no NaN
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=0)  # equal_nan: a kept row's NaN as torch's
