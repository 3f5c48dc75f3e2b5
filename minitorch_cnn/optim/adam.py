"""Adam and AdamW (``torch.optim.Adam`` / ``torch.optim.AdamW``), with PyTorch's update formulas exactly."""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with optional weight decay (L2, or decoupled as AdamW), AMSGrad, maximize.

    With g the gradient (−g with ``maximize``), t the step count, λ weight_decay::

        g ← g + λ·p                        (L2 weight decay)    or   p ← p·(1 − lr·λ)   (decoupled)
        m ← m + (1 − β1)·(g − m)           v ← β2·v + (1 − β2)·g²
        v̂max ← max(v̂max, v)  (amsgrad; used instead of v below)
        p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)

    m moves toward g as PyTorch's ``lerp`` does: ``m + w·(g − m)`` for a weight w = 1 − β1 below ½,
    ``g − (1 − w)·(g − m)`` otherwise. ``p.grad`` is only read. ``foreach``, ``capturable``,
    ``differentiable`` and ``fused`` are PyTorch's implementation switches, accepted at their defaults.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        name = type(self).__name__
        if lr < 0:
            raise ValueError(f"{name}: invalid learning rate: {lr} (expected lr >= 0)")
        if eps < 0:
            raise ValueError(f"{name}: invalid epsilon value: {eps} (expected eps >= 0)")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {beta} (expected betas "
                                 f"in [0, 1)), got betas={tuple(betas)}")
        if weight_decay < 0:
            raise ValueError(f"{name}: invalid weight_decay value: {weight_decay} (expected weight_decay >= 0)")
        self._check_unsupported(name, capturable=capturable, differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                xp = backend.xp_of(p.array)
                if group["maximize"]:
                    g = -g
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0.0
                    state["exp_avg"] = xp.zeros_like(p.array)
                    state["exp_avg_sq"] = xp.zeros_like(p.array)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = xp.zeros_like(p.array)
                state["step"] += 1
                step = state["step"]
                if wd != 0:
                    if group.get("decoupled_weight_decay", False):
                        p.array *= 1 - lr * wd
                    else:
                        g = g + wd * p.array
                m, v = state["exp_avg"], state["exp_avg_sq"]
                w = 1 - beta1
                if w < 0.5:
                    m += w * (g - m)
                else:
                    m[...] = g - (g - m) * (1 - w)
                v *= beta2
                v += (1 - beta2) * g * g
                bias_correction1 = 1 - beta1**step
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                step_size = lr / bias_correction1
                if group["amsgrad"]:
                    vmax = state["max_exp_avg_sq"]
                    xp.maximum(vmax, v, out=vmax)
                    denom = xp.sqrt(vmax) / bias_correction2_sqrt + eps
                else:
                    denom = xp.sqrt(v) / bias_correction2_sqrt + eps
                p.array -= step_size * m / denom


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay ``p ← p·(1 − lr·λ)``, λ = 0.01 by default."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


__all__ = ["Adam", "AdamW"]
