"""The hot loops of the engine: pure functions on raw arrays (NumPy or CuPy), no tensors.

* ``im2col`` / ``col2im`` (``kernels/im2col.py``): the column tensor of convolution and its
  adjoint; the column layout ``(N, C, kh, kw, Ho, Wo)`` is documented there, once.
* max and sum pooling, forward and backward (``kernels/pooling.py``).

Each kernel has two paths with one contract: numba loops for NumPy arrays (the default; force the
other with ``MINITORCH_CNN_KERNELS=generic``) and an array-generic path written with ``xp`` only,
which CuPy runs. ``NUMBA_DISABLE_JIT=1`` runs the numba loops as plain Python.

Threads: numba runs the parallel loops on its ``workqueue`` pool, not on OpenMP, unless
``NUMBA_THREADING_LAYER`` says otherwise. OpenMP workers spin (busy-wait) between kernels and take
the cores OpenBLAS needs for the matrix products that come next; when PyTorch is loaded first,
numba's OpenMP layer even shares PyTorch's OpenMP runtime and its spinning policy. A LeNet step
on 2 cores: 72 ms on OpenMP, 29 ms on workqueue. The workqueue pool does not take parallel kernels
from several Python threads at once: set ``NUMBA_THREADING_LAYER=omp`` for that.
"""

import os

if "NUMBA_THREADING_LAYER" not in os.environ:
    import numba

    numba.config.THREADING_LAYER = "workqueue"  # read when the first parallel kernel starts the pool

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
    "im2col",
    "im2col_generic",
    "im2col_numba",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "sum_pool2d_backward",
    "sum_pool2d_forward",
]
