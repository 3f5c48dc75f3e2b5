"""``minitorch_cnn.as_torch()``: PyTorch-style imports reach the engine, each in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_the_book_imports_reach_the_engine():
    done = _run("""
        import sys
        import minitorch_cnn
        assert "torch" not in sys.modules  # importing the package binds nothing
        minitorch_cnn.as_torch()
        import torch
        import torchvision
        from torch import nn
        from torch.nn import functional as F
        from torch.distributions.multinomial import Multinomial
        from torch.optim.lr_scheduler import StepLR
        from torch.utils import data
        from torchvision import transforms
        assert torch is minitorch_cnn and nn is minitorch_cnn.nn and F is minitorch_cnn.functional
        assert Multinomial is minitorch_cnn.distributions.Multinomial
        assert StepLR is minitorch_cnn.optim.lr_scheduler.StepLR and data is minitorch_cnn.utils.data
        assert transforms is minitorch_cnn.data.transforms and torchvision.datasets is minitorch_cnn.data
        assert callable(torch.tensor)  # no second copy of the package shadowed the factory
        net = nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid())
        print(net(torch.rand(1, 1, 28, 28)).shape)
        minitorch_cnn.as_torch()  # a second call is harmless
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "minitorch_cnn.Size([1, 6, 28, 28])"


def test_it_refuses_when_pytorch_is_already_imported():
    pytest.importorskip("torch")
    done = _run("""
        import sys
        import torch
        import minitorch_cnn
        try:
            minitorch_cnn.as_torch()
        except RuntimeError as err:
            print(err)
        assert sys.modules["torch"] is torch
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("as_torch: PyTorch itself is already imported in this process")
