"""``pick``: the one dispatcher from an array to the kernel path that serves it.

Each kernel has three paths with one contract: numba loops for NumPy arrays (the default), CUDA
kernels for CuPy arrays (``kernels/cuda.py``), and an array-generic path written with ``xp`` only
(on either device; forced with ``MINITORCH_CNN_KERNELS=generic`` or ``backend.set_kernel_path``).
"""

from __future__ import annotations

from minitorch_cnn.backend import use_cuda_kernels, use_numba


def pick(array, numba_impl, generic_impl, cuda_name: str):
    """The implementation of a kernel for ``array``: the CUDA kernel ``cuda_name`` for a CuPy array,
    ``numba_impl`` for a NumPy array, ``generic_impl`` (``xp`` only, either device) when the generic
    path is forced (``backend.set_kernel_path("generic")`` or ``MINITORCH_CNN_KERNELS=generic``)."""
    if use_cuda_kernels(array):
        from . import cuda  # loaded with the first CuPy array

        return getattr(cuda, cuda_name)
    return numba_impl if use_numba(array) else generic_impl
