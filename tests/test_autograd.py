"""The autograd engine: graph walk order, accumulation, un-broadcasting, graph freeing, errors, PyTorch's
node names (``grad_fn=<SumBackward0>``) and grad modes (no_grad, inference_mode, set_grad_enabled)."""

import re

import numpy as np
import pytest
import torch

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


# ------------------------------------------------------------------ PyTorch's names for the nodes
def _pair(shape, seed=0):
    a = np.random.default_rng(seed).uniform(0.5, 1.5, shape)
    return mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _ops(lib):
    F = lib.nn.functional
    return {
        "sum()": lambda x: x.sum(), "sum(dim)": lambda x: x.sum(1), "mean()": lambda x: x.mean(),
        "mean(dim)": lambda x: x.mean((1, 2)), "max()": lambda x: x.max(), "max(dim)": lambda x: x.max(1)[0],
        "min()": lambda x: x.min(), "min(dim)": lambda x: x.min(0)[0],
        "add": lambda x: x + x, "add scalar": lambda x: x + 1, "sub": lambda x: x - x, "mul": lambda x: x * x,
        "mul scalar": lambda x: 2 * x, "div": lambda x: x / x, "div scalar": lambda x: x / 2, "neg": lambda x: -x,
        "pow scalar": lambda x: x**2, "pow tensor": lambda x: x**x, "scalar pow": lambda x: 2**x,
        "exp": lambda x: x.exp(), "log": lambda x: x.log(), "sqrt": lambda x: x.sqrt(), "abs": lambda x: x.abs(),
        "sin": lambda x: x.sin(), "cos": lambda x: x.cos(), "sinh": lambda x: x.sinh(), "cosh": lambda x: x.cosh(),
        "where": lambda x: lib.where(x > 1, x, x * 0), "to float32": lambda x: x.to(lib.float32),
        "clone": lambda x: x.clone(), "relu": lambda x: x.relu(), "F.relu": lambda x: F.relu(x),
        "hardtanh": lambda x: F.hardtanh(x), "relu6": lambda x: F.relu6(x), "sigmoid": lambda x: x.sigmoid(),
        "tanh": lambda x: x.tanh(), "softmax": lambda x: x.softmax(1), "log_softmax": lambda x: x.log_softmax(1),
        "reshape": lambda x: x.reshape(2, -1), "view": lambda x: x.view(6, 20), "flatten": lambda x: x.flatten(1),
        "permute": lambda x: x.permute(3, 2, 1, 0), "expand": lambda x: x[:, :1].expand(2, 3, 4, 5),
        "x[0]": lambda x: x[0], "x[:1]": lambda x: x[:1], "x[0, 1:]": lambda x: x[0, 1:], "x[:]": lambda x: x[:],
        "x[..., 0]": lambda x: x[..., 0], "x[None]": lambda x: x[None], "x[1:, None]": lambda x: x[1:, None],
        "x[[0, 1]]": lambda x: x[[0, 1]], "x[mask]": lambda x: x[x > 1], "cat": lambda x: lib.cat([x, x]),
        "pad": lambda x: F.pad(x, (1, 1)), "matmul 2-D": lambda x: x[0, 0] @ x[0, 0].T,
        "matmul 1-D": lambda x: x[0, 0, 0] @ x[0, 0, 0], "matmul 2-D 1-D": lambda x: x[0, 0] @ x[0, 0, 0],
        "matmul 1-D 2-D": lambda x: x[0, 0, :, 0] @ x[0, 0], "matmul batched": lambda x: x @ x.transpose(-1, -2),
        "linear": lambda x: F.linear(x[0, 0], x[0, 1], x[0, 2, :, 0]), "linear no bias": lambda x: F.linear(x[0, 0], x[0, 1]),
        "conv2d": lambda x: F.conv2d(x, x[:, :, :3, :3], x[:, 0, 0, 0], padding=1), "conv2d groups": lambda x: F.conv2d(x[:, :2], x[:, :1, :3, :3], groups=2),
        "max_pool2d": lambda x: F.max_pool2d(x, 2), "avg_pool2d": lambda x: F.avg_pool2d(x, 2),
        "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, (2, 2)),
        "global avg pool": lambda x: F.adaptive_avg_pool2d(x, (1, 1)), "adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x, 2),
        "batch_norm": lambda x: F.batch_norm(x, None, None, training=True), "dropout": lambda x: F.dropout(x, 0.5),
        "cross_entropy": lambda x: F.cross_entropy(x[0, 0], lib.tensor([0, 1, 2, 3])),
        "squeeze()": lambda x: x[:1].squeeze(), "squeeze(dim)": lambda x: x[:1].squeeze(0),
        "squeeze(dims)": lambda x: x[:1].squeeze((0, 1)), "unsqueeze": lambda x: x.unsqueeze(1),
        "stack": lambda x: lib.stack([x, x], 1), "transpose": lambda x: x.transpose(0, 2), "t": lambda x: x[0, 0].t(),
        "t 1-D": lambda x: x[0, 0, 0].t(), "mT": lambda x: x.mT, "T 2-D": lambda x: x[0, 0].T,
        "contiguous": lambda x: x.mT.contiguous(), "reshape copy": lambda x: x.mT.reshape(-1),
        "flatten copy": lambda x: x.mT.flatten(1), "x[...]": lambda x: x[...], "x[:, :]": lambda x: x[:, :],
        "x[0:2, :]": lambda x: x[0:2, :], "x[0:2]": lambda x: x[0:2], "x[..., 1:]": lambda x: x[..., 1:],
        "x[0, ...]": lambda x: x[0, ...], "x[()]": lambda x: x[()], "x[:, ::1]": lambda x: x[:, ::1],
        "clamp tensor": lambda x: lib.clamp(x, x[:1] * 0), "cumsum": lambda x: x.cumsum(1),
        "norm": lambda x: x.norm(), "norm(dim)": lambda x: x.norm(dim=1), "norm(p=1)": lambda x: lib.norm(x, 1),
        "dot": lambda x: lib.dot(x[0, 0, 0], x[0, 0, 0]), "mv": lambda x: lib.mv(x[0, 0], x[0, 0, 0]),
        "mm": lambda x: lib.mm(x[0, 0], x[0, 0].T), "bmm": lambda x: lib.bmm(x[0], x[0].mT),
    }


@pytest.mark.parametrize("op", list(_ops(torch)))
def test_grad_fn_prints_pytorchs_node_name(op):
    x, t = _pair((2, 3, 4, 5))
    ours, theirs = _ops(mt)[op](x), _ops(torch)[op](t)
    name = type(theirs.grad_fn).__name__
    assert ours.grad_fn.backward_name == name
    assert f"grad_fn=<{name}>" in repr(ours) and f"grad_fn=<{name}>" in repr(theirs)


def test_every_conv_function_is_pytorchs_convolution_node():
    from minitorch_cnn.autograd import BACKWARD_NAMES, Function

    def subclasses(cls):
        return [cls] + [s for c in cls.__subclasses__() for s in subclasses(c)]

    convs = [c.__name__ for c in subclasses(Function) if c.__name__.endswith("Conv2dFn")]
    assert {"Conv2dFn", "Im2colConv2dFn", "DirectConv2dFn", "BatchLastConv2dFn", "WinogradConv2dFn",
            "DepthwiseConv2dFn"} <= set(convs)
    assert all(BACKWARD_NAMES[name] == "ConvolutionBackward0" for name in convs)
    x, t = _pair((2, 3, 6, 6))
    w, tw = _pair((4, 3, 3, 3), seed=1)
    for algorithm in ("reference", "default"):
        with mt.conv_algorithm(algorithm):
            y = mt.nn.functional.conv2d(x, w, padding=1)
        assert y.grad_fn.backward_name == type(torch.nn.functional.conv2d(t, tw, padding=1).grad_fn).__name__


def test_a_function_not_in_the_table_is_named_by_the_default_rule():
    class DoubleItFn(mt.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2,)

    y = DoubleItFn.apply(mt.ones(2, requires_grad=True))
    assert y.grad_fn.backward_name == "DoubleItBackward0" and y.grad_fn.name == "DoubleItFn"
    assert repr(y) == "tensor([2., 2.], grad_fn=<DoubleItBackward0>)"


def test_node_repr_is_torchs_and_name_stays_the_class_name():
    x, t = _pair(3)
    node, theirs = x.sum().grad_fn, t.sum().grad_fn
    assert re.fullmatch(r"<SumBackward0 object at 0x[0-9a-f]+>", repr(node))
    assert re.fullmatch(r"<SumBackward0 object at 0x[0-9a-f]+>", repr(theirs))
    assert node.name == "SumFn"  # the graph pictures of viz show the class name
    y = (x * 2).sum()
    y.backward()  # the name survives the freeing of the graph
    assert y.grad_fn.backward_name == "SumBackward0" and "grad_fn=<SumBackward0>" in repr(y)


# ------------------------------------------------------------------ grad modes as PyTorch's
@pytest.mark.parametrize("lib", [mt, torch], ids=["mt", "torch"])
def test_no_grad_enable_grad_and_inference_mode_as_context_managers_and_decorators(lib):
    def mode():
        return lib.is_grad_enabled()

    assert mode()
    with lib.no_grad():
        assert not mode()
        with lib.enable_grad():
            assert mode()
        assert not mode()
    with lib.inference_mode():
        assert not mode()
    with lib.inference_mode(False):
        assert mode()
    with lib.no_grad(), lib.inference_mode(False):
        assert mode()  # inference_mode(False) records again
    for decorated in (lib.no_grad()(mode), lib.no_grad(mode), lib.inference_mode()(mode), lib.inference_mode(mode)):
        assert decorated() is False and mode()
    assert lib.no_grad(lib.enable_grad(mode))() is True  # the innermost decorator is the one in force
    assert lib.enable_grad()(mode)() and lib.enable_grad(mode)()
    assert lib.no_grad()(mode).__name__ == "mode"


@pytest.mark.parametrize("lib", [mt, torch], ids=["mt", "torch"])
def test_set_grad_enabled_is_a_function_a_context_manager_and_a_decorator(lib):
    try:
        lib.set_grad_enabled(False)  # as a function: at once, and it stays
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        assert lib.is_grad_enabled()
        with lib.set_grad_enabled(False):
            assert not lib.is_grad_enabled()
            with lib.set_grad_enabled(True):
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()

        @lib.set_grad_enabled(False)
        def off():
            return lib.is_grad_enabled()

        assert lib.is_grad_enabled()  # decorating changes nothing
        assert off() is False and lib.is_grad_enabled()
    finally:
        lib.set_grad_enabled(True)


def test_no_graph_is_recorded_under_each_mode():
    x = mt.ones(2, requires_grad=True)
    for mode in (mt.no_grad(), mt.inference_mode(), mt.set_grad_enabled(False)):
        with mode:
            y = x * 2
        assert not y.requires_grad and y.grad_fn is None
    assert (x * 2).requires_grad


def test_the_engine_casts_every_gradient_to_its_inputs_dtype_at_inner_nodes_too():
    seen = []

    class ProbeFn(mt.Function):  # identity; records the dtype of the gradient it receives
        @staticmethod
        def forward(ctx, a):
            return a.copy()

        @staticmethod
        def backward(ctx, g):
            seen.append(g.dtype)
            return (g,)

    class WidenFn(mt.Function):  # identity whose backward returns float64, as a careless op might
        @staticmethod
        def forward(ctx, a):
            return a.copy()

        @staticmethod
        def backward(ctx, g):
            return (g.astype(np.float64),)

    x = mt.ones(3, requires_grad=True)
    WidenFn.apply(ProbeFn.apply(x)).sum().backward()
    assert seen == [np.float32] and x.grad.dtype == mt.float32  # as PyTorch's engine: cast at every input
    t = torch.ones(3, requires_grad=True)
    (t.double() * 2).sum().backward()  # PyTorch's own cast: float64 upstream, a float32 gradient
    assert t.grad.dtype == torch.float32
