"""AlexNet as in *Dive into Deep Learning*: one input channel, 224×224 input, 10 classes.

A single ``Sequential`` of 21 layers (keys ``0.weight`` ... ``20.bias``); the Linear after the
Flatten takes 256·5·5 = 6400 features, so the input must be 224×224 (any size giving 5×5 there).
"""

from __future__ import annotations

from .. import nn


def alexnet(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )  # fmt: skip


__all__ = ["alexnet"]
