"""``mt.utils.data``: PyTorch's dataset and loader names (``torch.utils.data`` after aliasing).

``Dataset`` (the base class of map-style datasets), ``TensorDataset``, ``Subset`` and
``DataLoader``, with PyTorch's arguments and batches:

- a dataset that holds its images as arrays (``FashionMNIST``, ``MNIST``, ``ArrayDataset`` of
  ``minitorch_cnn.data``) is served by the engine's loader: a batch is one fancy-index of the
  arrays, ``(X, y)`` with ``X`` float ``(B, 1, H, W)`` and ``y`` int64 ``(B,)``, the dataset's
  ``transform`` applied to the whole batch (so ``FashionMNIST(transform=ToTensor())`` batches are
  ``(B, 1, 28, 28)``, as torchvision's);
- a ``TensorDataset`` is served by indexing each of its tensors with the batch's indices (dtypes
  kept);
- any other dataset (``len`` and ``__getitem__``) is read item by item and collated by
  ``collate_fn`` (default :func:`default_collate`: tensors and arrays stacked, Python ints to
  int64, floats to float64, tuples field by field, as PyTorch's).

``num_workers`` is accepted (d2l passes 4) and does nothing: batches are made in the calling
process, which is where the work already is (one array index per batch, or the item loop);
there are no worker processes. ``pin_memory`` is accepted and ignored likewise.
Shuffling follows the engine's loader: reproducible under ``mt.manual_seed`` (or ``seed=``).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..data import loader as _loader
from ..functional import stack
from ..tensor import Tensor

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Items are ``(t0[i], t1[i], ...)`` of tensors with one first dimension, as ``torch``'s."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor) or t.ndim == 0:
                got = f"shape {tuple(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
                raise TypeError(f"TensorDataset: argument {i} must be a tensor with a first dimension, got {got}")
            if t.shape[0] != tensors[0].shape[0]:
                raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions "
                                 f"{[t.shape[0] for t in tensors]}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def batch(self, indices):
        """The items ``indices`` as one batch: each tensor indexed at once (dtypes and device kept)."""
        return tuple(Tensor(t.array[backend.to_device(indices, t.device)]) for t in self.tensors)


class Subset(Dataset):
    """The items ``indices`` of ``dataset``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def default_collate(batch):
    """Stack a list of samples into a batch, field by field, as PyTorch's ``default_collate``."""
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if backend.is_array(first):
        return Tensor(backend.xp_of(first).stack(batch))
    if isinstance(first, (bool, np.bool_)):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(first, (int, np.integer)):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(first, (float, np.floating)):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise ValueError("default_collate: every sample must have the same number of fields")
        return [default_collate(list(field)) for field in zip(*batch)]
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    return batch  # strings and other objects: the list as it is


class DataLoader(_loader.DataLoader):
    """``DataLoader(dataset, batch_size=1, shuffle=False, num_workers=0, collate_fn=None,
    pin_memory=False, drop_last=False)``, PyTorch's arguments (see the module doc for what each
    kind of dataset yields and why ``num_workers`` does nothing). The engine's own keywords
    ``seed``, ``device`` and ``dtype`` are accepted too."""

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, **engine_kwargs):
        if sampler is not None or batch_sampler is not None:
            raise ValueError("DataLoader: sampler and batch_sampler are not supported; use shuffle=True/False")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if batch_size is None:
            raise ValueError("DataLoader: batch_size=None (no batching) is not supported; give a positive int")
        super().__init__(dataset, batch_size=batch_size, shuffle=bool(shuffle), drop_last=drop_last, **engine_kwargs)
        self.num_workers = int(num_workers)  # accepted, no worker processes (module doc)
        self.pin_memory = bool(pin_memory)
        self.collate_fn = collate_fn

    def _batches(self, order):
        if self._arrays and self.collate_fn is None:  # the engine's batched path
            yield from super()._batches(order)
            return
        stop = min(len(self) * self.batch_size, len(order))
        for start in range(0, stop, self.batch_size):
            indices = order[start : start + self.batch_size]
            if isinstance(self.dataset, TensorDataset) and self.collate_fn is None:
                yield self.dataset.batch(indices)
                continue
            items = [self.dataset[int(i)] for i in indices]
            yield (self.collate_fn or default_collate)(items)
