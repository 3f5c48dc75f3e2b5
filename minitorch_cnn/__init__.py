"""minitorch_cnn: a small, readable tensor engine with autograd and classic CNNs (``import minitorch_cnn as mt``).

PyTorch's names, so that ``import minitorch_cnn as torch`` runs PyTorch-style code: ``torch.nn``,
``torch.optim``, ``torch.utils.data``, ``torch.cuda``, ``torch.device``, the dtype names
(``torch.float32``, ``torch.long``, ...) and the tensor functions below. ``mt.models``,
``mt.data``, ``mt.utils`` and ``mt.testing`` are imported on first use (``mt.testing`` needs
hypothesis for its strategies).

Threads: every core by default, as PyTorch; ``OMP_NUM_THREADS`` sets the count for OpenBLAS's products
and for the numba kernels alike (``NUMBA_NUM_THREADS`` for the kernels alone). Between two products
the memory-bound kernels take the cores, so OpenBLAS's workers are told to sleep as soon as a product
ends (``OPENBLAS_THREAD_TIMEOUT=4``: 2**4 cycles, instead of spinning for 2**28 while our kernels run),
also when NumPy was imported first; see ``_openblas.py`` and ``kernels/__init__.py``.
"""

import importlib as _importlib

# _openblas first: importing it puts OpenBLAS's idle workers to sleep (before NumPy loads OpenBLAS,
# or else by restarting them). _source_tree next: from a clone's root it maps the top-level
# kernels/ folder to minitorch_cnn.kernels
from . import (  # `import minitorch_cnn as torch` then torch.nn.Conv2d, ...
    _openblas,
    _source_tree,
    cuda,
    functional,
    nn,
    optim,
    viz,
)
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .backend import (
    conv_algorithm,
    cuda_is_available,
    device,
    get_conv_algorithm,
    get_default_dtype,
    get_kernel_path,
    manual_seed,
    set_conv_algorithm,
    set_default_dtype,
    set_kernel_path,
)
from .creation import (
    DTYPE_ALIASES as _DTYPE_ALIASES,
)
from .creation import (
    arange,
    bool_,
    empty,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    int8,
    int16,
    int32,
    int64,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    uint8,
    zeros,
    zeros_like,
)
from .functional import (
    abs,
    argmax,
    bmm,
    cat,
    cos,
    cosh,
    exp,
    flatten,
    log,
    matmul,
    max,
    mean,
    meshgrid,
    min,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    sinh,
    sqrt,
    squeeze,
    stack,
    sum,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from .serialization import load, save
from .tensor import Tensor

# PyTorch's dtype aliases: mt.float is float32, mt.long int64, mt.int int32, mt.bool bool, ...
globals().update(_DTYPE_ALIASES)
concat = cat

_LAZY_SUBMODULES = ("data", "models", "testing", "utils")


def __getattr__(name):
    """Import ``mt.data``, ``mt.models``, ``mt.testing`` and ``mt.utils`` on first use (PEP 562)."""
    if name in _LAZY_SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'minitorch_cnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__version__ = "0.1.0"
