"""Every differentiable op, one family per file (exposed as ``minitorch_cnn.nn.functional``)."""

from .activation import hardtanh, log_softmax, relu, relu6, sigmoid, softmax, tanh
from .conv import conv2d
from .dropout import dropout
from .elementwise import (
    abs,
    add,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    clamp,
    clip,
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
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
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
from .linear import bmm, dot, linear, matmul, mm, mv
from .loss import cross_entropy, mse_loss, nll_loss
from .normalization import batch_norm
from .padding import pad
from .pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from .reduction import all, any, argmax, argmin, cumsum, linalg_norm, max, mean, min, norm, sum, vector_norm
from .shape import (
    cat,
    contiguous,
    expand,
    flatten,
    getitem,
    meshgrid,
    permute,
    reshape,
    squeeze,
    stack,
    t,
    transpose,
    unsqueeze,
    view,
)

__all__ = [
    "abs", "adaptive_avg_pool2d", "adaptive_max_pool2d", "add", "all", "any", "argmax", "argmin", "avg_pool2d",
    "batch_norm", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "bmm", "cat", "clamp", "clip", "clone",
    "contiguous", "conv2d", "cos", "cosh", "cross_entropy", "cumsum", "div", "dot", "dropout", "eq", "exp", "expand",
    "flatten", "ge", "getitem", "gt", "hardtanh", "le", "linalg_norm", "linear", "log", "log_softmax", "logical_and",
    "logical_not", "logical_or", "logical_xor", "lt", "matmul", "max", "max_pool2d", "maximum", "mean", "meshgrid",
    "min", "minimum", "mm", "mse_loss", "mul", "mv", "ne", "neg", "nll_loss", "norm", "pad", "permute", "pow", "relu",
    "relu6", "reshape", "sigmoid", "sin", "sinh", "softmax", "sqrt", "squeeze", "stack", "sub", "sum", "t", "tanh",
    "to", "transpose", "unsqueeze", "vector_norm", "view", "where",
]
