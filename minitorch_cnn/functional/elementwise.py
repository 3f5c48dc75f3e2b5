"""Elementwise ops: arithmetic, exp/log/sqrt/abs, comparisons, ``where``, device/dtype moves.

Binary ops broadcast as NumPy does; their backward returns gradients of the *broadcast* shape and
the engine sums them back to each input's shape once (``autograd.sum_to``). ``g`` below is the
upstream gradient dL/d(out).
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import device_of, get_default_dtype, get_xp, to_device, xp_of
from ..tensor import Tensor
from ._util import as_tensor, check_float, check_tensor


class AddFn(Function):
    """out = a + b.   da = g,  db = g."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class SubFn(Function):
    """out = a - b.   da = g,  db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class MulFn(Function):
    """out = a * b.   da = g * b,  db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None), (g * a if ctx.needs_input_grad[1] else None)


class DivFn(Function):
    """out = a / b.   da = g / b,  db = -g * a / b² = -g * out / b."""

    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_tensors
        da = g / b if ctx.needs_input_grad[0] else None
        db = -g * out / b if ctx.needs_input_grad[1] else None
        return da, db


class PowFn(Function):
    """out = a ** b.   da = g * b * a^(b-1)  (0 where b = 0, as PyTorch: d(a^0)/da = 0 even at a = 0),
    db = g * out * log(a), as PyTorch: log(0) = -inf, but 0 where a = 0 and b >= 0 (the limit of
    a^b·log(a), not 0·(-inf)); NaN where a < 0."""

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = xp_of(a)
        # where b = 0 the power is a^1, not a^-1, so b·a^(b-1) is 0 rather than 0·inf at a = 0
        da = g * b * a ** xp.where(b == 0, 1, b - 1) if ctx.needs_input_grad[0] else None
        db = None
        if ctx.needs_input_grad[1]:
            # log(a) without NumPy's warnings: computed where a > 0, -inf at 0, NaN below
            log_a = xp.log(xp.where(a > 0, a, 1))
            log_a = xp.where(a < 0, xp.nan, xp.where(a == 0, -xp.inf, log_a))
            log_a = xp.where((a == 0) & (b >= 0), 0, log_a)  # a^b·log(a) -> 0 there; out·0 instead of 0·(-inf)
            db = g * out * log_a
        return da, db


class NegFn(Function):
    """out = -a.   da = -g."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class ExpFn(Function):
    """out = e^a.   da = g * out."""

    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out,)


class LogFn(Function):
    """out = ln a.   da = g / a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / a,)


class SqrtFn(Function):
    """out = √a.   da = g / (2 out)."""

    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g / (2 * out),)


class AbsFn(Function):
    """out = |a|.   da = g * sign(a)  (0 at a = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).sign(a),)


class WhereFn(Function):
    """out = cond ? a : b (cond holds no gradient).   da = g where cond, else 0;  db = g where not cond."""

    @staticmethod
    def forward(ctx, a, b, *, cond):
        ctx.cond = cond
        return xp_of(a).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = xp_of(g).zeros((), dtype=g.dtype)
        da = xp_of(g).where(ctx.cond, g, zero) if ctx.needs_input_grad[0] else None
        db = xp_of(g).where(ctx.cond, zero, g) if ctx.needs_input_grad[1] else None
        return da, db


class ToFn(Function):
    """Copy to another device and/or dtype.   da = g moved back to a's device and dtype."""

    @staticmethod
    def forward(ctx, a, *, device, dtype):
        ctx.device, ctx.dtype = device_of(a), a.dtype
        out = a if device is None else to_device(a, device)
        if dtype is not None and out.dtype != dtype:
            return out.astype(dtype)
        return a.copy() if out is a else out

    @staticmethod
    def backward(ctx, g):
        return (to_device(g, ctx.device).astype(ctx.dtype, copy=False),)


class CloneFn(Function):
    """out = a (a copy).   da = g."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return (g,)


# ------------------------------------------------------------------ public functions
def _binary(fn, op, a, b):
    if not isinstance(a, Tensor):
        check_tensor(op, b, "other")
        a = as_tensor(a, b, op)
    b = as_tensor(b, a, op)
    if (a.dtype.kind == "f") != (b.dtype.kind == "f"):  # int/bool with float: the float's dtype, as PyTorch
        a, b = (t if t.dtype.kind == "f" else t.to(dtype=(b if t is a else a).dtype) for t in (a, b))
    if a.device != b.device:
        raise ValueError(f"{op}: both operands must be on one device, got {a.device} and {b.device}")
    try:
        get_xp("cpu").broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast together") from None
    return fn.apply(a, b)


def add(input, other):
    """input + other, broadcasting."""
    return _binary(AddFn, "add", input, other)


def sub(input, other):
    """input - other, broadcasting."""
    return _binary(SubFn, "sub", input, other)


def mul(input, other):
    """input * other, broadcasting."""
    return _binary(MulFn, "mul", input, other)


def div(input, other):
    """input / other (true division), broadcasting; integer tensors are divided in the default float dtype."""
    if not any(isinstance(t, Tensor) and t.dtype.kind == "f" for t in (input, other)):
        input, other = (t.to(dtype=get_default_dtype()) if isinstance(t, Tensor) else t for t in (input, other))
    return _binary(DivFn, "div", input, other)


def pow(input, exponent):
    """input ** exponent, broadcasting."""
    return _binary(PowFn, "pow", input, exponent)


def neg(input):
    return NegFn.apply(check_tensor("neg", input))


def exp(input):
    return ExpFn.apply(check_float("exp", input))


def log(input):
    return LogFn.apply(check_float("log", input))


def sqrt(input):
    return SqrtFn.apply(check_float("sqrt", input))


def abs(input):
    return AbsFn.apply(check_tensor("abs", input))


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    cond = condition.array if isinstance(condition, Tensor) else condition
    if not isinstance(input, Tensor):
        input = as_tensor(input, other, "where")
    other = as_tensor(other, input, "where")
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        raise TypeError(f"where: expected a boolean condition, got {getattr(cond, 'dtype', type(cond).__name__)}")
    return WhereFn.apply(input, other, cond=cond)


def _compare(name, ufunc):
    def compare(input, other):
        check_tensor(name, input)
        if isinstance(other, Tensor) and other.device != input.device:
            raise ValueError(f"{name}: both operands must be on one device, got {input.device} and {other.device}")
        other = other.array if isinstance(other, Tensor) else other
        return Tensor(ufunc(xp_of(input.array), input.array, other))

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` comparison; a boolean tensor with no gradient."
    return compare


eq = _compare("eq", lambda xp, a, b: xp.equal(a, b))
ne = _compare("ne", lambda xp, a, b: xp.not_equal(a, b))
lt = _compare("lt", lambda xp, a, b: xp.less(a, b))
le = _compare("le", lambda xp, a, b: xp.less_equal(a, b))
gt = _compare("gt", lambda xp, a, b: xp.greater(a, b))
ge = _compare("ge", lambda xp, a, b: xp.greater_equal(a, b))


def to(input, device=None, dtype=None):
    """``input`` on ``device`` with ``dtype``; returns ``input`` itself when nothing changes."""
    check_tensor("to", input)
    xp_dtype = None if dtype is None else get_xp("cpu").dtype(dtype)
    # (not ``xp_dtype in (None, input.dtype)``: NumPy says dtype("float64") == None, as dtype(None) is float64)
    if (device is None or str(device).split(":")[0] == input.device) and (xp_dtype is None or xp_dtype == input.dtype):
        return input
    return ToFn.apply(input, device=device, dtype=xp_dtype)


def clone(input):
    return CloneFn.apply(check_tensor("clone", input))


# ------------------------------------------------------------------ trigonometric and hyperbolic
class SinFn(Function):
    """out = sin a.   da = g * cos a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).cos(a),)


class CosFn(Function):
    """out = cos a.   da = -g * sin a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (-g * xp_of(a).sin(a),)


class SinhFn(Function):
    """out = sinh a.   da = g * cosh a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).sinh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).cosh(a),)


class CoshFn(Function):
    """out = cosh a.   da = g * sinh a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).cosh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).sinh(a),)


def sin(input):
    return SinFn.apply(check_float("sin", input))


def cos(input):
    return CosFn.apply(check_float("cos", input))


def sinh(input):
    return SinhFn.apply(check_float("sinh", input))


def cosh(input):
    return CoshFn.apply(check_float("cosh", input))
