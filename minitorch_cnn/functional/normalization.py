"""Batch normalization, as ``torch.nn.functional.batch_norm``, for (N, C) and (N, C, H, W) inputs.

Statistics are per channel c, over the M = N·H·W values of that channel (M = N for 2-D input).
"""

from __future__ import annotations

import math

from minitorch_cnn.kernels.normalization import batch_norm_backward, channel_mean_var, normalize

from ..autograd import Function
from ..backend import device_of, is_array, xp_of
from ..tensor import Tensor
from ._util import check_float, check_tensor


class BatchNormFn(Function):
    """y = γ · x̂ + β,  x̂ = (x − μ) / √(σ² + ε), per channel; γ = 1, β = 0 when absent.

    Training: μ and σ² are the batch's mean and *biased* variance (divide by M), computed here from
    x, and the running statistics are updated in place with them (``momentum`` m, see
    ``batch_norm``); eval: μ and σ² are the running statistics, constants.

    Backward, with g = dL/dy and sums over the M values of a channel::

        dβ = Σ g                  dγ = Σ g · x̂                  dx̂ = g · γ
        eval:      dx = dx̂ / √(σ² + ε)
        training:  dx = (1 / √(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))

    The training formula is the chain rule through μ and σ², which both depend on every x of the
    channel: the two subtracted terms remove the components of dx̂ along the directions in which
    a shift (μ) or a scaling (σ) of the whole channel would change x̂ — x̂ is invariant to both.

    Infinities and NaN (an inf weight, statistic or input; an overflowing x): in a channel whose
    α = γ·s or β' = β − μ·α is not finite, y follows PyTorch 2.13's CPU kernels, which write y in one
    of two orders that differ only there. For a dense input (contiguous, or channels-last) and
    contiguous (C,) parameters, PyTorch computes y = x·α + β': with γ = inf and μ > 0 that is
    x·inf − inf = NaN everywhere. For any other (strided) input it computes ((x − μ)·s)·γ + β, ours
    γ·x̂ + β: −inf where x̂ < 0, +inf where x̂ > 0, NaN at x̂ = 0. The op checks the layout it is
    given and writes the channels concerned in the same order (``kernels/normalization.py``,
    ``normalize``); the finite channels, all of them in practice, are never computed twice.

    The passes over the activations are ``kernels/normalization.py``: each line there (the
    statistics, x̂ and y, the backward's sums and dx) is one loop per channel on the CPU, NumPy's
    operations on the generic path.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, momentum, eps, training):
        ctx.empty = x.size == 0
        if ctx.empty:  # no values, no statistics: an empty output, running statistics untouched (as PyTorch)
            ctx.shapes = x.shape, None if weight is None else weight.shape, None if bias is None else bias.shape
            return x.copy()
        xp = xp_of(x)
        alpha_form = _dense_layout(x, weight, bias, running_mean, running_var)  # read before the copy below
        x = xp.ascontiguousarray(x)  # a contiguous y, as PyTorch's (a copy only for a strided x)
        if training:
            mean, var = channel_mean_var(x)  # (C,) float64: μ and the biased σ² (divide by M)
            if running_mean is not None:
                _update_running(running_mean, running_var, mean, var, momentum, M=x.size // x.shape[1])
        else:
            mean, var = xp.asarray(running_mean, dtype=xp.float64), xp.asarray(running_var, dtype=xp.float64)
        inv_std = 1.0 / xp.sqrt(var + eps)  # (C,) float64; the kernels round x̂ and y once to x's dtype
        # x̂ = (x − μ)·inv_std, y = γ·x̂ + β: (N, C, H, W); non-finite channels as PyTorch (class doc)
        x_hat, y = normalize(x, mean, inv_std, weight, bias, alpha_form)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.training = training
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.empty:  # empty sums: zero gradients
            xp = xp_of(g)
            return tuple(None if shape is None else xp.zeros(shape, dtype=g.dtype) for shape in ctx.shapes)
        x_hat, inv_std, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        g = xp_of(g).ascontiguousarray(g)  # the loops take contiguous arrays; dx is contiguous
        # dβ = Σ g, dγ = Σ g·x̂, and dx by the formula above (training: through μ and σ²)
        dx, dweight, dbias = batch_norm_backward(g, x_hat, inv_std, weight, ctx.training)
        return dx if need_x else None, dweight if need_w else None, dbias if need_b else None


def _dense_layout(x, *params):
    """Whether PyTorch's CPU batch norm takes its "contiguous" kernel (y = x·α + β') for these arrays:
    x C-contiguous or channels-last (N, H, W, C order in memory), every given (C,) array contiguous."""
    channels_last = x.ndim in (4, 5) and x.transpose(0, *range(2, x.ndim), 1).flags.c_contiguous
    dense = x.flags.c_contiguous or channels_last
    return dense and all(p is None or p.flags.c_contiguous for p in params)


def _raw(op, value, name):
    """The array inside a Tensor (or the array itself): running stats are updated in place."""
    if isinstance(value, Tensor):
        return value.array
    if is_array(value):
        return value
    raise TypeError(f"{op}: expected {name} to be a Tensor or an array, got {type(value).__name__}")


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    *,
    num_batches_tracked=None,
):
    """Normalise each channel to zero mean and unit variance, then scale by ``weight`` and shift by ``bias``.

    Same signature and results as ``torch.nn.functional.batch_norm``.

    Args:
        input: (N, C) or (N, C, H, W) float tensor (any (N, C, ...) works; statistics are over
            every axis but C).
        running_mean, running_var: (C,) Tensors or arrays, or both None (no running statistics).
            In training mode they are updated **in place**::

                running_mean = (1 − m) · running_mean + m · batch mean
                running_var  = (1 − m) · running_var  + m · batch var · M / (M − 1)   (unbiased)

            In eval mode (``training=False``) they replace the batch statistics.
        weight, bias: optional (C,) tensors γ and β.
        training: use the batch statistics (and update the running ones).
        momentum: m above. ``None`` means a cumulative moving average, m = 1 / num_batches_tracked,
            which needs ``num_batches_tracked``.
        eps: added to the variance before the square root.
        num_batches_tracked: optional 0-d integer Tensor or array, the module's counter. In
            training mode with running statistics it is incremented in place by 1 **before**
            the update (as ``torch.nn.BatchNorm2d.forward`` does), so a module passes its buffer
            and never increments it itself.

    The normalisation uses the biased batch variance (divide by M = N·H·W), the running variance
    gets the unbiased one (divide by M − 1), as in PyTorch.
    """
    op = "batch_norm"
    check_float(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected an (N, C) or (N, C, H, W) input, got shape {tuple(input.shape)}")
    C = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            check_tensor(op, t, name)
            if t.shape != (C,):
                raise ValueError(f"{op}: expected {name} of shape ({C},) for {C} features, got {tuple(t.shape)}")
            if t.dtype != input.dtype:
                raise TypeError(f"{op}: expected {name} of the input's dtype {input.dtype.name}, got {t.dtype.name}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: expected running_mean and running_var both given or both None")
    if running_mean is not None:
        running_mean, running_var = _raw(op, running_mean, "running_mean"), _raw(op, running_var, "running_var")
        for name, a in (("running_mean", running_mean), ("running_var", running_var)):
            if tuple(a.shape) != (C,):
                raise ValueError(f"{op}: expected {name} of shape ({C},) for {C} features, got {tuple(a.shape)}")
            if device_of(a) != input.device:  # updated in place: never a silent copy to another device
                raise ValueError(f"{op}: input is on {input.device} but {name} is on {device_of(a)}")
    if momentum is not None and not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{op}: expected momentum in [0, 1] or None, got {momentum!r}")
    if eps <= 0:
        raise ValueError(f"{op}: expected a positive eps, got {eps!r}")

    m = None  # the weight of this batch in the running averages
    if C == 0 and (weight is not None or bias is not None):  # PyTorch 2.13 raises IndexError there too
        raise ValueError(f"{op}: expected at least one channel when weight or bias is given, got input shape "
                         f"{tuple(input.shape)}")
    if training:
        if input.shape[0] * math.prod(input.shape[2:]) == 1:  # as PyTorch: C = 0 included, empty inputs pass
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got input shape {tuple(input.shape)}")
        if running_mean is not None:
            m = _update_factor(op, momentum, num_batches_tracked)
    elif not training and running_mean is None:
        raise ValueError(f"{op}: eval mode (training=False) needs running_mean and running_var, got None")
    return BatchNormFn.apply(input, weight, bias, running_mean=running_mean, running_var=running_var, momentum=m,
                             eps=eps, training=training)


def _update_running(running_mean, running_var, mean, var, m, M):
    """The running averages, in place: the batch's mean, and its variance made unbiased (· M / (M − 1))."""
    running_mean *= 1 - m
    running_mean += (m * mean).astype(running_mean.dtype, copy=False)
    running_var *= 1 - m
    running_var += ((m * M / (M - 1)) * var).astype(running_var.dtype, copy=False)  # unbiased


def _update_factor(op, momentum, num_batches_tracked):
    """The running-average weight of this batch: momentum, or 1/count for the cumulative average."""
    if num_batches_tracked is not None:
        count = _raw(op, num_batches_tracked, "num_batches_tracked")
        count += 1
    if momentum is not None:
        return momentum
    if num_batches_tracked is None:
        raise ValueError(f"{op}: momentum=None (cumulative average) needs num_batches_tracked, got None")
    return 1.0 / float(count)


__all__ = ["BatchNormFn", "batch_norm"]
