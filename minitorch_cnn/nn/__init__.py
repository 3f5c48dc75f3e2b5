"""Layers that hold parameters, built on the functional ops (``minitorch_cnn.nn``).

``minitorch_cnn.nn.functional`` is ``minitorch_cnn.functional`` itself (one module under two names,
as ``torch.nn.functional``), so ``import minitorch_cnn.nn.functional as F`` works.
"""

import sys

from .. import functional
from . import init, parameter
from .containers import ModuleList, Sequential
from .layers import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Hardtanh,
    Identity,
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyConv2d,
    LazyLinear,
    Linear,
    MaxPool2d,
    MSELoss,
    NLLLoss,
    ReLU,
    ReLU6,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import IncompatibleKeys, Module, RemovableHandle, StateDictError
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

sys.modules[__name__ + ".functional"] = functional
