"""minitorch_cnn: a small, readable tensor engine with autograd and classic CNNs (``import minitorch_cnn as mt``).

PyTorch's names, so that ``import minitorch_cnn as torch`` runs PyTorch-style code: ``torch.nn``,
``torch.optim``, ``torch.utils.data``, ``torch.cuda``, ``torch.device``, the dtype names
(``torch.float32``, ``torch.long``, ...) and the tensor functions below. ``mt.models``,
``mt.data``, ``mt.utils`` and ``mt.testing`` are imported on first use (``mt.testing`` needs
hypothesis for its strategies).

Threads: every core by default, as PyTorch; ``OMP_NUM_THREADS`` sets the count for OpenBLAS's products
and for the numba kernels alike (``NUMBA_NUM_THREADS`` for the kernels alone). What the import changes
in the process (OpenBLAS's and OpenMP's idle workers sleep at once, numba's threading layer and
thread count, glibc's malloc, the source-tree finder for ``kernels/``) is done in one module,
``_setup.py``, imported first; each setting has an off switch documented there, and
``minitorch_cnn._setup.APPLIED`` says what was done.
"""

import importlib as _importlib

# _setup first: the process-wide settings (OpenBLAS's workers before NumPy loads, the finder that
# maps a clone's kernels/ folder, numba's threads); nothing else in the package changes the process
from . import (  # `import minitorch_cnn as torch` then torch.nn.Conv2d, ...
    _setup,
    cuda,
    functional,
    nn,
    optim,
    viz,
)
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .backend import (
    cuda_is_available,
    device,
    get_default_dtype,
    get_kernel_path,
    manual_seed,
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
from .functional.conv.policy import conv_algorithm, get_conv_algorithm, set_conv_algorithm
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
