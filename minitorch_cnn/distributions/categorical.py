"""``Categorical(probs)`` or ``Categorical(logits=...)``: one of ``k`` categories, drawn with those odds."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .. import backend
from .. import functional as F
from ..tensor import Tensor
from .distribution import Distribution, as_tensor, host

__all__ = ["Categorical"]


def _check_one_of(name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: either `probs` or `logits` must be specified, but not both")


class Categorical(Distribution):
    """Categories ``0 .. k-1`` with probabilities ``probs`` (last axis; normalised to sum to 1) or
    ``softmax(logits)``. Leading axes of the parameter are the batch; a draw is an int64 index.

    ``probs`` is clamped to ``[eps, 1 - eps]`` before its log is taken (``logits``), as PyTorch does,
    so a zero probability has a finite log-probability.
    """

    arg_names = ("probs", "logits")

    def __init__(self, probs=None, logits=None, validate_args=None):
        _check_one_of(type(self).__name__, probs, logits)
        if probs is not None:
            probs = as_tensor(probs)
            values = host(probs)
            if probs.ndim < 1 or not np.isfinite(values).all() or (values < 0).any() or (values.sum(-1) <= 0).any():
                raise ValueError(f"{type(self).__name__}: expected probs to be a vector (or batch of vectors) of "
                                 f"non-negative numbers with a positive sum, got {probs!r}")
            self.probs = probs / probs.sum(-1, keepdim=True)
            param = probs
        else:
            logits = as_tensor(logits)
            if logits.ndim < 1:
                raise ValueError(f"{type(self).__name__}: expected logits with at least one axis, got shape "
                                 f"{tuple(logits.shape)}")
            self.logits = F.log_softmax(logits, dim=-1)  # normalised: logsumexp is 0
            param = logits
        self._param = param
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1])

    @cached_property
    def probs(self) -> Tensor:  # set in __init__ when given, else from logits
        return self.logits.exp()

    @cached_property
    def logits(self) -> Tensor:
        eps = float(np.finfo(np.dtype(self.probs.dtype)).eps)
        return self.probs.clamp(min=eps, max=1 - eps).log()

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        """Undefined for categories (NaN), as PyTorch's."""
        return self._as_sample(np.full(self.batch_shape, np.nan), self._param)

    @property
    def variance(self) -> Tensor:
        return self.mean

    def sample(self, sample_shape=()) -> Tensor:
        """Indices drawn by inverting the cumulative probabilities at uniform numbers."""
        shape = self._extended_shape(sample_shape)
        cdf = np.cumsum(host(self.probs), axis=-1)
        u = backend.rng().random(tuple(shape)) * cdf[..., -1]  # the last cdf entry is 1 up to rounding
        index = (cdf[..., :-1] <= u[..., None]).sum(-1)  # how many categories lie wholly below u
        return self._as_sample(index, self._param, np.int64)

    def log_prob(self, value) -> Tensor:
        """``logits[value]`` along the last axis (differentiable in the parameters)."""
        value = np.asarray(host(value) if isinstance(value, Tensor) else value)
        if (value != np.round(value)).any() or (value < 0).any() or (value >= self._num_events).any():
            raise ValueError(f"{type(self).__name__}.log_prob: expected category indices in "
                             f"[0, {self._num_events - 1}], got {value!r}")
        shape = np.broadcast_shapes(value.shape, tuple(self.batch_shape))
        onehot = np.arange(self._num_events) == np.broadcast_to(value, shape)[..., None]
        logits = self.logits.expand(*shape, self._num_events)
        return F.where(Tensor(backend.to_device(onehot, logits.device)), logits, 0.0).sum(-1)

    def entropy(self) -> Tensor:
        """``-sum(p log p)`` over the categories."""
        return -(self.probs * self.logits).sum(-1)
