"""PyTorch's semantics on every valid call of the elementwise, activation, reduction and shape ops.

Each case runs the same call in minitorch_cnn and in PyTorch (the oracle) and compares the result's
shape, dtype and values, then the gradients, including NaN and infinite ones. The cases are the
corners: 0-d tensors with dim arguments, size-0 dims, non-contiguous inputs on both kernel paths,
mixed dtypes (PyTorch's type promotion), NaN inputs and infinite upstream gradients, PyTorch's
indexing rule and its rule for ``view``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import minitorch_cnn as mt
from minitorch_cnn import functional as F

NAN, INF = math.nan, math.inf


def _np(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else x.numpy()


def _same(ours, theirs, what="", exact=True, tol=1e-6):
    """Same shape, dtype and values (NaN where PyTorch has NaN); ``exact=False``: within ``tol``."""
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch {b.dtype}"
    if exact:
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol / 10, err_msg=what)


def _both(values, dtype="float64", grad=True):
    """The same leaf tensor in both libraries."""
    a = np.array(values, dtype=dtype)
    return mt.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _grads(ours_fn, torch_fn, *values, upstream=None, exact=True):
    """Forward and gradients of one call in both libraries, upstream g (default ones) pushed back."""
    pairs = [_both(v) for v in values]
    out, ref = ours_fn(*[p[0] for p in pairs]), torch_fn(*[p[1] for p in pairs])
    _same(out, ref, "forward", exact)
    g = np.ones(tuple(ref.shape)) if upstream is None else np.full(tuple(ref.shape), upstream)
    out.backward(mt.tensor(g))
    ref.backward(torch.tensor(g))
    for i, (x, t) in enumerate(pairs):
        _same(x.grad, t.grad, f"gradient of input {i}", exact)


# ------------------------------------------------------------------ 0-d tensors with a dim
ZERO_D = {
    "max(0)": (lambda x: F.max(x, 0).values, lambda t: torch.max(t, 0).values),
    "max(dim=-1) indices": (lambda x: F.max(x, dim=-1).indices, lambda t: torch.max(t, dim=-1).indices),
    "min(0, keepdim)": (lambda x: F.min(x, 0, keepdim=True).values, lambda t: torch.min(t, 0, keepdim=True).values),
    "sum(0)": (lambda x: F.sum(x, 0), lambda t: torch.sum(t, 0)),
    "sum(-1, keepdim)": (lambda x: F.sum(x, -1, keepdim=True), lambda t: torch.sum(t, -1, keepdim=True)),
    "mean(0)": (lambda x: F.mean(x, 0), lambda t: torch.mean(t, 0)),
    "squeeze(-1)": (lambda x: F.squeeze(x, -1), lambda t: torch.squeeze(t, -1)),
    "squeeze((0,))": (lambda x: F.squeeze(x, (0,)), lambda t: torch.squeeze(t, (0,))),
    "transpose(0, -1)": (lambda x: F.transpose(x, 0, -1), lambda t: torch.transpose(t, 0, -1)),
    "softmax(0)": (lambda x: F.softmax(x, 0), lambda t: torch.softmax(t, 0)),
    "log_softmax(-1)": (lambda x: F.log_softmax(x, -1), lambda t: torch.log_softmax(t, -1)),
    "argmax(0)": (lambda x: F.argmax(x, 0), lambda t: torch.argmax(t, 0)),
    "argmax(0, keepdim)": (lambda x: F.argmax(x, 0, keepdim=True), lambda t: torch.argmax(t, 0, keepdim=True)),
    "unsqueeze(0)": (lambda x: F.unsqueeze(x, 0), lambda t: torch.unsqueeze(t, 0)),
    "unsqueeze(-1)": (lambda x: F.unsqueeze(x, -1), lambda t: torch.unsqueeze(t, -1)),
    "flatten()": (lambda x: F.flatten(x), lambda t: torch.flatten(t)),
    "flatten(0, -1)": (lambda x: F.flatten(x, 0, -1), lambda t: torch.flatten(t, 0, -1)),
    "expand(())": (lambda x: F.expand(x, ()), lambda t: t.expand(())),
    "expand(3)": (lambda x: F.expand(x, 3), lambda t: t.expand(3)),
    "sum(())": (lambda x: F.sum(x, ()), lambda t: torch.sum(t, ())),
}


@pytest.mark.parametrize("case", ZERO_D)
def test_a_dim_on_a_0d_tensor_as_torch(case):
    ours, theirs = ZERO_D[case]
    x, t = _both(2.0)
    out, ref = ours(x), theirs(t)
    _same(out, ref, case)
    if ref.requires_grad:
        out.backward(mt.tensor(np.full(tuple(ref.shape), 3.0)))
        ref.backward(torch.full(tuple(ref.shape), 3.0, dtype=torch.float64))
        _same(x.grad, t.grad, case)


@pytest.mark.parametrize("call", [lambda x: F.sum(x, 1), lambda x: F.unsqueeze(x, 1), lambda x: F.max(x, 1),
                                  lambda x: F.flatten(x, 1)])
def test_a_dim_out_of_range_on_a_0d_tensor_is_an_index_error_as_torch(call):
    with pytest.raises(IndexError, match=r"dim 1 is out of range"):
        call(mt.tensor(2.0))


# ------------------------------------------------------------------ size-0 dims, dims as tuples
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((2, 0), 0), ((0, 3), 1), ((0,), 0)])
def test_softmax_over_a_size_0_dim_as_torch(op, shape, dim):
    _grads(lambda x: getattr(F, op)(x, dim), lambda t: getattr(torch, op)(t, dim), np.ones(shape))


@pytest.mark.parametrize("dim", [(), [], None])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_an_empty_dim_tuple_reduces_every_dim_as_torch(op, dim, keepdim):
    a = np.arange(6.0).reshape(2, 3)
    if dim is None and keepdim:
        pytest.skip("torch.sum(x, keepdim=True) needs a dim")
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    _grads(lambda x: getattr(F, op)(x, **kwargs), lambda t: getattr(torch, op)(t, **kwargs), a)


def test_reductions_over_size_0_dims_as_torch():
    a = np.ones((2, 0))
    _grads(lambda x: F.sum(x, 1), lambda t: torch.sum(t, 1), a)
    _grads(lambda x: F.max(x, 0).values, lambda t: torch.max(t, 0).values, a)
    _same(F.max(mt.tensor(a), 0).indices, torch.max(torch.tensor(a), 0).indices)
    _same(F.argmax(mt.tensor(a), 0), torch.argmax(torch.tensor(a), 0))
    for call in (lambda x: F.max(x, 1), lambda x: F.argmax(x, 1)):
        with pytest.raises(IndexError, match=r"reduction dim 1 to have non-zero size"):
            call(mt.tensor(a))


@pytest.mark.parametrize("dim", [(0, 2), [0, 2], (0, 1), (), (-1,), (2, 0)])
def test_squeeze_with_a_tuple_of_dims_as_torch(dim):
    _grads(lambda x: F.squeeze(x, dim), lambda t: torch.squeeze(t, dim), np.arange(2.0).reshape(1, 2, 1))


def test_repeated_dims_are_refused_as_torch():
    for call in (lambda x: F.squeeze(x, (0, 0)), lambda x: F.sum(x, (0, -3))):
        with pytest.raises(ValueError, match=r"appears more than once"):
            call(mt.ones(1, 2, 1))


# ------------------------------------------------------------------ indexing: PyTorch's rule, not NumPy's
INDEXES = [
    "0, :, [1, 2]", "[0, 1], :, 0", "I(0), :, [1, 2]", "None, 0, :, [1, 2]", "..., [1, 2], 0", "0, ..., [1, 2]",
    "[[0], [1]], :, [1, 2]", "0, [True, False, True], :", "I([True, False]), 1, [1, 2]", "True", "0, True",
    ":, None, [0, 2], [1, 3]", "[0, 1], None, [0, 2]", "1, :, I([[1, 2], [0, 0]])", "[1, 1, 0], :, [2, 2, 2]",
    "I([[True, False, True], [False, True, True]]), 0", "..., 0", "None", ":, [1, 2], ..., [0, 3]",
    "[1], [2], [3]", "[0, 1], 2, [0, 3]", "1:, ::2, [3, 0, 3]", "-1, I(-2), -1", "0, 1, 2", "..., None, 1",
]


class _Index:
    """``_Index()[...]`` returns the index written between the brackets."""

    def __getitem__(self, index):
        return index


@pytest.mark.parametrize("index", INDEXES)
def test_mixed_indexing_follows_torch_shapes_values_and_gradients(index):
    a = np.arange(24.0).reshape(2, 3, 4)
    x, t = _both(a)
    ours = F.getitem(x, eval(f"G[{index}]", {"G": _Index(), "I": mt.tensor}))
    theirs = t[eval(f"G[{index}]", {"G": _Index(), "I": torch.tensor})]
    _same(ours, theirs, index)
    g = np.random.default_rng(0).standard_normal(tuple(theirs.shape))
    ours.backward(mt.tensor(g))
    theirs.backward(torch.tensor(g))
    _same(x.grad, t.grad, f"gradient of x[{index}]", exact=False)  # repeated picks sum in any order


# ------------------------------------------------------------------ view: PyTorch's strides rule
LAYOUTS = {  # name: (make the input from a (2, 3, 4) array, the same on a torch tensor)
    "contiguous": (lambda a: a, lambda t: t),
    "transposed": (lambda a: F.transpose(a, 0, 2), lambda t: t.transpose(0, 2)),
    "last two swapped": (lambda a: F.transpose(a, 1, 2), lambda t: t.transpose(1, 2)),
    "sliced rows": (lambda a: F.getitem(a, (slice(None), slice(0, 2))), lambda t: t[:, 0:2]),
    "every other column": (lambda a: F.getitem(a, (Ellipsis, slice(None, None, 2))), lambda t: t[..., ::2]),
    "first of dim 1": (lambda a: F.getitem(a, (slice(None), slice(0, 1))), lambda t: t[:, 0:1]),
    "permuted 1,0,2": (lambda a: F.permute(a, 1, 0, 2), lambda t: t.permute(1, 0, 2)),
}
SHAPES = [(-1,), (2, 12), (6, 4), (2, 3, 4), (4, 3, 2), (2, 1, 12), (24, 1), (3, 8), (2, 6, 2), (1, 2, 3, 2, 2)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_view_succeeds_exactly_where_torch_does_and_shares_memory(layout, shape):
    ours_of, theirs_of = LAYOUTS[layout]
    a = np.arange(24.0).reshape(2, 3, 4)
    x, t = ours_of(mt.tensor(a)), theirs_of(torch.tensor(a))
    target = tuple(shape)
    if -1 not in target and math.prod(target) != x.numel():
        pytest.skip("another element count")
    try:
        ref = t.view(target)
    except RuntimeError as exc:
        assert "view size is not compatible" in str(exc)
        with pytest.raises(RuntimeError, match=r"view: view size .* is not compatible .*Use \.reshape\(\.\.\.\) instead"):
            F.view(x, target)
        _same(F.reshape(x, target), t.reshape(target))  # reshape copies where view cannot
        return
    out = F.view(x, *target)
    _same(out, ref, f"view{target}")
    assert np.shares_memory(out.array, x.array)


def test_view_of_an_empty_or_0d_tensor_as_torch():
    _same(F.view(mt.zeros(0, 3), 3, 0), torch.zeros(0, 3).view(3, 0))
    _same(F.view(mt.tensor(2.0), 1, 1), torch.tensor(2.0).view(1, 1))
    _same(F.view(mt.ones(1, 1), ()), torch.ones(1, 1).view(()))


def test_view_backward_and_contiguous():
    x, t = _both(np.arange(6.0).reshape(2, 3))
    out, ref = F.view(F.contiguous(F.transpose(x, 0, 1)), -1), t.transpose(0, 1).contiguous().view(-1)
    _same(out, ref)
    g = np.arange(6.0)
    out.backward(mt.tensor(g))
    ref.backward(torch.tensor(g))
    _same(x.grad, t.grad)
    c = mt.ones(2, 3)
    assert F.contiguous(c) is c


# ------------------------------------------------------------------ activations on 0-d and non-contiguous input
ACTIVATIONS = {
    "relu": (F.relu, torch.relu), "relu6": (F.relu6, torch.nn.functional.relu6),
    "hardtanh": (F.hardtanh, torch.nn.functional.hardtanh), "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh), "softmax": (lambda x: F.softmax(x, 0), lambda t: torch.softmax(t, 0)),
    "log_softmax": (lambda x: F.log_softmax(x, -1), lambda t: torch.log_softmax(t, -1)),
    "abs": (F.abs, torch.abs), "exp": (F.exp, torch.exp), "neg": (F.neg, torch.neg),
}


def _layouts(dtype):
    rng = np.random.default_rng(1)
    big = rng.uniform(-8, 8, (300, 260)).astype(dtype)  # above kernels.activation.SMALL: the numba loops' size
    return {
        "0-d": np.array(0.7, dtype=dtype),
        "transposed": rng.uniform(-8, 8, (3, 4)).astype(dtype).T,
        "big, every other row of the transpose": big.T[::2],
        "big, broadcast": np.broadcast_to(big[:1], (2, 260)),
    }


@pytest.mark.parametrize("op", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["0-d", "transposed", "big, every other row of the transpose", "big, broadcast"])
def test_activations_on_0d_and_non_contiguous_input_on_both_paths(kernel_path, op, dtype, layout):
    ours, theirs = ACTIVATIONS[op]
    a = _layouts(dtype)[layout]
    x = mt.Tensor(a, requires_grad=True)  # keeps the NumPy layout
    t = torch.tensor(np.array(a), requires_grad=True)
    # float32: a few ulps, and softmax gradients sum 260 products of a few units (both libraries round
    # those sums in their own order, about √260 · 2^-24 · 16 ≈ 2e-5 apart); float64: round-off only
    tol = 2e-5 if dtype == np.float32 else 1e-12
    out, ref = ours(x), theirs(t)
    _same(out, ref, op, exact=False, tol=tol)
    g = np.random.default_rng(0).standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(mt.tensor(g))
    ref.backward(torch.tensor(g))
    _same(x.grad, t.grad, f"{op} gradient", exact=False, tol=tol)


# ------------------------------------------------------------------ NaN and infinity in gradients
_HT = torch.nn.functional.hardtanh
GRADIENT_CASES = {  # name: (ours, torch's, inputs, upstream)
    "relu at NaN": (F.relu, torch.relu, [[NAN, -1.0, 0.0, 1.0]], 1.0),
    "relu, inf g": (F.relu, torch.relu, [[NAN, -1.0, 0.0, 1.0]], INF),
    "relu, NaN g": (F.relu, torch.relu, [[-1.0, 0.0, 1.0]], NAN),
    # (hardtanh's gradient at NaN depends on where PyTorch's loop meets it: test_torch_semantics_fuzz.py)
    "hardtanh, inf g": (F.hardtanh, _HT, [[-1.0, 0.0, 1.0, 2.0, -2.0]], INF),
    "hardtanh, NaN g": (F.hardtanh, _HT, [[-2.0, 0.5]], NAN),
    "relu6, inf g": (F.relu6, torch.nn.functional.relu6, [[-1.0, 0.0, 6.0, 3.0, 7.0]], INF),
    "abs at NaN and 0": (F.abs, torch.abs, [[NAN, -1.0, 0.0, -0.0, 1.0]], 1.0),
    "abs, inf g": (F.abs, torch.abs, [[NAN, -1.0, 0.0, -0.0, 1.0]], INF),
    "max(), ties": (F.max, torch.max, [[1.0, 3.0, 3.0, 2.0]], 1.0),
    "max(), NaN ties": (F.max, torch.max, [[1.0, NAN, 3.0, NAN]], 1.0),
    "max(), all -inf": (F.max, torch.max, [[-INF, -INF]], 1.0),
    "max(), inf g": (F.max, torch.max, [[1.0, 3.0, 3.0]], INF),
    "min(), ties": (F.min, torch.min, [[1.0, 1.0, 3.0]], 1.0),
    "min(), NaN": (F.min, torch.min, [[1.0, NAN, 0.0]], 1.0),
    "max(0), ties": (lambda x: F.max(x, 0).values, lambda t: torch.max(t, 0).values, [[1.0, 3.0, 3.0, 2.0]], 1.0),
    "max(1), NaN": (lambda x: F.max(x, 1).values, lambda t: torch.max(t, 1).values,
                    [[[1.0, NAN, 3.0, NAN], [NAN, 2.0, 5.0, 5.0]]], 1.0),
    "min(1), NaN and -inf": (lambda x: F.min(x, 1).values, lambda t: torch.min(t, 1).values,
                             [[[1.0, NAN, -INF], [-INF, -INF, 2.0]]], INF),
    "max(0), all -inf": (lambda x: F.max(x, 0).values, lambda t: torch.max(t, 0).values, [[-INF, -INF]], 1.0),
    "x ** 2, inf g": (lambda x: F.pow(x, 2), lambda t: t**2, [[0.0, -2.0, NAN]], INF),
    "x ** 0.5": (lambda x: F.pow(x, 0.5), lambda t: t**0.5, [[0.0, -2.0, 4.0]], 1.0),
    "x ** -1": (lambda x: F.pow(x, -1), lambda t: t**-1, [[0.0, -2.0, 4.0]], 1.0),
    "x ** 0, inf g": (lambda x: F.pow(x, 0), lambda t: t**0, [[0.0, -2.0, 4.0]], INF),
    "x ** 0, NaN g": (lambda x: F.pow(x, 0), lambda t: t**0, [[0.0, -2.0, 4.0]], NAN),
    "x ** b": (F.pow, torch.pow, [[0.0, 0, 0, -2, -2, 2, 0, 0, 1], [2.0, 0, -1, 2, 0.5, 0, 0.5, -0.5, 0]], 1.0),
    "x ** b, inf g": (F.pow, torch.pow, [[0.0, 0, 0, -2, -2, 2, 0, 0, 1], [2.0, 0, -1, 2, 0.5, 0, 0.5, -0.5, 0]], INF),
    "x ** b, NaN b": (F.pow, torch.pow, [[0.0, 2.0, NAN], [NAN, NAN, 0.0]], 1.0),
    "0 ** b": (lambda b: F.pow(0.0, b), lambda b: torch.pow(0.0, b), [[0.0, 1.0, -1.0]], 1.0),
    "0 ** b, inf g": (lambda b: F.pow(0.0, b), lambda b: torch.pow(0.0, b), [[0.0, 1.0, -1.0]], INF),
    "(-2) ** b": (lambda b: F.pow(-2.0, b), lambda b: torch.pow(-2.0, b), [[0.0, 1.0, 2.0]], 1.0),
    "sqrt at 0, -0, -1": (F.sqrt, torch.sqrt, [[0.0, -0.0, 4.0, -1.0]], 1.0),
    "log at 0, -0, -1": (F.log, torch.log, [[0.0, -0.0, 4.0, -1.0]], 1.0),
    "exp, inf g": (F.exp, torch.exp, [[-INF, 0.0]], INF),
    "div by 0": (F.div, torch.div, [[1.0, 0.0], [0.0, 0.0]], 1.0),
    "where, inf g": (lambda a, b: F.where(mt.tensor([True, False]), a, b),
                     lambda a, b: torch.where(torch.tensor([True, False]), a, b), [[1.0, 2.0], [3.0, 4.0]], INF),
    "sigmoid, tanh at ±inf": (lambda x: F.sigmoid(x) + F.tanh(x), lambda t: torch.sigmoid(t) + torch.tanh(t),
                              [[NAN, INF, -INF]], 1.0),
    "softmax with inf": (lambda x: F.softmax(x, 0), lambda t: torch.softmax(t, 0), [[1.0, INF]], 1.0),
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_nan_and_inf_gradients_as_torch(case):
    ours, theirs, values, upstream = GRADIENT_CASES[case]
    with np.errstate(all="ignore"):
        _grads(ours, theirs, *values, upstream=upstream)


def test_max_along_a_dim_sends_the_gradient_to_torchs_index():
    a = np.array([[1.0, 3.0, 3.0, NAN], [2.0, 2.0, -INF, 0.0]])
    for op in ("max", "min"):
        x, t = _both(a)
        ours, theirs = getattr(F, op)(x, 1), getattr(torch, op)(t, 1)
        _same(ours.indices, theirs.indices, op)
        ours.values.sum().backward()
        theirs.values.sum().backward()
        _same(x.grad, t.grad, op)


# ------------------------------------------------------------------ dtypes: PyTorch's type promotion
def _operand(spec, lib):
    """``"int32[]"``: a 1-D tensor, ``"float64()"``: a 0-d tensor, ``"2.5"`` / ``"3"`` / ``"True"``: a number."""
    if spec.endswith("[]") or spec.endswith("()"):
        dtype = spec[:-2]
        values = [True, False] if dtype == "bool" else [3, 2]
        if lib is torch:
            t = torch.tensor(values, dtype=getattr(torch, dtype))
        else:
            t = mt.tensor(values, dtype=dtype)
        return t if spec.endswith("[]") else t[0]
    return eval(spec)


KINDS = ["bool[]", "uint8[]", "int32[]", "int64[]", "float32[]", "float64[]",
         "bool()", "int32()", "int64()", "float32()", "float64()", "True", "3", "2.5"]
BINARY = {
    "add": (F.add, torch.add), "mul": (F.mul, torch.mul), "div": (F.div, torch.div),
    "sub": (F.sub, torch.sub), "eq": (F.eq, torch.eq), "lt": (F.lt, torch.lt), "pow": (F.pow, torch.pow),
    "maximum": (F.maximum, torch.maximum), "where": (lambda a, b: F.where(mt.tensor(True), a, b),
                                                    lambda a, b: torch.where(torch.tensor(True), a, b)),
    "clamp min": (lambda a, b: F.clamp(a, min=b), lambda a, b: torch.clamp(a, min=b)),
}


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("left", KINDS)
@pytest.mark.parametrize("right", KINDS)
def test_result_dtype_and_values_follow_torch_promotion(op, left, right):
    """``int32 tensor + tensor(2)`` stays int32, ``float32 + tensor(2., float64)`` stays float32, ``int + 2.5`` is
    float32, comparisons give bool, ints divide to float; where PyTorch refuses a call, so do we."""
    ours, theirs = BINARY[op]
    a, b = _operand(left, torch), _operand(right, torch)
    if not isinstance(a, torch.Tensor) and (op != "where" or not isinstance(b, torch.Tensor)):
        a, b = b, a  # the first operand is a tensor (where: either)
        left, right = right, left
    if not isinstance(a, torch.Tensor):
        pytest.skip("two numbers")
    try:
        ref = theirs(a, b)
    except NotImplementedError:
        if op == "pow":  # bool ** bool: no kernel in PyTorch, an error here too
            with pytest.raises(TypeError, match="pow: not implemented for bool operands"):
                ours(_operand(left, mt), _operand(right, mt))
            return
        pytest.skip("PyTorch has no kernel for these dtypes (clamp of bool by a number)")
    except (RuntimeError, TypeError):
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            ours(_operand(left, mt), _operand(right, mt))
        return
    out = ours(_operand(left, mt), _operand(right, mt))
    _same(out, ref, f"{op}({left}, {right})", exact=False)


@pytest.mark.parametrize("values", [(1.0, 0.0), (1, 0), (1, 0.0), (True, False), (2.5, 3)])
def test_where_with_two_numbers_as_torch(values):
    cond = [True, False, True]
    out, ref = F.where(mt.tensor(cond), *values), torch.where(torch.tensor(cond), *values)
    _same(out, ref, f"where{values}")


def test_integer_powers_as_torch():
    for base, exponent in [([2, 3, -1, 1, 0], [-1, 1, -3, -2, -1]), ([2, -1, 1, 0], -1), ([2, 3], 0), ([True], 2)]:
        b = exponent if isinstance(exponent, int) else torch.tensor(exponent)
        if isinstance(exponent, int) and exponent < 0:
            with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
                torch.tensor(base) ** b
            with pytest.raises(ValueError, match=r"pow: Integers to negative integer powers are not allowed"):
                F.pow(mt.tensor(base), exponent)
            continue
        ours = F.pow(mt.tensor(base), exponent if isinstance(exponent, int) else mt.tensor(exponent))
        _same(ours, torch.tensor(base) ** b, f"{base} ** {exponent}")


def test_integer_inputs_of_float_functions_and_of_relu_as_torch():
    ints = [[1, -2], [3, 4]]
    for ours, theirs in [(F.exp, torch.exp), (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh), (F.sqrt, torch.sqrt),
                         (F.relu, torch.relu), (F.abs, torch.abs), (F.neg, torch.neg), (F.relu6, _HT_relu6),
                         (lambda x: F.hardtanh(x, -0.5, 2.5), lambda t: _HT(t, -0.5, 2.5))]:
        with np.errstate(invalid="ignore"):
            _same(ours(mt.tensor(ints, dtype="int32")), theirs(torch.tensor(ints, dtype=torch.int32)), exact=False)
    for call in (F.neg, F.abs, F.relu, F.argmax, lambda x: F.argmax(x, 0), lambda x: F.sub(x, x)):
        with pytest.raises(TypeError, match=r"bool"):
            call(mt.tensor([True, False]))


_HT_relu6 = torch.nn.functional.relu6


def test_cat_and_stack_promote_mixed_dtypes_as_torch():
    for dtypes in [("int64", "float32"), ("int32", "bool"), ("float32", "float64"), ("uint8", "int8")]:
        pairs = [_both([1, 0], dtype, grad=False) for dtype in dtypes]
        _same(F.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs]), f"cat {dtypes}")
        _same(F.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]), f"stack {dtypes}")
    x32, t32 = _both([1.0, 2.0], "float32")
    x64, t64 = _both([3.0], "float64")
    out, ref = F.cat([x32, x64]), torch.cat([t32, t64])
    out.backward(mt.tensor([0.1, 0.2, 0.3], dtype=mt.float64))
    ref.backward(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    _same(x32.grad, t32.grad)
    _same(x64.grad, t64.grad)


def test_matmul_of_two_dtypes_is_refused_as_torch():
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.ones(2, 2) @ torch.ones(2, 2, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"matmul: expected operands of one dtype"):
        F.matmul(mt.ones(2, 2), mt.ones(2, 2, dtype=mt.float64))


def test_a_float32_intermediate_rounds_the_gradient_of_a_float64_leaf_as_torch():
    a = np.array([0.1, 1 / 3, 2.0 / 7.0])
    x, t = _both(a)
    out = F.sum(F.mul(F.to(x, dtype="float32"), mt.tensor(1 / 3, dtype=mt.float64)))
    ref = torch.sum(t.float() * torch.tensor(1 / 3, dtype=torch.float64))
    _same(out, ref)
    out.backward()
    ref.backward()
    _same(x.grad, t.grad)
    assert x.grad.numpy()[0] == np.float64(np.float32(1 / 3))  # the float32-rounded 1/3, as a float64


GRAD_DTYPE_OPS = {
    "mul by a float64 0-d": lambda x: F.mul(x, mt.tensor(0.1, dtype=mt.float64)),
    "max()": F.max, "min()": F.min, "mean": F.mean, "max(0)": lambda x: F.max(x, 0).values,
    "pow": lambda x: F.pow(x, 1.5), "abs": F.abs, "clamp": lambda x: F.clamp(x, 0.2, 0.5),
    "maximum with float64 0-d": lambda x: F.maximum(x, mt.tensor(0.3, dtype=mt.float64)),
    "where with numbers": lambda x: F.where(F.gt(x, 0.3), x, 2.5),
    "relu": F.relu, "hardtanh": F.hardtanh, "sigmoid": F.sigmoid, "softmax": lambda x: F.softmax(x, 0),
    "div by an int": lambda x: F.div(x, 3), "getitem": lambda x: x[[0, 0, 2]],
}


@pytest.mark.parametrize("op", GRAD_DTYPE_OPS)
def test_every_gradient_has_its_inputs_dtype(op):
    x = mt.tensor([0.1, 0.4, 0.7], dtype=mt.float32, requires_grad=True)
    out = GRAD_DTYPE_OPS[op](x)
    assert out.dtype == np.float32
    F.sum(out).backward()
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------ clamp, maximum, minimum: three oracles
def _clamp_loop(a, lo, hi):
    out = np.empty(np.broadcast_shapes(np.shape(a), np.shape(lo), np.shape(hi)))
    a, lo, hi = (np.broadcast_to(v, out.shape) for v in (a, lo, hi))
    for i in np.ndindex(out.shape):
        v, low, high = a[i], lo[i], hi[i]
        if any(b is not None and math.isnan(b) for b in (v, low, high)):
            out[i] = NAN  # NaN in the input or a bound
            continue
        v = v if low is None or v >= low else low
        out[i] = v if high is None or v <= high else high
    return out


@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (-0.5, None), (None, 0.25), (2.5, 1.5)])
def test_clamp_with_number_bounds_three_oracles(lo, hi):
    a = np.array([[NAN, -1.0, 0.0, 0.5], [1.0, 2.0, 0.25, -0.5]])
    _grads(lambda x: F.clamp(x, lo, hi), lambda t: torch.clamp(t, lo, hi), a, upstream=INF)
    _grads(lambda x: F.clip(x, min=lo, max=hi), lambda t: torch.clip(t, min=lo, max=hi), a)
    with np.errstate(invalid="ignore"):
        expected = _clamp_loop(a, np.array(lo, dtype=object), np.array(hi, dtype=object))
    np.testing.assert_array_equal(F.clamp(mt.tensor(a), lo, hi).numpy(), expected)
    away = np.array([[-1.3, 0.1, 0.7, 2.2], [0.4, -0.2, 3.0, 1.1]])  # no element at a bound: a smooth function
    assert mt.testing.gradcheck(lambda x: F.clamp(x, lo, hi), [mt.tensor(away, requires_grad=True)])


def test_clamp_with_tensor_bounds_three_oracles():
    a = [NAN, -1.0, 0.0, 0.5, 1.0, 2.0, 1.0, 0.5, 0.0, 3.0]
    lo = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, 2.0, 1.0, 1.0]
    hi = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, NAN]
    _grads(lambda x, lo, hi: F.clamp(x, lo, hi), lambda t, lo, hi: torch.clamp(t, lo, hi), a, lo, hi, upstream=INF)
    _grads(lambda x, lo: F.clamp(x, min=lo), lambda t, lo: torch.clamp(t, min=lo), a, lo)
    _grads(lambda x, hi: F.clamp(x, max=hi), lambda t, hi: torch.clamp(t, max=hi), a, hi)
    _grads(lambda x, lo: F.clamp(x, lo, 0.75), lambda t, lo: torch.clamp(t, lo, torch.tensor(0.75, dtype=torch.float64)),
           a, lo)
    _grads(lambda x, lo: F.clamp(x, lo[:, None]), lambda t, lo: torch.clamp(t, lo[:, None]), a[:4], lo[:3])
    with np.errstate(invalid="ignore"):
        expected = _clamp_loop(np.array(a), np.array(lo), np.array(hi))
    np.testing.assert_array_equal(F.clamp(mt.tensor(a), mt.tensor(lo), mt.tensor(hi)).numpy(), expected)
    rng = np.random.default_rng(3)
    x, low = rng.uniform(-2, 2, 12), rng.uniform(-1, 0, 12)
    high = low + rng.uniform(0.5, 1, 12)
    x[np.minimum(np.abs(x - low), np.abs(x - high)) < 0.05] += 0.1  # away from the kinks
    assert mt.testing.gradcheck(F.clamp, [mt.tensor(v, requires_grad=True) for v in (x, low, high)])


def test_clamp_needs_a_bound_and_keeps_torchs_dtype():
    with pytest.raises(ValueError, match=r"clamp: at least one of 'min' or 'max' must not be None"):
        F.clamp(mt.ones(2))
    _same(F.clamp(mt.tensor([1, 2, 3]), 1.5), torch.clamp(torch.tensor([1, 2, 3]), 1.5))
    _same(F.clamp(mt.tensor([1, 2, 3]), 1, 2), torch.clamp(torch.tensor([1, 2, 3]), 1, 2))


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_three_oracles(op):
    a = [1.0, 2.0, NAN, 3.0, NAN, -INF, 0.5]
    b = [1.0, 1.0, 1.0, NAN, NAN, -INF, 0.7]
    _grads(getattr(F, op), getattr(torch, op), a, b)  # ties: half each; NaN: both get g
    _grads(getattr(F, op), getattr(torch, op), a, b, upstream=INF)
    _grads(lambda x, y: getattr(F, op)(x[:, None], y), lambda x, y: getattr(torch, op)(x[:, None], y), a[:3], b[:2])
    pick = max if op == "maximum" else min
    loop = [NAN if math.isnan(u) or math.isnan(v) else pick(u, v) for u, v in zip(a, b)]
    np.testing.assert_array_equal(getattr(F, op)(mt.tensor(a, dtype=mt.float64), mt.tensor(b, dtype=mt.float64)).numpy(),
                                  loop)
    x, y = np.array([0.3, -1.2, 2.0]), np.array([0.1, -0.5, 2.6])
    assert mt.testing.gradcheck(getattr(F, op), [mt.tensor(x, requires_grad=True), mt.tensor(y, requires_grad=True)])


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_two_tensors_are_elementwise_as_torch(op):
    _grads(getattr(F, op), getattr(torch, op), [1.0, 5.0, 2.0], [2.0, 2.0, 2.0])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_as_torch(op):
    for values, dtype in [([1.0, 2.0], "float32"), ([1.0, 2.0], "float64")]:
        for to in ("float32", "float64"):
            x, t = _both(values, dtype)
            out, ref = getattr(F, op)(x, 0, dtype=to), getattr(torch, op)(t, 0, dtype=getattr(torch, to))
            _same(out, ref, exact=False)
            out[0].backward()
            ref[0].backward()
            _same(x.grad, t.grad, exact=False)
    _same(getattr(F, op)(mt.tensor([1, 2]), 0, dtype=mt.float64),
          getattr(torch, op)(torch.tensor([1, 2]), 0, dtype=torch.float64), exact=False)
