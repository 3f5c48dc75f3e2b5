"""OpenBLAS's idle workers sleep as soon as a product ends, whether or not NumPy was imported first.

Between two matrix products the engine runs its numba kernels on every core. OpenBLAS's worker
threads (its pthreads build, the one NumPy's wheels ship) spin for 2**28 cycles, about 0.1 s,
after each product before they sleep, so they would hold the cores those kernels need: a LeNet
step at 2 threads took 24-26 ms instead of 16 with NumPy imported first (benchmarks/RESULTS.md). ``OPENBLAS_THREAD_TIMEOUT=4``
makes them sleep after 2**4 cycles, but OpenBLAS reads it once, when NumPy loads the library.

* NumPy not imported yet (``import minitorch_cnn`` first): set the variable, if the user has not.
* NumPy imported first (a notebook's ``%matplotlib inline`` does it): the library is loaded and its
  workers already run with the long timeout. OpenBLAS exports the functions to read its
  environment again and to stop and restart its workers, so they are restarted with the short one
  (only from the importing thread, before the engine runs any product). Where a build lacks
  those functions, nothing is changed.

``MINITORCH_CNN_OPENBLAS=keep`` leaves OpenBLAS alone in both cases.
"""

from __future__ import annotations

import os
import sys

TIMEOUT = "4"  # OpenBLAS's idle workers wait 2**TIMEOUT cycles for the next product, then sleep
_RESTART = ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")


def quiet_idle_workers() -> str:
    """Make OpenBLAS's idle workers sleep at once; returns what was done (for tests and the docs):
    ``"environment"``, ``"restarted"``, ``"user's setting"``, ``"left alone"`` or ``"nothing to restart"``
    (no pthreads OpenBLAS loaded, or one without the restart functions)."""
    if os.environ.get("MINITORCH_CNN_OPENBLAS") == "keep":
        return "left alone"
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return "user's setting"
    if "numpy" not in sys.modules:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = TIMEOUT  # read when NumPy loads OpenBLAS
        return "environment"
    return restart_workers()


def restart_workers() -> str:
    """Restart the workers of every loaded pthreads OpenBLAS with the short timeout."""
    from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - only when NumPy came first

    libraries = [lib for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers
                 if getattr(lib, "threading_layer", None) == "pthreads"]
    if not libraries or not all(hasattr(lib.dynlib, name) for lib in libraries for name in _RESTART):
        return "nothing to restart"
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = TIMEOUT  # what openblas_read_env reads
    for lib in libraries:
        lib.dynlib.openblas_read_env()
        lib.dynlib.blas_thread_shutdown_()  # joins the workers
        lib.dynlib.blas_thread_init()  # new workers, with the timeout just read
    return "restarted"


STATUS = quiet_idle_workers()  # at import: minitorch_cnn/__init__.py imports this module first
