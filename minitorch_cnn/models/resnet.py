"""Two ResNets from the seeds.

``resnet18``: the book's (*Dive into Deep Learning*), one input channel:
``Sequential(b1, b2, b3, b4, b5, AdaptiveAvgPool2d((1, 1)), Flatten(), Linear(512, 10))`` where
b1 = Conv(7, s2, p3) BN ReLU MaxPool(3, 2, 1) and b2..b5 hold two ``Residual`` blocks each
(attributes ``conv1, conv2, conv3`` (1×1 shortcut or None), ``bn1, bn2``). Any input size of at
least 32 works (the global pool adapts); the book trains it at 96.

``resnet34``: the third seed's ImageNet-style net (3 channels, 1000 classes by default), class
``ResNet`` with ``pre``, ``layer1..layer4`` of ``ResidualBlock``s (``left``, ``right``) and ``fc``;
bias-free convolutions; the first block of every layer has a Conv1×1+BN shortcut. Its forward ends
in ``avg_pool2d(x, 7)``, so it needs a 224×224 input (7×7 after layer4), as the seed.
"""

from __future__ import annotations

from .. import functional as F
from .. import nn


# ------------------------------------------------------------------ ResNet-18 (book)
class Residual(nn.Module):
    """Y = relu(bn1(conv1(X))); Y = bn2(conv2(Y)); return relu(Y + (conv3(X) if conv3 else X))."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        return F.relu(Y + X)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    """A list of ``num_residuals`` Residuals; the first halves H, W (1×1 shortcut) unless ``first_block``."""
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18(in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    b1 = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes))


# ------------------------------------------------------------------ ResNet-34 (third seed)
class ResidualBlock(nn.Module):
    """left = Conv3×3(s) BN ReLU Conv3×3 BN (no biases); out = relu(left(x) + (right(x) or x))."""

    def __init__(self, inchannel, outchannel, stride=1, shortcut=None):
        super().__init__()
        self.left = nn.Sequential(
            nn.Conv2d(inchannel, outchannel, 3, stride, 1, bias=False),
            nn.BatchNorm2d(outchannel),
            nn.ReLU(inplace=True),
            nn.Conv2d(outchannel, outchannel, 3, 1, 1, bias=False),
            nn.BatchNorm2d(outchannel),
        )
        self.right = shortcut

    def forward(self, x):
        out = self.left(x)
        residual = x if self.right is None else self.right(x)
        return F.relu(out + residual)


class ResNet(nn.Module):
    """ResNet-34: pre, layers of 3, 4, 6, 3 residual blocks (64, 128, 256, 512 channels), fc."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.pre = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        self.layer1 = self._make_layer(64, 64, 3)
        self.layer2 = self._make_layer(64, 128, 4, stride=2)
        self.layer3 = self._make_layer(128, 256, 6, stride=2)
        self.layer4 = self._make_layer(256, 512, 3, stride=2)
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, inchannel, outchannel, block_num, stride=1):
        shortcut = nn.Sequential(
            nn.Conv2d(inchannel, outchannel, 1, stride, bias=False),
            nn.BatchNorm2d(outchannel),
        )
        layers = [ResidualBlock(inchannel, outchannel, stride, shortcut)]
        for _ in range(1, block_num):
            layers.append(ResidualBlock(outchannel, outchannel))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.pre(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        if x.shape[2] < 7 or x.shape[3] < 7:
            raise ValueError(
                f"ResNet-34: expected a 224×224 input (7×7 features before avg_pool2d(7)), "
                f"got features of shape {tuple(x.shape)}"
            )
        x = F.avg_pool2d(x, 7)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def resnet34(in_channels: int = 3, num_classes: int = 1000) -> ResNet:
    return ResNet(num_classes=num_classes, in_channels=in_channels)


__all__ = ["ResNet", "Residual", "ResidualBlock", "resnet18", "resnet34", "resnet_block"]
