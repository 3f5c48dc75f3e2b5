"""LeNet-5 as in *Dive into Deep Learning* (PyTorch edition), for 1×28×28 Fashion-MNIST images.

``net = Sequential(Conv2d(1,6,5,p=2), Sigmoid, AvgPool2d(2,2), Conv2d(6,16,5), Sigmoid,
AvgPool2d(2,2), Flatten, Linear(400,120), Sigmoid, Linear(120,84), Sigmoid, Linear(84,10))``:
61,706 parameters; state-dict keys ``0.weight``, ``0.bias``, ``3.*``, ``7.*``, ``9.*``, ``11.*``.
The ``relu`` variant (``lenet_relu``) puts a ReLU after the first convolution instead of a sigmoid.

``lenet_bn`` is the book's LeNet with batch normalisation (sec. 8.5): a BatchNorm after every
convolution and hidden linear layer, before its sigmoid, and no padding on the first convolution
(so 16×4×4 = 256 features reach the first linear layer); 44,878 parameters.
"""

from __future__ import annotations

from .. import nn


def init_xavier_(net: nn.Module) -> nn.Module:
    """The book's recipe: Xavier-uniform on the weight of every Conv2d and Linear (biases untouched)."""

    def init_weights(m):
        if type(m) is nn.Linear or type(m) is nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)

    return net.apply(init_weights)


def _check_init(init):
    if init not in (None, "default", "xavier"):
        raise ValueError(f"init must be None/'default' (PyTorch's layer defaults) or 'xavier', got {init!r}")


def lenet(in_channels: int = 1, num_classes: int = 10, init=None, first_activation: str = "sigmoid") -> nn.Sequential:
    """The book's LeNet-5 (sigmoid after every layer but the last); ``init="xavier"`` applies the book's init."""
    _check_init(init)
    if first_activation not in ("sigmoid", "relu"):
        raise ValueError(f"lenet: first_activation must be 'sigmoid' or 'relu', got {first_activation!r}")
    net = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
        nn.Sigmoid() if first_activation == "sigmoid" else nn.ReLU(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.Sigmoid(),
        nn.Linear(120, 84),
        nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )
    if init == "xavier":
        init_xavier_(net)
    return net


def lenet_relu(in_channels: int = 1, num_classes: int = 10, init=None) -> nn.Sequential:
    """The variant with a ReLU after the first convolution (rest unchanged)."""
    return lenet(in_channels, num_classes, init=init, first_activation="relu")


def lenet_bn(in_channels: int = 1, num_classes: int = 10, init=None, activation: str = "sigmoid") -> nn.Sequential:
    """The book's LeNet with batch norm: Conv → BatchNorm → Sigmoid everywhere (state-dict keys as the book's).

    ``activation="relu"`` (``lenet_bn_relu``) puts ReLUs where the sigmoids were."""
    _check_init(init)
    if activation not in ("sigmoid", "relu"):
        raise ValueError(f"lenet_bn: activation must be 'sigmoid' or 'relu', got {activation!r}")
    act = nn.Sigmoid if activation == "sigmoid" else nn.ReLU
    net = nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5), nn.BatchNorm2d(6), act(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), act(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), act(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), act(),
        nn.Linear(84, num_classes),
    )
    if init == "xavier":
        init_xavier_(net)
    return net


def lenet_bn_relu(in_channels: int = 1, num_classes: int = 10, init=None) -> nn.Sequential:
    """``lenet_bn`` with ReLUs instead of sigmoids."""
    return lenet_bn(in_channels, num_classes, init=init, activation="relu")


__all__ = ["init_xavier_", "lenet", "lenet_bn", "lenet_bn_relu", "lenet_relu"]
