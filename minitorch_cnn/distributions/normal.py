"""``Normal(loc, scale)``: the Gaussian with mean ``loc`` and standard deviation ``scale``."""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .distribution import Distribution, as_tensor, host

__all__ = ["Normal"]


class Normal(Distribution):
    """``loc`` and ``scale`` (numbers or tensors, broadcast together into the batch shape).

    ``log_prob(x) = -(x - loc)^2 / (2 scale^2) - log(scale) - log(sqrt(2 pi))``; ``rsample`` is
    ``loc + eps * scale`` with ``eps ~ N(0, 1)``, differentiable in ``loc`` and ``scale``.
    """

    arg_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        like = loc if isinstance(loc, Tensor) else scale
        loc, scale = as_tensor(loc, like), as_tensor(scale, like)
        if not (host(scale) > 0).all():
            raise ValueError(f"Normal: expected parameter scale to be positive (> 0), got {scale!r}")
        shape = np.broadcast_shapes(tuple(loc.shape), tuple(scale.shape))
        self.loc, self.scale = loc.expand(*shape), scale.expand(*shape)
        super().__init__(shape)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale**2

    def rsample(self, sample_shape=()) -> Tensor:
        """``loc + eps * scale`` (the reparameterised draw: gradients flow to ``loc`` and ``scale``)."""
        shape = self._extended_shape(sample_shape)
        eps = self._as_sample(backend.rng().standard_normal(tuple(shape)), self.loc)
        return self.loc + eps * self.scale

    def sample(self, sample_shape=()) -> Tensor:
        return self.rsample(sample_shape).detach()

    def log_prob(self, value) -> Tensor:
        value = as_tensor(value, self.loc)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
