"""VGG as in *Dive into Deep Learning*: ``vgg_block``s then three Linear layers; 224×224 input.

VGG-11 has the conv architecture ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)); the small
variant divides every channel count by ``ratio`` (4 in the book). Keys: block i's convs are
``i.0``, ``i.2``, ...; the Linear layers are ``6``, ``9``, ``12``.
"""

from __future__ import annotations

from .. import nn

VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """num_convs × [Conv2d(3×3, padding 1), ReLU], then MaxPool2d(2, 2)."""
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch, in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    conv_blks = []
    for num_convs, out_channels in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )  # fmt: skip


def vgg11(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    return vgg(VGG11_ARCH, in_channels, num_classes, dropout)


def vgg11_small(in_channels: int = 1, num_classes: int = 10, ratio: int = 4, dropout: float = 0.5) -> nn.Sequential:
    """VGG-11 with every conv's channels divided by ``ratio`` (the book trains this one)."""
    return vgg([(n, c // ratio) for n, c in VGG11_ARCH], in_channels, num_classes, dropout)


__all__ = ["VGG11_ARCH", "vgg", "vgg11", "vgg11_small", "vgg_block"]
