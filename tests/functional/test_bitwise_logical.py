"""Bitwise ``& | ^ ~``, ``logical_and/or/xor/not`` and ``all``/``any``: values and dtypes against PyTorch
(the oracle for the result dtype) and against NumPy's own definitions; none has a gradient."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F

DTYPES = ["bool", "uint8", "int8", "int32", "int64"]
SAMPLES = {  # small values with every bit pattern of interest, as each dtype holds them
    "bool": [True, False, True, False], "uint8": [0, 5, 250, 7], "int8": [-3, 5, 0, -128],
    "int32": [-7, 12, 0, 2**30], "int64": [-(2**40), 3, 0, -1],
}


def _pair(dtype):
    return mt.tensor(np.array(SAMPLES[dtype], dtype=dtype)), torch.tensor(np.array(SAMPLES[dtype], dtype=dtype))


def _same(ours, theirs):
    assert str(ours.dtype).removeprefix("minitorch_cnn.") == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("left, right", list(itertools.product(DTYPES, DTYPES)))
@pytest.mark.parametrize("op", ["&", "|", "^"])
def test_bitwise_operators_on_two_tensors_as_torch(op, left, right):
    (a, ta), (b, tb) = _pair(left), _pair(right)
    env = {"a": a, "b": b, "ta": ta, "tb": tb}
    _same(eval(f"a {op} b", env), eval(f"ta {op} tb", env))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("number", [True, False, 1, 6, -2])
@pytest.mark.parametrize("op", ["&", "|", "^"])
def test_bitwise_operators_with_a_python_number_on_either_side_as_torch(op, dtype, number):
    a, ta = _pair(dtype)
    _same(eval(f"a {op} number"), eval(f"ta {op} number"))
    _same(eval(f"number {op} a"), eval(f"number {op} ta"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_invert_and_the_named_functions_against_numpy_and_torch(dtype):
    a, ta = _pair(dtype)
    _same(~a, ~ta)
    _same(mt.bitwise_not(a), torch.bitwise_not(ta))
    raw = np.array(SAMPLES[dtype], dtype=dtype)
    np.testing.assert_array_equal((~a).numpy(), np.logical_not(raw) if dtype == "bool" else np.invert(raw))
    b, tb = _pair("int64")
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        _same(getattr(mt, name)(a, b), getattr(torch, name)(ta, tb))
        _same(getattr(a, name)(b), getattr(ta, name)(tb))


def test_bitwise_by_plain_integer_arithmetic():
    a, b = np.array([12, 10, -1, 0]), np.array([10, 6, 5, 7])
    expected_and = [x & y for x, y in zip(a.tolist(), b.tolist())]  # Python ints: two's complement, unbounded
    expected_or = [x | y for x, y in zip(a.tolist(), b.tolist())]
    expected_xor = [x ^ y for x, y in zip(a.tolist(), b.tolist())]
    x, y = mt.tensor(a), mt.tensor(b)
    assert (x & y).tolist() == expected_and and (x | y).tolist() == expected_or and (x ^ y).tolist() == expected_xor
    assert (~x).tolist() == [-13, -11, 0, -1]


def test_bitwise_broadcasts_and_bool_masks_combine():
    t = mt.tensor([[1.0, -2.0], [3.0, 0.0]])
    mask = (t > 0) | (t == 0)
    assert mask.tolist() == [[True, False], [True, True]] and mask.dtype == mt.bool
    assert ((t > 0) & mt.tensor([True, False])).tolist() == [[True, False], [True, False]]


@pytest.mark.parametrize("expr", ["f & f", "f | 1", "b & 1.5", "i ^ 2.0", "f ^ i", "1.5 | b"])
def test_bitwise_on_floats_is_an_error_as_in_torch(expr):
    env = {"f": mt.tensor([1.0, 2.0]), "b": mt.tensor([True, False]), "i": mt.tensor([1, 2]),
           "tf": torch.tensor([1.0, 2.0]), "tb": torch.tensor([True, False]), "ti": torch.tensor([1, 2])}
    with pytest.raises(NotImplementedError):  # PyTorch's error type for a dtype with no kernel
        eval(expr.replace("f", "tf").replace("b", "tb").replace("i", "ti"), env)
    with pytest.raises(NotImplementedError, match=r"bitwise_(and|or|xor): expected bool or integer operands, "
                                                  r"got dtype float32"):
        eval(expr, env)
    with pytest.raises(TypeError):  # and a TypeError, as the engine's other dtype errors
        eval(expr, env)


def test_invert_of_a_float_is_a_type_error_as_in_torch():
    with pytest.raises(TypeError):
        ~torch.tensor([1.0])
    with pytest.raises(TypeError, match=r"bitwise_not: ~ is only implemented on integer and bool tensors, got dtype "
                                        r"float64"):
        ~mt.tensor(np.array([1.0]))


def test_bitwise_of_shapes_that_do_not_broadcast_names_the_op():
    with pytest.raises(ValueError, match=r"bitwise_and: shapes \(2,\) and \(3,\) do not broadcast together"):
        mt.tensor([1, 2], dtype=mt.int32) & mt.tensor([1, 2, 3])


# ------------------------------------------------------------------ logical
LOGICAL_SAMPLES = {**SAMPLES, "float32": [0.0, -0.0, float("nan"), 2.5], "float64": [1e-300, 0.0, float("inf"), -1.0]}


@pytest.mark.parametrize("left, right", list(itertools.product(LOGICAL_SAMPLES, ["bool", "int64", "float32"])))
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_of_any_dtypes_against_numpy_and_torch(name, left, right):
    a = np.array(LOGICAL_SAMPLES[left], dtype=left)
    b = np.array(LOGICAL_SAMPLES[right], dtype=right)
    ours = getattr(mt, name)(mt.tensor(a), mt.tensor(b))
    _same(ours, getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    np.testing.assert_array_equal(ours.numpy(), getattr(np, name)(a != 0, b != 0))  # non-zero (NaN too) is True
    _same(getattr(mt.tensor(a), name)(mt.tensor(b)), getattr(torch.tensor(a), name)(torch.tensor(b)))


@pytest.mark.parametrize("dtype", list(LOGICAL_SAMPLES))
def test_logical_not_of_any_dtype_as_torch(dtype):
    a = np.array(LOGICAL_SAMPLES[dtype], dtype=dtype)
    _same(mt.logical_not(mt.tensor(a)), torch.logical_not(torch.tensor(a)))
    np.testing.assert_array_equal(mt.tensor(a).logical_not().numpy(), a == 0)


def test_logical_ops_want_tensors_as_torch():
    with pytest.raises(TypeError):
        torch.logical_or(torch.tensor([True]), 0)
    with pytest.raises(TypeError, match=r"logical_or: expected other to be a Tensor, got int"):
        mt.logical_or(mt.tensor([True]), 0)
    with pytest.raises(ValueError, match=r"logical_and: shapes \(2,\) and \(3,\) do not broadcast together"):
        mt.logical_and(mt.ones(2), mt.ones(3))


# ------------------------------------------------------------------ all, any
@st.composite
def _array_and_dim(draw):
    shape = draw(st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple))
    dtype = draw(st.sampled_from(["bool", "uint8", "int64", "float32", "float64"]))
    a = np.asarray(draw(st.lists(st.sampled_from([0, 1, 2]), min_size=int(np.prod(shape)),
                                 max_size=int(np.prod(shape))))).reshape(shape).astype(dtype)
    ndim = max(a.ndim, 1)
    dim = draw(st.none() | st.integers(-ndim, ndim - 1)
               | st.lists(st.integers(0, ndim - 1), max_size=ndim, unique=True).map(tuple))
    return a, dim, draw(st.booleans())


@given(case=_array_and_dim())
def test_all_and_any_against_torch_and_numpy(case):
    a, dim, keepdim = case
    for name in ("all", "any"):
        kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
        ours, theirs = getattr(mt, name)(mt.tensor(a), **kwargs), getattr(torch, name)(torch.tensor(a), **kwargs)
        _same(ours, theirs)  # bool, or uint8 for a uint8 input; dim=() reduces nothing, as torch 2.13
        _same(getattr(mt.tensor(a), name)(**kwargs), theirs)
        if dim is None:  # NumPy's definition: every / some element non-zero
            assert bool(ours) == bool(getattr(np, name)(a != 0))


def test_all_and_any_of_an_empty_tensor_and_a_bad_dim():
    assert mt.tensor([]).all().item() is True and mt.tensor([]).any().item() is False
    assert repr(mt.tensor([1, 0], dtype=mt.uint8).all()) == "tensor(0, dtype=minitorch_cnn.uint8)"
    with pytest.raises(IndexError, match=r"all: dim 2 is out of range"):
        mt.ones(2, 3).all(2)
    with pytest.raises(ValueError, match=r"any: a dim appears more than once"):
        mt.ones(2, 3).any(dim=(0, 0))


def test_all_any_and_the_bitwise_names_are_exported_like_torch():
    for name in ("all", "any", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
                 "bitwise_or", "bitwise_xor", "bitwise_not"):
        assert callable(getattr(mt, name)) and callable(getattr(F, name)) and hasattr(torch, name)
