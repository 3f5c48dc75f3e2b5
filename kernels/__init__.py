"""The hot loops of the engine: pure functions on raw arrays (NumPy or CuPy), no tensors.

* ``im2col`` / ``col2im`` (``kernels/im2col.py``): the column tensor of convolution and its
  adjoint; the column layout ``(N, C, kh, kw, Ho, Wo)`` is documented there, once.
* max and sum pooling, forward and backward (``kernels/pooling.py``).
* depthwise convolution (``groups = C = O``) computed directly, forward and backward
  (``kernels/depthwise.py``).

Each kernel has two paths with one contract: numba loops for NumPy arrays (the default; force the
other with ``MINITORCH_CNN_KERNELS=generic``) and an array-generic path written with ``xp`` only,
which CuPy runs. ``NUMBA_DISABLE_JIT=1`` runs the numba loops as plain Python.

Threads. The loops are compiled with ``parallel=True`` (``prange`` over the batch), but run on
one thread unless ``NUMBA_NUM_THREADS`` is set: they sit between matrix products, and after each
product OpenBLAS's worker threads keep spinning on every core for a while, so a second kernel
thread only fights them (measured on 2 cores: a LeNet step 30 ms with one kernel thread, 36 ms
with two; the big conv layer the same either way). When threads are asked for, numba uses its
``workqueue`` pool rather than OpenMP (unless ``NUMBA_THREADING_LAYER`` says otherwise): idle
OpenMP workers spin too, and with PyTorch loaded first numba would share PyTorch's OpenMP runtime.
The workqueue pool does not take parallel kernels from several Python threads at once; set
``NUMBA_THREADING_LAYER=omp`` for that.
"""

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"  # read when the first parallel kernel starts the pool
if "NUMBA_NUM_THREADS" not in os.environ:
    numba.set_num_threads(1)  # for this (the importing) thread; see above

from .depthwise import (
    depthwise_conv2d_backward_input,
    depthwise_conv2d_backward_weight,
    depthwise_conv2d_forward,
)
from .im2col import col2im, col2im_generic, col2im_numba, conv_out_size, im2col, im2col_generic, im2col_numba
from .pooling import (
    max_pool2d_backward,
    max_pool2d_forward,
    sum_pool2d_backward,
    sum_pool2d_forward,
)

__all__ = [
    "col2im",
    "col2im_generic",
    "col2im_numba",
    "conv_out_size",
    "depthwise_conv2d_backward_input",
    "depthwise_conv2d_backward_weight",
    "depthwise_conv2d_forward",
    "im2col",
    "im2col_generic",
    "im2col_numba",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "sum_pool2d_backward",
    "sum_pool2d_forward",
]
