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
            data = data.data
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
    def data(self):
        """The raw array (NumPy or CuPy). Assigning a Tensor stores its array: ``p.data -= lr * p.grad``."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value.data if isinstance(value, Tensor) else value

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
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self.grad_fn is None)
    T = property(lambda self: _F().transpose(self, 0, 1))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        grad = f", grad_fn={self.grad_fn!r}" if self.grad_fn else (", requires_grad=True" if self.requires_grad else "")
        dev = "" if self.device == "cpu" else f", device='{self.device}'"
        return f"tensor({backend.to_numpy(self.data)!r}{dev}{grad})"

    # --------------------------------------------------------- leaving the graph
    def numpy(self):
        """A host NumPy copy of the values (never a view into this tensor)."""
        return backend.to_numpy(self.data).copy()

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: expected a tensor with one element, got shape {self.shape}")
        return self.data.reshape(-1)[0].item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        return Tensor(self.data)

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

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def long(self):
        return self.to(dtype="int64")

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    # --------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=False):
        from .autograd import backward

        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs, got shape {self.shape}; "
                    "pass gradient= with the same shape"
                )
            gradient = backend.xp_of(self.data).ones_like(self.data)
        else:
            gradient = gradient.data if isinstance(gradient, Tensor) else gradient
            if tuple(gradient.shape) != self.shape:
                raise ValueError(f"backward: gradient shape {tuple(gradient.shape)} != tensor shape {self.shape}")
            if backend.device_of(gradient) != self.device:
                raise ValueError(f"backward: gradient on {backend.device_of(gradient)} for a tensor on {self.device}")
        backward(self, gradient, retain_graph=retain_graph)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def zero_(self):
        self.data[...] = 0
        return self

    def fill_(self, value):
        self.data[...] = value
        return self

    def copy_(self, other):
        """Copy ``other``'s values in (from any device, as ``torch.Tensor.copy_``)."""
        self.data[...] = self._on_my_device(other)
        return self

    def _on_my_device(self, value):
        """A Tensor's or array's values on this tensor's device (moved explicitly, not left to CuPy)."""
        value = value.data if isinstance(value, Tensor) else value
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
        self.data[_F().shape.raw_index(index)] = self._on_my_device(value)

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.item())

    def __format__(self, spec):
        return format(self.item(), spec) if self.data.size == 1 and spec else repr(self)

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
    sum = lambda a, dim=None, keepdim=False: _F().sum(a, dim, keepdim)
    mean = lambda a, dim=None, keepdim=False: _F().mean(a, dim, keepdim)
    max = lambda a, dim=None, keepdim=False: _F().max(a, dim, keepdim)
    min = lambda a, dim=None, keepdim=False: _F().min(a, dim, keepdim)
    argmax = lambda a, dim=None, keepdim=False: _F().argmax(a, dim, keepdim)
    reshape = lambda a, *shape: _F().reshape(a, *shape)
    view = reshape
    flatten = lambda a, start_dim=0, end_dim=-1: _F().flatten(a, start_dim, end_dim)
    transpose = lambda a, dim0, dim1: _F().transpose(a, dim0, dim1)
    permute = lambda a, *dims: _F().permute(a, *dims)
    squeeze = lambda a, dim=None: _F().squeeze(a, dim)
    unsqueeze = lambda a, dim: _F().unsqueeze(a, dim)
    contiguous = lambda a: a
    clone = lambda a: _F().clone(a)
