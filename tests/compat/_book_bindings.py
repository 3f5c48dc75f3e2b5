"""The book's modules on each engine: shared by ``book_cells.py`` and ``test_book_chapters.py``.

``modules_for(engine)`` is what ``sys.modules`` must hold for the book's imports: on ``"minitorch_cnn"``
the names ``torch``, ``torch.nn``, ``torch.nn.functional``, ``torch.optim``, ``torch.utils(.data)`` bound
to the engine, as ``test_d2l_library.py`` binds them; on both engines a ``torchvision`` stub whose
``transforms`` and ``datasets`` come from ``minitorch_cnn.data`` (its FashionMNIST reads the local
files). On PyTorch the stub's ``ToTensor`` gives a torch tensor, as torchvision's does.
``load_d2l(engine)`` executes the d2l 1.0.3 wheel's ``d2l/torch.py`` with those modules, through the
library test's own loader (it skips, saying why, without the wheel or d2l's imports).
"""

from __future__ import annotations

import importlib
import types

import numpy as np
from test_d2l_library import _load, _torchvision

import minitorch_cnn as mt
from minitorch_cnn.book import TORCH_NAMES

ENGINES = ("minitorch_cnn", "torch")


def modules_for(engine: str) -> dict:
    if engine == "minitorch_cnn":  # the names minitorch_cnn.as_torch() binds, here only while d2l loads
        modules = {name: importlib.import_module(target) for name, target in TORCH_NAMES.items()}
        return {"torch": mt, **modules, "torchvision": _torchvision(mt.data.transforms, mt.data)}
    import torch

    class ToTensor(mt.data.transforms.ToTensor):
        def __call__(self, images):
            return torch.from_numpy(np.array(super().__call__(images)))

    transforms = types.ModuleType("transforms")
    transforms.Compose, transforms.Resize, transforms.ToTensor = mt.data.Compose, mt.data.Resize, ToTensor
    return {"torchvision": _torchvision(transforms, mt.data), "torchvision.transforms": transforms}


def load_d2l(engine: str) -> types.ModuleType:
    return _load(f"d2l_on_{engine}", modules_for(engine))


def framework(engine: str) -> types.ModuleType:
    """The module a book reader has as ``torch``."""
    if engine == "minitorch_cnn":
        return mt
    import torch

    return torch
