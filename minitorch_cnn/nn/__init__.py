"""Layers that hold parameters, built on the functional ops (``minitorch_cnn.nn``)."""

from .. import functional
from . import init
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
    ReLU,
    ReLU6,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import IncompatibleKeys, Module, Parameter, RemovableHandle, StateDictError
