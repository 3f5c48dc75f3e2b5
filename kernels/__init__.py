"""The hot loops of the engine: pure functions on raw arrays (NumPy or CuPy), no tensors.

* ``Window`` (``kernels/window.py``): the geometry of sliding windows (kernel, stride, padding,
  dilation, output size), and ``pick``, the one dispatcher between the paths below.
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
else every core (PyTorch's default too). They sit between matrix products; OpenBLAS's workers would
keep spinning on every core for ~0.1 s after each product and fight the kernel threads, which is
why importing minitorch_cnn sets ``OPENBLAS_THREAD_TIMEOUT=4`` (the workers sleep at once)
before NumPy loads, or restarts OpenBLAS's workers with it when NumPy came first
(``minitorch_cnn/_openblas.py``). numba runs the loops on its TBB pool where the ``tbb`` package
is installed (a dependency on Linux and Windows x86-64, the platforms with its wheels;
``_jit.load_tbb`` loads its library, which pip puts where the loader does not look), else on its
OpenMP pool (``omp``), else its own ``workqueue``, unless ``NUMBA_THREADING_LAYER`` says otherwise.
What decides is the start of a kernel on several threads, paid by every op of a step: on a 2-vCPU
virtual machine a tiny kernel started in 55-83 us on OpenMP's workers, which sleep at once
(``OMP_WAIT_POLICY=PASSIVE``, below), against 1-2 us back to back and 10-14 us after 1 ms idle on
TBB's (``python -m benchmarks.profiling``, section 0); a LeNet step at 2 threads took 10.0 against
10.7 ms and ResNet-18 under ``"auto"`` 266 against 292 ms (processes of the two threading layers
alternated, medians), the same at 1 thread. OpenMP in turn beat ``workqueue``: the LeNet step took
51-61 ms with OpenMP against 73-92 ms with workqueue at 1 thread, and 36-42 against 50-57 ms at 2
threads (an older machine; benchmarks/RESULTS.md). Where OpenMP runs, its idle workers are told not to spin
(``OMP_WAIT_POLICY=PASSIVE`` unless set): a spinning worker holds the core that OpenBLAS's next
product needs until the scheduler preempts it, and a product then takes 8 or 16 ms instead of 1-2
(2 threads, conv chunks of 2 MiB: LeNet's second layer 141-311 ms against 24-26 ms passive).
Every loop writes each output element from one thread only, so results do not depend on the count.
"""

import os

import numba

from ._jit import default_threads, load_tbb

if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
    first = ["tbb", "omp"] if load_tbb() else ["omp", "tbb"]  # TBB where its package is installed (above)
    numba.config.THREADING_LAYER_PRIORITY = [*first, "workqueue"]  # read when the first parallel kernel
    numba.config.THREADING_LAYER = "default"  # starts the pool: the first of these that loads
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when a pool loads OpenMP (see above)
if "NUMBA_NUM_THREADS" not in os.environ:
    numba.set_num_threads(default_threads())  # for this (the importing) thread; see above

from .activation import relu_backward, sigmoid_backward, sigmoid_forward
from .depthwise import (
    depthwise_conv2d_backward_input,
    depthwise_conv2d_backward_weight,
    depthwise_conv2d_forward,
)
from .im2col import col2im, col2im_generic, col2im_numba, im2col, im2col_generic, im2col_numba
from .pooling import (
    max_pool2d_backward,
    max_pool2d_forward,
    sum_pool2d_backward,
    sum_pool2d_forward,
)
from .window import Window, conv_out_size, pick

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
