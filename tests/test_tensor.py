"""The Tensor API: facts, leaving the graph, dtype/device moves, repr, operators, seeding, cuda errors,
randint, comparison and clamp methods, ``.T``/``.mT`` and ``__index__``, each as PyTorch."""

import warnings

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch

import minitorch_cnn as mt
from minitorch_cnn import backend


def test_facts_of_a_leaf_and_of_an_op_result():
    x = mt.Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert isinstance(x.array, np.ndarray) and x.grad is None and x.requires_grad and x.grad_fn is None
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dtype == np.float64 and x.device == "cpu"
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.numel() == 24 and x.dim() == 3 and len(x) == 2
    assert x.is_leaf
    y = x * 2
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf and y.grad is None
    assert "Mul" in repr(y.grad_fn)
    z = mt.Tensor(np.zeros(3)) * 2
    assert not z.requires_grad and z.grad_fn is None


def test_floats_default_to_float32_and_float64_is_preserved():
    assert mt.tensor([1.0, 2.0]).dtype == np.float32
    assert mt.tensor(1.5).dtype == np.float32
    assert mt.tensor((1.0, 2.0)).dtype == np.float32
    assert mt.tensor([[1.0], [2.0]], dtype=mt.float64).dtype == np.float64
    assert mt.tensor(np.ones(2)).dtype == np.float64  # an array keeps its dtype, as torch.from_numpy
    assert mt.Tensor(np.ones(2)).dtype == np.float64
    assert mt.Tensor([1.0, 2.0]).dtype == np.float32
    assert mt.tensor([1, 2]).dtype == np.int64
    for make in (mt.zeros, mt.ones, mt.rand, mt.randn, mt.empty):
        assert make(2, 3).dtype == np.float32 and make(2, 3, dtype=mt.float64).dtype == np.float64
    x = mt.ones(2, dtype=mt.float64, requires_grad=True)
    y = (x * 3.0 + 1) / 2
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


def test_tensor_copies_its_data_and_numpy_returns_a_copy():
    a = np.array([1.0, 2.0])
    t = mt.tensor(a)
    a[0] = 100.0
    assert t.numpy()[0] == 1.0
    host = t.numpy()
    host[1] = -5.0
    assert t.numpy()[1] == 2.0
    assert isinstance(host, np.ndarray)


def test_item_and_its_error():
    assert mt.tensor([[2.5]]).item() == 2.5 and isinstance(mt.tensor(3).item(), int)
    with pytest.raises(ValueError, match=r"item: expected a tensor with one element, got shape \(2,\)"):
        mt.tensor([1.0, 2.0]).item()


def test_detach_shares_values_but_leaves_the_graph():
    x = mt.ones(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    np.testing.assert_array_equal(d.numpy(), [2.0, 2.0, 2.0])
    y = (d * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])  # nothing flowed back through d


def test_to_changes_dtype_with_a_gradient_and_is_a_no_op_otherwise():
    x = mt.ones(2, 3, requires_grad=True)
    assert x.to("cpu") is x and x.to(mt.float32) is x and x.cpu() is x
    y = x.to(mt.float64)
    assert y.dtype == np.float64 and y.requires_grad
    assert x.to("float64").dtype == np.float64 and x.double().dtype == np.float64
    assert y.float().dtype == np.float32 and x.long().dtype == np.int64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_repr_shows_values_and_grad_state():
    # PyTorch's own text for the same tensors (printed by torch 2.13, written out here)
    assert repr(mt.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mt.tensor([[1.0, 2.0]], requires_grad=True)) == "tensor([[1., 2.]], requires_grad=True)"
    assert repr(mt.tensor([0.1, 2.5])) == "tensor([0.1000, 2.5000])"
    assert repr(mt.tensor([1, 2])) == "tensor([1, 2])"
    # the dtype is named by our package, where PyTorch writes dtype=torch.int32
    assert repr(mt.tensor([1, 2], dtype=mt.int32)) == "tensor([1, 2], dtype=minitorch_cnn.int32)"
    assert repr(mt.tensor([1.0], dtype=mt.float64)) == "tensor([1.], dtype=minitorch_cnn.float64)"
    assert repr(mt.tensor(3.0)) == "tensor(3.)"
    assert repr(mt.tensor([True, True])) == "tensor([True, True])"
    assert repr(mt.tensor([True, False])) == "tensor([ True, False])"
    assert repr(mt.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(mt.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert "requires_grad=True" in repr(mt.ones(2, requires_grad=True))
    assert repr(mt.ones(2, requires_grad=True) * 2) == "tensor([2., 2.], grad_fn=<MulBackward0>)"


def test_operators_delegate_to_the_ops_against_torch():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))

    def expr(x, y):
        return ((x + y) * (x - y) / y) ** 2 + (-x).abs() + y ** x + 2 ** (x / 4) - (x @ y).reshape(3, 1) + x[1:, ::2].sum()

    check_against_torch(expr, expr, [a, b])

    def methods(x):
        return (x.exp() + x.log() + x.sqrt() + x.tanh() + x.sigmoid() + x.relu()).softmax(1).log_softmax(0) \
            .transpose(0, 1).flatten().unsqueeze(0).squeeze(0).reshape(2, 6).permute(1, 0).mean(0) + x.max(1)[0].sum()

    check_against_torch(methods, lambda t: (t.exp() + t.log() + t.sqrt() + t.tanh() + t.sigmoid() + t.relu()).softmax(1)
                        .log_softmax(0).transpose(0, 1).flatten().unsqueeze(0).squeeze(0).reshape(2, 6).permute(1, 0)
                        .mean(0) + t.max(1)[0].sum(), [a])


def test_backward_with_a_gradient_of_the_wrong_shape_is_an_error():
    y = mt.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"backward: gradient shape \(3,\) != tensor shape \(2, 3\)"):
        y.backward(mt.ones(3))
    with pytest.raises(RuntimeError, match=r"backward: this tensor does not require grad"):
        mt.ones(2).sum().backward()


def test_gradients_accumulate_over_backward_calls_until_zeroed():
    x = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_manual_seed_makes_random_tensors_reproducible():
    mt.manual_seed(42)
    a, b = mt.randn(3, 4).numpy(), mt.rand(5).numpy()
    mt.manual_seed(42)
    np.testing.assert_array_equal(mt.randn(3, 4).numpy(), a)
    np.testing.assert_array_equal(mt.rand(5).numpy(), b)
    mt.manual_seed(43)
    assert not np.array_equal(mt.randn(3, 4).numpy(), a)
    assert ((b >= 0) & (b < 1)).all()


@pytest.mark.skipif(backend.cuda_is_available(), reason="a GPU is present here; the error path cannot be reached")
def test_asking_for_cuda_without_a_gpu_raises_a_clear_error():
    reason = backend.cuda_unavailable_reason()
    assert reason and ("CuPy" in reason or "GPU" in reason)
    for make in (lambda: mt.ones(2).to("cuda"), lambda: mt.ones(2).cuda(), lambda: mt.zeros(2, device="cuda"),
                 lambda: mt.tensor([1.0], device="cuda:0")):
        with pytest.raises(backend.DeviceUnavailableError, match=r"device 'cuda' was requested but"):
            make()


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match=r"unknown device 'tpu'"):
        mt.zeros(2, device="tpu")


def test_integer_tensors_cannot_require_grad_and_bools_are_unambiguous_only_for_one_element():
    with pytest.raises(TypeError, match=r"only Tensors of floating point dtype can require gradients"):
        mt.tensor([1, 2]).requires_grad_()
    assert bool(mt.tensor([1.0])) and not bool(mt.tensor(0.0))
    with pytest.raises(RuntimeError, match=r"ambiguous"):
        bool(mt.tensor([1.0, 2.0]))


def test_torch_agrees_on_default_dtypes():
    assert str(torch.tensor([1.0]).dtype) == "torch.float32" and mt.tensor([1.0]).dtype == np.float32
    assert str(torch.tensor(1.5).dtype).removeprefix("torch.") == str(mt.tensor(1.5).dtype).removeprefix("minitorch_cnn.")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_only_floating_point_tensors_can_require_gradients_as_torch(dtype):
    """The constructor, requires_grad_() and the attribute itself all refuse, as PyTorch does (a
    RuntimeError there; also a TypeError here, as this engine raised before)."""
    message = "only Tensors of floating point dtype can require gradients"
    t = mt.Tensor(np.zeros(3, dtype=dtype))
    with pytest.raises(RuntimeError, match=message):
        t.requires_grad = True
    assert t.requires_grad is False
    with pytest.raises(TypeError, match=message):
        t.requires_grad_()
    with pytest.raises(RuntimeError, match=message):
        mt.Tensor(np.zeros(3, dtype=dtype), requires_grad=True)
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):  # PyTorch's own check
        torch.from_numpy(np.zeros(3, dtype=dtype)).requires_grad = True
    t.requires_grad = False  # turning it off is always allowed
    f = mt.Tensor(np.zeros(3))
    f.requires_grad = True
    assert f.requires_grad is True


# ------------------------------------------------------------------ a PyTorch user's first hour
@pytest.mark.parametrize("call", [lambda lib: lib.randint(5, (3, 4)), lambda lib: lib.randint(2, 9, (2, 3)),
                                  lambda lib: lib.randint(5, size=(6,)), lambda lib: lib.randint(low=-3, high=3, size=(7,)),
                                  lambda lib: lib.randint(0, 4, (5,), dtype=lib.float32),
                                  lambda lib: lib.randint(0, 4, (2, 0))])
def test_randint_forms_shapes_dtypes_and_range_as_torch(call):
    ours, theirs = call(mt), call(torch)
    assert ours.shape == theirs.shape and str(ours.dtype).removeprefix("minitorch_cnn.") == str(theirs.dtype).removeprefix("torch.")
    assert not ours.requires_grad
    low, high = (-3, 3) if ours.shape == (7,) else (2, 9) if ours.shape == (2, 3) else (0, 5)
    assert ((ours.numpy() >= low) & (ours.numpy() < high)).all()


def test_randint_draws_every_value_from_the_seeded_generator():
    mt.manual_seed(3)
    a = mt.randint(10, (2000,)).numpy()
    mt.manual_seed(3)
    np.testing.assert_array_equal(mt.randint(10, (2000,)).numpy(), a)
    assert set(np.unique(a)) == set(range(10)) and a.dtype == np.int64
    counts = np.bincount(a, minlength=10)
    assert counts.min() > 140 and counts.max() < 260  # 200 expected each; a 4-sigma band


def test_randint_errors_name_the_op():
    with pytest.raises(ValueError, match=r"randint: expected low < high, got low=5 and high=3"):
        mt.randint(5, 3, (2,))
    with pytest.raises(RuntimeError):
        torch.randint(5, 3, (2,))
    for bad in (lambda lib: lib.randint(5), lambda lib: lib.randint(0.5, 3, (2,)), lambda lib: lib.randint(2, 3)):
        with pytest.raises(TypeError, match=r"randint: expected"):
            bad(mt)
        with pytest.raises(TypeError):
            bad(torch)
    with pytest.raises(RuntimeError, match=r"only Tensors of floating point dtype can require gradients"):
        mt.randint(0, 2, (2,), requires_grad=True)


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_and_functions_as_torch(name):
    a, b = np.array([1.0, 2.0, 3.0, 2.0]), np.array([2.0, 2.0, 1.0, 5.0])
    for other in (mt.tensor(b), 2.0):
        theirs = getattr(torch.tensor(a), name)(torch.tensor(b) if isinstance(other, mt.Tensor) else other)
        ours = getattr(mt.tensor(a), name)(other)
        assert ours.dtype is mt.bool and ours.tolist() == theirs.tolist()
        assert getattr(mt, name)(mt.tensor(a), other).tolist() == theirs.tolist()


def test_clamp_clip_maximum_minimum_methods_as_torch():
    a, b = np.array([-2.0, -0.5, 0.25, 3.0]), np.array([0.0, -1.0, 1.0, 2.0])
    x, t = mt.tensor(a), torch.tensor(a)
    for ours, theirs in [(x.clamp(-1, 1), t.clamp(-1, 1)), (x.clamp(min=0), t.clamp(min=0)), (x.clamp(max=0), t.clamp(max=0)),
                         (x.clip(-1, 1), t.clip(-1, 1)), (x.maximum(mt.tensor(b)), t.maximum(torch.tensor(b))),
                         (x.minimum(mt.tensor(b)), t.minimum(torch.tensor(b))), (mt.clamp(x, 0, 1), torch.clamp(t, 0, 1)),
                         (mt.clip(x, 0, 1), torch.clip(t, 0, 1)), (mt.maximum(x, mt.tensor(b)), torch.maximum(t, torch.tensor(b))),
                         (mt.minimum(x, mt.tensor(b)), torch.minimum(t, torch.tensor(b)))]:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    y = mt.tensor(a)
    assert y.clamp_(-1, 1) is y and y.tolist() == torch.tensor(a).clamp_(-1, 1).tolist()
    w = mt.tensor(a, requires_grad=True) * 1
    w.clamp_(min=0)  # in place, outside the graph
    assert w.tolist() == [0.0, 0.0, 0.25, 3.0]


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (2, 1, 3, 5)])
def test_T_reverses_every_dimension_and_warns_off_matrices_as_torch(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    x, t = mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = x.T
    assert [w.category for w in caught] == ([] if len(shape) == 2 else [UserWarning])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = t.T
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    ours.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 1, 3, 5)])
def test_mT_transposes_each_matrix_as_torch(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    np.testing.assert_array_equal(mt.tensor(a).mT.numpy(), torch.tensor(a).mT.numpy())
    assert mt.tensor(a).mT.shape == torch.tensor(a).mT.shape


def test_mT_of_one_dimension_is_an_error_and_of_none_the_identity_with_a_warning_as_torch():
    with pytest.raises(ValueError, match=r"mT: expected a tensor with at least 2 dimensions"):
        mt.zeros(3).mT  # noqa: B018
    with pytest.raises(RuntimeError):
        torch.zeros(3).mT  # noqa: B018
    for lib in (mt, torch):
        with pytest.warns(UserWarning, match=r"mT .*0-D tensor"):
            assert lib.tensor(2.5).mT.item() == 2.5


def test_an_integer_tensor_of_one_element_is_an_index_as_torch():
    items = [10, 20, 30]
    assert items[mt.tensor(1)] == items[torch.tensor(1)] == 20 and list(range(10))[mt.tensor([2])] == 2
    for bad in (mt.tensor(1.0), mt.tensor([1, 2])):
        with pytest.raises(TypeError, match=r"only integer tensors of a single element can be converted to an index"):
            items[bad]


# ------------------------------------------------------------------ method bindings, class paths, factories
def test_view_refuses_strides_that_allow_no_view_and_contiguous_copies_as_torch():
    a = np.arange(6.0).reshape(2, 3)
    x, t = mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.T.view(6)
    with pytest.raises(RuntimeError, match=r"view: view size \(6,\) is not compatible with input tensor's size \(3, 2\)"):
        x.T.view(6)
    check_against_torch(lambda u: u.T.contiguous().view(6), lambda u: u.T.contiguous().view(6), [a])
    assert x.contiguous() is x  # already contiguous: itself, as torch
    assert x.T.contiguous().grad_fn.backward_name == type(t.T.contiguous().grad_fn).__name__ == "CloneBackward0"
    assert x.view(3, 2).grad_fn.backward_name == "ViewBackward0"


def test_argmin_and_softmax_with_a_dtype_as_methods_as_torch():
    a = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, -7.0]], dtype=np.float32)
    x, t = mt.tensor(a), torch.tensor(a)
    assert x.argmin().item() == t.argmin().item() and x.argmin(1).tolist() == t.argmin(1).tolist()
    assert x.argmin(dim=0, keepdim=True).tolist() == t.argmin(dim=0, keepdim=True).tolist()
    for name in ("softmax", "log_softmax"):
        ours, theirs = getattr(x, name)(1, dtype=mt.float64), getattr(t, name)(1, dtype=torch.float64)
        assert ours.dtype == mt.float64
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("other", [None, "a", [1, 2]])
def test_equality_with_something_that_is_no_tensor_is_false_as_torch(other):
    x, t = mt.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    assert (x == other) is (t == other) is False and (x != other) is (t != other) is True
    assert (other == x) is False and (other != x) is True


def test_method_forms_of_the_new_ops_agree_with_torch():
    a = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    x, t = mt.tensor(a), torch.tensor(a)
    np.testing.assert_array_equal(x.cumsum(1).numpy(), t.cumsum(1).numpy())
    np.testing.assert_allclose(x.norm().item(), t.norm().item(), rtol=1e-15)
    assert x.all().item() is t.all().item() is True and x.any(1).tolist() == t.any(1).tolist()
    np.testing.assert_array_equal(x.mm(x.T).numpy(), t.mm(t.T).numpy())
    np.testing.assert_array_equal(x.clamp(-1, 1).numpy(), t.clamp(-1, 1).numpy())
    np.testing.assert_array_equal(x.maximum(-x).numpy(), t.maximum(-t).numpy())
    assert x.T.shape == x.mT.shape == x.t().shape == (3, 2)


def test_the_classes_print_and_pickle_as_the_package_exports_them():
    import copy
    import pickle

    x = mt.tensor([1.0, 2.0], requires_grad=True)
    assert repr(type(x)) == "<class 'minitorch_cnn.Tensor'>" == repr(type(torch.tensor(0))).replace("torch", "minitorch_cnn")
    assert repr(type(x.shape)) == "<class 'minitorch_cnn.Size'>" and repr(type(x.dtype)) == "<class 'minitorch_cnn.dtype'>"
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert type(y) is mt.Tensor and y.tolist() == [1.0, 2.0] and y.requires_grad
    assert pickle.loads(pickle.dumps(x.shape)) == (2,) and type(copy.copy(x.shape)) is mt.Size
    assert pickle.loads(pickle.dumps(mt.float32)) is mt.float32


@pytest.mark.parametrize("call", ["arange(3.0, requires_grad=True)", "arange(0, 1, 0.25, requires_grad=True)",
                                  "linspace(0, 1, 3, requires_grad=True)", "full((2,), 1.5, requires_grad=True)",
                                  "zeros(2, requires_grad=True)", "eye(2, requires_grad=True)"])
def test_float_factories_take_requires_grad_as_torch(call):
    ours, theirs = eval(f"mt.{call}"), eval(f"torch.{call}")
    assert ours.requires_grad and theirs.requires_grad and ours.is_leaf
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("call", ["arange(3, requires_grad=True)", "full((2,), 1, requires_grad=True)",
                                  "zeros(2, dtype={lib}.long, requires_grad=True)",
                                  "eye(2, dtype={lib}.long, requires_grad=True)"])
def test_integer_factories_refuse_requires_grad_as_torch(call):
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        eval("torch." + call.format(lib="torch"))
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients, got int64"):
        eval("mt." + call.format(lib="mt"))
