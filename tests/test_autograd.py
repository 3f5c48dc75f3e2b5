"""The autograd engine: graph walk order, accumulation, un-broadcasting, graph freeing, errors."""

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn.autograd import sum_to, topological_order


def test_diamond_accumulates_both_paths():
    # y = a*b + a*c with b = 2a, c = 3a: a is used by three consumers, dy/da = 2ab... = 12a
    a = mt.tensor([1.5, -2.0], dtype=mt.float64, requires_grad=True)
    b = a * 2
    c = a * 3
    y = (a * b + a * c).sum()  # = 5 a²
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), 10 * a.numpy())


def test_leaf_used_twice_in_one_op_gets_the_sum():
    a = mt.tensor([3.0], dtype=mt.float64, requires_grad=True)
    (a * a).sum().backward()
    assert a.grad.item() == 6.0


def test_ten_thousand_deep_chain_needs_no_recursion():
    x = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(2, 1.0001**10_000), rtol=1e-10)


def test_topological_order_puts_consumers_first():
    x = mt.tensor([1.0], requires_grad=True)
    h = x.exp()
    y = h * h + h
    order = topological_order(y.grad_fn)
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for t in node.inputs:
            if t is not None and t.grad_fn is not None:
                assert position[id(node)] < position[id(t.grad_fn)]


def test_bias_of_shape_c11_broadcasts_against_nchw():
    x = mt.randn(2, 3, 4, 5, dtype=mt.float64, requires_grad=True)
    b = mt.randn(3, 1, 1, dtype=mt.float64, requires_grad=True)
    g = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    (x + b).backward(mt.tensor(g))
    assert b.grad.shape == (3, 1, 1)
    np.testing.assert_allclose(b.grad.numpy(), g.sum(axis=(0, 2, 3)).reshape(3, 1, 1))
    np.testing.assert_allclose(x.grad.numpy(), g)


def test_sum_to_rejects_an_impossible_shape_naming_the_op():
    with pytest.raises(ValueError, match="MyOp"):
        sum_to(np.ones((2, 3)), (4,), "MyOp")


def test_second_backward_through_a_freed_graph_is_an_error():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())


def test_backward_on_non_scalar_without_gradient_is_an_error():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()


def test_no_grad_records_nothing():
    x = mt.tensor([1.0], requires_grad=True)
    with mt.no_grad():
        y = x * 2
    assert y.grad_fn is None and not y.requires_grad


def test_needs_input_grad_skips_constant_inputs():
    seen = {}

    class Probe(mt.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None

    a = mt.tensor([1.0], requires_grad=True)
    Probe.apply(a, mt.tensor([2.0])).sum().backward()
    assert seen["needs"] == (True, False)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating point"):
        mt.Tensor(np.arange(3), requires_grad=True)


def test_mixed_devices_are_rejected_naming_both():

    a = mt.tensor([1.0], requires_grad=True)
    b = mt.tensor([1.0])
    b.__class__ = type("CudaTensor", (mt.Tensor,), {"device": property(lambda self: "cuda")})
    with pytest.raises(ValueError, match=r"cpu.*cuda|cuda.*cpu"):
        a + b
