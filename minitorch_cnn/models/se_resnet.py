"""SE-ResNet-18: the book's ResNet-18 with a squeeze-and-excitation block in every residual (Hu et al., 2018).

The idea: channel attention. A convolution mixes channels with fixed weights, whatever the
image; a squeeze-and-excitation block lets the image itself reweight its channels. *Squeeze*:
global average pooling turns each of the C channels into one number, a summary of the whole
image. *Excitation*: a two-layer bottleneck MLP (C → C/r, ReLU, C/r → C, sigmoid; reduction
r = 16) turns those C numbers into C gates in (0, 1). *Scale*: every channel of the input is
multiplied by its gate. It costs 2·C²/r weights per block and almost no compute. In an
SE-ResNet it acts on the residual branch, before the shortcut is added:
``relu(se(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x))``.

``se_resnet18``: ``Sequential(b1, b2, b3, b4, b5, AdaptiveAvgPool2d((1, 1)), Flatten(),
Linear(512, classes))`` exactly as ``resnet18`` (``models/resnet.py``), each ``SEResidual``
holding ``conv1, conv2, conv3`` (1×1 shortcut or None), ``bn1, bn2`` and ``se``, a
``SqueezeExcitation`` with torchvision's names (``fc1``, ``fc2``: 1×1 convolutions, which on the
pooled 1×1 map are the two fully connected layers). 11,267,458 parameters at 1 channel and 10
classes (ResNet-18's 11,178,378 plus 89,080 in the SE blocks). 1 channel, 96×96 as the book
trains ResNet-18; any input of at least 32 works.
"""

from __future__ import annotations

from .. import functional as F
from .. import nn
from .resnet import Residual


class SqueezeExcitation(nn.Module):
    """x · sigmoid(fc2(relu(fc1(avgpool(x))))): one gate in (0, 1) per channel, from the whole image."""

    def __init__(self, input_channels: int, squeeze_channels: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        scale = self.avgpool(x)  # squeeze: (N, C, H, W) -> (N, C, 1, 1)
        scale = self.activation(self.fc1(scale))  # (N, C/r, 1, 1)
        scale = self.scale_activation(self.fc2(scale))  # excitation: (N, C, 1, 1), gates in (0, 1)
        return x * scale  # scale: broadcast over H, W


class SEResidual(Residual):
    """The book's ``Residual`` with ``se`` on the residual branch, before the shortcut is added."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, reduction=16):
        super().__init__(input_channels, num_channels, use_1x1conv, strides)
        self.se = SqueezeExcitation(num_channels, num_channels // reduction)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.se(self.bn2(self.conv2(Y)))
        if self.conv3:
            X = self.conv3(X)
        return F.relu(Y + X)


def se_resnet_block(input_channels, num_channels, num_residuals, first_block=False, reduction=16):
    """A list of ``num_residuals`` SEResiduals; the first halves H, W (1×1 shortcut) unless ``first_block``."""
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(SEResidual(input_channels, num_channels, use_1x1conv=True, strides=2, reduction=reduction))
        else:
            blk.append(SEResidual(num_channels, num_channels, reduction=reduction))
    return blk


def se_resnet18(in_channels: int = 1, num_classes: int = 10, reduction: int = 16) -> nn.Sequential:
    b1 = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(*se_resnet_block(64, 64, 2, first_block=True, reduction=reduction))
    b3 = nn.Sequential(*se_resnet_block(64, 128, 2, reduction=reduction))
    b4 = nn.Sequential(*se_resnet_block(128, 256, 2, reduction=reduction))
    b5 = nn.Sequential(*se_resnet_block(256, 512, 2, reduction=reduction))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes))


__all__ = ["SEResidual", "SqueezeExcitation", "se_resnet18", "se_resnet_block"]
