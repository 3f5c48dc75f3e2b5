"""Every differentiable op, one family per file (exposed as ``minitorch_cnn.nn.functional``)."""

from .activation import hardtanh, log_softmax, relu, relu6, sigmoid, softmax, tanh
from .conv import conv2d
from .dropout import dropout
from .elementwise import (
    abs,
    add,
    clone,
    cos,
    cosh,
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
    sin,
    sinh,
    sqrt,
    sub,
    to,
    where,
)
from .linear import bmm, linear, matmul
from .loss import cross_entropy, mse_loss, nll_loss
from .normalization import batch_norm
from .pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from .reduction import argmax, max, mean, min, sum
from .shape import (
    cat,
    expand,
    flatten,
    getitem,
    meshgrid,
    pad,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)

__all__ = [
    "abs", "adaptive_avg_pool2d", "adaptive_max_pool2d", "add", "argmax", "avg_pool2d", "batch_norm", "bmm", "cat",
    "clone", "conv2d", "cos", "cosh", "cross_entropy", "div", "dropout", "eq", "exp", "expand", "flatten", "ge",
    "getitem", "gt", "hardtanh", "le", "linear", "log", "log_softmax", "lt", "matmul", "max", "max_pool2d", "mean",
    "meshgrid", "min", "mse_loss", "mul", "ne", "neg", "nll_loss", "pad", "permute", "pow", "relu", "relu6",
    "reshape", "sigmoid", "sin", "sinh", "softmax", "sqrt", "squeeze", "stack", "sub", "sum", "tanh", "to",
    "transpose", "unsqueeze", "view", "where",
]
