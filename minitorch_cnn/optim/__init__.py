"""Optimizers and learning-rate schedulers, as ``torch.optim``: ``SGD``, ``Adam``, ``AdamW`` and
``optim.lr_scheduler``, with PyTorch's update formulas, options and ``state_dict`` layout."""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
