"""``Parameter``, ``Buffer`` and the lazy layers' placeholders (``torch.nn.parameter``).

A ``Parameter`` is a Tensor that a ``Module`` registers as trainable when it is assigned as an
attribute; a ``Buffer`` marks a tensor to be registered as a buffer (state, not trained). The
``Uninitialized*`` classes hold the place of a lazy layer's tensors until their shape is known.
"""

from __future__ import annotations

from .. import backend
from ..tensor import Tensor

__all__ = ["Buffer", "Parameter", "UninitializedBuffer", "UninitializedParameter", "is_lazy"]


class Parameter(Tensor):
    """A Tensor that a ``Module`` registers as trainable; ``requires_grad`` is True by default.

    ``Parameter(t)`` shares ``t``'s array (no copy), as ``torch.nn.Parameter`` shares storage.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.get_xp("cpu").empty((0,), backend.get_default_dtype())
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` is true for the tensors ``Buffer(...)`` made (they are plain Tensors)."""

    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """``Buffer(t, persistent=True)``: ``t`` marked to become a buffer when assigned to a module attribute.

    As ``torch.nn.Buffer``, the result is a plain Tensor sharing ``t``'s array (detached);
    ``self.stats = Buffer(t)`` in a module is ``self.register_buffer("stats", t, persistent)``.
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = Tensor(backend.get_xp("cpu").empty((0,), backend.get_default_dtype()))
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: expected a Tensor, got {type(data).__name__}")
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent, t._is_buffer = bool(persistent), True
        return t


class UninitializedParameter(Parameter):
    """The parameter of a lazy layer before its size is known (``torch.nn.UninitializedParameter``).

    It holds an empty array and prints as ``<UninitializedParameter>``. The layer's first forward, or
    ``load_state_dict``, gives it its array and turns this same object into a ``Parameter``
    (:meth:`materialize`), so an optimizer that holds it keeps working.
    """

    cls_to_become = Parameter

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the placeholder an (uninitialised) array of ``shape`` and make it an ordinary tensor."""
        xp = backend.xp_of(self.array)
        array = xp.empty(tuple(shape), dtype=self.dtype if dtype is None else dtype)
        self.array = array if device is None else backend.to_device(array, device)
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedBuffer(Tensor):
    """A lazy batch norm's running statistic before its size is known (``torch.nn.UninitializedBuffer``)."""

    cls_to_become = Tensor
    materialize = UninitializedParameter.materialize
    __repr__ = UninitializedParameter.__repr__


def is_lazy(t) -> bool:
    """Whether ``t`` is an uninitialized parameter or buffer (``torch.nn.parameter.is_lazy``)."""
    return isinstance(t, (UninitializedParameter, UninitializedBuffer))


def zero_grads(params, set_to_none: bool = True) -> None:
    """Forget the gradients of ``params`` (``p.grad = None``), or write zeros into them in place
    (``set_to_none=False``); a parameter with no gradient is left as it is. ``Module.zero_grad`` and
    ``Optimizer.zero_grad`` both do this."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.array[...] = 0
