"""SqueezeNet 1.1 (Iandola et al., 2016), with torchvision's layer names and parameter count.

The idea: AlexNet-level accuracy with 50× fewer parameters, mostly by using 1×1 filters where
3×3 ones were. The building block is the ``Fire`` module: a *squeeze* layer of few 1×1 filters
(``squeeze``, s channels) cuts the channels that the costly 3×3 filters must read, then an
*expand* layer runs 1×1 filters (``expand1x1``, e1 channels) and 3×3 filters (``expand3x3``,
e3 channels) side by side on the squeezed map and concatenates them (e1 + e3 channels out, with
s < e1 + e3). A 3×3 filter on s channels costs 9·s weights per output channel instead of
9·(e1 + e3). Like NiN, there is no fully connected layer: a final 1×1 convolution gives one
channel per class and a global average pool gives the scores.

``squeezenet1_1`` (3 channels, 1000 classes by default; 1,235,496 parameters at those, the same
state-dict keys as torchvision's, so its weights load key for key): ``features`` = Conv 3×3 s2
(64) ReLU, MaxPool(3, 2, ceil), Fire(64→16→64+64), Fire(128), MaxPool, Fire(128→32→128+128),
Fire(256), MaxPool, Fire(256→48→192+192), Fire(384), Fire(384→64→256+256), Fire(512);
``classifier`` = Dropout(0.5), Conv1×1 (512 → classes), ReLU, AdaptiveAvgPool2d((1, 1)); then
flatten. Made for 224×224.

``squeezenet1_1_small``: the same layers and parameters for 28×28 Fashion-MNIST: the first
convolution has stride 1 and padding 1, so the three pools leave 3×3 maps (at stride 2 and no
padding they would leave 1×1).
"""

from __future__ import annotations

from .. import functional as F
from .. import nn


class Fire(nn.Module):
    """relu(squeeze 1×1) -> cat(relu(expand1x1 1×1), relu(expand3x3 3×3 p1)) on the channels."""

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))  # (N, s, H, W): few channels
        return F.cat(
            (self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))), dim=1
        )  # (N, e1 + e3, H, W)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1: ``features`` (a conv, three max pools, eight Fire modules), ``classifier``."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, small_input: bool = False):
        super().__init__()
        self.num_classes = num_classes
        stem = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1) if small_input else \
            nn.Conv2d(in_channels, 64, kernel_size=3, stride=2)
        self.features = nn.Sequential(
            stem,
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 16, 64, 64),
            Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(128, 32, 128, 128),
            Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256),
        )
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)  # one channel per class
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        # torchvision's init: Kaiming-uniform convs, the last one N(0, 0.01), zero biases
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.classifier(x)  # (N, classes, 1, 1)
        return F.flatten(x, 1)


def squeezenet1_1(in_channels: int = 3, num_classes: int = 1000) -> SqueezeNet:
    return SqueezeNet(num_classes=num_classes, in_channels=in_channels)


def squeezenet1_1_small(in_channels: int = 1, num_classes: int = 10) -> SqueezeNet:
    return SqueezeNet(num_classes=num_classes, in_channels=in_channels, small_input=True)


__all__ = ["Fire", "SqueezeNet", "squeezenet1_1", "squeezenet1_1_small"]
