"""Network in Network (Lin, Chen and Yan, 2013), the book's version for 1×224×224 Fashion-MNIST.

The idea: a convolution is a linear model applied to every window; NiN makes it a small MLP
instead. A ``nin_block`` is one ordinary convolution followed by two 1×1 convolutions, each with a
ReLU: a 1×1 convolution is a fully connected layer applied to every pixel's channel vector (the
same weights at every position), so the three together are a 3-layer MLP sliding over the image.
The second idea removes the big fully connected head of AlexNet/VGG: the last block outputs one
channel per class and a global average pool turns each channel into that class's score (no
parameters, any input size).

``nin``: ``Sequential`` of ``nin_block(1, 96, 11, s4)``, MaxPool(3, 2), ``nin_block(96, 256, 5,
p2)``, MaxPool(3, 2), ``nin_block(256, 384, 3, p1)``, MaxPool(3, 2), Dropout(0.5),
``nin_block(384, 10, 3, p1)``, AdaptiveAvgPool2d((1, 1)), Flatten(). At 224 the blocks give
96×54×54, 256×26×26, 384×12×12 and 10×5×5; the net needs an input of at least 67×67 (so that
three 3/2 max pools still have a window).
"""

from __future__ import annotations

from .. import nn


def nin_block(in_channels, out_channels, kernel_size, strides, padding) -> nn.Sequential:
    """Conv(kernel_size, strides, padding) ReLU, then two Conv1×1 ReLU: an MLP over each window."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(),
    )


def nin(in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    return nn.Sequential(
        nin_block(in_channels, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, num_classes, kernel_size=3, strides=1, padding=1),  # one channel per class
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )


__all__ = ["nin", "nin_block"]
