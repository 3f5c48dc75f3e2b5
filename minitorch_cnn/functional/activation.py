"""Activations: relu, relu6 / hardtanh, sigmoid, tanh, softmax, log_softmax (stable for logits of ±1e4)."""

from __future__ import annotations

from minitorch_cnn.kernels import relu_backward, sigmoid_backward, sigmoid_forward

from ..autograd import Function
from ..backend import xp_of
from ._util import check_float, normalize_dim


class ReLUFn(Function):
    """out = max(a, 0).   da = g where a > 0, else 0  (ReLU'(0) = 0, as PyTorch)."""

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
    """out = clip(a, lo, hi) = min(max(a, lo), hi).   da = g where lo < a < hi, else 0.

    At the two kinks (a = lo or a = hi) the gradient is 0, as PyTorch's ``hardtanh_backward``;
    ReLU6 is the case lo = 0, hi = 6 (MobileNetV2's activation: a ReLU whose output stays in a
    range that low-precision arithmetic can hold). Backward keeps only the boolean mask.
    """

    @staticmethod
    def forward(ctx, a, *, lo, hi):
        xp = xp_of(a)
        ctx.save_for_backward((a > lo) & (a < hi))  # one byte per element
        return xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return (g * inside,)


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
    """

    @staticmethod
    def forward(ctx, a, *, axis):
        xp = xp_of(a)
        shifted = a - a.max(axis=axis, keepdims=True)  # every exponent <= 0: no overflow
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g - xp_of(g).exp(out) * g.sum(axis=ctx.axis, keepdims=True),)


class SoftmaxFn(Function):
    """out = exp(a − m) / Σ exp(a − m) along ``axis``.   da = out · (g − Σ_axis g · out)."""

    @staticmethod
    def forward(ctx, a, *, axis):
        e = xp_of(a).exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (out * (g - (g * out).sum(axis=ctx.axis, keepdims=True)),)


def relu(input, inplace=False):
    """max(input, 0). ``inplace`` is accepted for PyTorch compatibility; a new tensor is returned."""
    return ReLUFn.apply(check_float("relu", input))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(input, min_val, max_val), as ``torch.nn.functional.hardtanh``; the gradient is 1 strictly
    inside the range and 0 outside and at its ends. ``inplace`` is accepted; a new tensor is returned."""
    check_float("hardtanh", input)
    for name, v in (("min_val", min_val), ("max_val", max_val)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise TypeError(f"hardtanh: expected {name} to be a number, got {v!r}")
    if max_val < min_val:
        raise ValueError(f"hardtanh: expected min_val <= max_val, got min_val={min_val} and max_val={max_val}")
    return HardtanhFn.apply(input, lo=min_val, hi=max_val)


def relu6(input, inplace=False):
    """min(max(input, 0), 6) = hardtanh(input, 0, 6), as ``torch.nn.functional.relu6``."""
    check_float("relu6", input)
    return HardtanhFn.apply(input, lo=0.0, hi=6.0)


def sigmoid(input):
    return SigmoidFn.apply(check_float("sigmoid", input))


def tanh(input):
    return TanhFn.apply(check_float("tanh", input))


def softmax(input, dim):
    check_float("softmax", input)
    return SoftmaxFn.apply(input, axis=normalize_dim("softmax", dim, input.ndim))


def log_softmax(input, dim):
    check_float("log_softmax", input)
    return LogSoftmaxFn.apply(input, axis=normalize_dim("log_softmax", dim, input.ndim))
