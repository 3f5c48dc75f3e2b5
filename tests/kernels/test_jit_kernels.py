"""How the kernels are compiled and run (kernels/_jit.py, kernels/__init__.py): numba's TBB or OpenMP
pool, the default thread count from OMP_NUM_THREADS, and the compiled loops cached in the user's
cache folder, outside the package."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from _conv_cases import window

from minitorch_cnn import kernels


def test_parallel_loops_run_on_numbas_tbb_or_openmp_pool():
    """kernels/ picks numba's TBB layer where the tbb package is installed (a kernel starts in
    microseconds there, against ~60 us on OpenMP's sleeping workers), else OpenMP (the LeNet step's
    short kernels hand over faster than on the workqueue pool), and as many kernel threads as
    OMP_NUM_THREADS says (else every core), unless the user set NUMBA_THREADING_LAYER / NUMBA_NUM_THREADS."""
    import os

    import numba
    from minitorch_cnn.kernels import im2col
    from minitorch_cnn.kernels._jit import load_tbb

    im2col(np.ones((2, 2, 5, 5), np.float32), window(5, 5, 3, 3))  # starts numba's pool
    expected = os.environ.get("NUMBA_THREADING_LAYER", "tbb" if load_tbb() else "omp")
    if "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ and expected in ("workqueue", "omp", "tbb"):
        assert numba.threading_layer() == expected
    if "NUMBA_NUM_THREADS" not in os.environ:
        assert numba.get_num_threads() == kernels.default_threads()


def test_load_tbb_says_no_where_the_package_or_its_library_is_missing(monkeypatch):
    import importlib.metadata

    from minitorch_cnn.kernels._jit import load_tbb

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    assert load_tbb() is False
    no_library = type("Dist", (), {"files": [importlib.metadata.PackagePath("tbb-2022.3.1.dist-info/METADATA")]})()
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: no_library)
    assert load_tbb() is False


def test_thread_defaults_follow_omp_num_threads(monkeypatch):
    import numba

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert kernels.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "100000")
    assert kernels.default_threads() == numba.config.NUMBA_NUM_THREADS  # never above the pool
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert kernels.default_threads() == numba.config.NUMBA_NUM_THREADS
    monkeypatch.setenv("OMP_NUM_THREADS", "four")
    assert kernels.default_threads() == numba.config.NUMBA_NUM_THREADS


def test_compiled_loops_are_cached_outside_the_package(monkeypatch, tmp_path):
    """numba's cache goes to the user's cache folder: files beside an installed package are unknown to
    pip, outlive an uninstall, and then shadow an editable install as an empty namespace package."""
    import importlib
    from pathlib import Path

    import numba
    from minitorch_cnn.kernels import _jit

    im2col_module = importlib.import_module("minitorch_cnn.kernels.im2col")
    package = Path(im2col_module.__file__).resolve().parent
    for disp in (im2col_module._im2col_jit, importlib.import_module("minitorch_cnn.kernels.pooling")._max_fwd_jit):
        cache = Path(disp._cache._cache_path).resolve()
        assert cache.is_relative_to(Path(_jit.cache_dir()).resolve())
        assert not cache.is_relative_to(package)
    assert numba.config.CACHE_DIR != _jit.cache_dir() or "NUMBA_CACHE_DIR" in os.environ  # set per call only

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _jit.cache_dir() == str(tmp_path / "minitorch_cnn" / "numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert _jit.cache_dir() == str(tmp_path / "mine")
    with_cache = _jit.compile_loops(lambda a: a + 1)
    assert Path(with_cache._cache._cache_path).is_relative_to(tmp_path / "mine")


# the folder imported as the top-level package ``kernels``, as pytest's --doctest-modules does for the
# README's test command; then the doctest's call of batch_last_columns (float64, a 2x2 kernel)
AS_KERNELS = """
import numpy as np
import kernels.batch_last as b
assert b.__name__ == "kernels.batch_last"
b.batch_last_columns(np.arange(9.0).reshape(1, 3, 3, 1), (2, 2))
"""
# the same loop and signature through the package, where nothing is importable as ``kernels`` (an
# installed package; here forced, since the clone's root is on sys.path): a float64 convolution
# under "batch_last", 1x1x1x1 input, 1x1 kernel, padding 2 (its columns: a (1, 5, 5, 1) image)
AS_PACKAGE = """
import sys
sys.modules["kernels"] = None  # `import kernels` fails, as outside the clone
import numpy as np
import minitorch_cnn as mt
from minitorch_cnn import functional as F
mt.set_conv_algorithm("batch_last")
y = F.conv2d(mt.tensor(np.ones((1, 1, 1, 1))), mt.tensor(np.ones((1, 1, 1, 1))), padding=2)
assert y.shape == (1, 1, 5, 5) and float(y.numpy()[0, 0, 2, 2]) == 1.0
print("ok")
"""


def test_the_cache_cannot_be_poisoned_by_the_folder_imported_as_kernels(tmp_path):
    """numba names a cache entry after the source file; the loop it stores names its module as imported.
    Written by a process that imported kernels/ as ``kernels`` (the doctests), the entry made a later
    process of the package fail with ``No module named 'kernels'``. Each import name has its own cache
    folder (kernels/_jit.py), so both processes run, each from its own entry."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("NUMBA_DISABLE_JIT", None)
    for code in (AS_KERNELS, AS_PACKAGE, AS_PACKAGE):  # the second AS_PACKAGE loads what the first cached
        r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["ok"]
    indexes = sorted(p.relative_to(cache).parts[0] for p in cache.rglob("batch_last.batch_last_columns_loops-*.nbi"))
    assert indexes == ["kernels.batch_last", "minitorch_cnn.kernels.batch_last"]


def test_each_import_name_has_its_own_cache_folder(monkeypatch, tmp_path):
    import importlib
    from pathlib import Path

    from minitorch_cnn.kernels import _jit

    im2col_module = importlib.import_module("minitorch_cnn.kernels.im2col")
    cache = Path(im2col_module._im2col_jit._cache._cache_path).resolve()
    assert cache.is_relative_to(Path(_jit.cache_dir(), "minitorch_cnn.kernels.im2col").resolve())
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _jit.cache_dir_of("kernels.im2col") == str(tmp_path / "kernels.im2col")
