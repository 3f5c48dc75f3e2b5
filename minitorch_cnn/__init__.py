"""minitorch_cnn: a small, readable tensor engine with autograd and classic CNNs (``import minitorch_cnn as mt``).

Threads: every core by default, as PyTorch; ``OMP_NUM_THREADS`` sets the count for OpenBLAS's products
and for the numba kernels alike (``NUMBA_NUM_THREADS`` for the kernels alone). Between two products
the memory-bound kernels take the cores, so OpenBLAS's workers are told to sleep as soon as a product
ends (``OPENBLAS_THREAD_TIMEOUT=4``: 2**4 cycles, instead of spinning for 2**28 while our kernels run)
when NumPy is not loaded yet and the variable is not set; see ``kernels/__init__.py``.
"""

import os as _os
import sys as _sys

if "numpy" not in _sys.modules:  # OpenBLAS reads it once, when NumPy loads it
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import functional, nn, optim, viz  # `import minitorch_cnn as torch` then torch.nn.Conv2d, torch.optim.SGD
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
