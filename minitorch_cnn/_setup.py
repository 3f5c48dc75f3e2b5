"""Everything that ``import minitorch_cnn`` changes in the process, in one module.

``minitorch_cnn/__init__.py`` imports this module before anything else, and importing it applies
the settings below, in this order, once per process. No other module of the package or of
``kernels/`` changes the process when imported (``tests/test_setup.py`` checks both).

* ``quiet_openblas_workers``: OpenBLAS's idle workers sleep as soon as a product ends
  (``OPENBLAS_THREAD_TIMEOUT=4``). Off: ``MINITORCH_CNN_OPENBLAS=keep``, or your own
  ``OPENBLAS_THREAD_TIMEOUT``.
* ``keep_freed_memory``: glibc's malloc keeps freed large arrays mapped for the next step
  (``mallopt``). Off: ``MINITORCH_CNN_MALLOC=system``.
* ``mount_source_kernels``: from a clone's root, maps the top-level ``kernels/`` folder to
  ``minitorch_cnn.kernels`` (a finder on ``sys.meta_path``). No off switch: it acts only when
  ``minitorch_cnn.kernels`` cannot be found any other way.
* ``choose_threading_layer``: numba's pool is TBB where the ``tbb`` package is installed, else
  OpenMP, else ``workqueue``. Off: ``MINITORCH_CNN_THREADING=numba``, or your own
  ``NUMBA_THREADING_LAYER`` / ``NUMBA_THREADING_LAYER_PRIORITY``.
* ``quiet_openmp_workers``: OpenMP's idle workers do not spin (``OMP_WAIT_POLICY=PASSIVE``).
  Off: ``MINITORCH_CNN_THREADING=numba``, your own ``OMP_WAIT_POLICY``, or your own threading layer.
* ``set_kernel_threads``: the kernels run on as many threads as OpenBLAS's products
  (``OMP_NUM_THREADS``, else every core). Off: ``MINITORCH_CNN_THREADING=numba``, or your own
  ``NUMBA_NUM_THREADS``.

Each setting leaves alone what the user has set. What each one did is recorded in ``APPLIED``
(setting name -> a short word, for tests and for users asking "what did the import change?").
The only environment variables written are ``ENVIRONMENT_KEYS``, and only where they were unset.
With all three ``MINITORCH_CNN_*`` off switches set, the import changes none of the above: the
environment, numba's threading settings and glibc's malloc stay as they were (the source-tree
finder still mounts ``kernels/`` where nothing else can find it, since the package cannot work
without it). What each setting saves is measured in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

ENVIRONMENT_KEYS = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")  # the only variables this module writes
OFF_SWITCHES = {  # variable -> the value that turns a group of settings off (case and spaces ignored)
    "MINITORCH_CNN_OPENBLAS": "keep",
    "MINITORCH_CNN_MALLOC": "system",
    "MINITORCH_CNN_THREADING": "numba",
}
APPLIED: dict[str, str] = {}  # setting -> what it did at import (filled in at the bottom of this module)


def _switched_off(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() == OFF_SWITCHES[variable]


# ---------------------------------------------------------------- OpenBLAS's idle workers
OPENBLAS_TIMEOUT = "4"  # OpenBLAS's idle workers wait 2**4 cycles for the next product, then sleep
_OPENBLAS_RESTART = ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")


def quiet_openblas_workers() -> str:
    """Make OpenBLAS's idle workers sleep as soon as a product ends.

    Why: between two matrix products the engine runs its numba kernels on every core. OpenBLAS's
    worker threads (its pthreads build, the one NumPy's wheels ship) spin for 2**28 cycles after each
    product before they sleep, so they would hold the cores those kernels need.
    ``OPENBLAS_THREAD_TIMEOUT=4`` makes them sleep after 2**4 cycles, but OpenBLAS reads it once,
    when NumPy loads the library:

    * NumPy not imported yet (``import minitorch_cnn`` first): the variable is set (``"environment"``).
    * NumPy imported first (a notebook's ``%matplotlib inline`` does it): the library is loaded and
      its workers run with the long timeout. OpenBLAS exports the functions to read its environment
      again and to stop and start its workers, so they are restarted with the short one, from the
      importing thread, before the engine runs any product (``"restarted"``); where the loaded
      OpenBLAS is not the pthreads build or lacks those functions, nothing changes
      (``"nothing to restart"``).

    Off switch: ``MINITORCH_CNN_OPENBLAS=keep`` (``"left alone"``); a user's own
    ``OPENBLAS_THREAD_TIMEOUT`` is kept as it is (``"user's setting"``).
    """
    if _switched_off("MINITORCH_CNN_OPENBLAS"):
        return "left alone"
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return "user's setting"
    if "numpy" not in sys.modules:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = OPENBLAS_TIMEOUT  # read when NumPy loads OpenBLAS
        return "environment"
    return _restart_openblas_workers()


def _restart_openblas_workers() -> str:
    """Restart the workers of every loaded pthreads OpenBLAS with the short timeout."""
    from threadpoolctl import ThreadpoolController  # only when NumPy came first

    libraries = [lib for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers
                 if getattr(lib, "threading_layer", None) == "pthreads"]
    if not libraries or not all(hasattr(lib.dynlib, name) for lib in libraries for name in _OPENBLAS_RESTART):
        return "nothing to restart"
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = OPENBLAS_TIMEOUT  # what openblas_read_env reads
    for lib in libraries:
        lib.dynlib.openblas_read_env()
        lib.dynlib.blas_thread_shutdown_()  # joins the workers
        lib.dynlib.blas_thread_init()  # new workers, with the timeout just read
    return "restarted"


# ---------------------------------------------------------------- glibc's malloc
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems
TRIM_BYTES = 256 * 2**20  # free memory kept at the heap's top instead of being handed back


def keep_freed_memory() -> str:
    """Let glibc's malloc keep freed large arrays mapped, so that the next step reuses them.

    Why: a training step allocates and frees the same large arrays every step (convolution columns,
    activations, gradients). glibc serves each array above its mmap threshold (128 KiB at first,
    raised adaptively) with fresh pages from the kernel and returns them on free, so every step
    pays a page fault and the kernel's zero-fill for every page of them. Raising the mmap threshold
    to its maximum (``MMAP_THRESHOLD_BYTES``) and keeping up to ``TRIM_BYTES`` of free memory at the
    heap's top makes freed blocks come back at the next step, already mapped: the same numbers, no
    faults. This is the engine's one scratch-buffer mechanism: process-wide (NumPy gives the heap
    all its large arrays), and it costs resident memory that is not handed back to the system
    between steps (the peak is unchanged).

    Returns ``"tuned"``, ``"left alone"`` (off switch), ``"not glibc"`` (macOS, musl, Windows: left
    alone) or ``"failed"`` (libc not loadable, or ``mallopt`` refused a value).
    Off switch: ``MINITORCH_CNN_MALLOC=system`` keeps glibc's defaults.
    """
    import ctypes
    import platform

    if _switched_off("MINITORCH_CNN_MALLOC"):
        return "left alone"
    if platform.libc_ver()[0] != "glibc":
        return "not glibc"
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "failed"
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # malloc.h
    if libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_BYTES):
        return "tuned"
    return "failed"


# ---------------------------------------------------------------- kernels/ from a clone's root
KERNELS_NAME = __package__ + ".kernels"
KERNELS_FOLDER = Path(__file__).resolve().parent.parent / "kernels"


class KernelsFinder(importlib.abc.MetaPathFinder):
    """Finds ``minitorch_cnn.kernels`` in ``KERNELS_FOLDER``; every other name is left to the other finders."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != KERNELS_NAME:
            return None
        return importlib.util.spec_from_file_location(KERNELS_NAME, KERNELS_FOLDER / "__init__.py",
                                                      submodule_search_locations=[str(KERNELS_FOLDER)])


def mount_source_kernels() -> str:
    """Make ``minitorch_cnn.kernels`` importable from a clone's root, installed or not.

    Why: the hot loops live in the top-level folder ``kernels/``, which an install maps into the
    package (pyproject's ``package-dir``). Run from the clone's root, Python imports the local
    ``minitorch_cnn/`` folder rather than an installed copy (the current folder comes first on
    ``sys.path``), and that folder has no ``kernels`` inside. Then, and only then, this appends a
    ``KernelsFinder`` to ``sys.meta_path`` that maps the subpackage to the clone's ``kernels/``
    (beside the package's folder), the mapping the install makes; its modules load from there as
    usual.

    Returns ``"mounted"``, ``"not needed"`` (an install, an editable install or an earlier finder
    provides the subpackage: ``sys.meta_path`` is left as it is) or ``"no kernels folder"`` (nothing
    to map: the import then fails with Python's own message). No off switch: the finder acts only
    where ``minitorch_cnn.kernels`` cannot be found any other way, and the package needs it.
    """
    if KERNELS_NAME in sys.modules or importlib.util.find_spec(KERNELS_NAME) is not None:
        return "not needed"
    if not (KERNELS_FOLDER / "__init__.py").is_file():
        return "no kernels folder"
    if any(isinstance(finder, KernelsFinder) for finder in sys.meta_path):
        return "not needed"
    sys.meta_path.append(KernelsFinder())
    return "mounted"


# ---------------------------------------------------------------- numba's threads
def _user_chose_threading_layer() -> bool:
    return "NUMBA_THREADING_LAYER" in os.environ or "NUMBA_THREADING_LAYER_PRIORITY" in os.environ


def choose_threading_layer() -> str:
    """Run the parallel kernels on numba's TBB pool where the ``tbb`` package is installed, else on
    its OpenMP pool, else on its own ``workqueue``.

    Why: every op of a step starts a kernel on several threads, so what decides is how fast a
    pool hands a kernel to its threads. TBB's workers start a kernel faster than OpenMP's sleeping
    ones, and OpenMP's faster than ``workqueue``'s (``python -m benchmarks.profiling``, section 0;
    the figures are in ``benchmarks/RESULTS.md``). The ``tbb`` package is a dependency on Linux
    and Windows x86-64 (the platforms with its wheels); ``kernels._jit.load_tbb`` loads its
    library, which pip puts where the loader does not look. numba reads the priority when the first
    parallel kernel starts its pool, and takes the first layer on it that loads.

    Returns the priority set (``"tbb, omp, workqueue"`` or ``"omp, tbb, workqueue"``),
    ``"user's setting"`` or ``"left alone"``. Off switch: ``MINITORCH_CNN_THREADING=numba`` leaves
    numba's own defaults; a user's ``NUMBA_THREADING_LAYER`` or ``NUMBA_THREADING_LAYER_PRIORITY``
    is kept.
    """
    if _switched_off("MINITORCH_CNN_THREADING"):
        return "left alone"
    if _user_chose_threading_layer():
        return "user's setting"
    import numba

    from .kernels._jit import load_tbb

    first = ["tbb", "omp"] if load_tbb() else ["omp", "tbb"]
    numba.config.THREADING_LAYER_PRIORITY = [*first, "workqueue"]
    numba.config.THREADING_LAYER = "default"  # the first of the priority list that loads
    return ", ".join(numba.config.THREADING_LAYER_PRIORITY)


def quiet_openmp_workers() -> str:
    """Tell OpenMP's idle workers not to spin (``OMP_WAIT_POLICY=PASSIVE``), where the engine chose
    numba's threading layer (OpenMP is its fallback after TBB).

    Why: a spinning OpenMP worker holds the core that OpenBLAS's next product needs until the
    scheduler preempts it, and that product then takes several times as long (figures in
    ``benchmarks/RESULTS.md``). OpenMP reads the variable when a pool loads it.

    Returns ``"environment"``, ``"user's setting"`` (``OMP_WAIT_POLICY`` already set, or the user
    chose numba's threading layer) or ``"left alone"``. Off switch: ``MINITORCH_CNN_THREADING=numba``.
    """
    if _switched_off("MINITORCH_CNN_THREADING"):
        return "left alone"
    if _user_chose_threading_layer() or "OMP_WAIT_POLICY" in os.environ:
        return "user's setting"
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return "environment"


def set_kernel_threads() -> str:
    """Run the kernels on as many threads as OpenBLAS's products: ``OMP_NUM_THREADS`` if set, else
    every core (PyTorch's default too); ``kernels._jit.default_threads`` says the count.

    Why: numba's own default ignores ``OMP_NUM_THREADS``, so the kernels and the products would run
    on different numbers of threads. numba keeps the count per thread: this sets it for the
    importing thread, and starts numba's pool (with the layer chosen above).

    Returns the count set, ``"user's setting"`` (``NUMBA_NUM_THREADS`` set: numba uses it) or
    ``"left alone"``. Off switch: ``MINITORCH_CNN_THREADING=numba`` (numba's default count, and its
    pool starts at the first parallel kernel, not at import).
    """
    if _switched_off("MINITORCH_CNN_THREADING"):
        return "left alone"
    if "NUMBA_NUM_THREADS" in os.environ:
        return "user's setting"
    import numba

    from .kernels._jit import default_threads

    threads = default_threads()
    numba.set_num_threads(threads)
    return str(threads)


SETTINGS = (  # in the order they are applied: OpenBLAS's before anything loads NumPy
    quiet_openblas_workers,
    keep_freed_memory,
    mount_source_kernels,  # before the first import of minitorch_cnn.kernels (the two below)
    choose_threading_layer,
    quiet_openmp_workers,
    set_kernel_threads,  # last: it starts numba's pool, which reads the two above
)


def apply() -> dict[str, str]:
    """Apply every setting not yet applied in this process; returns ``APPLIED``."""
    for setting in SETTINGS:
        if setting.__name__ not in APPLIED:
            APPLIED[setting.__name__] = setting()
    return APPLIED


apply()
