"""Element types with PyTorch's names: ``mt.float32``, ``mt.int64``, ``mt.bool``, ... (``torch.dtype``).

A tensor's numbers live in a NumPy (or CuPy) array, and the array's NumPy dtype is what the engine
computes with. A :class:`dtype` is the user-facing name for one: ``t.dtype`` prints as
``minitorch_cnn.float32``, and it carries the NumPy dtype in its ``.dtype`` attribute. NumPy reads
that attribute wherever it expects a dtype, so ``np.zeros(3, dtype=mt.float32)``,
``array.astype(t.dtype)`` and ``np.dtype(mt.int64)`` work. It compares equal to, and hashes like,
that NumPy dtype (``t.dtype == np.float32``), and the NumPy dtype's other attributes (``kind``,
``name``, ``type``, ``char``, ...) are read through, so code written for NumPy dtypes keeps working.

:func:`to_dtype` turns anything a ``dtype=`` argument accepts into one of these objects: a
:class:`dtype`, a NumPy dtype or scalar type, a Python type (``float`` is float64, ``int`` int64, as
in PyTorch) or a name (PyTorch's ``"float"``, ``"long"``, ... or NumPy's ``"float32"``, ``"f4"``, ...).
"""

from __future__ import annotations

import numpy as np


class dtype:  # noqa: N801 - PyTorch's name
    """The element type of a tensor, as ``torch.dtype``; ``.dtype`` is the NumPy dtype it stands for."""

    def __init__(self, numpy_dtype):
        self.dtype = np.dtype(numpy_dtype)
        self.kind, self.name = self.dtype.kind, self.dtype.name  # the most read, at hand (the rest: __getattr__)

    def __getattr__(self, name):  # kind, name, char, type, str, ...: the NumPy dtype's attributes
        if name == "dtype":  # not set yet: no recursion through self.dtype
            raise AttributeError(name)
        return getattr(self.dtype, name)

    is_floating_point = property(lambda self: self.dtype.kind == "f")
    is_complex = property(lambda self: self.dtype.kind == "c")
    is_signed = property(lambda self: self.dtype.kind in "fic")  # bool and uint8 are unsigned, as in PyTorch
    itemsize = property(lambda self: self.dtype.itemsize)  # bytes per element

    def __repr__(self):
        return f"minitorch_cnn.{self.dtype.name}"

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self.dtype == other.dtype
        try:
            return self.dtype == to_dtype(other).dtype
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.dtype)

    def __reduce__(self):  # pickle and copy give back the same object
        return to_dtype, (self.dtype,)


dtype.__module__ = "minitorch_cnn"  # type(mt.float32) prints <class 'minitorch_cnn.dtype'>, as torch.dtype

float32, float64, float16 = dtype(np.float32), dtype(np.float64), dtype(np.float16)
int64, int32, int16, int8, uint8, bool_ = (dtype(t) for t in (np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_))

# every name of ``mt`` for a dtype: its own name, and PyTorch's aliases (mt.float is float32, mt.long int64, ...)
NAMES = {d.dtype.name: d for d in (float32, float64, float16, int64, int32, int16, int8, uint8, bool_)}
NAMES.update(float=float32, double=float64, half=float16, long=int64, int=int32, short=int16)
_BY_NUMPY = {d.dtype: d for d in NAMES.values()}  # one object per NumPy dtype (others are added when met)


def to_dtype(value) -> dtype:
    """The :class:`dtype` for ``value``: a dtype, a NumPy dtype or type, a Python type, or a name
    (``"float32"``, ``"float"``, ``"long"``, ``"minitorch_cnn.int64"``). A TypeError for anything else."""
    if isinstance(value, dtype):
        return value
    if isinstance(value, np.dtype) and value in _BY_NUMPY:  # an array's dtype: the common case, first
        return _BY_NUMPY[value]
    if isinstance(value, str):
        name = value.removeprefix("minitorch_cnn.").removeprefix("torch.")
        if name in NAMES:
            return NAMES[name]
    if value is None:  # NumPy reads None as float64; here it is a mistake
        raise TypeError("dtype: expected a dtype (e.g. minitorch_cnn.float32), got None")
    try:
        numpy_dtype = np.dtype(value)
    except (TypeError, ValueError):
        raise TypeError(f"dtype: expected a dtype (e.g. minitorch_cnn.float32) or its name, got {value!r}") from None
    if numpy_dtype not in _BY_NUMPY:
        _BY_NUMPY[numpy_dtype] = dtype(numpy_dtype)
    return _BY_NUMPY[numpy_dtype]


def numpy_dtype(value) -> np.dtype:
    """The NumPy dtype for anything :func:`to_dtype` accepts (what array functions are given)."""
    return to_dtype(value).dtype
