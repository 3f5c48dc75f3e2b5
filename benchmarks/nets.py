"""The nets on both sides: ours from ``minitorch_cnn.models``, PyTorch's written here.

The PyTorch nets follow the book's code and its shape tables, with the same module names, so their
``state_dict`` keys are ours and the weights can be copied across: both engines then start from
the same numbers, and the first loss of a step is printed side by side as a sanity check.
"""

from __future__ import annotations

import numpy as np


def ours(name: str, **kwargs):
    from minitorch_cnn import models

    return models.get_model(name, **kwargs)


def ours_sgd(params, lr):
    from minitorch_cnn import optim

    return optim.SGD(params, lr=lr)


# --------------------------------------------------------------------------- PyTorch nets
def torch_lenet():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def torch_resnet18(in_channels=1, num_classes=10):
    import torch.nn.functional as tF
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, cin, cout, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(cout, cout, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(cin, cout, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1 = nn.BatchNorm2d(cout)
            self.bn2 = nn.BatchNorm2d(cout)

        def forward(self, x):
            y = tF.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            if self.conv3 is not None:
                x = self.conv3(x)
            return tF.relu(y + x)

    def block(cin, cout, n, first_block=False):
        layers = []
        for i in range(n):
            if i == 0 and not first_block:
                layers.append(Residual(cin, cout, use_1x1conv=True, strides=2))
            else:
                layers.append(Residual(cout, cout))
        return nn.Sequential(*layers)

    b1 = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    return nn.Sequential(
        b1, block(64, 64, 2, first_block=True), block(64, 128, 2), block(128, 256, 2), block(256, 512, 2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes),
    )


def torch_vgg11_small(in_channels=1, num_classes=10, ratio=4):
    from torch import nn

    arch = [(1, 64 // ratio), (1, 128 // ratio), (2, 256 // ratio), (2, 512 // ratio), (2, 512 // ratio)]
    blocks, cin = [], in_channels
    for n, cout in arch:
        layers = []
        for _ in range(n):
            layers += [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.ReLU()]
            cin = cout
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        blocks.append(nn.Sequential(*layers))
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(cin * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )


def _cross_check_nets():
    """``tests/_torch_nets.py``: the PyTorch nets the test suite checks ours against (the seeds' code,
    state-dict keys equal to ours), loaded from the checkout by path rather than written twice."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tests" / "_torch_nets.py"
    spec = importlib.util.spec_from_file_location("_torch_nets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_googlenet():
    return _cross_check_nets().googlenet()


def torch_densenet():
    return _cross_check_nets().densenet()


TORCH_NETS = {"lenet": torch_lenet, "resnet18": torch_resnet18, "vgg11_small": torch_vgg11_small,
              "googlenet": torch_googlenet, "densenet": torch_densenet}


def share_weights(our_model, torch_model) -> str:
    """Copy our parameters and buffers into the PyTorch net when the keys and shapes agree.

    Returns a short note for the table: "same weights" or why they could not be shared.
    """
    import torch

    ours_sd = {k: v.numpy() for k, v in our_model.state_dict().items()}
    theirs = torch_model.state_dict()
    if set(ours_sd) != set(theirs):
        return "own init (state_dict keys differ)"
    for k, v in theirs.items():
        if tuple(v.shape) != ours_sd[k].shape:
            return f"own init ({k}: shape {ours_sd[k].shape} vs {tuple(v.shape)})"
    torch_model.load_state_dict({k: torch.from_numpy(np.array(a)).to(theirs[k].dtype) for k, a in ours_sd.items()})
    return "same weights"
