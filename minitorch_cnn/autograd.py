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
     un-broadcast each input gradient to the input's shape (``sum_to``), cast it to the input's
     dtype (as PyTorch's engine: a gradient always has its tensor's dtype), and *add* it to the
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

import functools

from .backend import device_of, xp_of
from .tensor import Tensor

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode:
    """Grad mode ``mode`` inside a ``with`` block, or inside every call of a function it decorates;
    the previous mode is restored afterwards."""

    def __init__(self, mode: bool):
        self.mode, self.previous = bool(mode), []

    def __enter__(self):
        global _grad_enabled
        self.previous.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.previous.pop()

    def __call__(self, func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with _GradMode(self.mode):
                return func(*args, **kwargs)

        return run


def no_grad(func=None):
    """Ops record no graph: ``with mt.no_grad():``, ``@mt.no_grad()`` or ``@mt.no_grad``."""
    return _GradMode(False) if func is None else _GradMode(False)(func)


def enable_grad(func=None):
    """Ops record a graph again (inside ``no_grad``); a context manager or a decorator, as ``no_grad``."""
    return _GradMode(True) if func is None else _GradMode(True)(func)


def inference_mode(mode=True):
    """As ``no_grad`` here (PyTorch's inference mode also skips some bookkeeping this engine does not
    keep); ``inference_mode(False)`` records again, as PyTorch's. A context manager, ``@inference_mode()``
    or ``@inference_mode``."""
    if callable(mode):
        return _GradMode(False)(mode)
    return _GradMode(not mode)


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """``set_grad_enabled(False)`` turns recording off at once, as a function; in a ``with`` block or as a
    decorator the previous mode comes back afterwards, as PyTorch's."""

    def __init__(self, mode: bool):
        global _grad_enabled
        super().__init__(bool(mode))
        self.before, _grad_enabled = _grad_enabled, bool(mode)

    def __enter__(self):
        pass  # the mode was set when this object was made

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.before

    def __call__(self, func):
        global _grad_enabled
        _grad_enabled = self.before  # decorating changes nothing until the function runs
        return super().__call__(func)


class Node:
    """The ``ctx`` of one op call: saved arrays, hyper-parameters, and the inputs to send grads to."""

    def __init__(self, function, inputs, params=None):
        self.function = function
        self.inputs = inputs  # the input tensors (None where an optional input was absent)
        self.params = params or {}  # the op's keyword arguments (axes, index, stride, ...)
        self.needs_input_grad = tuple(t is not None and t.requires_grad for t in inputs)
        self.saved_tensors = ()
        self.freed = False

    @property
    def name(self) -> str:
        """The Function's class name, e.g. ``"SumFn"`` (the graph pictures of ``viz`` show it)."""
        return self.function.__name__

    @property
    def backward_name(self) -> str:
        """PyTorch's name for this node, e.g. ``"SumBackward0"``, as ``grad_fn=<SumBackward0>`` prints it."""
        rule = BACKWARD_NAMES.get(self.name)
        if rule is None:
            return self.name.removesuffix("Fn") + "Backward0"  # AddFn -> AddBackward0
        return rule if isinstance(rule, str) else rule(self)

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def release(self):
        """Drop saved arrays and inputs so their memory can go; a later backward is an error."""
        self.__dict__.update(saved_tensors=(), inputs=(), freed=True)

    def __repr__(self):
        return f"<{self.backward_name} object at {id(self):#x}>"


# PyTorch's names for the nodes of our ops (``grad_fn=<...>`` in a tensor's repr), by Function class
# name; a class not listed gets the default rule, "Fn" -> "Backward0" (MulFn -> MulBackward0). Some
# depend on the call, as in PyTorch, where x.sum() and x.sum(dim) leave different nodes.
_CONV = "ConvolutionBackward0"
_MATMUL_NAMES = {(2, 2): "MmBackward0", (1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4"}
BACKWARD_NAMES = {
    "Conv2dFn": _CONV, "Im2colConv2dFn": _CONV, "DirectConv2dFn": _CONV, "BatchLastConv2dFn": _CONV,
    "WinogradConv2dFn": _CONV, "DepthwiseConv2dFn": _CONV,
    "ReLUFn": "ReluBackward0",
    "ToFn": "ToCopyBackward0",
    "ReshapeFn": "ViewBackward0",  # reshape, view, flatten (UnsafeViewFn where they copy)
    "SqueezeFn": lambda ctx: f"SqueezeBackward{ctx.params['form']}",  # squeeze(), squeeze(dim), squeeze(dims)
    "ContiguousFn": "CloneBackward0",
    "ClampTensorFn": "ClampBackward0",
    "NormFn": "LinalgVectorNormBackward0",
    "PadFn": "ConstantPadNdBackward0",
    "DropoutFn": "MulBackward0",  # PyTorch's dropout on the CPU multiplies by the scaled mask
    "CrossEntropyFn": "NllLossBackward0",  # the last step of PyTorch's log_softmax + nll_loss
    "BatchNormFn": "NativeBatchNormBackward0",
    "MaxPool2dFn": "MaxPool2DWithIndicesBackward0",
    "AvgPool2dFn": "AvgPool2DBackward0",
    "AdaptiveMaxPool2dFn": "AdaptiveMaxPool2DBackward0",
    "AdaptiveAvgPool2dFn": lambda ctx: "MeanBackward1" if tuple(ctx.params.get("out_size", ())) == (1, 1)
    else "AdaptiveAvgPool2DBackward0",
    "ClampFn": "ClampBackward1",
    "SumFn": lambda ctx: "SumBackward0" if ctx.params.get("axes") is None else "SumBackward1",
    "MeanFn": lambda ctx: "MeanBackward0" if ctx.params.get("axes") is None else "MeanBackward1",
    "MaxFn": lambda ctx: "MaxBackward1" if ctx.params.get("largest", True) else "MinBackward1",  # max(), min()
    "TakeFn": lambda ctx: "MaxBackward0" if ctx.params.get("largest", True) else "MinBackward0",  # max(dim)
    "GetItemFn": lambda ctx: ctx.params["name"],  # by the index: shape.index_node_name
    "MatMulFn": lambda ctx: _MATMUL_NAMES.get((getattr(ctx, "a_ndim", 0), getattr(ctx, "b_ndim", 0)),
                                              "UnsafeViewBackward0"),  # batched: a view of one big product
    "LinearFn": lambda ctx: "AddmmBackward0" if ctx.needs_input_grad[2:] == (True,) else "MmBackward0",
    "PowFn": lambda ctx: {(True, False): "PowBackward0", (False, True): "PowBackward2"}.get(
        ctx.needs_input_grad[:2], "PowBackward1"),  # x ** 2, 2 ** x, x ** y
}


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
        ctx = Node(cls, inputs, params)
        arrays = [None if t is None else t.array for t in inputs]
        record = _grad_enabled and any(ctx.needs_input_grad)
        with _GradMode(False):  # ops called inside forward never record a graph
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
        raise ValueError(f"{op_name} backward: gradient of shape {tuple(grad.shape)} for input of shape {tuple(shape)}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    if grad.shape != tuple(shape):
        raise ValueError(
            f"{op_name} backward returned a gradient of shape {tuple(grad.shape)} "
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
        with _GradMode(False):
            grads = node.function.backward(node, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(node.inputs):
            raise RuntimeError(f"{node.name}.backward returned {len(grads)} grads for {len(node.inputs)} inputs")
        for t, gi, needed in zip(node.inputs, grads, node.needs_input_grad):
            if not needed or gi is None:
                continue
            gi = sum_to(gi, t.shape, node.name)
            if gi.dtype != t.array.dtype:  # e.g. a float64 gradient reaching a float32 input
                gi = gi.astype(t.array.dtype)
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
