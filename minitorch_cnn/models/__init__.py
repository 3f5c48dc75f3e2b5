"""The classic nets (the six of the seeds, then NiN, SqueezeNet, MobileNetV2, SE-ResNet), one file each, with factories by name.

``get_model(name, in_channels=1, num_classes=10, **kw)`` builds one of ``MODELS``;
``INPUT_SIZES[name]`` is the (H, W) it is trained and summarised at by default.
"""

from __future__ import annotations

from .alexnet import alexnet
from .densenet import densenet
from .googlenet import googlenet
from .lenet import init_xavier_, lenet, lenet_bn, lenet_bn_relu, lenet_relu
from .mobilenet import mobilenet_v2, mobilenet_v2_small
from .nin import nin
from .resnet import resnet18, resnet34
from .se_resnet import se_resnet18
from .squeezenet import squeezenet1_1, squeezenet1_1_small
from .summary import parse_shape, summarize
from .vgg import vgg11, vgg11_small

_FACTORIES = {
    "lenet": lenet,
    "lenet_relu": lenet_relu,
    "lenet_bn": lenet_bn,
    "lenet_bn_relu": lenet_bn_relu,
    "alexnet": alexnet,
    "vgg11": vgg11,
    "vgg11_small": vgg11_small,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "densenet": densenet,
    "nin": nin,
    "squeezenet1_1": squeezenet1_1,
    "squeezenet1_1_small": squeezenet1_1_small,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v2_small": mobilenet_v2_small,
    "se_resnet18": se_resnet18,
}

MODELS = tuple(_FACTORIES)

# the input size (H = W) each net is trained at in the seeds (ResNet-18's table is at 224, its training at 96)
INPUT_SIZES = {
    "lenet": 28,
    "lenet_relu": 28,
    "lenet_bn": 28,
    "lenet_bn_relu": 28,
    "alexnet": 224,
    "vgg11": 224,
    "vgg11_small": 224,
    "googlenet": 96,
    "resnet18": 96,
    "resnet34": 224,
    "densenet": 96,
    "nin": 224,
    "squeezenet1_1": 224,
    "squeezenet1_1_small": 28,  # the small-input variants: Fashion-MNIST's own size
    "mobilenet_v2": 224,
    "mobilenet_v2_small": 28,
    "se_resnet18": 96,
}


def get_model(name: str, in_channels: int = 1, num_classes: int = 10, **kw):
    """Build the net called ``name`` (one of ``MODELS``); extra keywords go to its factory (e.g. ``init="xavier"``)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}") from None
    return factory(in_channels=in_channels, num_classes=num_classes, **kw)


def default_input_shape(name: str, batch: int = 1, in_channels: int = 1) -> tuple:
    """(batch, in_channels, H, W) at the net's default input size."""
    if name not in INPUT_SIZES:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}")
    size = INPUT_SIZES[name]
    return (batch, in_channels, size, size)


__all__ = [
    "INPUT_SIZES",
    "MODELS",
    "alexnet",
    "default_input_shape",
    "densenet",
    "get_model",
    "googlenet",
    "init_xavier_",
    "lenet",
    "lenet_bn",
    "lenet_bn_relu",
    "lenet_relu",
    "mobilenet_v2",
    "mobilenet_v2_small",
    "nin",
    "parse_shape",
    "resnet18",
    "resnet34",
    "se_resnet18",
    "squeezenet1_1",
    "squeezenet1_1_small",
    "summarize",
    "vgg11",
    "vgg11_small",
]
