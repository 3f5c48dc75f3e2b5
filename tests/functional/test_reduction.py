"""Reductions: sum, mean, max, min (dim/keepdim), argmax — gradcheck, plain loops, PyTorch.

Ties: ``max(dim)``/``min(dim)`` return the FIRST extreme index and send the whole gradient there,
as PyTorch does; ``max()``/``min()`` over all elements split the gradient evenly among the ties,
as PyTorch does (checked against torch 2.13 below, not assumed).
"""

import itertools

import numpy as np
import pytest
import torch
from _op_oracles import check_against_torch, distinct
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F
from minitorch_cnn.testing import arrays, gradcheck, shapes


@st.composite
def _array_and_dims(draw, max_dims=4):
    """An array and a ``dim``: None, an int (maybe negative) or a tuple of distinct axes."""
    a = draw(arrays(draw(shapes(max_dims=max_dims, max_side=4))))
    axis = st.integers(-a.ndim, a.ndim - 1)
    dim = draw(st.none() | axis | st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True)
               .map(tuple))
    return a, dim


@st.composite
def _distinct_array_and_dim(draw):
    shape = draw(shapes(max_dims=3, max_side=4))
    n = int(np.prod(shape))
    return distinct(shape, draw(st.permutations(range(n)))), draw(st.integers(-len(shape), len(shape) - 1))


def _loop_sum(a, dims, keepdim):
    dims = tuple(range(a.ndim)) if dims is None else tuple(d % a.ndim for d in np.atleast_1d(dims))
    out_shape = tuple(1 if d in dims else n for d, n in enumerate(a.shape))
    out = np.zeros(out_shape)
    for idx in np.ndindex(a.shape):
        out[tuple(0 if d in dims else i for d, i in enumerate(idx))] += a[idx]
    return out if keepdim else out.reshape([n for d, n in enumerate(a.shape) if d not in dims])


@pytest.mark.parametrize("op", ["sum", "mean"])
@given(case=_array_and_dims(), keepdim=st.booleans())
def test_sum_mean_against_torch_a_loop_and_gradcheck(op, case, keepdim):
    a, dim = case
    if dim is None:
        ours, theirs = (lambda x: getattr(F, op)(x)), (lambda t: getattr(torch, op)(t))
        keepdim = False
    else:
        ours = lambda x: getattr(F, op)(x, dim, keepdim)
        theirs = lambda t: getattr(torch, op)(t, dim, keepdim)
    out = check_against_torch(ours, theirs, [a])
    expected = _loop_sum(a, dim, keepdim)
    if op == "mean":
        expected = expected * (expected.size / a.size)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(ours, [mt.Tensor(a, requires_grad=True)])


def test_tensor_methods_delegate_to_the_reductions():
    a = np.arange(24.0).reshape(2, 3, 4) / 7
    check_against_torch(lambda x: x.sum(1) + x.mean(dim=(0, 2), keepdim=True).sum() + x.max(), lambda t: t.sum(1)
                        + t.mean(dim=(0, 2), keepdim=True).sum() + t.max(), [a])


@pytest.mark.parametrize("op", ["max", "min"])
@given(case=_distinct_array_and_dim(), keepdim=st.booleans())
def test_max_min_along_dim_against_torch_a_loop_and_gradcheck(op, case, keepdim):
    a, dim = case
    values = check_against_torch(lambda x: getattr(F, op)(x, dim, keepdim).values,
                                 lambda t: getattr(torch, op)(t, dim, keepdim).values, [a])
    indices = getattr(F, op)(mt.Tensor(a), dim, keepdim).indices
    np.testing.assert_array_equal(indices.numpy(), getattr(torch, op)(torch.tensor(a), dim, keepdim).indices.numpy())
    # plain loop: the extreme of each line along dim
    moved = np.moveaxis(a, dim, -1)
    pick = max if op == "max" else min
    expected = np.array([pick(moved[idx]) for idx in np.ndindex(moved.shape[:-1])]).reshape(moved.shape[:-1])
    np.testing.assert_array_equal(values.numpy(), np.expand_dims(expected, dim) if keepdim else expected)
    assert gradcheck(lambda x: getattr(F, op)(x, dim, keepdim).values, [mt.Tensor(a, requires_grad=True)])
    assert gradcheck(lambda x: getattr(F, op)(x), [mt.Tensor(a, requires_grad=True)])


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_ties_along_dim_pick_the_first_index_and_its_gradient_as_torch(op, dim):
    a = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    check_against_torch(lambda x: getattr(F, op)(x, dim).values, lambda t: getattr(torch, op)(t, dim).values, [a])
    np.testing.assert_array_equal(getattr(F, op)(mt.Tensor(a), dim).indices.numpy(),
                                  getattr(torch, op)(torch.tensor(a), dim).indices.numpy())


@pytest.mark.parametrize("op", ["max", "min"])
def test_ties_over_all_elements_split_the_gradient_evenly_as_torch(op):
    a = np.array([[1.0, 5.0, -2.0], [5.0, -2.0, 5.0]])
    out = check_against_torch(lambda x: getattr(F, op)(x), lambda t: getattr(torch, op)(t), [a])
    assert out.shape == ()
    x = mt.Tensor(a, requires_grad=True)
    getattr(F, op)(x).backward()
    expected = {"max": [[0, 1 / 3, 0], [1 / 3, 0, 1 / 3]], "min": [[0, 0, 0.5], [0, 0.5, 0]]}[op]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-15)


@given(keepdim=st.booleans(), data=st.data())
def test_argmax_against_torch_and_a_loop_with_ties(keepdim, data):
    a = np.round(data.draw(arrays(data.draw(shapes(max_dims=3, max_side=4)))))  # rounding makes ties common
    out = F.argmax(mt.Tensor(a))
    assert out.dtype == np.int64 and out.shape == () and not out.requires_grad
    assert out.item() == torch.argmax(torch.tensor(a)).item()
    assert out.item() == max(range(a.size), key=lambda i: (a.reshape(-1)[i], -i))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    ours = mt.Tensor(a, requires_grad=True).argmax(dim, keepdim)
    np.testing.assert_array_equal(ours.numpy(), torch.argmax(torch.tensor(a), dim, keepdim).numpy())
    assert ours.grad_fn is None


def test_reductions_of_integer_tensors():
    x = mt.tensor([[1, 7, 3], [4, 2, 9]])
    assert F.sum(x).item() == 26 and F.sum(x).dtype == np.int64
    assert F.max(x).item() == 9 and F.min(x, 1).indices.tolist() == [0, 1]
    with pytest.raises(TypeError, match=r"mean: expected a floating-point input, got dtype int64"):
        F.mean(x)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "argmax"])
@pytest.mark.parametrize("dim", [2, -3])
def test_bad_dim_names_the_op(op, dim):
    with pytest.raises(ValueError, match=rf"{op}: dim {dim} is out of range for a 2-D tensor"):
        getattr(F, op)(mt.ones(2, 3), dim)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_of_an_empty_tensor_names_the_op(op):
    with pytest.raises(ValueError, match=rf"{op}: expected a non-empty input, got shape \(0, 3\)"):
        getattr(F, op)(mt.zeros(0, 3))


def test_sum_over_every_dim_tuple_equals_the_loop():
    a = np.arange(24.0).reshape(2, 3, 4)
    for r in range(1, 4):
        for dims in itertools.combinations(range(3), r):
            np.testing.assert_array_equal(F.sum(mt.Tensor(a), dims).numpy(), _loop_sum(a, dims, False))
