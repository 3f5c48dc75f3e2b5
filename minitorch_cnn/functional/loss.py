"""Losses: ``cross_entropy``, ``nll_loss`` and ``mse_loss``, with PyTorch's arguments and semantics.

Shapes, as PyTorch: the classes are axis 1 of ``input`` (N, C) or (N, C, d1, ...), or axis 0 of one
unbatched row (C,). Class-index targets are int64 (PyTorch's Long; uint8 "Byte" is accepted too)
of shape (N,) or (N, d1, ...), or 0-d for one row; probability targets (cross_entropy only) are
floats of the input's shape. Inside the ops every row (n, d1, ...) becomes one row of a (M, C)
matrix, M = N·d1·..., and ``reduction`` is ``"none"`` (a loss per row, in the target's shape),
``"sum"`` or ``"mean"``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import Function
from ..backend import to_numpy, xp_of
from ._util import check_float, check_tensor

REDUCTIONS = ("mean", "sum", "none")


def _rows(a):
    """(N, C, d1, ...) -> (M, C): the class axis last, every other axis flattened into rows; (C,) -> (1, C)."""
    if a.ndim == 1:
        return a.reshape(1, -1)
    rows = a.shape[0] * math.prod(a.shape[2:])  # not -1: it cannot be inferred when C = 0
    return xp_of(a).moveaxis(a, 1, -1).reshape(rows, a.shape[1])


def _unrows(d, shape):
    """The inverse of ``_rows``: (M, C) back to ``shape`` (N, C, d1, ...)."""
    xp = xp_of(d)
    return xp.moveaxis(d.reshape(shape[0], *shape[2:], shape[1]), -1, 1)


def _log_softmax(z):
    """log softmax of each row of z (M, C), from the row's max (every exponent <= 0)."""
    xp = xp_of(z)
    if z.shape[1] == 0:  # no classes: empty rows, and no max to take
        return z
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _reduce(xp, losses, divisor, reduction, shape):
    """``losses`` (M,) -> the loss: reshaped to the target's ``shape``, summed, or summed / divisor."""
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum()
    with np.errstate(invalid="ignore"):  # 0 / 0 = NaN without a warning (every row ignored), as PyTorch
        return total if reduction == "sum" else total / divisor


def _pick(w, labels):
    """w[labels], the weight of each row's class; zeros when there are no classes (every row is then ignored)."""
    return w[labels] if w.shape[0] else xp_of(w).zeros(labels.shape, w.dtype)


def _over(xp, g, divisor):
    """g / divisor, and 0 when the divisor is 0 (every row ignored: no row has a gradient)."""
    return g / xp.where(divisor == 0, 1, divisor) * (divisor != 0)


class CrossEntropyFn(Function):
    """loss_m = −Σ_c a[m, c] · log p[m, c], p = softmax(z_m), z (M, C), a the weight of each class's log-probability.

    With class weights w (C,) (all 1 when absent) and label smoothing ε:

    * class indices y_m: a[m, c] = (1 − ε) · w[y_m] · [c = y_m] + (ε / C) · w[c], and a[m] = 0 for a row
      whose y_m is ``ignore_index``; "mean" divides the sum by D = Σ_m w[y_m] over the rows kept
      (``row_weight`` = w[y_m], ``smooth`` = ε/C · w or None when ε = 0). With C = 0 classes every row
      must be ignored, and with ε > 0 the loss is NaN, as PyTorch's smoothing term 0 · ε/C = 0 · inf;
    * probabilities q (M, C): a[m, c] = w[c] · ((1 − ε) · q[m, c] + ε / C) (``probs``); "mean" divides by
      D = M (PyTorch's numel / C, so NaN when C = 0).

    Backward: ∂loss_m/∂z[m, c] = (Σ_c' a[m, c']) · p[m, c] − a[m, c] (the derivative of log p[m, c']
    is [c = c'] − p[m, c]), times the upstream gradient of loss_m (g / D for "mean"; rows of
    ``ignore_index`` get exactly 0, even when D = 0, w[y] = inf or the upstream gradient is NaN, as PyTorch;
    with ε > 0 they keep a = 0 · w, so NaN from an inf weight, as PyTorch's smoothing term).
    The target gets no gradient.
    """

    @staticmethod
    def forward(ctx, z, *, reduction, shape, labels=None, probs=None, row_weight=None, smooth=None, eps=0.0, kept=None):
        xp = xp_of(z)
        log_p = _log_softmax(z)  # (M, C)
        if probs is not None:
            losses, divisor = -(log_p * probs).sum(axis=1), z.shape[0] if z.shape[1] else math.nan
        else:  # the target's term, then the smoothing term apart, as PyTorch (no 0 · log p terms when ε = 0)
            picked = log_p[xp.arange(z.shape[0]), labels] if z.shape[1] else xp.zeros(z.shape[0], z.dtype)  # C = 0: all ignored
            losses = -(1 - eps) * row_weight * picked  # (M,)
            if smooth is not None:
                losses = losses - (log_p * smooth).sum(axis=1)
            losses = xp.where(kept, losses, 0)
            divisor = xp.where(kept, row_weight, 0).sum()
        ctx.save_for_backward(log_p)
        ctx.labels = labels
        ctx.probs, ctx.row_weight, ctx.smooth, ctx.eps, ctx.kept = probs, row_weight, smooth, eps, kept
        ctx.reduction, ctx.divisor = reduction, divisor
        out = _reduce(xp, losses, divisor, reduction, shape)
        return out + math.nan if smooth is not None and z.shape[1] == 0 else out  # PyTorch's 0 · ε/C = 0 · inf

    @staticmethod
    def backward(ctx, g):
        (log_p,), labels = ctx.saved_tensors, ctx.labels
        xp = xp_of(log_p)
        if ctx.probs is not None:
            a = ctx.probs
        else:  # a = (1 − ε)·w[y]·onehot(y) + ε/C·w (ignored rows are zeroed at the end)
            a = xp.zeros_like(log_p) if ctx.smooth is None else xp.broadcast_to(ctx.smooth, log_p.shape).copy()
            if a.shape[1]:  # with no classes every row is ignored
                a[xp.arange(a.shape[0]), labels] += (1 - ctx.eps) * ctx.row_weight
            if ctx.smooth is not None:  # PyTorch's smoothing term: 0 · (an inf weight) stays NaN there
                a *= ctx.kept[:, None]
        dz = a.sum(axis=1, keepdims=True) * xp.exp(log_p) - a  # (M, C)
        if ctx.reduction == "none":
            dz = dz * g.reshape(-1, 1)
        else:
            if ctx.reduction == "mean":
                g = g / ctx.divisor if ctx.probs is not None else _over(xp, g, ctx.divisor)
            dz = dz * g
        # an ignored row gets exactly 0, as PyTorch, even from an inf weight or a NaN upstream gradient
        return (dz if ctx.kept is None or ctx.smooth is not None else xp.where(ctx.kept[:, None], dz, 0),)


class NllLossFn(Function):
    """loss_m = −w[y_m] · x[m, y_m] for log-probabilities x (M, C); 0 for a row whose y_m is ``ignore_index``.

    "mean" divides the sum by D = Σ_m w[y_m] over the rows kept. Backward: dx[m, y_m] = −w[y_m]
    times the upstream gradient of loss_m (g / D for "mean"), 0 everywhere else.
    """

    @staticmethod
    def forward(ctx, x, *, target, row_weight, kept, reduction, shape):
        xp = xp_of(x)
        picked = x[xp.arange(x.shape[0]), target] if x.shape[1] else xp.zeros(x.shape[0], x.dtype)  # C = 0: all ignored
        losses = xp.where(kept, -(row_weight * picked), 0)  # +0 on ignored rows, as PyTorch
        divisor = xp.where(kept, row_weight, 0).sum()
        ctx.target = target
        ctx.x_shape, ctx.dtype, ctx.row_weight, ctx.kept = x.shape, x.dtype, row_weight, kept
        ctx.reduction, ctx.divisor = reduction, divisor
        return _reduce(xp, losses, divisor, reduction, shape)

    @staticmethod
    def backward(ctx, g):
        target = ctx.target
        xp = xp_of(target)
        g = g.reshape(-1) if ctx.reduction == "none" else g
        if ctx.reduction == "mean":
            g = _over(xp, g, ctx.divisor)
        dx = xp.zeros(ctx.x_shape, dtype=ctx.dtype)
        if ctx.x_shape[1]:  # with no classes there is nothing to write (every row is ignored)
            dx[xp.arange(ctx.x_shape[0]), target] = -xp.where(ctx.kept, ctx.row_weight * g, 0)
        return (dx,)


# ---------------------------------------------------------------- argument checks
def _check_common(op, input, target, weight, reduction):
    check_float(op, input)
    check_tensor(op, target, "target")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if input.ndim < 1:
        raise ValueError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    if target.device != input.device:
        raise ValueError(f"{op}: input is on {input.device} but target is on {target.device}")
    C = input.shape[0 if input.ndim == 1 else 1]
    if weight is not None:
        check_tensor(op, weight, "weight")
        if weight.shape != (C,):
            raise ValueError(f"{op}: expected weight of shape ({C},), one per class, got {tuple(weight.shape)}")
        if weight.dtype != input.dtype:
            raise TypeError(f"{op}: expected weight of the input's dtype {input.dtype.name}, got {weight.dtype.name}")
        if weight.device != input.device:
            raise ValueError(f"{op}: input is on {input.device} but weight is on {weight.device}")
    return C


def _class_targets(op, input, target, C, ignore_index):
    """Check int64 (or uint8) class indices of the input's shape without its class axis; return
    ``(labels (M,), kept (M,) bool, shape of a per-row loss)``."""
    if target.dtype.kind not in "iu" or target.dtype.itemsize != 8 and target.dtype.name != "uint8":
        raise TypeError(f"{op}: expected class indices of dtype int64 (Long) or uint8 (Byte) as target, "
                        f"got dtype {target.dtype.name}")
    want = () if input.ndim == 1 else (int(input.shape[0]), *map(int, input.shape[2:]))
    if target.shape != want:
        raise ValueError(f"{op}: expected target of shape {want} for input of shape {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")
    if C == 0 and (input.ndim == 3 or input.ndim > 4) and math.prod(want) > 0:
        # PyTorch views such an input as (N, 0, 1, -1), where -1 becomes 0 and no longer matches the target
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has 0 classes but {math.prod(want)} target "
                         "positions (PyTorch refuses 0 classes for 3-d and 5-d or larger inputs)")
    xp = xp_of(target.array)
    t = target.array.reshape(-1).astype(xp.int64)
    kept = t != ignore_index
    bad = to_numpy(t[kept & ((t < 0) | (t >= C))])  # the labels out of range, ignored rows left out (one sync)
    if bad.size:
        raise ValueError(f"{op}: target label {int(bad[0])} is out of range for {C} classes [0, {C - 1}]")
    return xp.where(kept, t, 0), kept, want


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` against class indices or class probabilities, as
    ``torch.nn.functional.cross_entropy``.

    Args:
        input: logits (N, C), (N, C, d1, ...) or one row (C,); float32 or float64.
        target: int64 class indices (N,) / (N, d1, ...) / 0-d (uint8 accepted, as PyTorch), or class
            probabilities of the input's shape (floats).
        weight: optional (C,) weight per class.
        size_average, reduce: PyTorch's deprecated arguments; only None is accepted.
        ignore_index: rows with this class index count for nothing (class-index targets only).
        reduction: "mean" (weighted mean, see ``CrossEntropyFn``), "sum" or "none".
        label_smoothing: ε in [0, 1]: the target becomes (1 − ε)·target + ε/C on every class.

    The loss and its gradient are written out in ``CrossEntropyFn``.
    """
    op = "cross_entropy"
    C = _check_common(op, input, target, weight, reduction)
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated; use reduction=, got "
                         f"size_average={size_average!r}, reduce={reduce!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing!r}")
    w = xp_of(input.array).ones(C, dtype=input.dtype) if weight is None else weight.array
    eps = float(label_smoothing)
    rows = input if input.ndim == 2 else _RowsFn.apply(input)  # (M, C); (N, C) already is
    if target.dtype.kind == "f" and target.shape == input.shape:  # class probabilities (else: indices, as PyTorch)
        if ignore_index != -100:
            raise ValueError(f"{op}: ignore_index is not supported for probability targets, got {ignore_index}")
        q = _rows(target.array).astype(input.dtype, copy=False)
        shape = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
        return CrossEntropyFn.apply(rows, reduction=reduction, shape=shape, probs=w * ((1 - eps) * q + eps / max(C, 1)))
    labels, kept, shape = _class_targets(op, input, target, C, ignore_index)
    return CrossEntropyFn.apply(rows, labels=labels, reduction=reduction, shape=shape, row_weight=_pick(w, labels),
                                smooth=w * (eps / max(C, 1)) if eps > 0 else None, eps=eps, kept=kept)


class _RowsFn(Function):
    """x (N, C, d1, ...) or (C,) -> rows (M, C), the class axis last.   dx = the rows' gradient put back."""

    @staticmethod
    def forward(ctx, x):
        ctx.x_shape = x.shape
        return _rows(x)

    @staticmethod
    def backward(ctx, g):
        shape = ctx.x_shape
        return (g.reshape(shape) if len(shape) == 1 else _unrows(g, shape),)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input``, as ``torch.nn.functional.nll_loss``.

    loss_m = −w[y_m] · input[m, y_m] per row (``NllLossFn``), with the arguments of ``cross_entropy``
    for class-index targets: ``nll_loss(log_softmax(z, 1), y) == cross_entropy(z, y)``.
    """
    op = "nll_loss"
    C = _check_common(op, input, target, weight, reduction)
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated; use reduction=, got "
                         f"size_average={size_average!r}, reduce={reduce!r}")
    labels, kept, shape = _class_targets(op, input, target, C, ignore_index)
    w = xp_of(input.array).ones(C, dtype=input.dtype) if weight is None else weight.array
    rows = input if input.ndim == 2 else _RowsFn.apply(input)
    return NllLossFn.apply(rows, target=labels, row_weight=_pick(w, labels), kept=kept,
                           reduction=reduction, shape=shape)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or summed) squared error reduce((input − target)²), as ``torch.nn.functional.mse_loss``.

    Shapes that differ are broadcast against each other, with PyTorch's UserWarning (it is usually
    a mistake, e.g. (N, 1) against (N,)). The gradient flows through the tensor ops: d/d input =
    2·(input − target) (/ the element count for "mean"), summed back over broadcast axes, and its
    negative for the target.
    """
    op = "mse_loss"
    check_float(op, input)
    check_tensor(op, target, "target")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated; use reduction=, got "
                         f"size_average={size_average!r}, reduce={reduce!r}")
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size ({tuple(input.shape)}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            UserWarning, stacklevel=2,
        )
    sq = (input - target) ** 2
    return sq if reduction == "none" else (sq.sum() if reduction == "sum" else sq.mean())
