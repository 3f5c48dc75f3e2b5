"""``Distribution``: the base class of the probability distributions (``torch.distributions.Distribution``).

A distribution has a ``batch_shape`` (independent distributions side by side, from its parameters'
shapes) and an ``event_shape`` (the shape of one draw: ``()`` for a number, ``(k,)`` for a vector
of counts). ``sample(sample_shape)`` returns a tensor of shape ``sample_shape + batch_shape +
event_shape``, drawn from the engine's seeded generator (``mt.manual_seed`` makes it repeatable).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Size, Tensor

__all__ = ["Distribution"]


def as_tensor(value, like=None) -> Tensor:
    """A parameter as a floating Tensor: a Tensor as it is, a number in ``like``'s dtype or the default dtype."""
    if isinstance(value, Tensor):
        if value.dtype.kind != "f":
            raise TypeError(f"distributions: expected a floating-point tensor parameter, got {value.dtype.name}")
        return value
    dtype = like.dtype if isinstance(like, Tensor) else backend.get_default_dtype()
    return Tensor(np.asarray(value, dtype=np.dtype(dtype)))


def host(t: Tensor) -> np.ndarray:
    """The values of ``t`` as a NumPy float64 array (where samples are drawn)."""
    return backend.to_numpy(t.array).astype(np.float64)


class Distribution:
    """Base class: subclasses set ``batch_shape``/``event_shape`` and define ``sample`` and ``log_prob``."""

    arg_names: tuple[str, ...] = ()  # the parameters shown by repr, when held in the instance's __dict__

    def __init__(self, batch_shape=(), event_shape=()):
        self.batch_shape, self.event_shape = Size(batch_shape), Size(event_shape)

    def _extended_shape(self, sample_shape=()) -> Size:
        """``sample_shape + batch_shape + event_shape``, the shape of ``sample(sample_shape)``."""
        if isinstance(sample_shape, (int, np.integer)) or not hasattr(sample_shape, "__iter__"):
            raise TypeError(f"{type(self).__name__}.sample: expected sample_shape to be a tuple of ints such as "
                            f"(3,), got {sample_shape!r}")
        return Size(sample_shape) + self.batch_shape + self.event_shape

    def sample(self, sample_shape=()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define sample")

    def log_prob(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define log_prob")

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define mean")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define variance")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def _as_sample(self, array: np.ndarray, like: Tensor, dtype=None) -> Tensor:
        """A drawn array as a Tensor in ``dtype`` (default ``like``'s) on ``like``'s device, without gradient."""
        array = np.asarray(array, dtype=np.dtype(like.dtype if dtype is None else dtype), order="C")
        return Tensor(backend.to_device(array, like.device))

    def __repr__(self):
        shown = []
        for name in self.arg_names:
            if name in self.__dict__:
                value = self.__dict__[name]
                shown.append(f"{name}: {value.item() if value.numel() == 1 else value.shape}")
        return f"{type(self).__name__}({', '.join(shown)})"
