"""``cumsum`` and the norms (``norm``, ``Tensor.norm``, ``linalg.norm``, ``linalg.vector_norm``): three oracles
each (float64 finite differences, a plain NumPy/loop definition, PyTorch), and PyTorch's dtype rules and errors."""

import math

import numpy as np
import pytest
import torch
from _op_oracles import assert_close, check_against_torch, distinct
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn.testing import arrays, gradcheck, shapes


# ------------------------------------------------------------------ cumsum
@st.composite
def _array_and_axis(draw):
    a = draw(arrays(draw(shapes(max_dims=3, max_side=4))))
    return a, draw(st.integers(-a.ndim, a.ndim - 1))


def _loop_cumsum(a, axis):
    out = np.zeros_like(a)
    moved, result = np.moveaxis(a, axis, 0), np.moveaxis(out, axis, 0)  # views: writes land in out
    running = np.zeros(moved.shape[1:])
    for i in range(moved.shape[0]):
        running = running + moved[i]
        result[i] = running
    return out


@given(case=_array_and_axis())
def test_cumsum_against_torch_a_loop_and_gradcheck(case):
    a, dim = case
    out = check_against_torch(lambda x: mt.cumsum(x, dim), lambda t: torch.cumsum(t, dim), [a])
    np.testing.assert_allclose(out.numpy(), _loop_cumsum(np.asarray(a), dim % a.ndim), rtol=1e-12, atol=1e-12)
    check_against_torch(lambda x: x.cumsum(dim=dim), lambda t: t.cumsum(dim=dim), [a])
    assert gradcheck(lambda x: x.cumsum(dim), [mt.tensor(a, requires_grad=True)])


def test_cumsum_backward_is_the_running_sum_from_the_end():
    x = mt.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x.cumsum(0).backward(mt.tensor([1.0, 10.0, 100.0, 1000.0]))
    assert x.grad.tolist() == [1111.0, 1110.0, 1100.0, 1000.0]  # a_j is in out_j, ..., out_3


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"])
def test_cumsum_dtypes_as_torch(dtype):
    a = np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype)
    ours, theirs = mt.tensor(a).cumsum(1), torch.tensor(a).cumsum(1)
    assert str(ours.dtype).removeprefix("minitorch_cnn.") == str(theirs.dtype).removeprefix("torch.")  # ints: int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for cast in (mt.float32, mt.int32):
        theirs = torch.cumsum(torch.tensor(a), 0, dtype=getattr(torch, cast.name))
        assert mt.cumsum(mt.tensor(a), 0, dtype=cast).dtype == cast
        np.testing.assert_array_equal(mt.cumsum(mt.tensor(a), 0, dtype=cast).numpy(), theirs.numpy())


def test_cumsum_with_a_dtype_sends_the_gradient_through_the_cast():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = mt.cumsum(x, 0, dtype=mt.float64)
    assert y.dtype == mt.float64 and y.grad_fn.backward_name == "CumsumBackward0"
    y.sum().backward()
    assert x.grad.dtype == mt.float32 and x.grad.tolist() == [2.0, 1.0]


def test_cumsum_of_a_0d_tensor_and_bad_dims():
    assert mt.tensor(3.0).cumsum(0).item() == torch.tensor(3.0).cumsum(0).item() == 3.0
    assert mt.tensor(3.0).cumsum(-1).shape == ()
    a = np.arange(6.0).reshape(2, 3)
    assert mt.tensor(a).cumsum(axis=0).tolist() == torch.tensor(a).cumsum(axis=0).tolist()  # the book's spelling
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'dim'"):
        mt.ones(3).cumsum()
    with pytest.raises(IndexError, match=r"cumsum: dim 2 is out of range for a 2-D tensor"):
        mt.ones(2, 3).cumsum(2)


# ------------------------------------------------------------------ norm
ORDERS = [2, 1, 3, 0.5, -1, math.inf, -math.inf, 0, "fro"]


def _numpy_norm(a, p, axes, keepdim):
    x = np.abs(a)
    if p in ("fro", 2):
        out = np.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
    elif p == math.inf:
        out = x.max(axis=axes, keepdims=keepdim)
    elif p == -math.inf:
        out = x.min(axis=axes, keepdims=keepdim)
    elif p == 0:
        out = (x != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
    else:
        with np.errstate(divide="ignore"):
            out = (x**p).sum(axis=axes, keepdims=keepdim) ** (1 / p)
    return out


@st.composite
def _norm_case(draw):
    shape = draw(shapes(max_dims=3, max_side=4))
    a = distinct(shape, draw(st.permutations(range(int(np.prod(shape))))), scale=0.3)  # no ties, no zeros:
    a = np.where(np.abs(a) < 0.1, 0.7, a)  # a smooth point for every order
    dim = draw(st.none() | st.integers(-a.ndim, a.ndim - 1)
               | st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(tuple))
    return a, draw(st.sampled_from(ORDERS)), dim, draw(st.booleans())


@given(case=_norm_case())
def test_norm_against_torch_numpy_and_gradcheck(case):
    a, p, dim, keepdim = case
    if p == "fro" and dim is not None and not isinstance(dim, int) and len(dim) > 2:
        return  # PyTorch's "fro" takes one or two dims
    out = check_against_torch(lambda x: mt.norm(x, p, dim, keepdim), lambda t: torch.norm(t, p, dim, keepdim), [a])
    axes = None if dim is None else ((dim,) if isinstance(dim, int) else dim)
    if dim is None:
        keepdim = False  # PyTorch ignores keepdim without a dim
        out = mt.norm(mt.tensor(a), p, dim, keepdim)
    np.testing.assert_allclose(out.numpy(), _numpy_norm(a, p, axes, keepdim), rtol=1e-12)
    check_against_torch(lambda x: x.norm(p=p, dim=dim, keepdim=keepdim), lambda t: t.norm(p=p, dim=dim,
                                                                                          keepdim=keepdim), [a])
    if p != 0:
        assert gradcheck(lambda x: x.norm(p, dim), [mt.tensor(a, requires_grad=True)])


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, -1, 1.5, math.inf, -math.inf, 0])
def test_norm_gradient_at_zero_and_with_zero_elements_and_ties_as_torch(p):
    for values in ([0.0, 0.0, 0.0], [0.0, 3.0, -4.0], [3.0, -3.0, 1.0], [2.0, 0.0, -2.0]):
        a = np.array(values)
        check_against_torch(lambda x: mt.norm(x, p), lambda t: torch.norm(t, p), [a])
        check_against_torch(lambda x: mt.norm(x.reshape(1, 3), p, 1), lambda t: torch.norm(t.reshape(1, 3), p, 1), [a])


def test_norm_of_the_books_vectors_and_matrix():
    u = mt.tensor([3.0, -4.0])
    assert repr(mt.norm(u)) == "tensor(5.)" and repr(mt.abs(u).sum()) == "tensor(7.)"
    assert repr(mt.norm(mt.ones((4, 9)))) == repr(torch.norm(torch.ones((4, 9)))).replace("torch", "minitorch_cnn")
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.norm()
    assert repr(y) == "tensor(3.7417, grad_fn=<LinalgVectorNormBackward0>)"
    y.backward()
    assert_close(x.grad, np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0), rtol=1e-7, atol=0)


def test_float32_norm_is_summed_in_float64_and_rounded_once():
    a = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    exact = np.float32(np.sqrt((a.astype(np.float64) ** 2).sum()))
    assert mt.norm(mt.tensor(a)).item() == exact
    assert abs(mt.norm(mt.tensor(a)).item() - torch.norm(torch.tensor(a)).item()) <= 2 * np.spacing(exact)


def test_norm_dtype_argument_and_errors_as_torch():
    x = mt.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = mt.norm(x, dtype=mt.float64)
    assert y.dtype == mt.float64
    y.backward()
    assert x.grad.dtype == mt.float32
    with pytest.raises(RuntimeError):
        torch.norm(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"norm: expected a floating-point input, got dtype int64"):
        mt.norm(mt.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"norm: order 'nuc' is not supported"):
        x.norm(p="nuc")
    with pytest.raises(TypeError, match=r"norm: expected p to be a number or 'fro', got None"):
        x.norm(p=None)


def test_linalg_norm_and_vector_norm_against_torch():
    a = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.5]])
    v = np.array([3.0, -4.0, 0.5])
    cases = [
        (lambda x: mt.linalg.norm(x), lambda t: torch.linalg.norm(t), a),
        (lambda x: mt.linalg.norm(x, dim=1), lambda t: torch.linalg.norm(t, dim=1), a),
        (lambda x: mt.linalg.norm(x, ord="fro"), lambda t: torch.linalg.norm(t, ord="fro"), a),
        (lambda x: mt.linalg.norm(x, ord=1), lambda t: torch.linalg.norm(t, ord=1), a),
        (lambda x: mt.linalg.norm(x, ord=-1), lambda t: torch.linalg.norm(t, ord=-1), a),
        (lambda x: mt.linalg.norm(x, ord=math.inf), lambda t: torch.linalg.norm(t, ord=math.inf), a),
        (lambda x: mt.linalg.norm(x, ord=-math.inf), lambda t: torch.linalg.norm(t, ord=-math.inf), a),
        (lambda x: mt.linalg.norm(x, ord=3), lambda t: torch.linalg.norm(t, ord=3), v),
        (lambda x: mt.linalg.norm(x, ord=1, dim=0), lambda t: torch.linalg.norm(t, ord=1, dim=0), a),
        (lambda x: mt.linalg.norm(x.reshape(1, 2, 3)), lambda t: torch.linalg.norm(t.reshape(1, 2, 3)), a),
        (lambda x: mt.linalg.vector_norm(x), lambda t: torch.linalg.vector_norm(t), a),
        (lambda x: mt.linalg.vector_norm(x, ord=1, dim=1), lambda t: torch.linalg.vector_norm(t, ord=1, dim=1), a),
    ]
    for ours, theirs, values in cases:
        check_against_torch(ours, theirs, [values])
    # matrix 1-norm by its definition: the largest column sum of |A|
    assert mt.linalg.norm(mt.tensor(a), ord=1).item() == max(np.abs(a).sum(axis=0))
    with pytest.raises(ValueError, match=r"linalg.norm: ord=2 is not supported for a matrix"):
        mt.linalg.norm(mt.tensor(a), ord=2)
    with pytest.raises(ValueError, match=r"linalg.norm: with ord and no dim, expected a 1-D or 2-D input, got 3-D"):
        mt.linalg.norm(mt.ones(2, 3, 4), ord=2)


@pytest.mark.parametrize("p", [2, 1, 3, 1.5, 0.5, math.inf, -math.inf])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_norm_overflow_underflow_and_nan_gradients_as_torch(p, dtype):
    """Fuzzer: ‖1e300‖ was inf (1e300² overflows; PyTorch takes |a| for a norm of one element); the gradient
    at a zero norm with a NaN upstream gradient was 0 (PyTorch: NaN for p = 1, 2, ±inf); float32 squares
    that underflow (1e-40²) gave a non-zero norm (PyTorch: 0); a NaN entry got NaN (PyTorch's sgn(NaN) = 0)."""
    big, tiny = (1e300, 1e-300) if dtype == "float64" else (3e38, 1e-40)
    cases = [([big], (1,), None), ([big], (), None), ([big, big], (1, 1, 2), 1), ([tiny], (1, 1, 1), -1),
             ([tiny, tiny], (2,), None), ([tiny, 0.0], (2,), -1), ([0.0, 0.0], (2,), None), ([0.0, 1.0], (1, 2), 0),
             ([math.nan, 1.0], (2,), None), ([math.inf, 1.0], (2,), -1), ([1.0, -2.0], (2,), None)]
    for values, shape, dim in cases:
        for upstream in (1.0, math.nan, math.inf):
            got = []
            for T in (mt, torch):
                x = T.tensor(np.array(values).reshape(shape).tolist(), dtype=getattr(T, dtype), requires_grad=True)
                y = T.norm(x, p=p, dim=dim)
                y.backward(T.full(tuple(y.shape), upstream, dtype=y.dtype))
                got.append((y.detach().numpy(), x.grad.numpy()))
            msg = f"{values} {shape} dim={dim} upstream={upstream}"
            np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-6, atol=0, err_msg=msg)
            np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-6, atol=0, err_msg=msg)


@pytest.mark.parametrize("value", [1e-300, 1e300, -2.0, 0.0])
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_a_0d_norm_takes_the_power_and_the_root_only_when_given_a_dim_as_torch(value, dim):
    """PyTorch's norm of a 0-d tensor is |a| with no dim, and sqrt(a²) with one: 1e-300 underflows to 0."""
    ours = mt.linalg.vector_norm(mt.tensor(value, dtype=mt.float64), dim=dim)
    theirs = torch.linalg.vector_norm(torch.tensor(value, dtype=torch.float64), dim=dim)
    assert ours.item() == theirs.item()


@pytest.mark.parametrize("dim", [(0, 1), (1, 2), (0, 2)])
def test_frobenius_norm_over_two_dims_as_torch(dim):
    a = np.random.default_rng(3).standard_normal((3, 4, 2))
    x, t = mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, u = mt.norm(x, "fro", dim=dim), torch.norm(t, "fro", dim=dim)
    np.testing.assert_allclose(y.numpy(), u.detach().numpy(), rtol=1e-13)
    y.sum().backward()
    u.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
