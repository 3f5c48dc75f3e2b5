"""``Tensor``: an array (NumPy or CuPy), its gradient, and the graph node that produced it.

Every operator and method below delegates to an op in ``minitorch_cnn.functional``; the
arithmetic and its derivatives live there, the graph walk lives in ``autograd.py``.
"""

from __future__ import annotations

import math
import operator
import warnings

from . import backend
from .dtypes import numpy_dtype, to_dtype


def _F():
    from . import functional  # lazy: the ops sit one layer above the tensor they act on

    return functional


class GradDtypeError(RuntimeError, TypeError):
    """A tensor that is not floating point was asked to require gradients: a ``RuntimeError`` as in
    PyTorch, and a ``TypeError`` as this engine raised before."""


class Size(tuple):
    """A tensor's shape, as ``torch.Size``: a tuple of ints, printed ``minitorch_cnn.Size([2, 3])``.

    It equals the plain tuple with the same ints; slicing it, ``+`` and ``*`` give a Size again.
    """

    __slots__ = ()

    def __new__(cls, sizes=()):
        ints = []
        for i, n in enumerate(sizes):
            try:
                ints.append(int(operator.index(n)))
            except TypeError:
                raise TypeError(f"minitorch_cnn.Size() takes an iterable of 'int' (item {i} is "
                                f"'{type(n).__name__}')") from None
        return super().__new__(cls, ints)

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        return math.prod(self)

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(super().__add__(other)) if isinstance(other, tuple) else NotImplemented

    def __radd__(self, other):  # (1,) + size is a Size too
        return Size(tuple(other) + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, n):
        return Size(super().__mul__(n)) if isinstance(n, int) else NotImplemented

    __rmul__ = __mul__

    def __repr__(self):
        return f"minitorch_cnn.Size({list(self)})"


class Tensor:
    __array_priority__ = 1000  # numpy scalars/arrays defer to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.array
        if not backend.is_array(data):
            keep_dtype = hasattr(data, "dtype")  # a NumPy/CuPy scalar keeps its dtype
            xp = backend.get_xp(device or "cpu")
            data = xp.asarray(data)
            if dtype is None and data.dtype.kind == "f" and not keep_dtype:
                dtype = backend.get_default_dtype()  # Python floats become float32, as in PyTorch
        if device is not None:
            data = backend.to_device(data, device)
        dtype = None if dtype is None else numpy_dtype(dtype)  # mt.float32, np.float32 or "float32"
        if dtype is not None and data.dtype != dtype:
            data = data.astype(dtype)
        self._data = data
        self.requires_grad = requires_grad  # checked: only floating-point tensors can require gradients
        self.grad: Tensor | None = None
        self.grad_fn = None  # the autograd Node that made this tensor (None for a leaf)

    @property
    def array(self):
        """The raw array (NumPy or CuPy) that holds the values, no copy. The engine's own code reads this."""
        return self._data

    @array.setter
    def array(self, value):
        self._data = value.array if isinstance(value, Tensor) else value

    @property
    def data(self):
        """A tensor sharing this tensor's array, outside the graph (``requires_grad=False``), as PyTorch's.

        In-place writes through it change this tensor's values and are not recorded by autograd:
        ``p.data.normal_(0, 0.01)``, ``p.data.fill_(0)``, ``p.data[0, 0] = 42``. Assigning to it
        replaces the array: ``p.data = t`` (a Tensor or an array), so ``p.data -= lr * p.grad``
        updates ``p`` in place as in PyTorch. The raw NumPy/CuPy array is :attr:`array`.
        """
        return Tensor(self._data)

    @data.setter
    def data(self, value):
        value = value.array if isinstance(value, Tensor) else value
        if not backend.is_array(value):
            raise TypeError(f"Tensor.data: expected a Tensor or an array, got {type(value).__name__}")
        self._data = value

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for ``backward``; only floating-point
        tensors can require gradients (setting it on another dtype raises, as in PyTorch)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and self._data.dtype.kind != "f":
            raise GradDtypeError(f"only Tensors of floating point dtype can require gradients, got {self._data.dtype}")
        self._requires_grad = bool(value)

    # ------------------------------------------------------------------ facts
    shape = property(lambda self: tuple.__new__(Size, self._data.shape))  # an ``mt.Size``
    dtype = property(lambda self: to_dtype(self._data.dtype))  # an ``mt.dtype``: mt.float32, mt.int64, ...
    ndim = property(lambda self: self._data.ndim)
    device = property(lambda self: _DEVICES[backend.device_of(self._data)])  # a ``mt.device`` (a str)
    is_leaf = property(lambda self: self.grad_fn is None)

    @property
    def T(self):
        """All dimensions reversed (a matrix transposed), as PyTorch's ``.T``, which warns on other than
        2 dimensions: use ``mT`` for batches of matrices, ``permute`` to reverse the dimensions."""
        if self.ndim != 2:
            warnings.warn(f"Tensor.T on a {self.ndim}-D tensor reverses all its dimensions; this use is "
                          "deprecated in PyTorch: use x.mT for batches of matrices or x.permute(...)", stacklevel=2)
        return _F().permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):  # noqa: N802 - PyTorch's name
        """The last two dimensions swapped: each matrix of a batch transposed (a 0-D tensor as it is, with
        PyTorch's warning)."""
        if self.ndim == 0:
            warnings.warn("Tensor.mT on a 0-D tensor is the identity; this use is deprecated in PyTorch", stacklevel=2)
            return _F().permute(self, ())
        if self.ndim < 2:
            raise ValueError(f"mT: expected a tensor with at least 2 dimensions, got shape {tuple(self.shape)}")
        return _F().transpose(self, -2, -1)

    def size(self, dim=None):
        """The shape (an ``mt.Size``), or with ``dim`` the size of that dimension (an int)."""
        if dim is None:
            return self.shape
        if self.ndim == 0 or not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size: dimension {dim} is out of range for a tensor of shape {tuple(self.shape)}")
        return self.shape[dim]

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.dtype.itemsize

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        """As PyTorch prints: ``tensor([[1., 2.]], requires_grad=True)``, with the dtype when it is not the
        default for its kind (float32, int64, bool), the device when it is not the CPU, and the ``grad_fn``."""
        return _format(self)

    # --------------------------------------------------------- leaving the graph
    def numpy(self):
        """A host NumPy copy of the values (never a view into this tensor)."""
        return backend.to_numpy(self._data).copy()

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self._data)
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: expected a tensor with one element, got shape {tuple(self.shape)}")
        return self._data.reshape(-1)[0].item()

    def tolist(self):
        return backend.to_numpy(self._data).tolist()

    def detach(self) -> Tensor:
        return Tensor(self._data)

    def to(self, *args, device=None, dtype=None) -> Tensor:
        """``t.to("cuda")``, ``t.to(mt.float64)``, ``t.to("cuda", mt.float64)``: self when nothing changes."""
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in backend.DEVICES:
                device = arg
            else:
                dtype = arg
        return _F().to(self, device=device, dtype=None if dtype is None else to_dtype(dtype))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        """On the GPU (``device``, e.g. ``0`` or ``"cuda:0"``, is accepted; the engine uses GPU 0)."""
        return self.to("cuda")

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def long(self):
        return self.to(dtype="int64")

    def int(self):
        return self.to(dtype="int32")

    def bool(self):
        return self.to(dtype="bool")

    def type(self, dtype=None):
        """``t.type(mt.float32)``: ``t`` in that dtype (a copy, or ``t`` itself when it already has it),
        as ``t.to(dtype)``. With no argument, PyTorch's type string with this package's name,
        e.g. ``'minitorch_cnn.FloatTensor'`` (PyTorch's ``'torch.FloatTensor'``), which is also accepted."""
        if dtype is None:
            return _type_string(self)
        if isinstance(dtype, str) and dtype.endswith("Tensor"):  # "minitorch_cnn.LongTensor", "torch.LongTensor"
            by_type = {f"{kind}Tensor": name for name, kind in _TYPE_NAMES.items()}
            dtype = by_type.get(dtype.rsplit(".", 1)[-1], dtype)
        return self.to(dtype=dtype)

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    # --------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=False):
        from .autograd import backward

        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs, got shape {tuple(self.shape)}; "
                    "pass gradient= with the same shape"
                )
            gradient = backend.xp_of(self._data).ones_like(self._data)
        else:
            gradient = gradient.array if isinstance(gradient, Tensor) else gradient
            if tuple(gradient.shape) != self.shape:
                raise ValueError(f"backward: gradient shape {tuple(gradient.shape)} != tensor shape {tuple(self.shape)}")
            if backend.device_of(gradient) != self.device:
                raise ValueError(f"backward: gradient on {backend.device_of(gradient)} for a tensor on {self.device}")
        backward(self, gradient, retain_graph=retain_graph)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def zero_(self):
        self._data[...] = 0
        return self

    def fill_(self, value):
        self._data[...] = value
        return self

    def copy_(self, other):
        """Copy ``other``'s values in (from any device, as ``torch.Tensor.copy_``)."""
        self._data[...] = self._on_my_device(other)
        return self

    def normal_(self, mean=0.0, std=1.0):
        """Fill in place with N(mean, std²) draws from the engine's generator (``mt.manual_seed``)."""
        values = backend.rng().normal(mean, std, size=self.shape)
        self._data[...] = backend.to_device(values.astype(self.dtype), self.device)
        return self

    def uniform_(self, a=0.0, b=1.0):
        """Fill in place with U(a, b) draws from the engine's generator (PyTorch's ``from``/``to``)."""
        values = backend.rng().uniform(a, b, size=self.shape)
        self._data[...] = backend.to_device(values.astype(self.dtype), self.device)
        return self

    # In-place arithmetic (``t += u``, ``t -= u``, ``t *= u``, ``t /= u``). When no graph is being recorded
    # (grad mode off, or neither operand requires grad) the values of ``t`` are changed in place, so
    # every reference to ``t`` (a parameter, ``p.data``) sees them, as in PyTorch: d2l's from-scratch
    # ``param -= lr * param.grad`` under ``no_grad`` works. When autograd must record the op, the result
    # is a new tensor bound to the name (``Y += X`` in a residual block differentiates correctly; other
    # references to the old ``Y`` keep the old values, where PyTorch would rewrite them).
    def _inplace(self, op, other):
        from .autograd import is_grad_enabled

        out = op(self, other)
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if (is_grad_enabled() and (self.requires_grad or other_grad)) or out.shape != self.shape:
            return out
        if out.dtype.kind == "f" and self.dtype.kind != "f":  # as PyTorch: no silent truncation
            raise TypeError(f"in-place {op.__name__}: result dtype {out.dtype.name} cannot be written into a "
                            f"{self.dtype.name} tensor")
        self._data[...] = out.array.astype(self.dtype, copy=False)
        return self

    __iadd__ = lambda a, b: a._inplace(_F().add, b)
    __isub__ = lambda a, b: a._inplace(_F().sub, b)
    __imul__ = lambda a, b: a._inplace(_F().mul, b)
    __itruediv__ = lambda a, b: a._inplace(_F().div, b)

    def _on_my_device(self, value):
        """A Tensor's or array's values on this tensor's device (moved explicitly, not left to CuPy)."""
        value = value.array if isinstance(value, Tensor) else value
        return backend.to_device(value, self.device) if backend.is_array(value) else value

    # -------------------------------------------- operators: delegate to the ops
    __add__ = lambda a, b: _F().add(a, b)
    __radd__ = lambda a, b: _F().add(b, a)
    __sub__ = lambda a, b: _F().sub(a, b)
    __rsub__ = lambda a, b: _F().sub(b, a)
    __mul__ = lambda a, b: _F().mul(a, b)
    __rmul__ = lambda a, b: _F().mul(b, a)
    __truediv__ = lambda a, b: _F().div(a, b)
    __rtruediv__ = lambda a, b: _F().div(b, a)
    __pow__ = lambda a, b: _F().pow(a, b)
    __rpow__ = lambda a, b: _F().pow(b, a)
    __matmul__ = lambda a, b: _F().matmul(a, b)
    __rmatmul__ = lambda a, b: _F().matmul(b, a)
    __neg__ = lambda a: _F().neg(a)
    __abs__ = lambda a: _F().abs(a)

    def __eq__(self, other):
        """``t == other``; as PyTorch, something that is no tensor, array or number (``None``, a string)
        makes ``==`` False and ``!=`` True (Python's fallback when the op refuses it)."""
        try:
            return _F().eq(self, other)
        except TypeError:
            return NotImplemented

    def __ne__(self, other):
        try:
            return _F().ne(self, other)
        except TypeError:
            return NotImplemented

    __lt__ = lambda a, b: _F().lt(a, b)
    __le__ = lambda a, b: _F().le(a, b)
    __gt__ = lambda a, b: _F().gt(a, b)
    __ge__ = lambda a, b: _F().ge(a, b)
    __getitem__ = lambda a, index: _F().getitem(a, index)
    # bitwise on bool and integer tensors (logical for bools), as PyTorch; float operands are an error
    __and__ = lambda a, b: _F().bitwise_and(a, b)
    __rand__ = lambda a, b: _F().bitwise_and(b, a)
    __or__ = lambda a, b: _F().bitwise_or(a, b)
    __ror__ = lambda a, b: _F().bitwise_or(b, a)
    __xor__ = lambda a, b: _F().bitwise_xor(a, b)
    __rxor__ = lambda a, b: _F().bitwise_xor(b, a)
    __invert__ = lambda a: _F().bitwise_not(a)
    __hash__ = object.__hash__

    def __setitem__(self, index, value):  # in-place write to the values; not tracked by autograd
        self._data[_F().shape.raw_index(index)] = self._on_my_device(value)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"bool of a tensor with {self._data.size} elements is ambiguous")
        return bool(self.item())

    def __format__(self, spec):
        return format(self.item(), spec) if self._data.size == 1 and spec else repr(self)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):  # an integer tensor of one element as a list index or a size
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got "
                            f"dtype {self.dtype} and shape {tuple(self.shape)}")
        return int(self.item())

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    matmul = __matmul__
    neg = __neg__
    abs = __abs__
    eq = lambda a, b: _F().eq(a, b)  # the methods raise on a non-number, as PyTorch's
    ne = lambda a, b: _F().ne(a, b)
    lt, le, gt, ge = __lt__, __le__, __gt__, __ge__
    logical_and = lambda a, b: _F().logical_and(a, b)
    logical_or = lambda a, b: _F().logical_or(a, b)
    logical_xor = lambda a, b: _F().logical_xor(a, b)
    logical_not = lambda a: _F().logical_not(a)
    bitwise_and, bitwise_or, bitwise_xor, bitwise_not = __and__, __or__, __xor__, __invert__
    maximum = lambda a, b: _F().maximum(a, b)
    minimum = lambda a, b: _F().minimum(a, b)
    clamp = lambda a, min=None, max=None: _F().clamp(a, min, max)
    clip = clamp

    def clamp_(self, min=None, max=None):
        """Clamp the values in place, as ``clamp``; not recorded by autograd."""
        self._data[...] = _F().clamp(self.detach(), min, max).array
        return self

    exp = lambda a: _F().exp(a)
    log = lambda a: _F().log(a)
    sqrt = lambda a: _F().sqrt(a)
    relu = lambda a: _F().relu(a)
    sigmoid = lambda a: _F().sigmoid(a)
    tanh = lambda a: _F().tanh(a)
    softmax = lambda a, dim, dtype=None: _F().softmax(a, dim, dtype=dtype)
    log_softmax = lambda a, dim, dtype=None: _F().log_softmax(a, dim, dtype=dtype)
    sin = lambda a: _F().sin(a)
    cos = lambda a: _F().cos(a)
    sinh = lambda a: _F().sinh(a)
    cosh = lambda a: _F().cosh(a)
    # reductions take PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` (PyTorch accepts both)
    sum = lambda a, *args, **kwargs: _F().sum(a, *args, **kwargs)
    mean = lambda a, *args, **kwargs: _F().mean(a, *args, **kwargs)
    max = lambda a, *args, **kwargs: _F().max(a, *args, **kwargs)
    min = lambda a, *args, **kwargs: _F().min(a, *args, **kwargs)
    argmax = lambda a, *args, **kwargs: _F().argmax(a, *args, **kwargs)
    argmin = lambda a, *args, **kwargs: _F().argmin(a, *args, **kwargs)
    all = lambda a, *args, **kwargs: _F().all(a, *args, **kwargs)
    any = lambda a, *args, **kwargs: _F().any(a, *args, **kwargs)
    cumsum = lambda a, *args, **kwargs: _F().cumsum(a, *args, **kwargs)
    norm = lambda a, *args, **kwargs: _F().norm(a, *args, **kwargs)
    dot = lambda a, b: _F().dot(a, b)
    mv = lambda a, vec: _F().mv(a, vec)
    mm = lambda a, mat2: _F().mm(a, mat2)
    bmm = lambda a, mat2: _F().bmm(a, mat2)
    reshape = lambda a, *shape: _F().reshape(a, *shape)
    view = lambda a, *shape: _F().view(a, *shape)  # an error where the strides allow no view, as PyTorch
    flatten = lambda a, start_dim=0, end_dim=-1: _F().flatten(a, start_dim, end_dim)
    transpose = lambda a, dim0, dim1: _F().transpose(a, dim0, dim1)
    swapaxes = transpose
    expand = lambda a, *sizes: _F().expand(a, *sizes)
    expand_as = lambda a, other: _F().expand(a, *other.shape)

    t = lambda a: _F().t(a)
    permute = lambda a, *dims: _F().permute(a, *dims)
    squeeze = lambda a, dim=None: _F().squeeze(a, dim)
    unsqueeze = lambda a, dim: _F().unsqueeze(a, dim)
    contiguous = lambda a: _F().contiguous(a)
    clone = lambda a: _F().clone(a)


# ``type(t)`` prints ``<class 'minitorch_cnn.Tensor'>``, as PyTorch's ``<class 'torch.Tensor'>``: the classes
# are named by the package that exports them (pickle finds them there as well)
Tensor.__module__ = Size.__module__ = "minitorch_cnn"

# ------------------------------------------------------------------ printing
_DEVICES = {"cpu": backend.device("cpu"), "cuda": backend.device("cuda", 0)}
_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
# PyTorch's print options: 4 decimals, lines of at most 80 characters, and tensors of more than
# 1000 elements summarised by their first and last 3 entries along each dimension
_PRECISION, _LINEWIDTH, _THRESHOLD, _EDGEITEMS = 4, 80, 1000, 3


def _type_string(t: Tensor) -> str:
    name = _TYPE_NAMES.get(t.dtype.name, t.dtype.name)
    return f"minitorch_cnn.{'cuda.' if t.device == 'cuda' else ''}{name}Tensor"


class _Formatter:
    """One number format for a whole tensor, chosen from the values shown, as PyTorch chooses it.

    Floats whose non-zero finite values are all whole print as ``3.``; others with 4 decimals
    (``0.1000``); scientific notation (``1.0000e+05``) when the largest magnitude exceeds 1e8 or is
    over 1000 times the smallest, or (not whole) when the smallest is below 1e-4. Every entry is
    right-aligned to the width of the widest non-zero finite value (ints and bools: of any value).
    """

    def __init__(self, values):
        import numpy as np

        self.floating = values.dtype.kind == "f"
        self.whole, self.scientific, self.width = True, False, 1
        if not self.floating:
            self.width = max([1] + [len(str(v)) for v in values.ravel().tolist()])
            return
        v = values.astype(np.float64).ravel()
        v = v[np.isfinite(v) & (v != 0)]
        if v.size == 0:
            return
        self.whole = bool((v == np.ceil(v)).all())
        largest, smallest = np.abs(v).max(), np.abs(v).min()
        self.scientific = bool(largest / smallest > 1000 or largest > 1e8 or (not self.whole and smallest < 1e-4))
        self.width = max(len(self.format(x)) for x in v.tolist())

    def format(self, x) -> str:
        if not self.floating:
            text = str(x)
        elif self.scientific:
            text = f"{x:.{_PRECISION}e}"
        elif self.whole:
            text = f"{x:.0f}" + ("" if math.isinf(x) or math.isnan(x) else ".")
        else:
            text = f"{x:.{_PRECISION}f}"
        return text.rjust(self.width)


def _shown(a):
    """The entries that will be printed of a summarised array: the first and last edge items of every dim."""
    import numpy as np

    if a.ndim == 0:
        return a
    rows = range(len(a)) if len(a) <= 2 * _EDGEITEMS else [*range(_EDGEITEMS), *range(len(a) - _EDGEITEMS, len(a))]
    if a.ndim == 1:
        return a[list(rows)]
    return np.stack([_shown(a[i]) for i in rows])


def _body(a, fmt: _Formatter, indent: int, summarize: bool) -> str:
    """The bracketed values: rows of a 1-D array wrapped at the line width, inner arrays one per line
    (a blank line between 2-D blocks, two between 3-D blocks, ...), ``...`` where entries are skipped."""
    if a.ndim == 0:
        return fmt.format(a.item())
    skip = summarize and len(a) > 2 * _EDGEITEMS
    if a.ndim == 1:
        items = [fmt.format(x) for x in a.tolist()] if not skip else (
            [fmt.format(x) for x in a[:_EDGEITEMS].tolist()] + [" ..."]
            + [fmt.format(x) for x in a[-_EDGEITEMS:].tolist()])
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [_body(a[i], fmt, indent + 1, summarize) for i in range(len(a))] if not skip else (
        [_body(a[i], fmt, indent + 1, summarize) for i in range(_EDGEITEMS)] + ["..."]
        + [_body(a[i], fmt, indent + 1, summarize) for i in range(len(a) - _EDGEITEMS, len(a))])
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _format(t: Tensor) -> str:
    """``tensor(<values>, <facts>)``: each fact (device, size of an empty tensor, a dtype that is not the
    default for its kind, grad_fn or requires_grad) follows on the same line while it fits in 80 characters."""
    a = backend.to_numpy(t.array)
    if a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype("float32")  # float16 prints as float32 does
    facts = [f"device='{t.device}:0'"] if t.device != "cpu" else []
    default = to_dtype(backend.get_default_dtype())
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            facts.append(f"size={tuple(a.shape)}")
        if t.dtype != default:  # nothing to tell the dtype from: an empty int64 tensor says so
            facts.append(f"dtype={t.dtype}")
    else:
        if t.dtype not in (default, to_dtype("int64"), to_dtype("bool")):
            facts.append(f"dtype={t.dtype}")
        summarize = a.size > _THRESHOLD
        body = _body(a, _Formatter(_shown(a) if summarize else a), len("tensor("), summarize)
    if t.grad_fn is not None:
        facts.append(f"grad_fn=<{t.grad_fn.backward_name}>")
    elif t.requires_grad:
        facts.append("requires_grad=True")
    text = "tensor(" + body
    last_line = len(text) - text.rfind("\n") + 1  # (PyTorch's count, one more than the line's length)
    for fact in facts:
        if last_line + len(fact) + 2 > _LINEWIDTH:
            text += ",\n" + " " * len("tensor(") + fact
            last_line = len("tensor(") + len(fact)
        else:
            text += ", " + fact
            last_line += len(fact) + 2
    return text + ")"
