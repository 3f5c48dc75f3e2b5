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
import types as _types

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
from .autograd import Function, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
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
    arange,
    empty,
    eye,
    from_numpy,
    full,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import NAMES as _DTYPE_NAMES
from .dtypes import bool_, dtype, float16, float32, float64, int8, int16, int32, int64, uint8
from .functional import (
    abs,
    all,
    any,
    argmax,
    argmin,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    bmm,
    cat,
    clamp,
    clip,
    cos,
    cosh,
    cumsum,
    dot,
    eq,
    exp,
    flatten,
    ge,
    gt,
    le,
    log,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    matmul,
    max,
    maximum,
    mean,
    meshgrid,
    min,
    minimum,
    mm,
    mv,
    ne,
    norm,
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
    t,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from .functional.conv.policy import conv_algorithm, get_conv_algorithm, set_conv_algorithm
from .serialization import load, save
from .tensor import Size, Tensor

# the dtypes by name and PyTorch's aliases: mt.float is float32, mt.long int64, mt.int int32, mt.bool bool, ...
globals().update(_DTYPE_NAMES)
concat = cat
# torch.linalg's two norms (``mt.linalg.norm``, ``mt.linalg.vector_norm``); the ops live in functional/reduction.py
linalg = _types.SimpleNamespace(norm=functional.linalg_norm, vector_norm=functional.vector_norm)

_LAZY_SUBMODULES = ("data", "distributions", "models", "testing", "utils")


def as_torch() -> None:
    """Bind ``torch``, its submodules and ``torchvision`` in ``sys.modules`` to the engine, so the book's
    ``import torch`` cells run on it (``minitorch_cnn.book``; nothing is bound until this is called)."""
    from .book import as_torch as _bind

    _bind()


def __getattr__(name):
    """Import ``mt.data``, ``mt.models``, ``mt.testing`` and ``mt.utils`` on first use (PEP 562)."""
    if name in _LAZY_SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'minitorch_cnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__version__ = "0.1.0"
