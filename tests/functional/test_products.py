"""``dot``, ``mv``, ``mm`` (functions and methods): PyTorch, plain loops and float64 finite differences; the
shape and dtype errors PyTorch raises, by name; PyTorch's node names."""

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn.testing import arrays, gradcheck


def _loop_mm(a, b):
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            for k in range(a.shape[1]):
                out[i, j] += a[i, k] * b[k, j]
    return out


side = st.integers(1, 5)


@given(n=side, data=st.data())
def test_dot_against_torch_a_loop_and_gradcheck(n, data):
    a, b = data.draw(arrays((n,))), data.draw(arrays((n,)))
    out = check_against_torch(mt.dot, torch.dot, [a, b])
    assert out.item() == pytest.approx(sum(x * y for x, y in zip(a.tolist(), b.tolist())), rel=1e-12, abs=1e-12)
    check_against_torch(lambda x, y: x.dot(y), lambda x, y: x.dot(y), [a, b])
    assert gradcheck(mt.dot, [mt.tensor(a, requires_grad=True), mt.tensor(b, requires_grad=True)])


@given(n=side, m=side, data=st.data())
def test_mv_against_torch_a_loop_and_gradcheck(n, m, data):
    a, v = data.draw(arrays((n, m))), data.draw(arrays((m,)))
    out = check_against_torch(mt.mv, torch.mv, [a, v])
    np.testing.assert_allclose(out.numpy(), _loop_mm(np.asarray(a), np.asarray(v)[:, None])[:, 0], rtol=1e-12, atol=1e-12)
    check_against_torch(lambda x, y: x.mv(y), lambda x, y: x.mv(y), [a, v])
    assert gradcheck(mt.mv, [mt.tensor(a, requires_grad=True), mt.tensor(v, requires_grad=True)])


@given(n=side, k=side, m=side, data=st.data())
def test_mm_against_torch_a_loop_and_gradcheck(n, k, m, data):
    a, b = data.draw(arrays((n, k))), data.draw(arrays((k, m)))
    out = check_against_torch(mt.mm, torch.mm, [a, b])
    np.testing.assert_allclose(out.numpy(), _loop_mm(np.asarray(a), np.asarray(b)), rtol=1e-12, atol=1e-12)
    check_against_torch(lambda x, y: x.mm(y), lambda x, y: x.mm(y), [a, b])
    assert gradcheck(mt.mm, [mt.tensor(a, requires_grad=True), mt.tensor(b, requires_grad=True)])


def test_the_books_products_and_their_node_names():
    x = mt.arange(4.0, requires_grad=True)
    y = 2 * mt.dot(x, x)
    assert repr(y) == "tensor(28., grad_fn=<MulBackward0>)" and y.grad_fn.inputs[1].grad_fn.backward_name == "DotBackward0"
    y.backward()
    assert x.grad.tolist() == [0.0, 4.0, 8.0, 12.0]  # d(2 x·x)/dx = 4x
    A = mt.arange(6, dtype=mt.float32).reshape(2, 3).requires_grad_()
    assert mt.mv(A, mt.ones(3)).grad_fn.backward_name == "MvBackward0"
    assert mt.mm(A, mt.ones(3, 4)).grad_fn.backward_name == "MmBackward0"
    assert mt.bmm(A[None], mt.ones(1, 3, 4)).grad_fn.backward_name == "BmmBackward0"
    assert repr(mt.dot(mt.tensor([1, 2, 3]), mt.tensor([1, 2, 3]))) == "tensor(14)"  # ints, as torch
    assert repr(mt.mm(mt.tensor([[1, 2, 3]]), mt.tensor([[1], [2], [3]]))) == "tensor([[14]])"


@pytest.mark.parametrize("call, torch_call, message", [
    ("mt.dot(f, i)", "torch.dot(tf, ti)", r"dot: expected operands of one dtype, got float32 and int64"),
    ("mt.dot(f, f3)", "torch.dot(tf, tf3)", r"dot: expected vectors of one size, got 2 and 3 elements"),
    ("mt.dot(m, m)", "torch.dot(tm, tm)", r"dot: expected a 1-D input and a 1-D other, got shapes \(2, 3\) and \(2, 3\)"),
    ("mt.dot(b, b)", "torch.dot(tb, tb)", r"dot: bool operands are not supported"),
    ("mt.mv(m, f)", "torch.mv(tm, tf)", r"mv: size mismatch, got matrix \(2, 3\) and vector \(2,\)"),
    ("mt.mv(f, f)", "torch.mv(tf, tf)", r"mv: expected a 2-D input and a 1-D vec, got shapes \(2,\) and \(2,\)"),
    ("mt.mv(m, f3.double())", "torch.mv(tm, tf3.double())", r"mv: expected operands of one dtype, got float32 and float64"),
    ("mt.mm(m, m)", "torch.mm(tm, tm)", r"mm: shapes \(2, 3\) and \(2, 3\) cannot be multiplied"),
    ("mt.mm(f, f)", "torch.mm(tf, tf)", r"mm: expected a 2-D input and a 2-D mat2, got shapes \(2,\) and \(2,\)"),
    ("mt.mm(m, m.T.double())", "torch.mm(tm, tm.T.double())", r"mm: expected operands of one dtype, got float32 and float64"),
])
def test_products_reject_what_torch_rejects_by_name(call, torch_call, message):
    env = {"mt": mt, "torch": torch}
    for lib, prefix in ((mt, ""), (torch, "t")):
        env.update({prefix + "f": lib.ones(2), prefix + "f3": lib.ones(3), prefix + "i": lib.tensor([1, 2]),
                    prefix + "b": lib.tensor([True, False]), prefix + "m": lib.ones(2, 3)})
    with pytest.raises((RuntimeError, NotImplementedError)):
        eval(torch_call, env)
    with pytest.raises((ValueError, TypeError), match=message):
        eval(call, env)


@pytest.mark.parametrize("op, sa, sb", [("bmm", (0, 1, 3), (0, 3, 1)), ("bmm", (2, 1, 0), (2, 0, 1)),
                                        ("matmul", (0, 1, 3), (0, 3, 1)), ("matmul", (2, 1, 3), (1, 3, 0))])
@pytest.mark.parametrize("db", ["bool", "int64", "float32"])
def test_an_empty_batched_product_of_a_float_requiring_grad_and_another_dtype_as_torch(op, sa, sb, db):
    """Fuzzer: ``bmm(zeros(0, 1, 3, requires_grad=True), zeros(0, 3, 1, dtype=bool))`` raised in PyTorch
    ("Autograd not support dtype: Bool": the empty product takes the second dtype), not in ours."""
    def run(T):
        a = T.zeros(*sa, dtype=T.float64, requires_grad=True)
        try:
            y = getattr(T, op)(a, T.zeros(*sb, dtype=getattr(T, db)))
        except (TypeError, RuntimeError):
            return None
        y.sum().backward()
        return tuple(y.shape), str(y.dtype).split(".")[-1], a.grad.numpy()

    ours, theirs = run(mt), run(torch)
    assert (ours is None) == (theirs is None) == (db != "float32")
    if theirs is not None:
        assert ours[:2] == theirs[:2]
        np.testing.assert_array_equal(ours[2], theirs[2])
