"""Reverse-mode autograd: ``Function`` (one class per op), the graph nodes, and ``backward``.

An op is a ``Function`` subclass with two static methods on raw arrays::

    forward(ctx, *arrays, **params) -> array       # saves what backward needs on ctx
    backward(ctx, grad) -> tuple of arrays/None     # one entry per input: dL/d(input)

``Function.apply(*tensors, **params)`` runs ``forward`` and, when some input requires a gradient
and grad mode is on, records a ``Node`` (the output's ``grad_fn``): the ``ctx`` of that call plus
the input tensors.

``backward`` walks the graph in reverse topological order, without recursion:
  1. order: an iterative depth-first search lists every node after all nodes that consume it;
  2. for each node, in that order: call ``backward`` with the summed gradient of its output,
     un-broadcast each input gradient to the input's shape (``sum_to``), and *add* it to the
     gradient waiting for that input (a tensor used twice receives the sum);
  3. leaves (tensors with no ``grad_fn``) accumulate into ``.grad``; nodes are freed afterwards
     unless ``retain_graph=True``.

A leaf's first gradient becomes its ``.grad``. It is copied unless the backward that returned it
made it for that input alone (``_made_for_one_input``): the incoming gradient itself, a view of
another array, an array handed to two inputs or a saved array may be seen elsewhere, and a later
``+=`` into ``.grad`` must not change them. Not copying matters for large layers, where the copy
lands in fresh memory and pays its page faults (VGG's 4096×6272 weight gradient: the figure is in
``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import contextlib

from .backend import device_of, xp_of
from .tensor import Tensor

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def _set_grad_enabled(mode: bool):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager (and decorator) under which ops record no graph."""
    return _set_grad_enabled(False)


def enable_grad():
    return _set_grad_enabled(True)


class Node:
    """The ``ctx`` of one op call: saved arrays, hyper-parameters, and the inputs to send grads to."""

    def __init__(self, function, inputs):
        self.function = function
        self.inputs = inputs  # the input tensors (None where an optional input was absent)
        self.needs_input_grad = tuple(t is not None and t.requires_grad for t in inputs)
        self.saved_tensors = ()
        self.freed = False

    @property
    def name(self) -> str:
        return self.function.__name__

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def release(self):
        """Drop saved arrays and inputs so their memory can go; a later backward is an error."""
        self.__dict__.update(saved_tensors=(), inputs=(), freed=True)

    def __repr__(self):
        return f"<{self.name} backward>"


class Function:
    """Base class of every differentiable op; subclasses define ``forward`` and ``backward``."""

    @staticmethod
    def forward(ctx, *arrays, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        present = [t for t in inputs if t is not None]
        for t in present:
            if not isinstance(t, Tensor):
                raise TypeError(f"{cls.__name__}: expected Tensor inputs, got {type(t).__name__}")
        devices = {t.device for t in present}
        if len(devices) > 1:
            raise ValueError(
                f"{cls.__name__}: all inputs must be on one device, got {sorted(devices)}; "
                "move them with .to(device) first"
            )
        ctx = Node(cls, inputs)
        arrays = [None if t is None else t.array for t in inputs]
        record = _grad_enabled and any(ctx.needs_input_grad)
        with _set_grad_enabled(False):  # ops called inside forward never record a graph
            out = cls.forward(ctx, *arrays, **params)
        record = record and out.dtype.kind == "f"  # integer outputs (argmax, casts) carry no gradient
        result = Tensor(out, requires_grad=record)
        if record:
            result.grad_fn = ctx
        return result


def sum_to(grad, shape, op_name="op"):
    """Un-broadcast ``grad`` to ``shape``: sum the extra leading axes, then the axes where shape is 1.

    Broadcasting copies an input along some axes; the adjoint of a copy is a sum over the copies.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError(f"{op_name} backward: gradient of shape {grad.shape} for input of shape {shape}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    if grad.shape != tuple(shape):
        raise ValueError(
            f"{op_name} backward returned a gradient of shape {grad.shape} "
            f"that cannot be summed to its input's shape {tuple(shape)}"
        )
    return grad


def topological_order(root: Node) -> list[Node]:
    """Every node reachable from ``root``, each listed before the nodes it consumes (no recursion)."""
    order, visited = [], {id(root)}
    stack = [(root, iter(root.inputs))]
    while stack:
        node, children = stack[-1]
        for t in children:
            child = t.grad_fn if t is not None else None
            if child is not None and id(child) not in visited:
                visited.add(id(child))
                stack.append((child, iter(child.inputs)))
                break
        else:  # all inputs done: post-order position
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def backward(tensor: Tensor, grad, retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) · grad into every leaf's ``.grad``."""
    root = tensor.grad_fn
    if root is None:  # a leaf: its gradient is the seed itself
        _accumulate_leaf(tensor, grad)
        return
    pending = {id(root): grad}  # node -> summed gradient of its output
    for node in topological_order(root):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if node.freed:
            raise RuntimeError(
                f"backward through {node.name} a second time: its saved values were freed after the "
                "first backward. Pass retain_graph=True to the first backward to keep them."
            )
        with _set_grad_enabled(False):
            grads = node.function.backward(node, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(node.inputs):
            raise RuntimeError(f"{node.name}.backward returned {len(grads)} grads for {len(node.inputs)} inputs")
        for t, gi, needed in zip(node.inputs, grads, node.needs_input_grad):
            if not needed or gi is None:
                continue
            gi = sum_to(gi, t.shape, node.name)
            if t.grad_fn is None:
                _accumulate_leaf(t, gi, keep=_made_for_one_input(gi, g, grads, node.saved_tensors))
            else:
                key = id(t.grad_fn)
                pending[key] = gi if key not in pending else pending[key] + gi
        if not retain_graph:
            node.release()


def _made_for_one_input(gi, g, grads, saved) -> bool:
    """True when ``gi``, one of ``grads`` returned by a backward called with ``g``, owns its memory
    and nothing else refers to it: not ``g``, not a view, not given twice, not the base of another
    of ``grads``, not a saved array."""
    if gi is g or getattr(gi, "base", None) is not None:
        return False
    others = [x for x in grads if x is not gi]
    return len(others) == len(grads) - 1 and all(getattr(x, "base", None) is not gi for x in others) \
        and not any(s is gi for s in saved)


def _accumulate_leaf(t: Tensor, grad, keep: bool = False) -> None:
    """Add ``grad`` into ``t.grad``; the first one is copied unless ``keep`` (nothing else refers to it)."""
    if device_of(grad) != t.device:
        raise RuntimeError(f"gradient on {device_of(grad)} for a tensor on {t.device}")
    converted = xp_of(t.array).asarray(grad, dtype=t.dtype)
    if t.grad is None:
        t.grad = Tensor(converted if keep or converted is not grad else grad.copy())
    else:
        t.grad.array += converted
