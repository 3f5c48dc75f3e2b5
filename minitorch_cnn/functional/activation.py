"""Activations: relu, relu6 / hardtanh, sigmoid, tanh, softmax, log_softmax (stable for logits of ±1e4).

As in PyTorch: relu and hardtanh keep an integer input's dtype; sigmoid and tanh compute integers in
the default float dtype; softmax and log_softmax want a float input or a ``dtype=``. Masks in the
backward passes select (``where``), so NaN inputs and infinite gradients follow PyTorch.
"""

from __future__ import annotations

import numpy as np

from minitorch_cnn.kernels import relu_backward, sigmoid_backward, sigmoid_forward

from ..autograd import Function
from ..backend import xp_of
from ._util import as_float, c_order, check_tensor, normalize_dim


class ReLUFn(Function):
    """out = max(a, 0).   da = 0 where out <= 0, else g: ReLU'(0) = 0, and a NaN input (out = NaN)
    passes g, as PyTorch's ``threshold_backward``."""

    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (relu_backward(g, out),)  # one fused pass (kernels/activation.py)


class HardtanhFn(Function):
    """out = clip(a, lo, hi) = min(max(a, lo), hi).   da = 0 where a <= lo or a >= hi, else g.

    The mask is lo < a < hi: at the two kinks (a = lo or a = hi) the gradient is 0, and at a NaN input
    too, as PyTorch's vectorized ``hardtanh_backward`` (its scalar loop, which only handles the last
    few elements of a tensor, passes g at NaN instead). ReLU6 is the case lo = 0, hi = 6 (MobileNetV2's
    activation: a ReLU whose output stays in a range that low-precision arithmetic can hold).
    Backward keeps only the boolean mask and selects with it.
    """

    @staticmethod
    def forward(ctx, a, *, lo, hi):
        xp = xp_of(a)
        ctx.save_for_backward((a > lo) & (a < hi))  # one byte per element
        return xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return (xp_of(g).where(inside, g, xp_of(g).zeros((), dtype=g.dtype)),)


class SigmoidFn(Function):
    """out = σ(a) = 1 / (1 + e^-a).   da = g · σ(a) · (1 − σ(a)) = g · out · (1 − out)."""

    @staticmethod
    def forward(ctx, a):
        out = sigmoid_forward(a)  # one pass for float32 (kernels/activation.py), else NumPy's four
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (sigmoid_backward(g, out),)  # g · out · (1 − out), one fused pass (kernels/activation.py)


class TanhFn(Function):
    """out = tanh(a).   da = g · (1 − out²)."""

    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (1 - out * out),)


class LogSoftmaxFn(Function):
    """out = a − logΣexp(a) along ``axis``, computed as (a − m) − log Σ exp(a − m), m = max(a).

    da = g − softmax(a) · Σ_axis g   (softmax = exp(out)).
    ``axis`` is None for a 0-d input (its one element); an empty input gives an empty output.
    """

    @staticmethod
    def forward(ctx, a, *, axis):
        xp = xp_of(a)
        ctx.axis = axis
        if a.size == 0:
            return a.copy()
        a = c_order(a)  # PyTorch's result is contiguous whatever the input's layout
        shifted = a - a.max(axis=axis, keepdims=True)  # every exponent <= 0: no overflow
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        if g.size == 0:
            return (g,)
        (out,) = ctx.saved_tensors
        return (g - xp_of(g).exp(out) * g.sum(axis=ctx.axis, keepdims=True),)


class SoftmaxFn(Function):
    """out = exp(a − m) / Σ exp(a − m) along ``axis``.   da = out · (g − Σ_axis g · out).
    ``axis`` is None for a 0-d input; an empty input gives an empty output."""

    @staticmethod
    def forward(ctx, a, *, axis):
        ctx.axis = axis
        if a.size == 0:
            ctx.save_for_backward(a)
            return a.copy()
        a = c_order(a)  # PyTorch's result is contiguous whatever the input's layout
        e = xp_of(a).exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (out * (g - (g * out).sum(axis=ctx.axis, keepdims=True)),)


def _no_bool(op, input):
    check_tensor(op, input)
    if input.dtype.kind == "b":
        raise TypeError(f"{op}: bool inputs are not supported, as in PyTorch")
    return input


def relu(input, inplace=False):
    """max(input, 0); an integer input keeps its dtype. ``inplace`` is accepted for PyTorch compatibility;
    a new tensor is returned."""
    return ReLUFn.apply(_no_bool("relu", input))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(input, min_val, max_val), as ``torch.nn.functional.hardtanh``; the gradient is 1 strictly
    inside the range and 0 outside and at its ends. An integer input keeps its dtype, with the bounds
    truncated to integers, as PyTorch. ``inplace`` is accepted; a new tensor is returned.

    At a NaN input the gradient is 0 (NaN is not strictly inside the range). PyTorch 2.13 is not
    consistent there: its vectorised CPU loop gives 0 too, but its scalar loop, which takes the last
    few (under 16) elements of a contiguous run, passes the upstream gradient; relu6 likewise."""
    _no_bool("hardtanh", input)
    for name, v in (("min_val", min_val), ("max_val", max_val)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise TypeError(f"hardtanh: expected {name} to be a number, got {v!r}")
    if max_val < min_val:
        raise ValueError(f"hardtanh: expected min_val <= max_val, got min_val={min_val} and max_val={max_val}")
    if input.dtype.kind != "f":
        min_val, max_val = int(min_val), int(max_val)
    return HardtanhFn.apply(input, lo=min_val, hi=max_val)


def relu6(input, inplace=False):
    """min(max(input, 0), 6) = hardtanh(input, 0, 6), as ``torch.nn.functional.relu6``."""
    return hardtanh(input, 0.0, 6.0)


def sigmoid(input):
    """1 / (1 + e^-input); integer inputs give the default float dtype, as PyTorch."""
    return SigmoidFn.apply(as_float("sigmoid", input))


def tanh(input):
    """tanh(input); integer inputs give the default float dtype, as PyTorch."""
    return TanhFn.apply(as_float("tanh", input))


def _softmax_input(op, input, dim, dtype):
    check_tensor(op, input)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{op}: expected a floating-point dtype, got {dtype}")
        input = input.to(dtype=dtype)  # before the op, as PyTorch: the gradient flows back through the cast
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype.name}; pass dtype=mt.float32")
    axis = normalize_dim(op, dim, input.ndim)
    return input, (None if input.ndim == 0 else axis)


def softmax(input, dim, dtype=None):
    """exp(input) / Σ exp(input) along ``dim``; ``dtype`` casts the input first, as PyTorch."""
    input, axis = _softmax_input("softmax", input, dim, dtype)
    return SoftmaxFn.apply(input, axis=axis)


def log_softmax(input, dim, dtype=None):
    """input − log Σ exp(input) along ``dim``; ``dtype`` casts the input first, as PyTorch."""
    input, axis = _softmax_input("log_softmax", input, dim, dtype)
    return LogSoftmaxFn.apply(input, axis=axis)
