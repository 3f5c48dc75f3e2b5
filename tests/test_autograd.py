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


# ------------------------------------------------------------------ a leaf keeps a gradient made for it
class _Returns(mt.autograd.Function):
    """out = a + b (+ c); backward returns what the test hands it, to exercise the engine's copy rule."""

    make = None  # (ctx, g) -> tuple of grads

    @staticmethod
    def forward(ctx, a, b, c=None):
        ctx.save_for_backward(a)
        return a + b + (0 if c is None else c)

    @staticmethod
    def backward(ctx, g):
        return _Returns.make(ctx, g)


def _run(make, n=2, seed=None):
    leaves = [mt.tensor(np.ones(3), requires_grad=True) for _ in range(n)]
    _Returns.make = make
    out = _Returns.apply(*leaves)
    seed = np.ones(3) if seed is None else seed
    out.backward(seed)
    return leaves


def test_a_fresh_gradient_is_kept_without_a_copy():
    made = []

    def make(ctx, g):
        made.extend([g * 2.0, g * 3.0])
        return tuple(made)

    a, b = _run(make)
    assert a.grad.array is made[0] and b.grad.array is made[1]
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("case", ["incoming", "view_of_incoming", "twice", "base_of_another", "saved"])
def test_a_gradient_seen_elsewhere_is_copied(case):
    """Each of these arrays is referred to by something besides the leaf: the leaf's .grad must not
    alias it, or a later += into .grad (or a write to it) would change the other holder."""
    fresh = np.full(3, 5.0)
    makers = {
        "incoming": lambda ctx, g: (g, g * 1.0),
        "view_of_incoming": lambda ctx, g: (g[:], g * 1.0),
        "twice": lambda ctx, g: (fresh, fresh),
        "base_of_another": lambda ctx, g: (fresh, fresh[:]),
        "saved": lambda ctx, g: (ctx.saved_tensors[0], g * 1.0),
    }
    seed = np.ones(3)
    saved = {}

    def make(ctx, g):
        grads = makers[case](ctx, g)
        saved["first"], saved["value"] = grads[0], grads[0].copy()
        return grads

    a, b = _run(make, seed=seed)
    assert not np.shares_memory(a.grad.array, saved["first"])
    if case in ("twice", "base_of_another"):
        assert not np.shares_memory(a.grad.array, b.grad.array)
    a.grad.array += 100.0
    np.testing.assert_array_equal(saved["first"], saved["value"])  # the other holder is unchanged
    np.testing.assert_array_equal(seed, np.ones(3))


def test_a_kept_gradient_still_accumulates_a_second_backward():
    x = mt.tensor(np.arange(3.0), requires_grad=True)
    y = (x * 2.0).sum()
    y.backward(retain_graph=True)
    first = x.grad.array
    y.backward()
    assert x.grad.array is first  # added in place
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0, 4.0])


def test_the_seed_of_a_leaf_backward_is_copied():
    x = mt.tensor(np.arange(3.0), requires_grad=True)
    seed = np.ones(3)
    x.backward(seed)
    x.grad.array += 1.0
    np.testing.assert_array_equal(seed, np.ones(3))
