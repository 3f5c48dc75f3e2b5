"""Every differentiable op, one family per file (exposed as ``minitorch_cnn.nn.functional``)."""

from .activation import hardtanh, log_softmax, relu, relu6, sigmoid, softmax, tanh
from .conv import conv2d
from .dropout import dropout
from .elementwise import (
    abs,
    add,
    clone,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    lt,
    mul,
    ne,
    neg,
    pow,
    sqrt,
    sub,
    to,
    where,
)
from .linear import linear, matmul
from .loss import cross_entropy, mse_loss, nll_loss
from .normalization import batch_norm
from .pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from .reduction import argmax, max, mean, min, sum
from .shape import cat, flatten, getitem, pad, permute, reshape, squeeze, stack, transpose, unsqueeze, view

__all__ = [
    "abs", "add", "argmax", "cat", "clone", "cross_entropy", "div", "dropout", "eq", "exp", "flatten", "ge",
    "getitem", "gt", "hardtanh", "le", "linear", "log", "log_softmax", "lt", "matmul", "max", "mean", "min", "mse_loss",
    "mul", "ne", "neg", "nll_loss", "pad", "permute", "pow", "relu", "relu6", "reshape", "sigmoid", "softmax", "sqrt",
    "squeeze", "stack", "sub", "sum", "tanh", "to", "transpose", "unsqueeze", "view", "where",
]
