"""``mt.utils``: PyTorch's ``torch.utils`` namespace; ``mt.utils.data`` holds the dataset and loader API."""

from . import data
