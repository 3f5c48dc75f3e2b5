"""``Multinomial(total_count, probs)``: how many of ``total_count`` draws land in each of ``k`` categories."""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import functional as F
from ..tensor import Tensor
from .categorical import Categorical
from .distribution import Distribution, host

__all__ = ["Multinomial"]

_log_factorial = np.vectorize(lambda n: math.lgamma(n + 1.0), otypes=[np.float64])


class Multinomial(Distribution):
    """Counts of ``total_count`` independent draws from ``Categorical(probs)`` (or ``logits=``).

    A sample has the parameter's shape (last axis: the ``k`` categories) and its float dtype, each
    row summing to ``total_count``. ``mean = n p``, ``variance = n p (1 - p)``, and
    ``log_prob(x) = log n! - sum_i log x_i! + sum_i x_i log p_i``.
    """

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if isinstance(total_count, bool) or not isinstance(total_count, (int, np.integer)) or total_count < 0:
            raise ValueError(f"Multinomial: expected total_count to be a non-negative int, got {total_count!r}")
        self.total_count = int(total_count)
        try:
            self._categorical = Categorical(probs=probs, logits=logits)
        except ValueError as exc:  # the same check, named after this distribution
            raise ValueError("Multinomial" + str(exc).removeprefix("Categorical")) from None
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:])

    probs = property(lambda self: self._categorical.probs, doc="The normalised probabilities (last axis).")
    logits = property(lambda self: self._categorical.logits, doc="The normalised log-probabilities.")
    param_shape = property(lambda self: self._categorical.param_shape)

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs) * self.total_count

    def sample(self, sample_shape=()) -> Tensor:
        """Counts drawn from the engine's generator (``numpy.random.Generator.multinomial``)."""
        shape = self._extended_shape(sample_shape)
        p = host(self.probs)
        p = p / p.sum(-1, keepdims=True)  # exactly normalised in float64, as NumPy requires
        counts = backend.rng().multinomial(self.total_count, p, size=tuple(shape[:-1]))
        return self._as_sample(counts, self.probs)

    def log_prob(self, value) -> Tensor:
        """The log-probability of the counts ``value`` (differentiable in the parameters)."""
        counts = host(value) if isinstance(value, Tensor) else np.asarray(value, dtype=np.float64)
        if counts.ndim < 1 or counts.shape[-1] != self.event_shape[0] or (counts < 0).any() \
                or (counts.sum(-1) > self.total_count).any():
            raise ValueError(f"Multinomial.log_prob: expected non-negative counts over {self.event_shape[0]} "
                             f"categories summing to at most total_count={self.total_count}, got {value!r}")
        logits = self.logits
        constant = _log_factorial(counts.sum(-1)) - _log_factorial(counts).sum(-1)  # log n! - sum log x_i!
        x = Tensor(backend.to_device(counts.astype(np.dtype(logits.dtype)), logits.device))
        log_powers = (F.where(x == 0, 0.0, logits) * x).sum(-1)  # a zero count times log 0 counts as 0
        c = Tensor(backend.to_device(np.asarray(constant, dtype=np.dtype(logits.dtype)), logits.device))
        return log_powers + c
