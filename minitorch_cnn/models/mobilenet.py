"""MobileNetV2 (Sandler et al., 2018), with torchvision's layer names and parameter count.

Two ideas. *Depthwise separable convolution*: a 3×3 convolution from C to O channels costs
9·C·O weights and multiply-adds per pixel; MobileNet splits it into a depthwise 3×3 convolution
(``groups = C``: each channel filtered on its own, 9·C) and a pointwise 1×1 convolution that mixes
the channels (C·O), about 8-9× less work for the same receptive field. *Inverted residual with
a linear bottleneck*: where a ResNet bottleneck narrows then widens, MobileNetV2's block widens
a thin input by an expansion factor t (1×1 conv, BN, ReLU6), filters the wide tensor depthwise
(3×3, BN, ReLU6), then projects it back to a thin output (1×1 conv, BN) *without* a ReLU, since a
ReLU on few channels destroys information; the residual connection joins the thin ends
(``x + conv(x)`` when the stride is 1 and the channels match). ReLU6 = min(max(x, 0), 6).

``mobilenet_v2`` (3 channels, 1000 classes by default; 3,504,872 parameters at those, the same
state-dict keys as torchvision's, so its weights load key for key): ``features.0`` =
Conv2dNormActivation(3 → 32, 3×3, s2); ``features.1-17`` = 17 ``InvertedResidual`` blocks from
the table (t, c, n, s) = (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
(6, 160, 3, 2), (6, 320, 1, 1) (n blocks of c channels, the first with stride s); ``features.18``
= Conv2dNormActivation(320 → 1280, 1×1); then a global average pool, ``classifier`` = Dropout(0.2),
Linear(1280, classes). Convolutions followed by batch norm have no bias. Total stride 32, for
224×224.

``mobilenet_v2_small``: the same layers and parameters for 28×28 Fashion-MNIST, with the stem
and the first stride-2 stage at stride 1 (total stride 8, 4×4 maps at the end).
"""

from __future__ import annotations

from .. import functional as F
from .. import nn


def _make_divisible(v: float, divisor: int = 8) -> int:
    """The nearest multiple of ``divisor`` to ``v``, but not below 90 % of ``v`` (torchvision's rounding of widths)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class Conv2dNormActivation(nn.Sequential):
    """Conv2d(k, stride, padding (k−1)/2, groups, no bias), BatchNorm2d, ReLU6 (torchvision's name)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """Expand 1×1 (if t ≠ 1), depthwise 3×3 (stride s), linear project 1×1; + x when shapes allow.

    ``conv`` = [Conv2dNormActivation(inp → inp·t, 1×1)], Conv2dNormActivation(inp·t, 3×3, s,
    groups = inp·t), Conv2d(inp·t → oup, 1×1, no bias), BatchNorm2d(oup).
    """

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: expected stride 1 or 2, got {stride}")
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1))  # expand: thin -> wide
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),  # depthwise
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),  # project: wide -> thin, no ReLU (linear)
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


# t (expansion), c (output channels), n (blocks), s (stride of the first block)
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(nn.Module):
    """``features`` (stem, 17 inverted residuals, 1×1 to 1280), global average pool, ``classifier``."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 dropout: float = 0.2, small_input: bool = False):
        super().__init__()
        input_channel = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        # small inputs: the stem and the first stride-2 stage keep the resolution
        features = [Conv2dNormActivation(in_channels, input_channel, stride=1 if small_input else 2)]
        for stage, (t, c, n, s) in enumerate(INVERTED_RESIDUAL_SETTING):
            output_channel = _make_divisible(c * width_mult)
            if small_input and stage == 1:
                s = 1
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel, s if i == 0 else 1, expand_ratio=t))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        # torchvision's init: Kaiming-normal (fan_out) convs, BN 1 and 0, Linear N(0, 0.01), zero biases
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))  # (N, 1280, 1, 1)
        x = F.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v2(in_channels: int = 3, num_classes: int = 1000) -> MobileNetV2:
    return MobileNetV2(num_classes=num_classes, in_channels=in_channels)


def mobilenet_v2_small(in_channels: int = 1, num_classes: int = 10) -> MobileNetV2:
    return MobileNetV2(num_classes=num_classes, in_channels=in_channels, small_input=True)


__all__ = ["Conv2dNormActivation", "InvertedResidual", "MobileNetV2", "mobilenet_v2", "mobilenet_v2_small"]
