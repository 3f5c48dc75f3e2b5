"""``Module`` and ``Parameter``: the bookkeeping that turns functions into layers.

A ``Module`` keeps three ordered registries, filled by plain attribute assignment
(``self.conv1 = Conv2d(...)``):

- ``_parameters``: ``Parameter`` objects (trainable tensors);
- ``_buffers``: tensors that are state but not trained (batch norm's running statistics);
- ``_modules``: child modules.

Every recursive walk (``named_parameters``, ``state_dict``, ``modules``, ...) visits a module's own
parameters, then its buffers, then its children depth first, each in registration order. That is
PyTorch's order, so a PyTorch ``state_dict`` of the same architecture has exactly our keys, in the
same order (``0.weight``, ``layer1.0.left.1.running_mean``, ...).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from .. import backend
from ..dtypes import float32, float64, to_dtype
from ..tensor import Size, Tensor
from .parameter import (  # noqa: F401 - the classes moved to parameter.py; this import path keeps working
    Buffer,
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
    is_lazy,
    zero_grads,
)


class StateDictError(RuntimeError, ValueError):
    """``load_state_dict`` found missing keys, unexpected keys or shape mismatches (all listed at once).

    A ``RuntimeError`` as in PyTorch, and a ``ValueError`` as every bad-input error of this engine.
    """


class IncompatibleKeys(NamedTuple):
    """The keys ``load_state_dict`` could not match: ``(missing_keys, unexpected_keys)``."""

    missing_keys: list
    unexpected_keys: list


class _IncompatibleKeys(IncompatibleKeys):
    """What ``load_state_dict`` returns, as PyTorch's: it prints ``<All keys matched successfully>``
    when both lists are empty, else ``_IncompatibleKeys(missing_keys=[...], unexpected_keys=[...])``."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _array_of(value, key):
    """The values of a state-dict entry as an array: a Tensor's array, an array, or anything array-like."""
    if isinstance(value, Tensor):
        return value.array
    if backend.is_array(value):
        return value
    try:
        return np.asarray(value)  # a torch CPU tensor, a list, a number
    except Exception as exc:  # pragma: no cover - message only
        raise TypeError(f"load_state_dict: entry {key!r} is not array-like ({type(value).__name__})") from exc


class Module:
    """Base class of every layer and net. Subclasses call ``super().__init__()`` and define ``forward``."""

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments {args or ''}{kwargs or ''} "
                "(Module.__init__ takes none)"
            )
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------ registration
    def _check_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call: call super().__init__() first "
                f"in {type(self).__name__}.__init__"
            )

    def __setattr__(self, name, value):
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._remove_from(name, d, modules, buffers)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} of {type(self).__name__} "
                    "(a Parameter or None is required)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._check_init("child modules")
            self._remove_from(name, d, params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} of {type(self).__name__} "
                    "(a Module or None is required)"
                )
            modules[name] = None
        elif isinstance(value, Buffer):  # `self.name = Buffer(t)`: register_buffer with its persistence
            self._check_init("buffers")
            self._remove_from(name, d, params, modules)
            self.register_buffer(name, value, value.persistent)
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} of {type(self).__name__} "
                    "(a Tensor or None is required)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name, *dicts):
        for dct in dicts:
            if dct is not None and name in dct:
                del dct[name]

    def __getattr__(self, name):  # only called when normal lookup fails
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, ()):
                del self.__dict__[registry][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _check_name(self, kind, name, registry):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute {name!r} already exists in {type(self).__name__}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared-but-absent one such as a disabled bias)."""
        self._check_init("parameters")
        self._check_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} (a Parameter or None is required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state saved in ``state_dict`` (unless ``persistent=False``) but not trained."""
        self._check_init("buffers")
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (a Tensor or None is required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as ``self.<name>`` and named ``<name>`` in state-dict keys."""
        self._check_init("child modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._check_name("module", name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""`` is self)."""
        module = self
        for part in target.split(".") if target else ():
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{module._get_name()} has no submodule {part!r} (looking up {target!r})")
            module = module._modules[part]
        return module

    # ------------------------------------------------------------------ walks
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for self and every descendant, depth first, registration order."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        walk = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in walk:
            for name, value in get_members(module):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call ``fn(m)`` on every child (recursively, children first) and then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise ValueError(f"train: expected mode to be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads(self.parameters(), set_to_none)

    # --------------------------------------------------- device and dtype moves
    def _apply_to_arrays(self, convert):
        """Replace every parameter's, gradient's and buffer's array by ``convert(array)`` (in the same objects)."""
        for module in self.modules():
            for tensors in (module._parameters, module._buffers):
                for t in tensors.values():
                    if t is None:
                        continue
                    t.array = convert(t.array)
                    if t.grad is not None:
                        t.grad.array = convert(t.grad.array)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or keywords: move/convert in place; returns self.

        A dtype applies to floating-point parameters and buffers only (``num_batches_tracked`` stays int64).
        """
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str) and arg.split(":")[0] in backend.DEVICES:
                device = arg
            elif arg is not None:
                dtype = arg  # a dtype object or its name
        if dtype is not None:
            try:
                dtype = to_dtype(dtype)  # PyTorch's names: "float" is float32, "double" float64
            except TypeError:
                raise TypeError(f"Module.to: expected a device ('cpu', 'cuda') or a floating dtype, got {dtype!r}") from None
            if not dtype.is_floating_point:
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
            dtype = dtype.dtype  # the NumPy dtype the arrays are cast to
        if device is not None:
            device = backend.check_device(device)

        def convert(a):
            if device is not None:
                a = backend.to_device(a, device)
            if dtype is not None and a.dtype.kind == "f" and a.dtype != dtype:
                a = a.astype(dtype)
            return a

        return self._apply_to_arrays(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    def double(self):
        return self.to(float64)

    def float(self):
        return self.to(float32)

    # ------------------------------------------------------------- state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Ordered ``{dotted name: Tensor}`` of parameters and persistent buffers, PyTorch's keys and order.

        The tensors share their arrays with the module (detached unless ``keep_vars``).
        """
        if destination is None:
            destination = OrderedDict()
        # every path, shared modules included (PyTorch lists a shared layer under each of its names)
        for module_prefix, module in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            dot = module_prefix + ("." if module_prefix else "")
            for name, p in module._parameters.items():
                if p is not None:
                    destination[dot + name] = p if keep_vars or is_lazy(p) else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers:
                    destination[dot + name] = b if keep_vars or is_lazy(b) else b.detach()
        return destination

    def _state_tensors(self):
        """{key: the live Tensor} for every parameter and persistent buffer (what load_state_dict fills)."""
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values into the parameters and buffers, by key (values: Tensors, arrays, torch tensors).

        Values are cast to each target's dtype and moved to its device; the target objects are kept
        (an optimizer holding them stays valid). A lazy layer's uninitialized parameter takes the
        saved tensor's shape (PyTorch's rule), so a lazy net loads before its first forward. Shape mismatches are always an error; with
        ``strict`` so are missing and unexpected keys. Every problem is listed in one
        :class:`StateDictError` with PyTorch's lines. Returns ``(missing_keys, unexpected_keys)``, a named
        tuple that prints ``<All keys matched successfully>`` when both are empty.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of names to tensors, got {type(state_dict).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched, arrays = [], {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = _array_of(state_dict[key], key)
            if is_lazy(target):  # a lazy layer's placeholder takes the saved shape (as PyTorch)
                arrays[key] = value
            elif tuple(value.shape) != tuple(target.shape):
                mismatched.append(
                    f"size mismatch for {key}: copying a param with shape {Size(value.shape)} from checkpoint, "
                    f"the shape in current model is {Size(target.shape)}."
                )
            else:
                arrays[key] = value
        errors = []  # PyTorch's lines, in its order
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        errors += mismatched
        if errors:
            raise StateDictError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors)
            )
        for key, value in arrays.items():
            target = own[key]
            if is_lazy(target):
                target.materialize(value.shape)
            xp = backend.xp_of(target.array)
            value = backend.to_device(value, target.device) if backend.is_array(value) else value
            target.array[...] = xp.asarray(value).astype(target.dtype, copy=False)
        return _IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` after every forward; may return a replacement output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` before every forward; may return replacement inputs."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # ------------------------------------------------------------------- repr
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its hyper-parameters)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


__all__ = [
    "Buffer",
    "IncompatibleKeys",
    "Module",
    "Parameter",
    "RemovableHandle",
    "StateDictError",
    "UninitializedBuffer",
    "UninitializedParameter",
    "is_lazy",
]
