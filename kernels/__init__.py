"""The hot loops of the engine: pure functions on raw arrays (NumPy or CuPy), no tensors.

* ``Window`` (``kernels/window.py``): the geometry of sliding windows (kernel, stride, padding,
  dilation, output size); ``pick`` (``kernels/dispatch.py``), the one dispatcher between the paths below.
* ``im2col`` / ``col2im`` (``kernels/im2col.py``): the column matrix of convolution and its
  adjoint; the column layout ``(C, kh, kw, N, Ho, Wo)`` is documented there, once.
* max and sum pooling, forward and backward (``kernels/pooling.py``).
* the activations' backward passes, fused into one pass each (``kernels/activation.py``).
* depthwise convolution (``groups = C = O``) computed directly, forward and backward
  (``kernels/depthwise.py``).

Each kernel has three paths with one contract: numba loops for NumPy arrays (the default), CUDA
kernels for CuPy arrays (``kernels/cuda.py``), and an array-generic path written with ``xp`` only
(forced with ``MINITORCH_CNN_KERNELS=generic``). ``NUMBA_DISABLE_JIT=1`` runs the numba loops as
plain Python.

Threads. The loops are compiled with ``parallel=True`` (``prange`` over the batch) and run on as
many threads as OpenBLAS's products: ``NUMBA_NUM_THREADS`` if set, else ``OMP_NUM_THREADS`` if set,
else every core (PyTorch's default too). They sit between matrix products, so the idle workers of
both pools must not spin on the cores the other needs. numba runs the loops on its TBB pool where
the ``tbb`` package is installed (its workers start a kernel fastest), else on its OpenMP pool with
passive idle workers, else on its own ``workqueue``. This package only imports and exports: those
choices are made once, when ``minitorch_cnn`` is imported, by ``minitorch_cnn/_setup.py``, which
documents each setting, why, and its off switch, with the helpers of ``_jit.py`` (``load_tbb``,
``default_threads``); the measurements are in ``benchmarks/RESULTS.md``.
Every loop writes each output element from one thread only, so results do not depend on the count.
"""

from ._jit import default_threads
from .activation import relu_backward, sigmoid_backward, sigmoid_forward
from .depthwise import (
    depthwise_conv2d_backward_input,
    depthwise_conv2d_backward_weight,
    depthwise_conv2d_forward,
)
from .dispatch import pick
from .im2col import col2im, col2im_generic, col2im_numba, im2col, im2col_generic, im2col_numba
from .pooling import (
    max_pool2d_backward,
    max_pool2d_forward,
    sum_pool2d_backward,
    sum_pool2d_forward,
)
from .window import Window, conv_out_size

__all__ = [
    "Window",
    "col2im",
    "col2im_generic",
    "col2im_numba",
    "conv_out_size",
    "default_threads",
    "depthwise_conv2d_backward_input",
    "depthwise_conv2d_backward_weight",
    "depthwise_conv2d_forward",
    "im2col",
    "im2col_generic",
    "im2col_numba",
    "max_pool2d_backward",
    "relu_backward",
    "sigmoid_backward",
    "sigmoid_forward",
    "max_pool2d_forward",
    "pick",
    "sum_pool2d_backward",
    "sum_pool2d_forward",
]
