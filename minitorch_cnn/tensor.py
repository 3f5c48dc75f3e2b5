"""``Tensor``: an array (NumPy or CuPy), its gradient, and the graph node that produced it.

Every operator and method below delegates to an op in ``minitorch_cnn.functional``; the
arithmetic and its derivatives live there, the graph walk lives in ``autograd.py``.
"""

from __future__ import annotations

from . import backend


def _F():
    from . import functional  # lazy: the ops sit one layer above the tensor they act on

    return functional


class GradDtypeError(RuntimeError, TypeError):
    """A tensor that is not floating point was asked to require gradients: a ``RuntimeError`` as in
    PyTorch, and a ``TypeError`` as this engine raised before."""


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
    shape = property(lambda self: tuple(self._data.shape))
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    device = property(lambda self: _DEVICES[backend.device_of(self._data)])  # a ``mt.device`` (a str)
    is_leaf = property(lambda self: self.grad_fn is None)
    T = property(lambda self: _F().transpose(self, 0, 1))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

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
            raise ValueError(f"item: expected a tensor with one element, got shape {self.shape}")
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
        return _F().to(self, device=device, dtype=dtype)

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
        as ``t.to(dtype)``. With no argument, PyTorch's type string, e.g. ``'torch.FloatTensor'``."""
        if dtype is None:
            return _type_string(self)
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
                    f"backward: grad can be implicitly created only for scalar outputs, got shape {self.shape}; "
                    "pass gradient= with the same shape"
                )
            gradient = backend.xp_of(self._data).ones_like(self._data)
        else:
            gradient = gradient.array if isinstance(gradient, Tensor) else gradient
            if tuple(gradient.shape) != self.shape:
                raise ValueError(f"backward: gradient shape {tuple(gradient.shape)} != tensor shape {self.shape}")
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
            raise TypeError(f"in-place {op.__name__}: result dtype {out.dtype} cannot be written into a {self.dtype} tensor")
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
    __eq__ = lambda a, b: _F().eq(a, b)
    __ne__ = lambda a, b: _F().ne(a, b)
    __lt__ = lambda a, b: _F().lt(a, b)
    __le__ = lambda a, b: _F().le(a, b)
    __gt__ = lambda a, b: _F().gt(a, b)
    __ge__ = lambda a, b: _F().ge(a, b)
    __getitem__ = lambda a, index: _F().getitem(a, index)
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

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    matmul = __matmul__
    neg = __neg__
    abs = __abs__
    exp = lambda a: _F().exp(a)
    log = lambda a: _F().log(a)
    sqrt = lambda a: _F().sqrt(a)
    relu = lambda a: _F().relu(a)
    sigmoid = lambda a: _F().sigmoid(a)
    tanh = lambda a: _F().tanh(a)
    softmax = lambda a, dim: _F().softmax(a, dim)
    log_softmax = lambda a, dim: _F().log_softmax(a, dim)
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
    reshape = lambda a, *shape: _F().reshape(a, *shape)
    view = reshape
    flatten = lambda a, start_dim=0, end_dim=-1: _F().flatten(a, start_dim, end_dim)
    transpose = lambda a, dim0, dim1: _F().transpose(a, dim0, dim1)
    swapaxes = transpose
    expand = lambda a, *sizes: _F().expand(a, *sizes)

    def t(self):
        """The transpose of a matrix (a 0-D or 1-D tensor is returned as it is), as ``torch.Tensor.t``."""
        if self.ndim > 2:
            raise ValueError(f"t: expected a tensor with at most 2 dimensions, got shape {self.shape}; use transpose")
        return self if self.ndim < 2 else _F().transpose(self, 0, 1)

    permute = lambda a, *dims: _F().permute(a, *dims)
    squeeze = lambda a, dim=None: _F().squeeze(a, dim)
    unsqueeze = lambda a, dim: _F().unsqueeze(a, dim)
    contiguous = lambda a: a
    clone = lambda a: _F().clone(a)


# ------------------------------------------------------------------ printing
_DEVICES = {"cpu": backend.device("cpu"), "cuda": backend.device("cuda", 0)}
_DEFAULT_DTYPES = ("float32", "int64", "bool")
_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _type_string(t: Tensor) -> str:
    name = _TYPE_NAMES.get(t.dtype.name, t.dtype.name)
    return f"torch.{'cuda.' if t.device == 'cuda' else ''}{name}Tensor"


def _format(t: Tensor) -> str:
    import numpy as np

    a = backend.to_numpy(t.array)
    options = {"separator": ", ", "prefix": "tensor(", "threshold": 1000, "edgeitems": 3}
    if a.dtype.kind == "f" and a.size and not (np.isfinite(a).all() and (a == np.round(a)).all()):
        options.update(precision=4, floatmode="fixed")  # PyTorch's 0.1000; whole floats print as 1.
    if a.dtype == np.bool_ and a.all():
        options["formatter"] = {"bool": str}  # PyTorch pads True to False's width only when a False is there
    body = np.array2string(a, **options) if a.ndim else np.array2string(a, **options).strip()
    if a.size == 0:
        body = "[]" if a.ndim == 1 else body
    extras = []
    if a.size == 0 and a.ndim != 1:
        extras.append(f"size={tuple(a.shape)}")
    if a.dtype.name not in _DEFAULT_DTYPES:
        extras.append(f"dtype=torch.{a.dtype.name}")
    if t.device != "cpu":
        extras.append(f"device='{t.device}:0'")
    if t.grad_fn is not None:
        extras.append(f"grad_fn={t.grad_fn!r}")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body, *extras]) + ")"
