"""Optimizers, as ``torch.optim``: ``SGD`` and ``Adam``, with PyTorch's update formulas exactly.

An optimizer holds ``param_groups`` (a list of dicts: ``{"params": [...], "lr": ..., ...}``) and
per-parameter ``state``. ``step()`` updates each parameter's array in place (``p.array``), outside
any graph, in the parameter's dtype; parameters whose ``grad`` is None are skipped.

``state_dict()`` has PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{..., "params":
[indices]}]}``, parameters numbered across groups in order. State values are host NumPy arrays or
plain Python numbers, so a checkpoint can store them as arrays + JSON (no pickle).
"""

from __future__ import annotations

import copy

from . import backend
from .tensor import Tensor


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict``."""

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict = {}  # Parameter -> dict of state
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, got a single Tensor"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        if not isinstance(group, dict):
            raise TypeError(f"{type(self).__name__}: a param group must be a dict, got {type(group).__name__}")
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    def _params_with_grad(self, group):
        for p in group["params"]:
            if p.grad is not None:
                self._state_to_device(p)
                yield p, p.grad.array

    def _state_to_device(self, p):
        """Move ``p``'s state arrays to ``p``'s device (the module may have moved since the last step)."""
        state = self.state.get(p)
        if state:
            for k, v in state.items():
                if backend.is_array(v) and backend.device_of(v) != p.device:
                    state[k] = backend.to_device(v, p.device)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from .autograd import enable_grad  # noqa: PLC0415

            with enable_grad():
                loss = closure()
        self._step()
        return loss

    def _step(self):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        index, groups, start = {}, [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(group["params"])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (backend.to_numpy(v).copy() if backend.is_array(v) else v) for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": copy.deepcopy(groups)}

    def load_state_dict(self, state_dict: dict) -> None:
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has {len(groups)}"
            )
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {i} has {len(sg['params'])} parameters, "
                    f"this optimizer's has {len(g['params'])}"
                )
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            id_map.update(zip(sg["params"], g["params"]))
        self.state = {}
        for key, values in state_dict["state"].items():
            p = id_map.get(int(key))
            if p is None:
                raise ValueError(f"loaded state dict refers to parameter {key}, which this optimizer does not have")
            entry = {}
            for k, v in values.items():
                if backend.is_array(v) or hasattr(v, "__array__"):
                    xp = backend.xp_of(p.array)
                    v = xp.asarray(backend.to_device(backend.to_numpy(v), p.device)).astype(p.dtype, copy=True)
                    if k != "step" and tuple(v.shape) != p.shape:
                        raise ValueError(
                            f"loaded state {k!r} of parameter {key} has shape {tuple(v.shape)}, the parameter {p.shape}"
                        )
                    if k == "step":
                        v = float(v)
                entry[k] = v
            self.state[p] = entry
        for g, sg in zip(groups, saved_groups):
            g.update({k: v for k, v in sg.items() if k != "params"})

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


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

    With g the gradient, λ weight_decay, μ momentum, τ dampening::

        g ← g + λ·p
        b ← g                        (first step)
        b ← μ·b + (1 − τ)·g          (later steps)
        g ← g + μ·b  (nesterov)  or  g ← b
        p ← p − lr·g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate {lr}")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum {momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
            maximize=maximize,
        )
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


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with optional L2 weight decay and AMSGrad.

    With t the step count::

        g ← g + λ·p
        m ← m + (1 − β1)·(g − m)           v ← β2·v + (1 − β2)·g²
        v̂max ← max(v̂max, v)  (amsgrad; used instead of v below)
        p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False):
        if lr < 0:
            raise ValueError(f"Adam: invalid learning rate {lr}")
        if eps < 0:
            raise ValueError(f"Adam: invalid epsilon {eps}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Adam: invalid betas {betas}")
        if weight_decay < 0:
            raise ValueError(f"Adam: invalid weight_decay {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
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
                    g = g + wd * p.array
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m += (1 - beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
                v *= beta2
                v += (1 - beta2) * (g * g)
                bias_correction1 = 1 - beta1**step
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                step_size = lr / bias_correction1
                if group["amsgrad"]:
                    vmax = state["max_exp_avg_sq"]
                    xp.maximum(vmax, v, out=vmax)
                    denom = xp.sqrt(vmax) / bias_correction2_sqrt + eps
                else:
                    denom = xp.sqrt(v) / bias_correction2_sqrt + eps
                p.array -= step_size * (m / denom)


__all__ = ["SGD", "Adam", "Optimizer"]
