"""Batch normalization's passes over memory, per channel (``functional/normalization.py`` has the op).

With x (N, C, ...) seen as (N, C, L), a channel's M = N·L values, x̂ = (x − μ)·s with s = 1/√(σ² + ε)::

    channel_mean_var:    μ = Σ x / M,   σ² = Σ (x − μ)² / M                (biased; float64 sums)
    normalize:           x̂ = (x − μ) · s,   y = γ · x̂ + β
    batch_norm_backward: dβ = Σ g,  dγ = Σ g · x̂,
                         dx = γ · s · (g − dβ / M − x̂ · dγ / M)   (training: through μ and σ²)
                         dx = γ · s · g                            (eval: μ, σ² are constants)

Precision: every line works in float64 and rounds its results once to x's dtype. The statistics
are float64 (C,) arrays, and so is s: a float32 μ would be off by up to half an ulp of μ, which is
a large part of x − μ when the channel's spread is small beside its mean (values near 2.5 spread by
1e-3: x̂ off by 1%). x − μ and γ·s·(...) in float64 also stay finite near float32's largest
numbers, where PyTorch (computing y = x·(γs) + (β − μγs)) stays finite too. y's ``+ β`` is
``+ 0`` without a bias, so an x̂ of −0 gives +0, as PyTorch's y.

NumPy writes these as one pass per operation, with a temporary array each: about ten passes over
the activations in the forward and as many in the backward, where each element needs a few
arithmetic operations, all on one core. The numba loops make ``channel_mean_var`` two passes that
only read x (its sum, then the squares about μ), ``normalize`` one and ``batch_norm_backward`` two
(its sums, then dx), ``prange`` over channels: channel c writes only its own values, so the
results do not depend on the thread count. Their float64 arithmetic happens in registers (the
loops are limited by memory, not by the arithmetic); the generic path's temporaries are float64
arrays. The statistics' and the backward's loops are compiled with
``reassociate=True`` (``kernels/_jit.py``): the compiler splits each sum into several vector
lanes, the same way on every run and thread count. In source order, each float64 addition waiting
for the previous one, the statistics ran slower than NumPy's pairwise float32 sums and the
backward's sums took longer than its dx pass (ResNet-18's batch-norm layers; the figures are in
``benchmarks/RESULTS.md``). The generic path (NumPy or CuPy, ``MINITORCH_CNN_KERNELS=generic``) is the NumPy
writing of the same lines. The numba path takes
C-contiguous NumPy arrays of at least ``SMALL`` elements; the others take the generic one.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import use_numba, xp_of

from ._jit import compile_loops

SMALL = 1 << 15  # elements; below this the generic path is used (starting threads costs more)


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))  # every axis but the channels


def _shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)  # (C,) -> (1, C, 1, 1) for NCHW, (1, C) for (N, C)


def _fused(x) -> bool:
    return use_numba(x) and x.size >= SMALL and x.flags.c_contiguous


def _ncl(x):
    return x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, L), a view of a contiguous array


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def channel_mean_var_generic(x):
    axes, f64 = _axes(x), np.float64  # float64 sums (module doc)
    if not isinstance(x, np.ndarray):  # CuPy's var takes no mean
        return x.mean(axis=axes, dtype=f64), x.var(axis=axes, dtype=f64)
    mean = x.mean(axis=axes, dtype=f64, keepdims=True)
    return mean.reshape(-1), x.var(axis=axes, dtype=f64, mean=mean)  # the squares about μ: no cancellation


def normalize_generic(x, mean, inv_std, weight, bias):
    shape, f64 = _shape(x), np.float64
    y = (x - mean.astype(f64).reshape(shape)) * inv_std.astype(f64).reshape(shape)  # x̂, in float64
    x_hat = y.astype(x.dtype)  # a copy: y is updated in place below
    if weight is not None:
        y *= weight.reshape(shape)
    y += 0.0 if bias is None else bias.reshape(shape)  # + 0: a −0 becomes +0, as in PyTorch
    return x_hat, y.astype(x.dtype, copy=False)


def batch_norm_backward_generic(g, x_hat, inv_std, weight, training):
    axes, shape, f64 = _axes(g), _shape(g), np.float64
    dweight, dbias = (g * x_hat).sum(axis=axes, dtype=f64), g.sum(axis=axes, dtype=f64)  # dγ, dβ (C,)
    k = inv_std.astype(f64) if weight is None else inv_std.astype(f64) * weight  # γ·s (C,), float64
    if training:  # μ and σ² were computed from x in forward: differentiate through them
        M = g.size // g.shape[1]
        dx = g - (dbias / M).reshape(shape) - x_hat * (dweight / M).reshape(shape)  # float64
    else:
        dx = g.astype(f64)
    dx *= k.reshape(shape)
    dt = g.dtype
    return dx.astype(dt, copy=False), dweight.astype(dt), dbias.astype(dt)


# ---------------------------------------------------------------- numba path (NumPy, CPU)
def channel_mean_var_loops(x, mean, var):
    """``mean[c] = Σ x / M`` and ``var[c] = Σ (x − μ)² / M`` over ``(N, C, L)``, float64 sums, two passes."""
    N, C, L = x.shape
    M = N * L
    for c in prange(C):
        total = np.float64(0.0)  # float64 un-jitted too: NumPy keeps 0.0 + a float32 in float32
        for n in range(N):
            for v in range(L):
                total += x[n, c, v]
        mu = total / M
        squares = np.float64(0.0)
        for n in range(N):
            for v in range(L):
                d = x[n, c, v] - mu
                squares += d * d
        mean[c] = mu
        var[c] = squares / M


def normalize_loops(x, mean, inv_std, weight, bias, x_hat, y):
    """``x_hat = (x − μ)·s`` and ``y = γ·x̂ + β`` over ``(N, C, L)`` arrays, one pass; μ and s are
    float64, and so is the arithmetic (each result rounded once when stored)."""
    N, C, L = x.shape
    for c in prange(C):
        mu, s, gamma, beta = mean[c], inv_std[c], np.float64(weight[c]), np.float64(bias[c])
        for n in range(N):
            for v in range(L):
                xh = (x[n, c, v] - mu) * s
                x_hat[n, c, v] = xh
                y[n, c, v] = xh * gamma + beta


def batch_norm_backward_loops(g, x_hat, inv_std, weight, training, dx, dweight, dbias):
    """dx (N, C, L), dγ and dβ (C,) from g and x̂; float64 sums and arithmetic, two passes per channel."""
    N, C, L = g.shape
    M = N * L
    for c in prange(C):
        sum_g, sum_gx = 0.0, 0.0
        for n in range(N):
            for v in range(L):
                sum_g += g[n, c, v]
                sum_gx += g[n, c, v] * x_hat[n, c, v]
        dbias[c] = sum_g
        dweight[c] = sum_gx
        k = np.float64(weight[c]) * inv_std[c]  # γ·s, float64 (inv_std is)
        a = sum_g / M if training else 0.0
        b = sum_gx / M if training else 0.0
        for n in range(N):
            for v in range(L):
                dx[n, c, v] = k * (g[n, c, v] - a - x_hat[n, c, v] * b)


_mean_var_jit = compile_loops(channel_mean_var_loops, reassociate=True)
_normalize_jit = compile_loops(normalize_loops)
_backward_jit = compile_loops(batch_norm_backward_loops, reassociate=True)


# ---------------------------------------------------------------- dispatch
def channel_mean_var(x):
    """μ and the biased σ² of each channel of ``x (N, C, ...)``, two float64 (C,) arrays: the
    loops' sums where they apply (``_fused``), else NumPy's pairwise ones (the generic path)."""
    if not _fused(x):
        return channel_mean_var_generic(x)
    C = x.shape[1]
    mean, var = np.empty(C, dtype=np.float64), np.empty(C, dtype=np.float64)
    _mean_var_jit(_ncl(x), mean, var)
    return mean, var


def normalize(x, mean, inv_std, weight, bias, alpha_form=True):
    """``(x̂, y)``: x̂ = (x − μ)·s and y = γ·x̂ + β per channel (γ, β may be None), arrays of x's dtype;
    μ and s (C,) of any float dtype (float64 from ``channel_mean_var``). ``alpha_form``: where a
    channel's numbers are not finite, y is PyTorch's x·α + β of a contiguous input
    (``_alpha_form_where_not_finite``); False keeps γ·x̂ + β, PyTorch's form for a strided input."""
    if not _fused(x):
        x_hat, y = normalize_generic(x, mean, inv_std, weight, bias)
    else:
        C, dt = x.shape[1], x.dtype
        w = np.ones(C, dtype=dt) if weight is None else weight.astype(dt)
        b = np.zeros(C, dtype=dt) if bias is None else bias.astype(dt)
        x_hat, y = np.empty_like(x), np.empty_like(x)
        _normalize_jit(_ncl(x), mean.astype(np.float64), inv_std.astype(np.float64), w, b, _ncl(x_hat), _ncl(y))
    if alpha_form:
        _alpha_form_where_not_finite(x, y, mean, inv_std, weight, bias)
    return x_hat, y


def _alpha_form_where_not_finite(x, y, mean, inv_std, weight, bias):
    """Rewrite, in place, the channels of ``y`` whose α or β is not finite (an inf or NaN statistic,
    weight or bias) with PyTorch's y = x·α + β, α = γ·s, β = b − μ·α (its kernel for contiguous
    inputs): the same numbers as γ·x̂ + β where both are finite, but its own NaN (0·inf, inf − inf)
    and infinities where they are not. The common case costs two checks of (C,) arrays; only the
    channels found are computed again."""
    xp = xp_of(x)
    alpha = inv_std.astype(np.float64) * (1.0 if weight is None else weight)  # (C,)
    with np.errstate(invalid="ignore", over="ignore"):
        beta = (0.0 if bias is None else bias) - mean.astype(np.float64) * alpha
    bad = ~(xp.isfinite(alpha) & xp.isfinite(beta))
    if not bad.any():
        return
    c = xp.nonzero(bad)[0]
    shape = _shape(x)
    with np.errstate(invalid="ignore", over="ignore"):
        y[:, c] = x[:, c] * alpha[c].reshape(shape) + beta[c].reshape(shape)


def batch_norm_backward(g, x_hat, inv_std, weight, training):
    """``(dx, dγ, dβ)`` of batch norm given g = dL/dy and the saved x̂ and s (γ may be None)."""
    if not (_fused(g) and _fused(x_hat) and g.dtype == x_hat.dtype):
        return batch_norm_backward_generic(g, x_hat, inv_std, weight, training)
    C, dt = g.shape[1], g.dtype
    weight = np.ones(C, dtype=dt) if weight is None else weight
    dx = np.empty_like(g)
    dweight, dbias = np.empty(C, dtype=np.float64), np.empty(C, dtype=np.float64)
    _backward_jit(_ncl(g), _ncl(x_hat), inv_std.astype(np.float64), weight.astype(dt), bool(training), _ncl(dx),
                  dweight, dbias)
    return dx, dweight.astype(dt), dbias.astype(dt)


__all__ = [
    "SMALL",
    "batch_norm_backward",
    "batch_norm_backward_generic",
    "batch_norm_backward_loops",
    "channel_mean_var",
    "channel_mean_var_generic",
    "channel_mean_var_loops",
    "normalize",
    "normalize_generic",
    "normalize_loops",
]
