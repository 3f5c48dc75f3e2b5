"""The data layer: IDX files, Fashion-MNIST / MNIST, a batching DataLoader and image transforms.

Imports NumPy, the engine's ``backend`` and ``dtypes``, and ``Tensor`` (batches and items are tensors); nothing above.
"""

from .datasets import DATA_ENV, MNIST, ArrayDataset, DatasetNotFoundError, FashionMNIST, user_cache_dir
from .idx import read_idx, write_idx
from .loader import DataLoader
from .transforms import Compose, Resize, ToTensor, to_float

__all__ = [
    "ArrayDataset",
    "Compose",
    "DATA_ENV",
    "DataLoader",
    "DatasetNotFoundError",
    "FashionMNIST",
    "MNIST",
    "Resize",
    "ToTensor",
    "read_idx",
    "to_float",
    "user_cache_dir",
    "write_idx",
]
