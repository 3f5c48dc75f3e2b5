"""Elementwise ops: arithmetic, exp/log/sqrt/abs, comparisons, ``where``, ``clamp``, ``maximum``/``minimum``,
bitwise and logical ops, device/dtype moves.

Binary ops broadcast as NumPy does; their backward returns gradients of the *broadcast* shape and
the engine sums them back to each input's shape once (``autograd.sum_to``). ``g`` below is the
upstream gradient dL/d(out). The operands first meet in PyTorch's result dtype (``_util.result_type``):
a float32 tensor times a float64 0-d tensor stays float32, an int tensor plus 2.5 is float32.

A backward that keeps g at some elements and drops it at others *selects* (``where``), never
multiplies by a 0/1 mask, so an infinite or NaN g stays where it belongs (inf · 0 would be NaN).

exp, log, sin, cos, sinh, cosh and pow of a float32 (or float16) input are computed in float64 and rounded
once (``_rounded_once``): NumPy's float32 versions of these are up to 2-3 units in the last place off,
PyTorch's within one, so that exp(12.) printed 162754.7812 here and 162754.7969 (the float32 nearest
to e^12 = 162754.791...) in PyTorch. sqrt is exact in float32 already. tanh and sigmoid
(activation.py) keep their float32 kernels, within 1.4 ulp: they sit inside the nets.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import device_of, get_default_dtype, get_xp, to_device, xp_of
from ..tensor import Tensor
from ._util import as_float, check_tensor, promoted, result_type, torch_layout


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
    """out = a / b.   da = g / b,  db = -g * a / b² = -g * (out / b) (out / b first, as PyTorch: g * out can overflow)."""

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(all="ignore"):  # x / 0 is ±inf or NaN without a warning, as in PyTorch
            out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        b, out = ctx.saved_tensors
        with np.errstate(all="ignore"):
            da = g / b if ctx.needs_input_grad[0] else None
            db = -g * (out / b) if ctx.needs_input_grad[1] else None
        return da, db


class PowFn(Function):
    """out = a ** b.

    da = g · (b · a^(b−1)), and exactly 0 where b = 0 (selected: d(a^0)/da = 0 even at a = 0 or for an
    infinite g), as PyTorch. Elsewhere it is a product, as PyTorch's: a = 0, b = 2 gives g · 0, which is
    NaN for an infinite g; a < 0 with a fractional b gives NaN. a^(b−1) is computed as the forward's
    a^b is (``_float_pow``), so for x ** 0.5 it is 1/sqrt(a): −inf at a = −0.0, as PyTorch's.
    db = g · (out · ln a), with the factor 0 where a = 0 and b >= 0 (the limit of a^b·ln a, not
    0·(−inf)); ln 0 = −inf for b < 0; NaN where a < 0.

    Integer powers follow PyTorch: a negative exponent gives 1 for a = 1, ±1 for a = −1, else 0.
    """

    @staticmethod
    def forward(ctx, a, b, *, scalar=None):
        xp = xp_of(a)
        if a.dtype.kind == "f":
            with np.errstate(all="ignore"):
                out = _float_pow(a, b, scalar)
            ctx.save_for_backward(a, b, out)
            ctx.scalar = scalar
            return out
        wide, b = a.astype(np.int64), b.astype(np.int64)
        out = wide ** xp.where(b < 0, 0, b)
        negative_power = xp.where(wide == 1, 1, xp.where(wide == -1, 1 - 2 * (b % 2), 0))
        return xp.where(b < 0, negative_power, out).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = xp_of(g)
        zero = xp.zeros((), dtype=g.dtype)
        da = db = None
        with np.errstate(all="ignore"):
            if ctx.needs_input_grad[0]:
                below = _float_pow(a, b - 1, None if ctx.scalar is None else ctx.scalar - 1)  # a^(b−1)
                da = xp.where(b == 0, zero, g * (b * below))
            if ctx.needs_input_grad[1]:
                db = g * xp.where((a == 0) & (b >= 0), zero, out * xp.log(a))
        return da, db


def _float_pow(a, b, scalar):
    """a ** b for a float array ``a``, as PyTorch's CPU kernels: for a Python-number exponent (``scalar``) of
    a float32/float64 input, 0.5, −0.5, −1, 2, 3 and −2 are sqrt(a), 1/sqrt(a), 1/a, a·a, a·a·a and 1/(a·a)
    (so (−inf) ** 0.5 is NaN); any other exponent, and a tensor exponent, is C's pow elementwise
    (pow(−inf, 0.5) = +inf and pow(−0.0, 0.5) = +0.0, where a sqrt gives NaN and −0.0)."""
    xp = xp_of(a)
    if scalar is not None and a.dtype.itemsize >= 4:
        if scalar == 0.5:
            return xp.sqrt(a)
        if scalar == -0.5:
            return 1 / xp.sqrt(a)
        if scalar == -1:
            return 1 / a
        if scalar == 2:
            return a * a
        if scalar == 3:
            return a * a * a
        if scalar == -2:
            return 1 / (a * a)
        b = xp.asarray(scalar, dtype=a.dtype)  # PyTorch rounds the number (e.g. 1/3 − 1) to a's dtype
    out = _rounded_once(lambda x: xp.power(x, b), a)  # NumPy's float32 pow is 1-2 ulp off, PyTorch's powf is not
    if xp is np:  # NumPy takes a sqrt where the exponent 0.5 is broadcast; C's pow(a, 0.5) = |a| at a = ±0, ±inf
        special = (a == 0) | (a == -np.inf)
        if special.any():
            out = np.where(special & (b == 0.5), np.abs(a), out)
    return out


class NegFn(Function):
    """out = -a.   da = -g."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


def _rounded_once(func, a):
    """``func(a)``, computed in float64 for a float32 or float16 ``a`` and rounded once to its dtype."""
    if a.dtype.kind == "f" and a.dtype.itemsize < 8:
        return func(a.astype(np.float64)).astype(a.dtype)
    return func(a)


class ExpFn(Function):
    """out = e^a.   da = g * out."""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(all="ignore"):
            out = _rounded_once(xp_of(a).exp, a)
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
        with np.errstate(all="ignore"):  # ln 0 = -inf, ln of a negative = NaN, without warnings as PyTorch
            return _rounded_once(xp_of(a).log, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        with np.errstate(all="ignore"):
            return (g / a,)


class SqrtFn(Function):
    """out = √a.   da = g / (2 out)."""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(all="ignore"):
            out = xp_of(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        with np.errstate(all="ignore"):
            return (g / (2 * out),)


class AbsFn(Function):
    """out = |a|.   da = g · sign(a), sign(0) = sign(NaN) = 0, as PyTorch (a product, as PyTorch's:
    an infinite g at a = 0 gives NaN)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        sign = xp.where(a > 0, 1, xp.where(a < 0, -1, 0)).astype(g.dtype)
        return (g * sign,)


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
    """Copy to another device and/or dtype.   da = g moved back to a's device and dtype.

    g is first rounded to the output's dtype, as PyTorch's gradients always have their tensor's dtype:
    ``x64.float()`` gives the float64 ``x64`` the float32-rounded gradient, cast to float64.
    """

    @staticmethod
    def forward(ctx, a, *, device, dtype):
        out = a if device is None else to_device(a, device)
        if dtype is not None and out.dtype != dtype:
            out = out.astype(dtype)
        elif out is a:
            out = a.copy()
        ctx.device, ctx.dtype, ctx.out_dtype = device_of(a), a.dtype, out.dtype
        return out

    @staticmethod
    def backward(ctx, g):
        g = g.astype(ctx.out_dtype, copy=False)
        return (to_device(g, ctx.device).astype(ctx.dtype, copy=False),)


class CloneFn(Function):
    """out = a (a copy).   da = g."""

    @staticmethod
    def forward(ctx, a):
        return a.copy(order="K")  # PyTorch's clone keeps the input's layout (a transpose stays one)

    @staticmethod
    def backward(ctx, g):
        return (g,)


# ------------------------------------------------------------------ public functions
def _operands(op, a, b, dtype=None):
    """``a`` and ``b`` (one of them a Tensor) as tensors of ``dtype`` (default: PyTorch's result dtype),
    checked to share a device and to broadcast."""
    if not isinstance(a, Tensor):
        check_tensor(op, b, "other")
    a, b = promoted(op, a, b, dtype=dtype)
    if a.device != b.device:
        raise ValueError(f"{op}: both operands must be on one device, got {a.device} and {b.device}")
    try:
        get_xp("cpu").broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast together") from None
    return a, b


def _binary(fn, op, a, b):
    a, b = _operands(op, a, b)
    return _laid_out(fn.apply(a, b), a, b)


def _laid_out(result: Tensor, *operands) -> Tensor:
    """``result`` with the memory layout PyTorch gives an elementwise op on ``operands`` (Tensors or
    arrays): NumPy's may differ when an operand is not C-ordered (``_util.torch_layout``); a later
    ``view`` depends on it."""
    result.array = torch_layout(result.array, *[x.array if isinstance(x, Tensor) else x for x in operands])
    return result


def add(input, other):
    """input + other, broadcasting."""
    return _binary(AddFn, "add", input, other)


def sub(input, other):
    """input - other, broadcasting; a bool operand is an error, as in PyTorch."""
    if any(isinstance(v, (bool, np.bool_)) or getattr(v, "dtype", None) == np.bool_ for v in (input, other)):
        raise TypeError("sub: subtraction with a bool tensor is not supported; use logical_xor (^) or ~ instead")
    return _binary(SubFn, "sub", input, other)


def mul(input, other):
    """input * other, broadcasting."""
    return _binary(MulFn, "mul", input, other)


def div(input, other):
    """input / other (true division), broadcasting; integers are divided in the default float dtype."""
    dtype = result_type("div", input, other)
    if dtype.kind != "f":
        dtype = np.dtype(get_default_dtype())
    a, b = _operands("div", input, other, dtype)
    return _laid_out(DivFn.apply(a, b), a, b)


def pow(input, exponent):
    """input ** exponent, broadcasting. An integer input to a negative Python int power is an error, as in
    PyTorch (an integer tensor exponent follows PyTorch's integer rule, see ``PowFn``). A bool result is an
    error too, as PyTorch has no bool pow, except a bool tensor to a Python bool power (x ** True = x,
    x ** False = ones)."""
    a, b = _operands("pow", input, exponent)
    if a.dtype.kind == "b" and not isinstance(exponent, (bool, np.bool_)):
        raise TypeError("pow: not implemented for bool operands, as in PyTorch; cast one of them to an int or float")
    if a.dtype.kind in "biu" and _number(exponent) and exponent < 0:
        raise ValueError(f"pow: Integers to negative integer powers are not allowed (got a {a.dtype.name} base and "
                         f"exponent {exponent}); use a float exponent")
    scalar = float(exponent) if _number(exponent) and a.dtype.kind == "f" else None  # PyTorch's pow(Tensor, Scalar)
    return _laid_out(PowFn.apply(a, b, scalar=scalar), a, b)


def _number(x) -> bool:
    return isinstance(x, (int, float, np.number, np.bool_))


def neg(input):
    check_tensor("neg", input)
    if input.dtype.kind == "b":
        raise TypeError("neg: negating a bool tensor is not supported; use logical_not (~) instead")
    return NegFn.apply(input)


def exp(input):
    """e^input; integer inputs give the default float dtype, as PyTorch."""
    return ExpFn.apply(as_float("exp", input))


def log(input):
    """ln input; integer inputs give the default float dtype, as PyTorch."""
    return LogFn.apply(as_float("log", input))


def sqrt(input):
    """√input; integer inputs give the default float dtype, as PyTorch."""
    return SqrtFn.apply(as_float("sqrt", input))


def abs(input):
    check_tensor("abs", input)
    if input.dtype.kind == "b":
        raise TypeError("abs: bool tensors are not supported, as in PyTorch")
    return AbsFn.apply(input)


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; ``input`` and ``other`` may be
    tensors or numbers and meet in PyTorch's result dtype (``where(c, 2.0, int_tensor)`` is float32)."""
    if isinstance(condition, Tensor):
        cond, device = condition.array, condition.device
    else:
        cond, device = condition, device_of(condition) if hasattr(condition, "dtype") else "cpu"
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        raise TypeError(f"where: expected a boolean condition, got {getattr(cond, 'dtype', type(cond).__name__)}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        dtype = result_type("where", input, other)
        input, other = (Tensor(v, dtype=dtype, device=device) for v in (input, other))
    a, b = _operands("where", input, other)
    return _laid_out(WhereFn.apply(a, b, cond=cond), cond, a, b)


def _compare(name, ufunc):
    def compare(input, other):
        a, b = _operands(name, check_tensor(name, input), other)
        return _laid_out(Tensor(ufunc(xp_of(a.array), a.array, b.array)), a, b)

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
        with np.errstate(all="ignore"):
            return _rounded_once(xp_of(a).sin, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).cos(a),)


class CosFn(Function):
    """out = cos a.   da = -g * sin a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(all="ignore"):
            return _rounded_once(xp_of(a).cos, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (-g * xp_of(a).sin(a),)


class SinhFn(Function):
    """out = sinh a.   da = g * cosh a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(all="ignore"):
            return _rounded_once(xp_of(a).sinh, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).cosh(a),)


class CoshFn(Function):
    """out = cosh a.   da = g * sinh a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(all="ignore"):
            return _rounded_once(xp_of(a).cosh, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * xp_of(a).sinh(a),)


def sin(input):
    return SinFn.apply(as_float("sin", input))


def cos(input):
    return CosFn.apply(as_float("cos", input))


def sinh(input):
    return SinhFn.apply(as_float("sinh", input))


def cosh(input):
    return CoshFn.apply(as_float("cosh", input))


# ------------------------------------------------------------------ clamp, maximum, minimum
class ClampFn(Function):
    """out = min(max(a, lo), hi) for numbers ``lo``/``hi`` (either may be None); NaN stays NaN.

    da = g where lo <= a <= hi (the ends included), else 0, as PyTorch; 0 at NaN. Selected, not
    multiplied, so an infinite g stays infinite inside and 0 outside.
    """

    @staticmethod
    def forward(ctx, a, *, lo, hi):
        xp = xp_of(a)
        inside = xp.ones(a.shape, dtype=bool)
        out = a
        if lo is not None:
            out, inside = xp.maximum(out, lo), inside & (a >= lo)
        if hi is not None:
            out, inside = xp.minimum(out, hi), inside & (a <= hi)
        ctx.save_for_backward(inside)
        return out

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return (xp_of(g).where(inside, g, xp_of(g).zeros((), dtype=g.dtype)),)


class ClampTensorFn(Function):
    """out = min(max(a, lo), hi) for tensor bounds (either may be None), broadcasting; NaN in any input
    gives NaN. Each element's gradient goes to whichever input the output copied, as PyTorch:

    da  = g where lo <= a <= hi (only the given bounds), else 0;
    dlo = g where a < lo and lo < hi (with no hi: where a < lo);
    dhi = g where a > hi or hi < lo (with no lo: where a > hi)   -- when lo > hi the output is hi.
    """

    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = xp_of(a)
        ctx.save_for_backward(a, lo, hi)
        out = a if lo is None else xp.maximum(a, lo)
        return out if hi is None else xp.minimum(out, hi)

    @staticmethod
    def backward(ctx, g):
        a, lo, hi = ctx.saved_tensors
        xp = xp_of(g)
        zero = xp.zeros((), dtype=g.dtype)
        inside = xp.ones((), dtype=bool)
        if lo is not None:
            inside = inside & (a >= lo)
        if hi is not None:
            inside = inside & (a <= hi)
        dlo = dhi = None
        if lo is not None and ctx.needs_input_grad[1]:
            dlo = xp.where((a < lo) & (lo < hi) if hi is not None else a < lo, g, zero)
        if hi is not None and ctx.needs_input_grad[2]:
            dhi = xp.where((a > hi) | (hi < lo) if lo is not None else a > hi, g, zero)
        da = xp.where(inside, g, zero) if ctx.needs_input_grad[0] else None
        return da, dlo, dhi


def clamp(input, min=None, max=None):
    """Each element of ``input`` limited to [min, max], as ``torch.clamp``: ``min(max(input, min), max)``, so
    max wins where min > max. Bounds are numbers or tensors (broadcast), either may be None; NaN
    propagates. The result has PyTorch's result dtype (an int tensor clamped to 0.5 is float32)."""
    check_tensor("clamp", input)
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    given = [v for v in (min, max) if v is not None]
    dtype = result_type("clamp", input, *given)
    if not any(isinstance(v, Tensor) for v in given):
        return ClampFn.apply(as_tensor_of(input, dtype), lo=min, hi=max)
    lo, hi = (None if v is None else _operands("clamp", v, input, dtype)[0] for v in (min, max))
    input = as_tensor_of(input, dtype)
    return _laid_out(ClampTensorFn.apply(input, lo, hi), *[t for t in (input, lo, hi) if t is not None])


clip = clamp


def as_tensor_of(x: Tensor, dtype) -> Tensor:
    return x if x.dtype == dtype else x.to(dtype=dtype)


class _ExtremumFn(Function):
    """out = max(a, b) (``MaximumFn``) or min(a, b) (``MinimumFn``), NaN where either is NaN.

    For maximum: da = g where a > b, g / 2 where a = b, 0 where a < b; db the mirror image. Where a or
    b is NaN neither a < b nor a > b holds and both receive g, as PyTorch. Minimum swaps < and >.
    """

    pick = None  # xp.maximum or xp.minimum, by name
    sign = 1

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(xp_of(a), cls.pick)(a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        zero = xp.zeros((), dtype=g.dtype)
        shared = xp.where(a == b, g / 2, g)
        a_loses, b_loses = (a < b, a > b) if cls.sign > 0 else (a > b, a < b)
        da = xp.where(a_loses, zero, shared) if ctx.needs_input_grad[0] else None
        db = xp.where(b_loses, zero, shared) if ctx.needs_input_grad[1] else None
        return da, db


class MaximumFn(_ExtremumFn):
    __doc__ = _ExtremumFn.__doc__
    pick, sign = "maximum", 1


class MinimumFn(_ExtremumFn):
    __doc__ = _ExtremumFn.__doc__
    pick, sign = "minimum", -1


def maximum(input, other):
    """The elementwise larger of two tensors, NaN where either is NaN, as ``torch.maximum``."""
    check_tensor("maximum", input)
    check_tensor("maximum", other, "other")
    a, b = _operands("maximum", input, other)
    return _laid_out(MaximumFn.apply(a, b), a, b)


def minimum(input, other):
    """The elementwise smaller of two tensors, NaN where either is NaN, as ``torch.minimum``."""
    check_tensor("minimum", input)
    check_tensor("minimum", other, "other")
    a, b = _operands("minimum", input, other)
    return _laid_out(MinimumFn.apply(a, b), a, b)


# ------------------------------------------------------------------ bitwise and logical ops
class DtypeError(TypeError, NotImplementedError):
    """An op given a dtype it has no kernel for: a ``NotImplementedError`` as in PyTorch (``&`` on floats),
    and a ``TypeError`` as this engine's other dtype errors."""


def _bitwise(name, ufunc):
    def bitwise(input, other):
        a, b = _operands(name, input, other)
        if a.dtype.kind not in "biu":
            raise DtypeError(f"{name}: expected bool or integer operands, got dtype {a.dtype.name} "
                             f"(use logical_{name.removeprefix('bitwise_')} for a truth test of floats)")
        return _laid_out(Tensor(ufunc(xp_of(a.array), a.array, b.array)), a, b)

    bitwise.__name__ = name
    bitwise.__doc__ = (f"Elementwise ``{name}`` of bool or integer tensors (and numbers), in PyTorch's result "
                       "dtype (a bool tensor with an int gives int64); floats are an error. No gradient.")
    return bitwise


bitwise_and = _bitwise("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b))  # a & b
bitwise_or = _bitwise("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b))  # a | b
bitwise_xor = _bitwise("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b))  # a ^ b


def bitwise_not(input):
    """``~input``: logical not of a bool tensor, the bits flipped of an integer one (~5 = -6); floats are an error."""
    check_tensor("bitwise_not", input)
    if input.dtype.kind not in "biu":
        raise DtypeError(f"bitwise_not: ~ is only implemented on integer and bool tensors, got dtype {input.dtype.name}")
    return Tensor(xp_of(input.array).invert(input.array))


def _logical(name, ufunc):
    def logical(input, other):
        check_tensor(name, input)
        check_tensor(name, other, "other")
        if input.device != other.device:
            raise ValueError(f"{name}: both operands must be on one device, got {input.device} and {other.device}")
        a, b = input.array, other.array
        try:
            return _laid_out(Tensor(ufunc(xp_of(a), a != 0, b != 0)), a, b)
        except ValueError:
            raise ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast together") from None

    logical.__name__ = name
    logical.__doc__ = f"Elementwise ``{name}`` of two tensors of any dtypes (non-zero is True); a bool tensor."
    return logical


logical_and = _logical("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _logical("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _logical("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))


def logical_not(input):
    """Elementwise not of a tensor of any dtype (zero is False): a bool tensor."""
    check_tensor("logical_not", input)
    return Tensor(input.array == 0)
