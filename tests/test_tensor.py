"""The Tensor API: facts, leaving the graph, dtype/device moves, repr, operators, seeding, cuda errors."""

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
    assert repr(mt.tensor([1, 2], dtype=mt.int32)) == "tensor([1, 2], dtype=torch.int32)"
    assert repr(mt.tensor([1.0], dtype=mt.float64)) == "tensor([1.], dtype=torch.float64)"
    assert repr(mt.tensor(3.0)) == "tensor(3.)"
    assert repr(mt.tensor([True, True])) == "tensor([True, True])"
    assert repr(mt.tensor([True, False])) == "tensor([ True, False])"
    assert repr(mt.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(mt.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert "requires_grad=True" in repr(mt.ones(2, requires_grad=True))
    assert "grad_fn=<MulFn backward>" in repr(mt.ones(2, requires_grad=True) * 2)


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
    assert str(torch.tensor(1.5).dtype) == "torch." + str(mt.tensor(1.5).dtype)


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
