"""matmul (1-D, 2-D, batched with broadcasting) and linear — gradcheck, triple loops, PyTorch."""

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F
from minitorch_cnn.testing import arrays, gradcheck

side = st.integers(1, 4)


@st.composite
def _matmul_shapes(draw):
    """Shapes of every kind matmul accepts: 1-D either side, matrices, batch axes that broadcast."""
    n, k, m = draw(side), draw(side), draw(side)
    batch_a = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    batch_b = tuple(draw(st.sampled_from([1, b])) for b in batch_a)[draw(st.integers(0, len(batch_a))):]
    a_shape = draw(st.sampled_from([(k,), batch_a + (n, k)]))
    b_shape = draw(st.sampled_from([(k,), batch_b + (k, m)]))
    return a_shape, b_shape


def _loop_matmul(a, b):
    """The definition: out[..., i, j] = Σ_p a[..., i, p] b[..., p, j], batch axes broadcast by hand."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a2, b2 = np.broadcast_to(a2, batch + a2.shape[-2:]), np.broadcast_to(b2, batch + b2.shape[-2:])
    n, k, m = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    out = np.zeros(batch + (n, m))
    for bi in np.ndindex(batch):
        for i in range(n):
            for j in range(m):
                for p in range(k):
                    out[bi + (i, j)] += a2[bi + (i, p)] * b2[bi + (p, j)]
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


@given(shapes=_matmul_shapes(), data=st.data())
def test_matmul_against_torch_a_triple_loop_and_gradcheck(shapes, data):
    a, b = data.draw(arrays(shapes[0])), data.draw(arrays(shapes[1]))
    out = check_against_torch(F.matmul, torch.matmul, [a, b])
    np.testing.assert_allclose(out.numpy(), _loop_matmul(a, b), rtol=1e-12, atol=1e-12)
    assert gradcheck(F.matmul, [mt.Tensor(a, requires_grad=True), mt.Tensor(b, requires_grad=True)])


def test_matmul_operators_and_only_one_side_requiring_grad():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    check_against_torch(lambda x, y: x @ y, lambda x, y: x @ y, [a, b])
    check_against_torch(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], requires_grad=[False, True])
    check_against_torch(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], requires_grad=[True, False])
    check_against_torch(lambda x: mt.Tensor(b.T) @ x.sum(0).T, lambda t: torch.tensor(b.T) @ t.sum(0).T, [a])


@pytest.mark.parametrize(
    "sa, sb",
    [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 1, 2, 3), (5, 3, 2)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,))],
)
def test_matmul_shape_table_against_torch(sa, sb):
    rng = np.random.default_rng(1)
    check_against_torch(F.matmul, torch.matmul, [rng.standard_normal(sa), rng.standard_normal(sb)])


@pytest.mark.parametrize("sa, sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((2, 2, 3), (2, 2, 3))])
def test_matmul_shape_mismatch_names_the_op_and_both_shapes(sa, sb):
    with pytest.raises(ValueError, match=rf"matmul: shapes {sa} and {sb} cannot be multiplied".replace("(", r"\(")
                       .replace(")", r"\)")):
        F.matmul(mt.zeros(sa), mt.zeros(sb))


def test_matmul_of_a_scalar_and_mixed_dtypes_name_the_op():
    with pytest.raises(ValueError, match=r"matmul: both operands need at least 1 dimension"):
        F.matmul(mt.tensor(2.0), mt.ones(2))
    with pytest.raises(TypeError, match=r"matmul: expected operands of one dtype, got float32 and float64"):
        F.matmul(mt.ones(2, 2, requires_grad=True), mt.ones(2, 2, dtype=mt.float64))


# ------------------------------------------------------------------ linear
@st.composite
def _linear_inputs(draw):
    lead = tuple(draw(st.lists(side, min_size=0, max_size=2)))
    n_in, n_out = draw(side), draw(side)
    x = draw(arrays(lead + (n_in,)))
    w = draw(arrays((n_out, n_in)))
    b = draw(st.none() | arrays((n_out,)))
    return x, w, b


@given(inputs=_linear_inputs())
def test_linear_against_torch_a_loop_and_gradcheck(inputs):
    x, w, b = inputs
    arrays_ = [x, w] if b is None else [x, w, b]
    out = check_against_torch(F.linear, torch.nn.functional.linear, arrays_)
    expected = np.zeros(x.shape[:-1] + (w.shape[0],))
    for idx in np.ndindex(x.shape[:-1]):
        for o in range(w.shape[0]):
            expected[idx + (o,)] = sum(x[idx + (i,)] * w[o, i] for i in range(w.shape[1])) + (0 if b is None else b[o])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(F.linear, [mt.Tensor(a, requires_grad=True) for a in arrays_])


def test_linear_with_a_frozen_weight_and_only_the_bias_learning():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    check_against_torch(F.linear, torch.nn.functional.linear, [x, w, b], requires_grad=[False, False, True])
    check_against_torch(F.linear, torch.nn.functional.linear, [x, w, b], requires_grad=[True, False, False])


def test_linear_rejects_bad_input_naming_the_op():
    x, w = mt.ones(3, 4), mt.ones(2, 4)
    with pytest.raises(TypeError, match=r"linear: expected a floating-point input .*got dtype int64"):
        F.linear(mt.tensor([[1, 2, 3, 4]]), w)
    with pytest.raises(ValueError, match=r"linear: expected input with last dimension 4 .*got input of shape \(3, 5\)"):
        F.linear(mt.ones(3, 5), w)
    with pytest.raises(ValueError, match=r"linear: expected bias of shape \(2,\), got \(3,\)"):
        F.linear(x, w, mt.ones(3))
    with pytest.raises(ValueError, match=r"linear: expected a 2-D weight, got shape \(4,\)"):
        F.linear(x, mt.ones(4))
    with pytest.raises(TypeError, match=r"linear: expected weight of the input's dtype float64, got float32"):
        F.linear(mt.ones(3, 4, dtype=mt.float64), w)


_LINEAR_INPUTS = {  # name -> (shape, how the input is laid out: a NumPy view of a contiguous array)
    "1-D": ((3,), lambda a: a), "2-D": ((2, 3), lambda a: a), "2-D transposed": ((3, 2), lambda a: a.T),
    "2-D empty": ((0, 3), lambda a: a), "3-D": ((2, 2, 3), lambda a: a),
    "3-D strided": ((2, 2, 3), lambda a: a.transpose(1, 0, 2)), "4-D strided": ((3, 2, 2, 1), lambda a: a.T),
    "4-D": ((1, 2, 2, 3), lambda a: a), "4-D strided empty": ((3, 0, 2, 1), lambda a: a.T),
}


@pytest.mark.parametrize("layout", sorted(_LINEAR_INPUTS))
@pytest.mark.parametrize("dtypes", [("float32", "float32", "float64"), ("float64", "float64", "float32"),
                                    ("float32", "float64", "float32"), ("float32", "float32", "int64"),
                                    ("float32", "float32", "float32"), ("float64", "float32", None)])
@pytest.mark.parametrize("grad", ["", "input", "bias"])
def test_linear_dtype_rules_match_torch(layout, dtypes, grad):
    """PyTorch 2.13's dtype checks: equal dtypes on its fused path (1-D/2-D or contiguous input), a bias
    of any dtype cast to the product's dtype otherwise; the result (and each gradient) in torch's dtype."""
    shape, view = _LINEAR_INPUTS[layout]
    rng = np.random.default_rng(0)
    x = view(rng.standard_normal(shape).astype(dtypes[0]))
    w = rng.standard_normal((2, 3)).astype(dtypes[1])
    b = None if dtypes[2] is None else np.arange(2).astype(dtypes[2])
    results = []
    for T in (mt, torch):
        xt, wt = T.from_numpy(x.copy()), T.from_numpy(w)
        bt = None if b is None else T.from_numpy(b)
        if grad == "input":
            xt.requires_grad_()
        if grad == "bias" and bt is not None and b.dtype.kind == "f":
            bt.requires_grad_()
        try:
            y = T.nn.functional.linear(xt, wt, bt)
        except (TypeError, ValueError, RuntimeError):
            results.append(None)
            continue
        y.sum().backward() if y.requires_grad else None
        grads = [None if t is None or t.grad is None else (str(t.grad.dtype).split(".")[-1], t.grad.numpy())
                 for t in (xt, bt)]
        results.append((str(y.dtype).split(".")[-1], y.detach().numpy(), grads))
    mine, ref = results
    assert (mine is None) == (ref is None), (mine, ref)
    if ref is not None:
        assert mine[0] == ref[0]
        np.testing.assert_allclose(mine[1], ref[1], rtol=1e-5, atol=1e-6)
        for g_mine, g_ref in zip(mine[2], ref[2]):
            assert (g_mine is None) == (g_ref is None)
            if g_ref is not None:
                assert g_mine[0] == g_ref[0]
                np.testing.assert_allclose(g_mine[1], g_ref[1], rtol=1e-5, atol=1e-6)
