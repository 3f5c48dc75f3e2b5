"""``compile_loops``: ``numba.njit(parallel=True, cache=True)`` with the cache in the user's cache folder.

By default numba writes its cache beside the source, which for an installed package means inside
site-packages. pip does not know those files: uninstalling leaves a folder of them behind, and
that folder then shadows a later editable install of the package (Python imports it as an empty
namespace package). So the compiled loops are cached in ``$NUMBA_CACHE_DIR`` when it is set, else
in ``$XDG_CACHE_HOME/minitorch_cnn/numba`` (``~/.cache/minitorch_cnn/numba``). Where that folder
cannot be written, numba falls back to its own choice.

One subfolder per import name. numba names a cache entry after the source file only, but the
compiled loop it stores refers to its module by the name it was imported under, and loading the
entry imports that module. The same file can be imported under two names: ``minitorch_cnn.kernels.im2col``
(the package), and ``kernels.im2col`` when pytest runs the doctests of the clone's ``kernels/``
folder (the README's test command), which imports the folder as a top-level package. Sharing one
entry, a process of the package would then fail with ``No module named 'kernels'``. So the loops
of module ``M`` are cached under ``CACHE/M/`` (``CACHE/minitorch_cnn.kernels.im2col/...``): an entry
is only ever read under the name that wrote it. (Not caching under other names would be safe too,
but would compile the doctests' loops afresh on every test run.)

``cache_is_cold`` says whether the next run will compile the loops (the CLI's one-line notice).
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


def cache_dir_of(module: str) -> str:
    """Where the loops of module ``module`` (its import name) are cached: a subfolder of :func:`cache_dir`."""
    return os.path.join(cache_dir(), module)


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
    it is set for this call only, so other numba users in the process keep their own setting. The
    folder is :func:`cache_dir_of` the loops' module: one per import name (module doc).
    """
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = cache_dir_of(loops.__module__)
    try:
        fastmath = {"reassoc", "contract", "nsz"} if reassociate else False
        compiled = numba.njit(parallel=True, cache=True, nogil=True, fastmath=fastmath)(loops)
    finally:
        numba.config.CACHE_DIR = previous
    COMPILED.append(compiled)
    return compiled


COMPILED = []  # every compile_loops result of this process, for cache_is_cold


def _cached_here(compiled, machine) -> bool:
    """Whether numba's cache holds a loop of ``compiled`` for this machine, source and numba version."""
    try:
        index = compiled._cache._cache_file._load_index()  # {} when missing, stale or of another numba
    except Exception:  # numba's private layout changed, or an unreadable file: unknown
        return True  # say nothing rather than something false
    return any(key[1] == machine for key in index)


def cache_is_cold() -> bool:
    """True when numba's cache holds no compiled loop of this package for this machine: the first run
    after an install, an upgrade (the sources changed) or a cleared cache, which compiles the loops it
    calls before the first step can run. Reads the index file of each loop compiled so far in
    the process (:data:`COMPILED`); False under ``NUMBA_DISABLE_JIT=1``."""
    if numba.config.DISABLE_JIT or not COMPILED:
        return False
    from numba.core.registry import cpu_target

    machine = cpu_target.target_context.codegen().magic_tuple()
    return not any(_cached_here(c, machine) for c in COMPILED)
