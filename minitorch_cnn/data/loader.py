"""``DataLoader``: batches of ``(X, y)`` tensors from a dataset, shuffled reproducibly.

For a dataset that holds its data as arrays (``.images`` and ``.targets``, as :class:`ArrayDataset`,
:class:`FashionMNIST` and :class:`MNIST` do) a batch is one fancy-index of each array: no Python
loop over items. The uint8 batch is moved to the device first (a quarter of the bytes of floats),
scaled to [0, 1] there, and the dataset's ``transform`` (e.g. :class:`Resize`) is applied to the
whole batch on the device. Any other dataset (``len`` + ``__getitem__`` returning
``(image, label)``) is read item by item and stacked.

Shuffling. Epoch ``e`` uses the permutation drawn from ``numpy.random.default_rng([seed, e])``:
it depends only on the loader's seed and the epoch number, never on what else drew random numbers
in between. The seed is the ``seed`` argument, or else (for a shuffling loader) one number drawn
from the engine's generator (``backend.rng()``) when the loader is made, so ``mt.manual_seed(n)`` makes it deterministic.
``state_dict()`` / ``load_state_dict()`` (or ``set_epoch``) carry ``{seed, epoch}`` across a
checkpoint, so a run resumed at epoch k sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..dtypes import numpy_dtype
from ..tensor import Tensor
from .transforms import to_float

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``dataset`` in batches of ``(X, y)`` tensors.

    ``X``: float ``(B, C, H, W)`` (``dtype``, default the engine's float dtype, float32) on
    ``device``; ``y``: int64 ``(B,)`` on ``device``. ``len(loader)`` is the number of batches.
    Each ``iter(loader)`` is one epoch and advances :attr:`epoch` by one.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 device="cpu", dtype=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.device = backend.check_device(device)
        self.dtype = numpy_dtype(backend.get_default_dtype() if dtype is None else dtype)  # "float": float32
        if self.dtype.kind != "f":
            raise TypeError(f"DataLoader: dtype must be a floating dtype, got {self.dtype.name}")
        if seed is None and self.shuffle:  # only a shuffling loader draws from the engine's generator
            seed = int(backend.rng().integers(2**63))
        self.seed = None if seed is None else int(seed)
        self.epoch = 0  # the epoch the next iter() produces
        self._arrays = hasattr(dataset, "images") and hasattr(dataset, "targets")

    # ------------------------------------------------------------------ size and order
    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The item indices of an epoch (default: the next one), in the order they are served."""
        epoch = self.epoch if epoch is None else int(epoch)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` serve epoch ``epoch`` (0-based)."""
        if int(epoch) < 0:
            raise ValueError(f"DataLoader.set_epoch: expected epoch >= 0, got {epoch}")
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        """``{"seed", "epoch"}``: plain ints (seed None when not shuffling), JSON-able, for checkpoints."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        try:
            seed = None if state["seed"] is None else int(state["seed"])
            epoch = int(state["epoch"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: expected {{'seed': int, 'epoch': int}}, got "
                             f"{state!r} ({exc})") from None
        self.seed = seed
        self.set_epoch(epoch)

    # ------------------------------------------------------------------ batches
    def batch_arrays(self, indices):
        """The raw ``(X, y)`` arrays (on the loader's device) of the items ``indices``."""
        indices = np.asarray(indices, dtype=np.int64)
        transform = getattr(self.dataset, "transform", None)
        if self._arrays:
            images = self.dataset.images[indices]
            labels = np.asarray(self.dataset.targets)[indices]
            x = backend.to_device(np.ascontiguousarray(images), self.device)
            x = to_float(x, self.dtype)
            if x.ndim == 3:
                x = x[:, None, :, :]
            if transform is not None:
                x = transform(x)
                x = x.array if isinstance(x, Tensor) else x  # ToTensor gives a Tensor: its array
        else:  # a map-style dataset: item by item (its __getitem__ applied the transform)
            items = [self.dataset[int(i)] for i in indices]
            x = backend.to_device(np.stack([backend.to_numpy(im.array if isinstance(im, Tensor) else im) for im, _ in items]),
                                  self.device)
            labels = np.asarray([int(lbl) for _, lbl in items], dtype=np.int64)
        x = x.astype(self.dtype, copy=False)
        y = backend.to_device(np.asarray(labels, dtype=np.int64), self.device)
        return x, y

    def __iter__(self):
        order = self.order()
        self.epoch += 1  # counted when the epoch starts, so state_dict() after it names the next one
        return self._batches(order)

    def _batches(self, order):
        stop = min(len(self) * self.batch_size, len(order))
        for start in range(0, stop, self.batch_size):
            x, y = self.batch_arrays(order[start : start + self.batch_size])
            yield Tensor(x), Tensor(y)

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, device={self.device!r}, "
                f"{len(self)} batches)")
