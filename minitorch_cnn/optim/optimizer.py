"""The base class of the optimizers (``torch.optim.Optimizer``): parameter groups, per-parameter state,
``zero_grad``, ``step(closure)`` and ``state_dict`` / ``load_state_dict``.

An optimizer holds ``param_groups`` (a list of dicts: ``{"params": [...], "lr": ..., ...}``) and
per-parameter ``state``. ``step()`` updates each parameter's array in place (``p.array``), outside
any graph, in the parameter's dtype; parameters whose ``grad`` is None are skipped, and ``p.grad``
itself is only read, never written.

``state_dict()`` has PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{..., "params":
[indices]}]}``, parameters numbered across groups in order. State values are host NumPy arrays or
plain Python numbers, so ``mt.save`` and a checkpoint store them without pickle.
"""

from __future__ import annotations

import copy

from .. import backend
from ..nn.parameter import zero_grads
from ..tensor import Tensor


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
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def _params_with_grad(self, group):
        """(parameter, its gradient's array) for each parameter of ``group`` that has a gradient. The
        array is the gradient itself: an update reads it and never writes into it (``g = g + ...``
        makes a new array, ``g += ...`` would change ``p.grad``)."""
        for p in group["params"]:
            if p.grad is not None:
                self._state_to_device(p)
                yield p, p.grad.array

    @staticmethod
    def _check_unsupported(name: str, **flags) -> None:
        """PyTorch's implementation switches (``foreach``, ``fused``, ...): accepted, one implementation here."""
        for flag, value in flags.items():
            if value:
                raise ValueError(f"{name}: {flag}={value!r} is not supported (a PyTorch implementation switch); "
                                 f"leave it at its default")

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
            from ..autograd import enable_grad  # noqa: PLC0415

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
                            f"loaded state {k!r} of parameter {key} has shape {tuple(v.shape)}, "
                            f"the parameter {tuple(p.shape)}"
                        )
                    if k == "step":
                        v = float(v)
                entry[k] = v
            self.state[p] = entry
        for g, sg in zip(groups, saved_groups):
            g.update({k: v for k, v in sg.items() if k != "params"})

    def __repr__(self):  # as PyTorch's: the groups' settings, sorted, a blank line between groups
        groups = [f"Parameter Group {i}\n" + "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
                  for i, group in enumerate(self.param_groups)]
        return f"{type(self).__name__} (\n" + "\n".join(groups) + ")"


__all__ = ["Optimizer"]
