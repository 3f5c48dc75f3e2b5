"""DenseNet from the second seed (the *Dive into Deep Learning* PyTorch port), 96×96 input, 1 channel.

``Sequential`` built with ``add_module``: ``0``-``3`` (Conv 7×7 s2 p3, BN, ReLU, MaxPool 3/2/1),
then ``DenseBlosk_0..3`` (the seed's spelling, kept so its state-dict keys match) with
``transition_block_0..2`` between them, then ``BN``, ``relu``, ``global_avg_pool`` and
``fc = Sequential(FlattenLayer(), Linear(channels, 10))``. The first dense conv's weight is
``DenseBlosk_0.net.0.2.weight``.
"""

from __future__ import annotations

from .. import functional as F
from .. import nn


def conv_block(in_channels, out_channels):
    """BatchNorm2d, ReLU, Conv2d(3×3, padding 1)."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
    )


class DenseBlock(nn.Module):
    """``num_convs`` conv blocks; each one's output is concatenated (channels) to its input."""

    def __init__(self, num_convs, in_channels, out_channels):
        super().__init__()
        net = []
        for i in range(num_convs):
            in_c = in_channels + i * out_channels
            net.append(conv_block(in_c, out_channels))
        self.net = nn.ModuleList(net)
        self.out_channels = in_channels + num_convs * out_channels

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = F.cat((X, Y), dim=1)
        return X


def transition_block(in_channels, out_channels):
    """BatchNorm2d, ReLU, Conv2d(1×1), AvgPool2d(2, 2): fewer channels, half the height and width."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2),
    )


class GlobalAvgPool2d(nn.Module):
    """Average over the whole H×W plane: (N, C, H, W) -> (N, C, 1, 1) (d2l's ``GlobalAvgPool2d``)."""

    def forward(self, x):
        return F.avg_pool2d(x, kernel_size=x.shape[2:])


class FlattenLayer(nn.Module):
    """(N, ...) -> (N, -1) (d2l's ``FlattenLayer``)."""

    def forward(self, x):
        return x.view(x.shape[0], -1)


def densenet(in_channels: int = 1, num_classes: int = 10, growth_rate: int = 32, num_convs_in_dense_blocks=(4, 4, 4, 4)):
    net = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    num_channels = 64
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        DB = DenseBlock(num_convs, num_channels, growth_rate)
        net.add_module(f"DenseBlosk_{i}", DB)
        num_channels = DB.out_channels
        if i != len(num_convs_in_dense_blocks) - 1:
            net.add_module(f"transition_block_{i}", transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    net.add_module("BN", nn.BatchNorm2d(num_channels))
    net.add_module("relu", nn.ReLU())
    net.add_module("global_avg_pool", GlobalAvgPool2d())
    net.add_module("fc", nn.Sequential(FlattenLayer(), nn.Linear(num_channels, num_classes)))
    return net


__all__ = ["DenseBlock", "FlattenLayer", "GlobalAvgPool2d", "conv_block", "densenet", "transition_block"]
