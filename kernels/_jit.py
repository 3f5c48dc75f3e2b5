"""``compile_loops``: ``numba.njit(parallel=True, cache=True)`` with the cache in the user's cache folder.

By default numba writes its cache beside the source, which for an installed package means inside
site-packages. pip does not know those files: uninstalling leaves a folder of them behind, and
that folder then shadows a later editable install of the package (Python imports it as an empty
namespace package). So the compiled loops are cached in ``$NUMBA_CACHE_DIR`` when it is set, else
in ``$XDG_CACHE_HOME/minitorch_cnn/numba`` (``~/.cache/minitorch_cnn/numba``). Where that folder
cannot be written, numba falls back to its own choice.
"""

from __future__ import annotations

import os

import numba


def cache_dir() -> str:
    """Where numba caches the compiled kernels."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "minitorch_cnn", "numba")


def default_threads() -> int:
    """The kernels' thread count when ``NUMBA_NUM_THREADS`` is not set: ``OMP_NUM_THREADS``, else every core."""
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        wanted = 0
    available = numba.config.NUMBA_NUM_THREADS  # numba's pool size: the usable cores
    return min(wanted, available) if wanted > 0 else available


def load_tbb() -> bool:
    """Load the TBB library of the ``tbb`` package, so that numba's ``tbb`` threading layer can start.

    pip puts ``libtbb.so.12`` (``tbb12.dll`` on Windows) in the environment's ``lib`` folder, where
    the dynamic loader does not look; numba's TBB pool links against it by name. Once loaded by its
    full path, the loader finds it by that name. True when the library is loaded; False where the
    package is missing (no wheel for the platform) or its library does not load.
    """
    import ctypes
    import importlib.metadata

    try:
        files = importlib.metadata.distribution("tbb").files or []
    except importlib.metadata.PackageNotFoundError:
        return False
    names = ("libtbb.so.12", "tbb12.dll")
    found = [f for f in files if f.name in names]
    if not found:
        return False
    path = os.path.realpath(found[0].locate())
    try:
        if hasattr(os, "add_dll_directory"):  # Windows: the DLL's folder, for its own dependencies
            os.add_dll_directory(os.path.dirname(path))
        ctypes.CDLL(path, mode=getattr(ctypes, "RTLD_GLOBAL", 0))
    except OSError:
        return False
    return True


def compile_loops(loops, reassociate=False):
    """Compile the plain-Python ``loops`` once (lazily, at the first call per dtype) and cache them.

    The compiled loops release the GIL (``nogil``), so that threads of the caller can run them at
    once (``minitorch_cnn/functional/conv/fast/_chunks.py``).

    ``reassociate=True`` lets the compiler reorder the additions of a running sum so that it can
    vectorise it (LLVM's ``reassoc``, with ``contract`` for fused multiply-adds); NaN and infinity
    keep their meaning. The order is then the compiled code's: the same on every run and thread
    count, not the source's left-to-right order.

    numba fixes a function's cache folder when the function is wrapped, from ``numba.config.CACHE_DIR``;
    it is set for this call only, so other numba users in the process keep their own setting.
    """
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = cache_dir()
    try:
        fastmath = {"reassoc", "contract", "nsz"} if reassociate else False
        return numba.njit(parallel=True, cache=True, nogil=True, fastmath=fastmath)(loops)
    finally:
        numba.config.CACHE_DIR = previous
