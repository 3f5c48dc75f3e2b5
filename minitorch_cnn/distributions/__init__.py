"""Probability distributions (``torch.distributions``): ``Multinomial``, ``Categorical`` and ``Normal``.

Each has ``sample(sample_shape)`` (drawn from the engine's seeded generator, so ``mt.manual_seed``
repeats it), ``log_prob``, ``mean``, ``variance``, ``stddev``, ``batch_shape`` and ``event_shape``,
with PyTorch's names and shapes. As in the book: ``multinomial.Multinomial(10, probs).sample()``.
"""

from . import categorical, distribution, multinomial, normal
from .categorical import Categorical
from .distribution import Distribution
from .multinomial import Multinomial
from .normal import Normal

__all__ = ["Categorical", "Distribution", "Multinomial", "Normal"]
