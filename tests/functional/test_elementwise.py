"""Elementwise ops: arithmetic, exp/log/sqrt/abs, sin/cos/sinh/cosh, comparisons, where — three oracles each.

1. gradcheck (float64 central differences) over hypothesis shapes, broadcasting and non-contiguous;
2. a plain per-element definition with Python's ``math``;
3. PyTorch with the same inputs and a random upstream gradient.
"""

import math

import numpy as np
import pytest
import torch
from _op_oracles import assert_close, away_from, check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import functional as F
from minitorch_cnn.testing import arrays, broadcastable_shapes, gradcheck


def _positive(a, low=0.5):
    return np.abs(a) + low  # values >= low (a ufunc result keeps a transposed layout)


# (our op, torch op, plain scalar definition, transform of the drawn values into the op's domain)
BINARY = {
    "add": (F.add, torch.add, lambda x, y: x + y, lambda a, b: (a, b)),
    "sub": (F.sub, torch.sub, lambda x, y: x - y, lambda a, b: (a, b)),
    "mul": (F.mul, torch.mul, lambda x, y: x * y, lambda a, b: (a, b)),
    "div": (F.div, torch.div, lambda x, y: x / y, lambda a, b: (a, away_from(b, gap=0.3))),
    "pow": (F.pow, torch.pow, lambda x, y: x**y, lambda a, b: (_positive(a), b)),
}
UNARY = {
    "neg": (F.neg, torch.neg, lambda x: -x, lambda a: a),
    "exp": (F.exp, torch.exp, math.exp, lambda a: a),
    "log": (F.log, torch.log, math.log, _positive),
    "sqrt": (F.sqrt, torch.sqrt, math.sqrt, _positive),
    "abs": (F.abs, torch.abs, abs, lambda a: away_from(a)),
    "sin": (F.sin, torch.sin, math.sin, lambda a: a),
    "cos": (F.cos, torch.cos, math.cos, lambda a: a),
    "sinh": (F.sinh, torch.sinh, math.sinh, lambda a: a),
    "cosh": (F.cosh, torch.cosh, math.cosh, lambda a: a),
}


@st.composite
def _binary_inputs(draw, op):
    sa, sb = draw(broadcastable_shapes(max_dims=3))
    return BINARY[op][3](draw(arrays(sa)), draw(arrays(sb)))


@pytest.mark.parametrize("op", BINARY)
@given(data=st.data())
def test_binary_against_torch_and_gradcheck(op, data):
    ours, theirs, _, _ = BINARY[op]
    a, b = data.draw(_binary_inputs(op))
    check_against_torch(ours, theirs, [a, b])
    assert gradcheck(ours, [mt.Tensor(a, requires_grad=True), mt.Tensor(b, requires_grad=True)])


@pytest.mark.parametrize("op", BINARY)
@given(data=st.data())
def test_binary_matches_its_plain_definition_elementwise(op, data):
    ours, _, scalar, _ = BINARY[op]
    a, b = data.draw(_binary_inputs(op))
    out = ours(mt.Tensor(a), mt.Tensor(b)).numpy()
    ab, bb = np.broadcast_arrays(a, b)
    for idx in np.ndindex(out.shape):
        assert out[idx] == pytest.approx(scalar(float(ab[idx]), float(bb[idx])), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("op", UNARY)
@given(data=st.data())
def test_unary_against_torch_plain_definition_and_gradcheck(op, data):
    ours, theirs, scalar, domain = UNARY[op]
    a = domain(data.draw(arrays()))
    out = check_against_torch(ours, theirs, [a])
    for idx in np.ndindex(a.shape):
        assert out.numpy()[idx] == pytest.approx(scalar(float(a[idx])), rel=1e-14)
    assert gradcheck(ours, [mt.Tensor(a, requires_grad=True)])


def test_abs_gradient_at_zero_is_zero_as_torch():
    check_against_torch(F.abs, torch.abs, [np.array([-1.0, 0.0, 2.0])])


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 0.5, -1])
def test_pow_with_a_scalar_exponent_against_torch(exponent):
    a = np.array([[0.0, 1.5, 2.0], [-1.25, 3.0, 0.75]]) if float(exponent).is_integer() else np.array([0.5, 2.0, 3.0])
    if exponent == -1:
        a = a[a != 0]
    check_against_torch(lambda x: x**exponent, lambda t: t**exponent, [a])


def test_pow_gradients_at_base_zero_and_negative_bases_as_torch():
    """d(a^b)/db = a^b·log(a): at a = 0 it is 0 for b >= 0 (PyTorch masks 0·(−inf)) and −inf for
    b < 0; for a < 0 it is NaN. d(a^b)/da at a = 0 follows b·a^(b−1) (0 for b = 0 or b > 1)."""
    a = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 0.5])
    b = np.array([2.0, 0.0, 0.5, 1.0, -1.0, 2.0, 0.5, 3.0, -1.5])
    with np.errstate(all="ignore"):
        check_against_torch(F.pow, torch.pow, [a, b])


_SPECIAL_BASES = [-math.inf, math.inf, -0.0, 0.0, -1.0, 1.0, -2.0, 0.5, 3.0, math.nan]
_SPECIAL_EXPONENTS = [0.5, -0.5, 1.5, -1.5, 2.0, -2.0, 3.0, -3.0, 0.0, 1.0, -1.0, 0.25, 2.5, 1 / 3, math.inf, -math.inf]


def _same_values(ours, theirs):
    """Equal values, NaN where NaN, and the same sign of every zero and infinity (a NaN's sign bit means nothing)."""
    np.testing.assert_array_equal(ours, theirs)
    numbers = ~np.isnan(theirs)
    np.testing.assert_array_equal(np.signbit(ours[numbers]), np.signbit(theirs[numbers]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", ["number", "tensor", "0-d tensor"])
def test_pow_at_zeros_and_infinities_follows_torchs_kernels(dtype, form):
    """Fuzzer: ``pow(tensor(-inf), tensor(0.5))`` was NaN (NumPy takes a sqrt), PyTorch's C pow gives +inf;
    ``(x ** 0.5)`` backward at x = −0.0 was +inf, PyTorch's 0.5·rsqrt(−0.0) = −inf. A Python-number
    exponent uses PyTorch's sqrt/rsqrt/reciprocal/product shortcuts, a tensor exponent C's pow; both values
    and gradients are compared (signs of zeros and infinities included), float32 to the last bit."""
    for y in _SPECIAL_EXPONENTS:
        got = []
        for T in (mt, torch):
            d = getattr(T, dtype)
            x = T.tensor(_SPECIAL_BASES, dtype=d, requires_grad=True)
            exponent = {"number": y, "tensor": T.full((len(_SPECIAL_BASES),), y, dtype=d),
                        "0-d tensor": T.tensor(y, dtype=d)}[form]
            out = T.pow(x, exponent) if form != "number" else x**y
            out.backward(T.ones(len(_SPECIAL_BASES), dtype=d))
            got.append((out.detach().numpy(), x.grad.numpy()))
        with np.errstate(invalid="ignore"):
            _same_values(got[0][0], got[1][0])
            _same_values(got[0][1], got[1][1])


def test_pow_of_special_values_follows_cs_pow_by_a_table():
    """C's pow (C99 Annex F), not a sqrt: pow(−inf, 0.5) = +inf, pow(−0.0, 0.5) = +0.0, pow(−inf, 1/3) = +inf."""
    x = mt.tensor([-math.inf, -0.0, -math.inf, -0.0, math.inf], dtype=mt.float64)
    b = mt.tensor([0.5, 0.5, 1 / 3, 2.5, 0.5], dtype=mt.float64)
    _same_values(mt.pow(x, b).numpy(), np.array([math.inf, 0.0, math.inf, 0.0, math.inf]))
    _same_values(mt.pow(x[:2], mt.tensor(0.5, dtype=mt.float64)).numpy(), np.array([math.inf, 0.0]))


@pytest.mark.parametrize(
    "expr",
    [lambda x: 2.0 - x, lambda x: 3.0 / x, lambda x: 2.0**x, lambda x: 1.5 + x, lambda x: -2.0 * x,
     lambda x: np.float64(2.0) * x, lambda x: x / np.float64(4.0), lambda x: -x, lambda x: abs(x)],
)
def test_reflected_operators_and_numpy_scalars_delegate_to_the_ops(expr):
    a = np.array([[0.5, -1.5, 2.0], [1.0, 3.0, -0.25]])
    check_against_torch(expr, expr, [a])


def test_channel_bias_broadcasts_against_nchw_in_every_binary_op():
    rng = np.random.default_rng(3)
    x, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 1, 1)) + 3.0
    for ours, theirs, *_ in BINARY.values():
        check_against_torch(ours, theirs, [np.abs(x) + 0.5, b] if ours is F.pow else [x, b])


def test_non_contiguous_inputs_give_the_values_of_their_contiguous_copies():
    base = np.random.default_rng(4).standard_normal((6, 8))
    a, b = base.T[::2], base[:, ::2].T  # (4, 6) strided views
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    check_against_torch(lambda x, y: (x * y).exp() - y / (x.abs() + 1), lambda x, y: (x * y).exp() - y / (x.abs() + 1),
                        [a, b])


# ------------------------------------------------------------------ comparisons and where
COMPARISONS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
               "ge": np.greater_equal}


@pytest.mark.parametrize("op", COMPARISONS)
@given(data=st.data())
def test_comparisons_against_numpy_and_torch_with_no_gradient(op, data):
    sa, sb = data.draw(broadcastable_shapes(max_dims=3))
    # small integers as floats, so that equal values (the interesting case) occur often
    a = data.draw(arrays(sa)).round()
    b = data.draw(arrays(sb)).round()
    x = mt.Tensor(a, requires_grad=True)
    out = getattr(F, op)(x, mt.Tensor(b))
    assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), COMPARISONS[op](a, b))
    np.testing.assert_array_equal(out.numpy(), getattr(torch, op)(torch.tensor(a), torch.tensor(b)).numpy())
    operator_form = {"eq": x == b, "ne": x != b, "lt": x < b, "le": x <= b, "gt": x > b, "ge": x >= b}[op]
    np.testing.assert_array_equal(operator_form.numpy(), COMPARISONS[op](a, b))
    np.testing.assert_array_equal(getattr(F, op)(x, 0.0).numpy(), COMPARISONS[op](a, 0.0))


@given(data=st.data())
def test_where_against_torch_a_loop_and_gradcheck(data):
    sc, sa, sb = data.draw(broadcastable_shapes(num_shapes=3, max_dims=3))
    cond = data.draw(arrays(sc)) > 0
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    out = check_against_torch(lambda x, y: F.where(mt.Tensor(cond), x, y), lambda x, y: torch.where(torch.tensor(cond),
                              x, y), [a, b])
    c, ab, bb = np.broadcast_arrays(cond, a, b)
    for idx in np.ndindex(c.shape):
        assert out.numpy()[idx] == (ab[idx] if c[idx] else bb[idx])
    assert gradcheck(lambda x, y: F.where(cond, x, y), [mt.Tensor(a, requires_grad=True),
                                                       mt.Tensor(b, requires_grad=True)])


def test_where_with_a_scalar_branch_against_torch():
    a = np.array([[-1.0, 2.0], [3.0, -4.0]])
    check_against_torch(lambda x: F.where(x > 0, x, 0.0), lambda t: torch.where(t > 0, t, 0.0), [a])


def test_where_rejects_a_non_boolean_condition_naming_the_op():
    x = mt.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"where: expected a boolean condition, got float32"):
        F.where(x, x, x)


# ------------------------------------------------------------------ dtypes and bad input
@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sin", "cos", "sinh", "cosh"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_tensors_compute_in_the_default_float_dtype_as_torch(op, dtype):
    values = [True, False, True] if dtype == "bool" else [1, 2, 3]
    out = getattr(F, op)(mt.tensor(values, dtype=dtype))
    ref = getattr(torch, op)(torch.tensor(values, dtype=getattr(torch, dtype)))
    assert out.dtype == np.float32 and ref.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)


def test_integer_division_promotes_to_float32_as_torch():
    out = mt.tensor([1, 2, 3]) / mt.tensor([2, 2, 2])
    ref = torch.tensor([1, 2, 3]) / torch.tensor([2, 2, 2])
    assert out.dtype == np.float32 and ref.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    for ours, theirs in [(2 / mt.tensor([1, 4]), 2 / torch.tensor([1, 4])), (mt.tensor([1, 4]) / 8, torch.tensor([1, 4]) / 8)]:
        assert ours.dtype == np.float32 and theirs.dtype == torch.float32
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_integer_arithmetic_stays_integer_and_float32_stays_float32():
    assert (mt.tensor([1, 2]) + mt.tensor([3, 4])).dtype == np.int64
    x = mt.tensor([1.0, 2.0])
    for y in (x + 1, x * 2.5, x / 3, x**2, 1 - x, x.exp()):
        assert y.dtype == np.float32


@pytest.mark.parametrize("op", BINARY)
def test_binary_op_rejects_shapes_that_do_not_broadcast_naming_the_op(op):
    with pytest.raises(ValueError, match=rf"{op}: .*\(4, 6\).*\(4, 3\)"):
        getattr(F, op)(mt.ones(4, 6), mt.ones(4, 3))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_integer_with_float32_gives_float32_as_torch(op):
    cases = [(mt.ones(2), mt.tensor([1, 2]), torch.ones(2), torch.tensor([1, 2])),
             (mt.tensor([1, 2]), mt.ones(2), torch.tensor([1, 2]), torch.ones(2)),
             (mt.tensor([1, 2]), 1.5, torch.tensor([1, 2]), 1.5),
             (mt.ones(2), mt.tensor(3), torch.ones(2), torch.tensor(3))]
    for x, y, tx, ty in cases:
        out, ref = getattr(F, op)(x, y), getattr(torch, op)(tx, ty)
        assert out.dtype == np.float32 and ref.dtype == torch.float32, (out.dtype, ref.dtype)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_binary_op_rejects_a_non_number_naming_the_op():
    with pytest.raises(TypeError, match=r"add: expected a Tensor or a number, got str"):
        F.add(mt.tensor([1.0]), "one")


def test_elementwise_float32_agrees_with_torch_to_float32_round_off():
    a = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    x, t = mt.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, r = (x.exp() * x - x.abs().sqrt()).sum(), (t.exp() * t - t.abs().sqrt()).sum()
    y.backward()
    r.backward()
    assert x.grad.dtype == np.float32
    assert_close(y, r, "forward", rtol=1e-5, atol=1e-6)
    assert_close(x.grad, t.grad, "grad", rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- found by mutation testing (mutmut)
class _Probe(mt.Function):
    """Identity that records the dtype of the gradient flowing back into it."""

    seen: list = []

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        _Probe.seen.append(g.dtype)
        return (g,)


@pytest.mark.parametrize("op", [
    lambda x: F.where(x > 0, x, 0.0), lambda x: F.where(x > 0, 0.0, x), lambda x: F.abs(x), lambda x: -x,
    lambda x: F.exp(x), lambda x: F.sqrt(F.abs(x) + 1.0), lambda x: x ** 2.0, lambda x: 2.0 ** x,
    lambda x: x * 3.0, lambda x: x / 3.0, lambda x: 1.0 - x, lambda x: F.log(F.abs(x) + 1.0),
], ids=["where-a", "where-b", "abs", "neg", "exp", "sqrt", "pow", "rpow", "mul", "div", "rsub", "log"])
def test_float32_gradients_stay_float32_between_ops(op):
    """A gradient has its tensor's dtype at every node, not only at the leaves (where it is cast)."""
    x = mt.tensor(np.array([-1.5, 0.5, 2.0], np.float32), requires_grad=True)
    _Probe.seen = []
    op(_Probe.apply(x)).sum().backward()
    assert _Probe.seen == [np.float32]


def test_where_with_a_scalar_first_branch_against_torch():
    a = np.array([-1.0, 0.5, 2.0])
    check_against_torch(lambda x: F.where(x > 0, 0.25, x), lambda t: torch.where(t > 0, 0.25, t), [a])


def test_to_returns_the_tensor_itself_when_nothing_changes_and_keeps_the_dtype_as_torch():
    x = mt.ones(3)
    assert x.to("cpu") is x and x.to(dtype=x.dtype) is x and x.to("cpu", x.dtype) is x
    assert torch.ones(3).to("cpu").dtype == torch.float32
    assert x.to("cpu").dtype == np.float32
    y = mt.tensor(np.ones(3, np.float32), requires_grad=True)
    z = y.to(dtype=mt.float64)
    assert z is not y and z.dtype == np.float64
    (z * 2.0).sum().backward()
    assert y.grad.dtype == np.float32 and np.array_equal(y.grad.numpy(), [2, 2, 2])


@pytest.mark.parametrize("fn,name", [(F.neg, "neg"), (F.abs, "abs"), (F.to, "to"), (F.exp, "exp")])
def test_unary_ops_name_themselves_when_given_a_non_tensor(fn, name):
    with pytest.raises(TypeError, match=f"^{name}: expected input to be a Tensor, got list"):
        fn([1.0])


@pytest.mark.parametrize("fn,name", [(F.add, "add"), (F.mul, "mul"), (F.sub, "sub"), (F.pow, "pow")])
def test_binary_ops_name_themselves_when_neither_operand_is_a_tensor(fn, name):
    with pytest.raises(TypeError, match=f"^{name}: expected other to be a Tensor, got float"):
        fn(1.0, 2.0)
    with pytest.raises(TypeError, match=f"^{name}: "):
        fn([1.0], mt.ones(1))


# ---------------------------------------------------------------- float32 transcendental functions, rounded once
@pytest.mark.parametrize("name", ["exp", "log", "sin", "cos", "sinh", "cosh"])
def test_float32_transcendentals_are_the_float64_values_rounded_once(name):
    a = np.random.default_rng(1).uniform(-10, 10, 20_000).astype(np.float32)
    if name == "log":
        a = np.abs(a) + np.float32(1e-3)
    ours = getattr(mt, name)(mt.tensor(a)).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, getattr(np, name)(a.astype(np.float64)).astype(np.float32))
    # PyTorch's float32 kernels are within one unit in the last place of that value, and so are we
    theirs = getattr(torch, name)(torch.tensor(a)).numpy()
    assert (np.abs(ours.astype(np.float64) - theirs) <= np.spacing(np.abs(theirs))).all()


def test_exp_prints_the_books_float32_values_as_torch():
    for values in ([1.0, 2.0, 4.0, 8.0], list(range(12)), [10.0, 12.0]):
        ours, theirs = mt.exp(mt.tensor(values)), torch.exp(torch.tensor(values))
        assert repr(ours) == repr(theirs) and ours.tolist() == theirs.tolist()
    # e^12 = 162754.79142..., e^10 = 22026.46579...: the nearest float32 values (NumPy's float32 exp gave
    # 162754.7812 and 22026.4668)
    assert repr(mt.exp(mt.tensor([12.0]))) == "tensor([162754.7969])"
    assert repr(mt.exp(mt.tensor([10.0]))) == "tensor([22026.4648])"


def test_div_gradient_of_the_divisor_does_not_overflow_where_torchs_does_not():
    """db = -g · ((a / b) / b), in PyTorch's order: g · out first would overflow float32 here."""
    import torch

    a, b = np.array([3e38], dtype=np.float32), np.array([1.6], dtype=np.float32)
    x, y = mt.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    (mt.tensor(a) / x * 2.0).sum().backward()
    (torch.tensor(a) / y * 2.0).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())


def test_clamp_with_equal_tensor_bounds_sends_gradients_as_torch():
    """lo == hi: PyTorch gives a below-the-bounds element's gradient to no input at all (neither
    a < lo < hi nor hi < lo holds), one inside to a, one above to hi."""
    import torch

    grads = []
    for T in (mt, torch):
        a, lo, hi = (T.tensor(v, requires_grad=True) for v in ([0.0, 1.0, 2.0], [1.0] * 3, [1.0] * 3))
        T.clamp(a, lo, hi).sum().backward()
        grads.append([t.grad.tolist() for t in (a, lo, hi)])
    assert grads[0] == grads[1] == [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
