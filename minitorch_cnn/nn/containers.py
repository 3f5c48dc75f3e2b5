"""Containers: ``Sequential`` (a chain of modules) and ``ModuleList`` (an indexable list of modules).

Children are registered under their position as name (``"0"``, ``"1"``, ...) unless an
``OrderedDict`` gives names, so ``state_dict`` keys read ``0.weight``, ``3.bias``, as in PyTorch.
"""

from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module


def _index(container: Module, idx) -> int:
    n = len(container)
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, got {type(idx).__name__}") from None
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {type(container).__name__} of length {n}")
    return idx % n


class _ModuleSequence(Module):
    """What ``Sequential`` and ``ModuleList`` share: a list of children, indexed by position."""

    def _from_slice(self, items):
        """A new container of the same type holding ``items``, (name, module) pairs."""
        raise NotImplementedError

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self._from_slice(list(self._modules.items())[idx])
        return list(self._modules.values())[_index(self, idx)]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(self, idx)]
        self.add_module(key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [keys[_index(self, idx)]]:
            del self._modules[key]
        # re-number, as PyTorch does, so indices stay consecutive
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module):
        """Insert before ``index`` (``list.insert``'s rule) and re-number the children."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules = OrderedDict()
        for i, m in enumerate(items):
            self.add_module(str(i), m)


class Sequential(_ModuleSequence):
    """Calls its children in order, each on the previous one's output.

    ``Sequential(m0, m1, ...)`` names them ``"0"``, ``"1"``, ...; ``Sequential(OrderedDict(name=m))``
    keeps the names. Indexing gives a child, slicing a new ``Sequential`` of the same children.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def _from_slice(self, items):
        return type(self)(OrderedDict(items))

    def insert(self, index: int, module: Module):
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"insert: index {index} is out of range for Sequential of length {n}")
        super().insert(index % (n + 1) if index < 0 else index, module)
        return self

    def forward(self, input):
        for module in self:
            input = module(input)
        return input


class ModuleList(_ModuleSequence):
    """A list of modules, registered as ``"0"``, ``"1"``, ...; it has no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _from_slice(self, items):
        return type(self)([module for _, module in items])

    def __iadd__(self, modules):
        return self.extend(modules)

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, _ModuleSequence):
            raise TypeError(f"ModuleList.extend should be called with an iterable, got {type(modules).__name__}")
        return super().extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it and call its modules")


__all__ = ["ModuleList", "Sequential"]
