"""The clone's root is where a new user stands: the package must import from there, installed or not.

From the root, ``python -m minitorch_cnn`` imports the local ``minitorch_cnn/`` folder (the current
folder comes first on ``sys.path``), which has no ``kernels`` inside: the top-level ``kernels/`` must
still be found as ``minitorch_cnn.kernels``. The subprocesses run with ``-S`` (no site initialisation)
so that this checkout's own editable install, whose import hook would map ``kernels/`` for them,
cannot hide the problem; the dependencies come through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _copy_clone(dest: Path) -> Path:
    """The files a clone's root holds that matter for importing: the package, kernels/ and the metadata."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("minitorch_cnn", "kernels"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, dest / name)
    return dest


def _run(args, cwd, extra_path=(), **env):
    deps = [p for p in sys.path if p and Path(p).resolve() != ROOT and Path(p).is_dir()]
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, extra_path), *deps]), **env)
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=300)


def test_from_a_clone_root_without_an_install(tmp_path):
    clone = _copy_clone(tmp_path / "clone")
    cache = tmp_path / "numba-cache"
    r = _run(["-m", "minitorch_cnn", "summary", "lenet"], clone, NUMBA_CACHE_DIR=str(cache))
    assert r.returncode == 0, r.stderr
    assert "total parameters: 61,706" in r.stdout
    r = _run(["-c", "import minitorch_cnn.kernels as k, minitorch_cnn.functional.conv as c; "
                    "print(k.__file__); print(c.im2col.__module__)"], clone)
    assert r.returncode == 0, r.stderr
    kernels_file, im2col_module = r.stdout.split()
    assert Path(kernels_file).resolve() == (clone / "kernels" / "__init__.py").resolve()
    assert im2col_module == "minitorch_cnn.kernels.im2col"
    # numba's cache works through the mapping: the second run loads the loops compiled by the first
    assert list(cache.rglob("*.nbi")), "no numba cache written"
    r = _run(["-m", "minitorch_cnn", "summary", "lenet"], clone, NUMBA_CACHE_DIR=str(cache), NUMBA_DEBUG_CACHE="1")
    assert r.returncode == 0, r.stderr
    assert "data loaded from" in r.stdout + r.stderr and "data saved to" not in r.stdout + r.stderr


@pytest.mark.slow
def test_from_a_clone_root_after_pip_install_dot(tmp_path):
    """The README's first command, ``pip install .`` (here into a target folder, without the
    dependencies, which this interpreter already has), then the CLI from the clone's root."""
    clone = _copy_clone(tmp_path / "clone")
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(site), str(clone)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (site / "minitorch_cnn" / "kernels" / "im2col.py").is_file()
    shutil.rmtree(clone / "build", ignore_errors=True)
    r = _run(["-m", "minitorch_cnn", "--help"], clone, extra_path=[site])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: minitorch-cnn")
    r = _run(["-m", "minitorch_cnn", "summary", "lenet"], clone, extra_path=[site])
    assert r.returncode == 0, r.stderr
    # and away from the clone the installed copy is the one imported, its kernels inside it
    r = _run(["-c", "import minitorch_cnn.kernels as k; print(k.__file__)"], tmp_path, extra_path=[site])
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).resolve() == (site / "minitorch_cnn" / "kernels" / "__init__.py").resolve()
