"""minitorch_cnn: a small, readable tensor engine with autograd and classic CNNs (``import minitorch_cnn as mt``)."""

# _source_tree first: from a clone's root it maps the top-level kernels/ folder to minitorch_cnn.kernels
from . import _source_tree, functional, nn, optim, viz  # `import minitorch_cnn as torch` then torch.nn.Conv2d, ...
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .backend import (
    cuda_is_available,
    get_default_dtype,
    get_kernel_path,
    manual_seed,
    set_default_dtype,
    set_kernel_path,
)
from .creation import (
    arange,
    empty,
    float32,
    float64,
    int64,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .functional import (
    abs,
    argmax,
    cat,
    exp,
    flatten,
    log,
    matmul,
    max,
    mean,
    min,
    permute,
    relu,
    reshape,
    sigmoid,
    sqrt,
    squeeze,
    stack,
    sum,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from .tensor import Tensor

__version__ = "0.1.0"
