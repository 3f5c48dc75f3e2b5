"""Stochastic gradient descent (``torch.optim.SGD``), with PyTorch's update formula exactly."""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer

_BLOCK = 2**18  # values per block of _add_scaled: a 1 MiB float32 temporary


def _add_scaled(out, scale, g) -> None:
    """``out += scale · g`` in place, the same numbers as that one line. On the CPU, in blocks of
    ``_BLOCK`` values when both arrays are contiguous, so that the temporary ``scale · g`` is a small
    buffer reused from block to block: one the size of a large weight is fresh memory every step,
    and its page faults cost more than the update (VGG's 4096×6272 weight; the figures are in
    ``benchmarks/RESULTS.md``)."""
    if not (backend.device_of(out) == "cpu" and out.size > _BLOCK and out.flags.c_contiguous
            and g.flags.c_contiguous and g.shape == out.shape):
        out += scale * g
        return
    out_flat, g_flat = out.reshape(-1), g.reshape(-1)  # views, since both are contiguous
    for start in range(0, out_flat.size, _BLOCK):
        out_flat[start : start + _BLOCK] += scale * g_flat[start : start + _BLOCK]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (``torch.optim.SGD``).

    With g the gradient (−g with ``maximize``), λ weight_decay, μ momentum, τ dampening::

        g ← g + λ·p
        b ← g                        (first step)
        b ← μ·b + (1 − τ)·g          (later steps)
        g ← g + μ·b  (nesterov)  or  g ← b
        p ← p − lr·g

    Each ← on g makes a new array: ``p.grad`` is left as it was. ``foreach``, ``differentiable`` and
    ``fused`` are PyTorch's implementation switches, accepted at their defaults.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate: {lr} (expected lr >= 0)")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum value: {momentum} (expected momentum >= 0)")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay value: {weight_decay} (expected weight_decay >= 0)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum and zero dampening, "
                             f"got momentum={momentum} and dampening={dampening}")
        self._check_unsupported("SGD", differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _step(self):
        for group in self.param_groups:
            lr, mu, tau, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                if group["maximize"]:
                    g = -g
                if wd != 0:
                    g = g + wd * p.array
                if mu != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.copy()
                    else:
                        buf *= mu
                        _add_scaled(buf, 1 - tau, g)
                    g = g + mu * buf if group["nesterov"] else buf
                _add_scaled(p.array, -lr, g)


__all__ = ["SGD"]
