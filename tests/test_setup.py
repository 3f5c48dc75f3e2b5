"""What ``import minitorch_cnn`` changes in the process, all of it in ``minitorch_cnn/_setup.py``.

Each setting is tested in a fresh interpreter (a subprocess), since each acts once, at import:

* OpenBLAS's idle workers sleep as soon as a product ends, whether NumPy or minitorch_cnn is imported
  first, unless the user chose. The proof that they sleep: the CPU time the process burns while its
  main thread sleeps right after a product; a spinning worker burns a visible share of it, a
  sleeping one none.
* glibc's malloc keeps freed memory mapped, unless ``MINITORCH_CNN_MALLOC=system``.
* The clone's root is where a new user stands: the package must import from there, installed or
  not. From the root, ``python -m minitorch_cnn`` imports the local ``minitorch_cnn/`` folder (the
  current folder comes first on ``sys.path``), which has no ``kernels`` inside: the top-level
  ``kernels/`` must still be found as ``minitorch_cnn.kernels``. Those subprocesses run with ``-S``
  (no site initialisation) so that this checkout's own editable install, whose import hook would
  map ``kernels/`` for them, cannot hide the problem; the dependencies come through ``PYTHONPATH``.
* numba's threading layer, OpenMP's wait policy and the kernels' thread count.
* The import changes ``os.environ`` only by ``_setup.ENVIRONMENT_KEYS`` and ``sys.meta_path`` only by
  the documented finder, and with every off switch set changes none of them.
* No module but ``_setup.py`` changes the process at import (a static check of the sources).
"""

from __future__ import annotations

import ast
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minitorch_cnn import _setup

ROOT = Path(__file__).resolve().parents[1]

# what the subprocesses start without: what this (already set-up) process holds of the variables the
# import writes, the off switches, and the user's own choices that a setting respects
SETUP_VARIABLES = (*_setup.ENVIRONMENT_KEYS, *_setup.OFF_SWITCHES, "NUMBA_THREADING_LAYER",
                   "NUMBA_THREADING_LAYER_PRIORITY", "NUMBA_NUM_THREADS")
ALL_OFF = dict(_setup.OFF_SWITCHES)  # every off switch set


def _environ(**changes) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SETUP_VARIABLES}
    env.update(changes)
    return env


# ---------------------------------------------------------------- what the import changes, in general
IMPORT_PROBE = """
import json, os, sys
env_before, finders_before = dict(os.environ), list(sys.meta_path)
{imports}
import minitorch_cnn
from minitorch_cnn import _setup
import numba
import numba.np.ufunc.parallel as parallel
env_after = dict(os.environ)
def name(finder):
    kind = finder if isinstance(finder, type) else type(finder)
    return kind.__module__ + "." + kind.__qualname__
maps = open("/proc/self/maps").read() if os.path.exists("/proc/self/maps") else None
print(json.dumps({{
    "changed": {{k: [env_before.get(k), env_after.get(k)] for k in sorted(set(env_before) | set(env_after))
                if env_before.get(k) != env_after.get(k)}},
    "added": [name(f) for f in sys.meta_path if not any(f is g for g in finders_before)],
    "removed": [name(f) for f in finders_before if not any(f is g for g in sys.meta_path)],
    "applied": _setup.APPLIED,
    "priority": list(numba.config.THREADING_LAYER_PRIORITY),
    "layer": numba.config.THREADING_LAYER,
    "pool_started": bool(parallel._is_initialized),
    "threads": numba.get_num_threads() if parallel._is_initialized else None,
    "default_threads": minitorch_cnn.kernels._jit.default_threads(),
    "tbb_loaded": None if maps is None else "libtbb" in maps,
    "kernels": minitorch_cnn.kernels.__file__,
}}))
"""

NUMBA_ALONE = """
import json, numba
print(json.dumps({"priority": list(numba.config.THREADING_LAYER_PRIORITY), "layer": numba.config.THREADING_LAYER}))
"""


def _run_json(code: str, env: dict, cwd: Path, flags=()) -> dict:
    r = subprocess.run([sys.executable, *flags, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _import_probe(cwd: Path, imports: str = "", **env_changes) -> dict:
    return _run_json(IMPORT_PROBE.format(imports=imports), _environ(**env_changes), cwd)


@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_the_import_changes_only_the_documented_environment_and_finders(where, tmp_path):
    info = _import_probe(ROOT if where == "root" else tmp_path)
    assert info["changed"] == {"OPENBLAS_THREAD_TIMEOUT": [None, _setup.OPENBLAS_TIMEOUT],
                               "OMP_WAIT_POLICY": [None, "PASSIVE"]}
    assert set(info["changed"]) <= set(_setup.ENVIRONMENT_KEYS)
    # an installed (here: editable) package provides the kernels: the finder is not needed
    assert info["added"] == [] and info["removed"] == []
    assert info["applied"]["mount_source_kernels"] == "not needed"
    assert Path(info["kernels"]).resolve() == (ROOT / "kernels" / "__init__.py").resolve()
    assert list(info["applied"]) == [setting.__name__ for setting in _setup.SETTINGS]


def test_with_every_off_switch_the_import_changes_nothing(tmp_path):
    info = _import_probe(tmp_path, **ALL_OFF)
    alone = _run_json(NUMBA_ALONE, _environ(**ALL_OFF), tmp_path)
    assert info["changed"] == {}  # the environment is identical before and after
    assert info["added"] == [] and info["removed"] == []
    assert {"priority": info["priority"], "layer": info["layer"]} == alone  # numba's own defaults
    assert info["pool_started"] is False  # no thread count set at import: numba's pool not started
    if info["tbb_loaded"] is not None:
        assert info["tbb_loaded"] is False  # TBB's library not loaded either
    assert info["applied"] == {
        "quiet_openblas_workers": "left alone",
        "keep_freed_memory": "left alone",  # no malloc change
        "mount_source_kernels": "not needed",
        "choose_threading_layer": "left alone",
        "quiet_openmp_workers": "left alone",
        "set_kernel_threads": "left alone",
    }


def test_the_users_own_settings_are_kept(tmp_path):
    mine = {"OPENBLAS_THREAD_TIMEOUT": "28", "OMP_WAIT_POLICY": "ACTIVE", "NUMBA_THREADING_LAYER": "workqueue",
            "NUMBA_NUM_THREADS": "1"}
    info = _import_probe(tmp_path, **mine)
    assert info["changed"] == {}
    assert info["applied"]["quiet_openblas_workers"] == "user's setting"
    assert info["applied"]["choose_threading_layer"] == "user's setting"
    assert info["applied"]["quiet_openmp_workers"] == "user's setting"
    assert info["applied"]["set_kernel_threads"] == "user's setting"
    assert info["layer"] == "workqueue"


def test_numba_runs_on_tbb_else_openmp_with_the_threads_of_openblas(tmp_path):
    from minitorch_cnn.kernels._jit import load_tbb

    info = _import_probe(tmp_path, OMP_NUM_THREADS="1")
    first = ["tbb", "omp"] if load_tbb() else ["omp", "tbb"]
    assert info["priority"] == [*first, "workqueue"] and info["layer"] == "default"
    assert info["applied"]["choose_threading_layer"] == ", ".join(info["priority"])
    assert info["applied"]["quiet_openmp_workers"] == "environment"
    assert info["pool_started"] is True and info["threads"] == info["default_threads"] == 1
    assert info["applied"]["set_kernel_threads"] == "1"
    # MINITORCH_CNN_THREADING=numba alone leaves numba's threading to numba, and only that
    numba_only = _import_probe(tmp_path, MINITORCH_CNN_THREADING="numba")
    assert numba_only["changed"] == {"OPENBLAS_THREAD_TIMEOUT": [None, _setup.OPENBLAS_TIMEOUT]}
    assert numba_only["pool_started"] is False
    assert numba_only["applied"]["choose_threading_layer"] == "left alone"


# ---------------------------------------------------------------- OpenBLAS's idle workers
OPENBLAS_PROBE = """
import json, os, resource, sys, time
{imports}
import numpy as np
from threadpoolctl import threadpool_info
a = np.random.default_rng(0).standard_normal((400, 400))
product = a @ a
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
a @ a
before = cpu(); time.sleep(0.25); idle_cpu = cpu() - before
blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
setup = sys.modules.get("minitorch_cnn._setup")
print(json.dumps({{"status": setup.APPLIED["quiet_openblas_workers"] if setup else None,
                  "timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "idle_cpu": idle_cpu,
                  "threads": blas[0]["num_threads"] if blas else 0,
                  "layer": blas[0].get("threading_layer") if blas else None,
                  "product_ok": bool(abs(product - np.einsum("ij,jk->ik", a, a)).max() < 1e-9)}}))
"""


def _openblas_probe(imports: str, **env_changes) -> dict:
    env = _environ(OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", **env_changes)
    return _run_json(OPENBLAS_PROBE.format(imports=imports), env, ROOT)


@pytest.fixture(scope="module")
def spinning():
    """NumPy alone, with OpenBLAS's default timeout: its workers spin after a product (the control)."""
    info = _openblas_probe("import numpy")
    if info["layer"] != "pthreads" or info["threads"] < 2:
        pytest.skip(f"needs NumPy's pthreads OpenBLAS on 2 threads, found {info['layer']} on {info['threads']}")
    return info


def test_the_control_spins(spinning):
    assert spinning["idle_cpu"] > 0.02 and spinning["status"] is None


def test_imported_before_numpy_the_variable_is_set(spinning):
    info = _openblas_probe("import minitorch_cnn")
    assert info["status"] == "environment" and info["timeout"] == "4"
    assert info["idle_cpu"] < 0.02 and info["product_ok"]


def test_imported_after_numpy_the_workers_are_restarted(spinning):
    info = _openblas_probe("import numpy\nimport minitorch_cnn")
    assert info["status"] == "restarted" and info["timeout"] == "4"
    assert info["idle_cpu"] < 0.02 and info["product_ok"] and info["threads"] == 2


def test_the_users_choice_of_openblas_timeout_is_kept(spinning):
    info = _openblas_probe("import numpy\nimport minitorch_cnn", OPENBLAS_THREAD_TIMEOUT="28")
    assert info["status"] == "user's setting" and info["timeout"] == "28"
    kept = _openblas_probe("import numpy\nimport minitorch_cnn", MINITORCH_CNN_OPENBLAS="keep")
    assert kept["status"] == "left alone" and kept["timeout"] is None and kept["idle_cpu"] > 0.02


# ---------------------------------------------------------------- glibc's malloc
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting applies to glibc's malloc only")
def test_glibc_malloc_keeps_freed_memory_unless_told_not_to(tmp_path):
    if os.environ.get("MINITORCH_CNN_MALLOC", "").strip().lower() != "system":
        assert _setup.APPLIED["keep_freed_memory"] == "tuned"
    code = "from minitorch_cnn import _setup; print(_setup.APPLIED['keep_freed_memory'])"
    for value, expected in (("system", "left alone"), ("", "tuned")):
        env = _environ(MINITORCH_CNN_MALLOC=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                             check=True, timeout=300)
        assert out.stdout.strip() == expected


# ---------------------------------------------------------------- kernels/ from a clone's root
def _copy_clone(dest: Path) -> Path:
    """The files a clone's root holds that matter for importing: the package, kernels/ and the metadata."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("minitorch_cnn", "kernels"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, dest / name)
    return dest


def _run_bare(args, cwd, extra_path=(), **env):
    """``python -S`` (no site: no editable install's import hook), the dependencies on PYTHONPATH."""
    deps = [p for p in sys.path if p and Path(p).resolve() != ROOT and Path(p).is_dir()]
    environ = dict(_environ(), PYTHONPATH=os.pathsep.join([*map(str, extra_path), *deps]), **env)
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=300)


def test_from_a_clone_root_without_an_install(tmp_path):
    clone = _copy_clone(tmp_path / "clone")
    cache = tmp_path / "numba-cache"
    r = _run_bare(["-m", "minitorch_cnn", "summary", "lenet"], clone, NUMBA_CACHE_DIR=str(cache))
    assert r.returncode == 0, r.stderr
    assert "total parameters: 61,706" in r.stdout
    r = _run_bare(["-c", "import minitorch_cnn.kernels as k, minitorch_cnn.functional.conv.reference as c; "
                         "print(k.__file__); print(c.im2col.__module__)"], clone)
    assert r.returncode == 0, r.stderr
    kernels_file, im2col_module = r.stdout.split()
    assert Path(kernels_file).resolve() == (clone / "kernels" / "__init__.py").resolve()
    assert im2col_module == "minitorch_cnn.kernels.im2col"
    # the one change to sys.meta_path: the documented finder, appended because nothing else finds kernels/
    r = _run_bare(["-c", IMPORT_PROBE.format(imports="")], clone, **ALL_OFF)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["added"] == ["minitorch_cnn._setup.KernelsFinder"] and info["removed"] == []
    assert info["applied"]["mount_source_kernels"] == "mounted" and info["changed"] == {}
    # numba's cache works through the mapping: the second run loads the loops compiled by the first
    assert list(cache.rglob("*.nbi")), "no numba cache written"
    r = _run_bare(["-m", "minitorch_cnn", "summary", "lenet"], clone, NUMBA_CACHE_DIR=str(cache),
                  NUMBA_DEBUG_CACHE="1")
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
    assert (site / "minitorch_cnn" / "_setup.py").is_file()
    shutil.rmtree(clone / "build", ignore_errors=True)
    r = _run_bare(["-m", "minitorch_cnn", "--help"], clone, extra_path=[site])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: minitorch-cnn")
    r = _run_bare(["-m", "minitorch_cnn", "summary", "lenet"], clone, extra_path=[site])
    assert r.returncode == 0, r.stderr
    # and away from the clone the installed copy is the one imported, its kernels inside it, no finder
    r = _run_bare(["-c", "import minitorch_cnn.kernels as k, minitorch_cnn._setup as s; print(k.__file__); "
                         "print(s.APPLIED['mount_source_kernels'])"], tmp_path, extra_path=[site])
    assert r.returncode == 0, r.stderr
    kernels_file, mounted = r.stdout.split("\n")[:2]
    assert Path(kernels_file).resolve() == (site / "minitorch_cnn" / "kernels" / "__init__.py").resolve()
    assert mounted == "not needed"


# ---------------------------------------------------------------- no other module changes the process
PACKAGE_FILES = sorted((ROOT / "minitorch_cnn").rglob("*.py")) + sorted((ROOT / "kernels").glob("*.py"))
SETUP_FILE = ROOT / "minitorch_cnn" / "_setup.py"

_ENVIRON_METHODS = {"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the full dotted name it stands for (``import numba as nb``, ``from os import environ``)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node, aliases) -> str | None:
    """``os.environ.setdefault`` for that expression (aliases resolved), None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Subscript):  # os.environ["X"] -> "os.environ[]"
        inner = _dotted(node.value, aliases)
        return None if inner is None else ".".join([inner + "[]", *reversed(parts)])
    if not isinstance(node, ast.Name):
        return None
    return ".".join([aliases.get(node.id, node.id), *reversed(parts)])


def _is_environ(name: str) -> bool:
    return name == "os.environ" or name.endswith(".environ") or name == "environ"


def _effect_of_call(name: str) -> str | None:
    head, _, method = name.rpartition(".")
    if _is_environ(head) and method in _ENVIRON_METHODS:
        return f"writes os.environ ({name})"
    if name in ("os.putenv", "os.unsetenv"):
        return f"writes the environment ({name})"
    if method == "mallopt" or name == "mallopt":
        return "calls mallopt"
    if name.endswith("set_num_threads"):
        return f"sets numba's thread count ({name})"
    if name.startswith("sys.meta_path"):
        return f"changes sys.meta_path ({name})"
    return None


def _effect_of_target(name: str) -> str | None:
    if name.startswith(("os.environ[]", "environ[]")) or _is_environ(name):
        return f"writes os.environ ({name})"
    if name.startswith("numba.config."):
        return f"sets numba.config ({name})"
    if name.startswith("sys.meta_path"):
        return f"changes sys.meta_path ({name})"
    return None


class _Effects(ast.NodeVisitor):
    """The process-wide changes in the code it visits; with ``import_time``, only the code that runs
    when the module is imported (not function bodies), calls of this module's own functions that
    make such changes included."""

    def __init__(self, aliases, import_time, changing_functions=frozenset()):
        self.aliases, self.import_time, self.changing_functions = aliases, import_time, changing_functions
        self.found: list[tuple[int, str]] = []

    def visit_FunctionDef(self, node):
        if not self.import_time:
            return self.generic_visit(node)
        for expr in [*node.decorator_list, *node.args.defaults, *filter(None, node.args.kw_defaults)]:
            self.visit(expr)  # evaluated at import; the body is not

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        if not self.import_time:
            self.generic_visit(node)

    def visit_Call(self, node):
        name = _dotted(node.func, self.aliases)
        effect = name and _effect_of_call(name)
        last = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if not effect and last in ("mallopt", "set_num_threads"):  # ctypes.CDLL(...).mallopt(...)
            effect = f"calls {last}"
        if name == "setattr" and node.args:
            effect = _effect_of_target((_dotted(node.args[0], self.aliases) or "") + ".")
        if not effect and isinstance(node.func, ast.Name) and node.func.id in self.changing_functions:
            effect = f"calls {node.func.id}(), which changes the process"
        if effect:
            self.found.append((node.lineno, effect))
        self.generic_visit(node)

    def _targets(self, node, targets):
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, (ast.Attribute, ast.Subscript, ast.Name)):
                    name = _dotted(part, self.aliases)
                    effect = name and _effect_of_target(name)
                    if effect:
                        self.found.append((node.lineno, effect))
                        break
        self.generic_visit(node)

    def visit_Assign(self, node):
        self._targets(node, node.targets)

    def visit_AugAssign(self, node):
        self._targets(node, [node.target])

    def visit_AnnAssign(self, node):
        self._targets(node, [node.target])

    def visit_Delete(self, node):
        self._targets(node, node.targets)


def import_time_effects(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each process-wide change that importing ``source`` would make."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    changing = set()
    for node in tree.body:  # the module's own functions that change the process when called
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside = _Effects(aliases, import_time=False)
            for statement in node.body:
                inside.visit(statement)
            if inside.found:
                changing.add(node.name)
    at_import = _Effects(aliases, import_time=True, changing_functions=frozenset(changing))
    at_import.visit(tree)
    return at_import.found


@pytest.mark.parametrize("path", [p for p in PACKAGE_FILES if p != SETUP_FILE],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_but_setup_changes_the_process_at_import(path):
    found = import_time_effects(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT).as_posix()
    assert not found, "\n".join(f"{where}:{line}: {what} at import; move it to minitorch_cnn/_setup.py"
                                for line, what in found)


def test_the_static_check_reads_the_package_and_the_kernels():
    names = {p.relative_to(ROOT).as_posix() for p in PACKAGE_FILES}
    assert {"minitorch_cnn/__init__.py", "minitorch_cnn/backend.py", "kernels/__init__.py", "kernels/_jit.py",
            "minitorch_cnn/_setup.py"} <= names
    assert not (ROOT / "minitorch_cnn" / "_openblas.py").exists()
    assert not (ROOT / "minitorch_cnn" / "_source_tree.py").exists()


@pytest.mark.parametrize("source", [
    # what kernels/__init__.py, backend.py, _openblas.py and _source_tree.py used to do at import
    """
    import os
    import numba
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
    """,
    'import os\nos.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")\n',
    "import numba\nnumba.set_num_threads(2)\n",
    "import ctypes\nlibc = ctypes.CDLL('libc.so.6')\nlibc.mallopt(-3, 1 << 25)\n",
    """
    import ctypes
    def keep_freed_memory():
        return ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 25)
    malloc_tuned = keep_freed_memory()
    """,
    """
    import os
    def quiet():
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"
    STATUS = quiet()
    """,
    "import sys\nsys.meta_path.append(object())\n",
    "from sys import meta_path\nmeta_path.insert(0, object())\n",
    "from os import environ\nenviron['X'] = '1'\n",
    "import os\ndel os.environ['X']\n",
    "import numba as nb\nnb.config.THREADING_LAYER = 'omp'\n",
    "from numba import config\nsetattr(config, 'THREADING_LAYER', 'omp')\n",
    "import os\nclass Settings:\n    os.environ['X'] = '1'\n",
], ids=lambda s: " ".join(s.split())[:40])
def test_the_static_check_finds_a_planted_change(source):
    assert import_time_effects(textwrap.dedent(source))


def test_the_static_check_lets_functions_change_the_process_when_called():
    source = textwrap.dedent("""
        import os, sys, numba
        def later():
            os.environ["X"] = "1"
            numba.set_num_threads(1)
            sys.meta_path.append(object())
        value = os.environ.get("X")  # reading is fine
    """)
    assert import_time_effects(source) == []
