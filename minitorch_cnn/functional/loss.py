"""Losses: ``cross_entropy`` (integer class targets) and ``mse_loss``."""

from __future__ import annotations

from ..autograd import Function
from ..backend import to_numpy, xp_of
from ..tensor import Tensor
from ._util import check_float, check_ndim, check_tensor

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropyFn(Function):
    """loss_i = −log softmax(z_i)[y_i] = logΣexp(z_i) − z_i[y_i], z (N, K), y (N,) integers.

    dz_i = softmax(z_i) − onehot(y_i), times the upstream gradient of loss_i
    (divided by N for reduction="mean").
    """

    @staticmethod
    def forward(ctx, z, *, target, reduction):
        xp = xp_of(z)
        shifted = z - z.max(axis=1, keepdims=True)  # (N, K), every exponent <= 0
        log_sum = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1)
        log_p = shifted - log_sum  # (N, K) log-probabilities
        rows = xp.arange(z.shape[0])
        losses = -log_p[rows, target]  # (N,)
        ctx.save_for_backward(log_p, target)
        ctx.reduction = reduction
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.mean()

    @staticmethod
    def backward(ctx, g):
        log_p, target = ctx.saved_tensors
        xp = xp_of(log_p)
        dz = xp.exp(log_p)  # softmax, (N, K)
        dz[xp.arange(dz.shape[0]), target] -= 1
        if ctx.reduction == "none":
            return (dz * g[:, None],)
        scale = g / dz.shape[0] if ctx.reduction == "mean" else g
        return (dz * scale,)


def _class_targets(op, input, target, reduction):
    """Check logits/log-probabilities (N, K) and integer labels (N,) in [0, K); return the label array."""
    check_float(op, input)
    check_tensor(op, target, "target")
    check_ndim(op, input, 2)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices as target, got dtype {target.dtype}")
    if target.shape != (input.shape[0],):
        raise ValueError(f"{op}: expected target of shape ({input.shape[0]},), got {target.shape}")
    if target.device != input.device:
        raise ValueError(f"{op}: input is on {input.device} but target is on {target.device}")
    t, k = target.array, input.shape[1]
    if t.size:
        lo, hi = (int(v) for v in to_numpy(xp_of(t).stack((t.min(), t.max()))))  # one sync on a GPU
        if lo < 0 or hi >= k:
            raise ValueError(f"{op}: target label {lo if lo < 0 else hi} is out of range for {k} classes [0, {k - 1}]")
    return t


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy of logits ``input`` (N, K) against class indices ``target`` (N,)."""
    t = _class_targets("cross_entropy", input, target, reduction)
    return CrossEntropyFn.apply(input, target=t, reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean (or summed) squared error: reduce((input − target)²)."""
    check_float("mse_loss", input)
    check_tensor("mse_loss", target, "target")
    if reduction not in REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} differs from target shape {target.shape}")
    sq = (input - target) ** 2
    return sq if reduction == "none" else (sq.sum() if reduction == "sum" else sq.mean())


def nll_loss(input, target, reduction="mean"):
    """−input[i, target_i], reduced; ``input`` holds log-probabilities (N, K)."""
    t = _class_targets("nll_loss", input, target, reduction)
    picked = -input[Tensor(xp_of(t).arange(input.shape[0])), Tensor(t)]
    return picked if reduction == "none" else (picked.sum() if reduction == "sum" else picked.mean())
