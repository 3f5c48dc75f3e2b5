"""``as_torch()``: run *Dive into Deep Learning*'s PyTorch cells, or any PyTorch-style script, on the engine.

The book's cells start with ``import torch``, ``from torch import nn``, ``from torch.nn import
functional as F``, ``from torch.distributions.multinomial import Multinomial`` and ``from d2l import
torch as d2l`` (whose library imports ``torchvision``). ``as_torch()`` binds each of those names, in
``sys.modules``, to the engine's module of the same meaning::

    import minitorch_cnn
    minitorch_cnn.as_torch()          # before the first `import torch` of the process
    import torch                      # the engine: torch.randn, torch.nn.Conv2d, ...

``torchvision`` becomes a module without code of its own whose ``transforms`` and ``datasets`` are the
engine's ``minitorch_cnn.data.transforms`` and ``minitorch_cnn.data`` (``ToTensor``, ``Resize``,
``FashionMNIST``). Nothing happens at import: the names are bound only when this function is called,
and they stay bound for the life of the process (start a new kernel or process to undo it). When the
real PyTorch is already imported, the call refuses, since two different ``torch`` modules in one
process would mix their tensors.
"""

from __future__ import annotations

import importlib
import sys
import types

# the engine's modules under PyTorch's (and torchvision's) names; the package itself is "torch"
TORCH_NAMES = {
    "torch.nn": "minitorch_cnn.nn",
    "torch.nn.functional": "minitorch_cnn.functional",
    "torch.nn.init": "minitorch_cnn.nn.init",
    "torch.nn.parameter": "minitorch_cnn.nn.parameter",
    "torch.optim": "minitorch_cnn.optim",
    "torch.optim.lr_scheduler": "minitorch_cnn.optim.lr_scheduler",
    "torch.utils": "minitorch_cnn.utils",
    "torch.utils.data": "minitorch_cnn.utils.data",
    "torch.distributions": "minitorch_cnn.distributions",
    "torch.distributions.distribution": "minitorch_cnn.distributions.distribution",
    "torch.distributions.multinomial": "minitorch_cnn.distributions.multinomial",
    "torch.distributions.categorical": "minitorch_cnn.distributions.categorical",
    "torch.distributions.normal": "minitorch_cnn.distributions.normal",
    "torchvision.transforms": "minitorch_cnn.data.transforms",
    "torchvision.datasets": "minitorch_cnn.data",
}


def as_torch() -> None:
    """Bind ``torch``, its submodules and ``torchvision`` in ``sys.modules`` to the engine (see the module doc)."""
    engine = importlib.import_module("minitorch_cnn")
    bound = sys.modules.get("torch")
    if bound is not None and bound is not engine:
        raise RuntimeError("as_torch: PyTorch itself is already imported in this process; call "
                           "minitorch_cnn.as_torch() before the first `import torch` (restart the kernel)")
    modules = {name: importlib.import_module(target) for name, target in TORCH_NAMES.items()}
    vision = sys.modules.get("torchvision")
    if vision is None or not getattr(vision, "__minitorch_cnn__", False):
        vision = types.ModuleType("torchvision", "torchvision's names that the book uses, bound to minitorch_cnn.data")
        vision.__minitorch_cnn__ = True
        vision.transforms, vision.datasets = modules["torchvision.transforms"], modules["torchvision.datasets"]
    sys.modules.update({"torch": engine, "torchvision": vision, **modules})
