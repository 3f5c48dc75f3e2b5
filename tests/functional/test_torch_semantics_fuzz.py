"""Regressions for disagreements with PyTorch found by the differential fuzzer (tests/fuzz): each case runs
the same code on both engines and compares what comes out (values, shape, dtype, whether it raises, and
whether ``view(-1)`` is allowed on the result)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import minitorch_cnn as mt
from minitorch_cnn.testing import gradcheck


def outcome(T, program):
    """What ``program(T)`` gives: ("raises",) or, per result, its dtype name, shape, values and whether
    ``view(-1)`` works on it; plus the leaves' gradients when the program returns them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = program(T)
    except Exception:  # noqa: BLE001 - both engines raising is agreement; the classes may differ
        return ("raises",)
    out = []
    for r in results if isinstance(results, tuple) else (results,):
        if r is None:
            out.append(None)
            continue
        try:
            r.view(-1)
            viewable = True
        except (RuntimeError, ValueError):
            viewable = False
        values = np.asarray(r.detach().numpy(), dtype=np.float64).ravel().round(12).tolist()
        values = ["nan" if v != v else v for v in values]  # NaN equals NaN here
        out.append((str(r.dtype).rsplit(".", 1)[-1], tuple(r.shape), values, viewable))
    return tuple(out)


def same_as_torch(program):
    ours, theirs = outcome(mt, program), outcome(torch, program)
    assert ours == theirs, f"minitorch_cnn {ours} != torch {theirs}"
    return ours


def _backward(T, y, *leaves):
    y.sum().backward()
    return (y,) + tuple(t.grad for t in leaves)


# ------------------------------------------------------------------ indexing
@pytest.mark.parametrize("index", [[], ([],), ((),), (slice(None), []), ([], []), [[]], [[0, 1], [1, 0]]])
def test_empty_and_sequence_indices_as_torch(index):
    same_as_torch(lambda T: T.zeros(3, 2)[index])
    same_as_torch(lambda T: T.zeros(0, 2)[[]])


def test_empty_list_index_backward_as_torch():
    def program(T):
        x = T.ones(3, 2, requires_grad=True)
        return _backward(T, x[[]] * 2, x)

    same_as_torch(program)


@pytest.mark.parametrize("index", [np.s_[::-1], np.s_[1::-2], np.s_[:, ::-1]])
def test_negative_slice_steps_raise_as_torch(index):
    assert same_as_torch(lambda T: T.arange(6).reshape(2, 3)[index]) == ("raises",)


def test_permute_needs_its_dims_as_torch():
    assert same_as_torch(lambda T: T.tensor(1.0).permute()) == ("raises",)
    assert same_as_torch(lambda T: T.ones(2, 3).permute()) == ("raises",)
    same_as_torch(lambda T: T.tensor(1.0).permute(()))
    same_as_torch(lambda T: T.tensor(1.0).permute([]))


def test_expand_as_is_a_view_that_view_refuses_to_flatten_as_torch():
    same_as_torch(lambda T: T.ones(3, 1).expand(3, 4))
    same_as_torch(lambda T: T.ones(1, 4).expand(3, 4))
    same_as_torch(lambda T: T.arange(3.0).reshape(3, 1).expand_as(T.ones(2, 3, 4)))

    def program(T):
        x = T.arange(3.0, requires_grad=True)
        return _backward(T, x.expand(2, 3) * T.tensor([[1.0], [2.0]]), x)

    same_as_torch(program)


# ------------------------------------------------------------------ pow on bools
@pytest.mark.parametrize("program", [
    lambda T: T.tensor([True, False]) ** T.tensor([False, True]),
    lambda T: True ** T.tensor([False]),
    lambda T: T.pow(T.tensor(True), T.tensor(False)),
    lambda T: T.zeros(0, dtype=T.bool) ** T.zeros(0, dtype=T.bool),
    lambda T: T.tensor([True, False]) ** True,
    lambda T: T.tensor([True, False]) ** False,
    lambda T: T.tensor([True, False]) ** 2,
    lambda T: T.tensor([True, False]) ** 2.5,
    lambda T: 2 ** T.tensor([True, False]),
])
def test_pow_with_bools_as_torch(program):
    same_as_torch(program)


# ------------------------------------------------------------------ linear and matmul
@pytest.mark.parametrize("x_shape", [(4,), (3, 4), (0, 4)])
@pytest.mark.parametrize("bias", ["int64", "float64", "float32"])
def test_linear_wants_one_dtype_for_input_weight_and_bias_as_torch(x_shape, bias):
    same_as_torch(lambda T: T.nn.functional.linear(T.ones(x_shape), T.ones(2, 4),
                                                   T.tensor([1, 3], dtype=getattr(T, bias))))
    same_as_torch(lambda T: T.nn.functional.linear(T.ones(x_shape), T.ones(2, 4, dtype=T.float64)))


@pytest.mark.parametrize("make_x", [
    lambda T: T.zeros(0, 3, dtype=T.float64, requires_grad=True),
    lambda T: T.zeros(1, 1, 0, dtype=T.float64, requires_grad=True),
    lambda T: T.zeros(2, 0, 3, dtype=T.float64, requires_grad=True),
    lambda T: T.zeros(4, 3, 3, dtype=T.float64, requires_grad=True),  # sliced below to size 0
])
def test_linear_and_matmul_backward_on_size_0_inputs_as_torch(make_x):
    def program(T, op):
        x = make_x(T)
        xs = x[:, 2:1] if x.numel() else x  # a non-contiguous size-0 slice
        xs = xs[..., :3] if xs.shape[-1] else T.zeros(xs.shape[:-1] + (3,), dtype=T.float64)
        w = T.arange(6.0, dtype=T.float64).reshape(2, 3).requires_grad_()
        b = T.ones(2, dtype=T.float64, requires_grad=True)
        y = T.nn.functional.linear(xs, w, b) if op == "linear" else xs @ w.t()
        return _backward(T, y, w, b) if op == "linear" else _backward(T, y, w)

    same_as_torch(lambda T: program(T, "linear"))
    same_as_torch(lambda T: program(T, "matmul"))
    x = mt.Tensor(np.zeros((0, 3)), requires_grad=True)
    w = mt.Tensor(np.arange(6.0).reshape(2, 3) / 7, requires_grad=True)
    assert gradcheck(lambda a, b: mt.nn.functional.linear(a, b), [x, w])


_MIXED = [
    ((1, 0, 1, 2), (1, 2, 1)), ((1, 1, 2, 0), (1, 0, 3)), ((2, 2, 0), (2, 0, 3)), ((1, 1, 1, 2), (1, 2, 1)),
    ((2, 0), (0, 3)), ((0, 2), (2, 3)), ((1, 0, 2), (2, 3)), ((0, 1, 2), (0, 2, 3)), ((2,), (1, 2, 0)),
    ((1, 2), (1, 2, 0)), ((0, 2), (1, 2, 3)), ((1, 2, 0), (0,)), ((0,), (0,)), ((3, 1, 2), (1, 2, 0)),
]


_DTYPES_GRAD = [(("float64", "float32"), g) for g in ("none", "a", "b")] + [
    (("float32", "float64"), "b"), (("int64", "float32"), "none"), (("int64", "float32"), "b"), (("bool", "bool"), "none")]


@pytest.mark.parametrize("a_shape, b_shape", _MIXED)
@pytest.mark.parametrize("dtypes, grad", _DTYPES_GRAD)
def test_matmul_with_two_dtypes_or_bools_and_nothing_to_multiply_as_torch(a_shape, b_shape, dtypes, grad):
    """PyTorch's batched product skips its dtype checks when the result is empty or the inner dim is 0 (the
    result takes the second operand's dtype); mm, mv and dot always check. Which path runs depends on the
    shapes and on which operand requires grad."""

    def program(T):
        a = T.zeros(a_shape, dtype=getattr(T, dtypes[0]), requires_grad=grad == "a")
        b = T.ones(b_shape, dtype=getattr(T, dtypes[1]), requires_grad=grad == "b")
        y = a @ b
        return _backward(T, y, a if grad == "a" else b) if grad != "none" else y

    same_as_torch(program)


@pytest.mark.parametrize("op", ["mm", "bmm", "mv", "dot"])
@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("bool", "bool")])
@pytest.mark.parametrize("empty", [True, False])
def test_fixed_shape_products_with_two_dtypes_or_bools_as_torch(op, dtypes, empty):
    n = 0 if empty else 2
    shapes = {"mm": ((n, 2), (2, 3)), "bmm": ((1, 2, n), (1, n, 3)), "mv": ((n, 2), (2,)), "dot": ((n,), (n,))}[op]
    same_as_torch(lambda T: getattr(T, op)(T.zeros(shapes[0], dtype=getattr(T, dtypes[0])),
                                           T.ones(shapes[1], dtype=getattr(T, dtypes[1]))))


# ------------------------------------------------------------------ cat of 1-D empty tensors
@pytest.mark.parametrize("shapes, dim", [
    ([(0,), (0,)], 1), ([(0,), (0,)], 5), ([(0,), (2, 3)], 1), ([(2, 3), (0,), (2, 1)], 1), ([(2, 3), (0,)], 2),
    ([(0,), ()], 0), ([(0, 3), (0,)], 1), ([(0,), (3,)], 1),
])
def test_cat_leaves_out_1d_empty_tensors_as_torch(shapes, dim):
    def program(T):
        ts = [T.ones(s, dtype=T.float64 if i == 1 else T.float32, requires_grad=True) for i, s in enumerate(shapes)]
        return _backward(T, T.cat(ts, dim=dim), *ts)

    same_as_torch(program)


# ------------------------------------------------------------------ relu6 / hardtanh at NaN
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["relu6", "hardtanh"])
def test_hardtanh_gradient_is_0_at_nan_as_torch(dtype, op):
    """PyTorch's vectorized loop gives 0 at NaN (its scalar loop, used only for the last few elements of a
    tensor, passes the gradient): the NaN sits at the start of 64 elements, inside the vectorized part."""
    values = np.linspace(-8, 8, 64)
    values[[0, 1]] = np.nan, 6.0

    def program(T):
        x = T.tensor(values, dtype=getattr(T, dtype), requires_grad=True)
        y = getattr(T.nn.functional, op)(x)
        return _backward(T, y * 4, x)

    result = same_as_torch(program)
    assert result[1][2][0] == 0.0


# ------------------------------------------------------------------ result layouts (``view`` depends on them)
_LAYOUTS = {
    "permuted": lambda T, x: x.permute(2, 0, 1),
    "transposed": lambda T, x: x.permute(2, 1, 0),
    "last two swapped": lambda T, x: x.transpose(1, 2),
    "strided": lambda T, x: x[:, ::2],
}
_OPS = {
    "neg": lambda T, x: -x, "add contiguous": lambda T, x: x + T.ones(x.shape, dtype=x.dtype),
    "add row": lambda T, x: x + T.ones(x.shape[-1], dtype=x.dtype), "mul self": lambda T, x: x * x,
    "where": lambda T, x: T.where(x > 0, x, T.zeros(x.shape, dtype=x.dtype)), "gt": lambda T, x: x > 0.5,
    "maximum": lambda T, x: T.maximum(T.ones(x.shape, dtype=x.dtype), x), "pow": lambda T, x: x.abs() ** x,
    "softmax": lambda T, x: x.softmax(0), "log_softmax": lambda T, x: x.log_softmax(-1),
    "sum": lambda T, x: x.sum(1), "mean keepdim": lambda T, x: x.mean(0, keepdim=True),
    "max": lambda T, x: x.max(1)[0], "cumsum": lambda T, x: x.cumsum(1), "norm": lambda T, x: x.norm(dim=1),
    "argmax": lambda T, x: x.argmax(1), "any": lambda T, x: (x > 0).any(1), "clone": lambda T, x: x.clone(),
    "cat": lambda T, x: T.cat([x, x], 1), "stack": lambda T, x: T.stack([x, x]),
    "clamp tensor": lambda T, x: x.clamp(min=T.zeros(x.shape, dtype=x.dtype)),
    "and": lambda T, x: (x > 0) & (T.ones(x.shape) > 0), "logical_or": lambda T, x: T.logical_or(T.ones(x.shape), x),
}


@pytest.mark.parametrize("layout", list(_LAYOUTS))
@pytest.mark.parametrize("op", list(_OPS))
def test_results_have_torchs_layout_so_view_agrees(layout, op):
    base = np.arange(24.0).reshape(2, 3, 4) / 7 - 1
    same_as_torch(lambda T: _OPS[op](T, _LAYOUTS[layout](T, T.tensor(base, dtype=T.float64))))
