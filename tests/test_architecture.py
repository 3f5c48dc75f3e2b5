"""The map of the code stays true: the learner's reading path, the depth of the reference conv, the
layers that import-linter cannot see, and no reference to a file outside the repository.

* The README's section "How conv backprop works here" lists the learner's files for conv forward
  and backward as a numbered list of paths: at most five files and 1,000 lines together, each there.
* Under ``"reference"``, ``conv2d`` reaches the im2col loop in at most six calls, and
  ``Conv2dFn.backward`` the col2im loop in as many (counted in a subprocess with the loops run as
  plain Python, ``NUMBA_DISABLE_JIT=1``).
* The kernels (the top-level folder ``kernels/``, mapped into the package, where import-linter's
  scan does not look) import nothing of ours but ``minitorch_cnn.backend``; the reference conv op
  imports only the im2col kernel and the autograd core.
* No text file of the repository names a file outside it (the design notes and reference tables
  the project was built from are not part of it: describe them in words, e.g. "the book's shape tables").
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_FILES, MAX_LINES, MAX_CALLS = 5, 1000, 6


# ---------------------------------------------------------------- the reading path
def reading_path() -> list[str]:
    """The paths of the numbered list in the README's section "How conv backprop works here"."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## How conv backprop works here\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, "README.md has no section '## How conv backprop works here'"
    lines = match.group(1).splitlines()
    items, started = [], False
    for line in lines:
        item = re.match(r"^(\d+)\. (.*)", line)
        if item:
            started = True
            path = re.match(r"`([^`]+)`", item.group(2))
            assert path, f"item {item.group(1)} of the reading path does not start with a backticked path: {line!r}"
            assert int(item.group(1)) == len(items) + 1, f"the reading path's items are not numbered 1, 2, ...: {line!r}"
            items.append(path.group(1))
        elif started and line and not line.startswith(" "):  # the list ends at the first unindented line
            break
    return items


def test_the_reading_path_fits_its_budget():
    files = reading_path()
    assert files, "the README's conv section has no numbered reading path"
    missing = [f for f in files if not (ROOT / f).is_file()]
    assert not missing, f"the README's reading path names files that do not exist: {missing}"
    assert len(files) <= MAX_FILES, f"the reading path has {len(files)} files (at most {MAX_FILES}): {files}"
    counts = {f: len((ROOT / f).read_text(encoding="utf-8").splitlines()) for f in files}
    assert sum(counts.values()) <= MAX_LINES, (
        f"the reading path is {sum(counts.values())} lines (at most {MAX_LINES}): {counts}")


def test_the_reading_path_is_the_code_that_runs():
    """The files the learner reads hold conv2d, the reference op, the im2col loops and autograd's walk."""
    text = {f: (ROOT / f).read_text(encoding="utf-8") for f in reading_path()}
    for needed in ("def conv2d(", "class Conv2dFn(", "def im2col_loops(", "def col2im_loops(", "def backward("):
        assert any(needed in t for t in text.values()), f"no file of the reading path defines {needed!r}"


# ---------------------------------------------------------------- call depth under "reference"
PROBE = r"""
import json, sys
import numpy as np
import minitorch_cnn as mt
from minitorch_cnn.functional import conv2d
from minitorch_cnn.tensor import Tensor

stacks = {}

def hook(frame, event, arg):
    name = frame.f_code.co_name
    if event == "call" and name in ("im2col_loops", "col2im_loops") and name not in stacks:
        stack = []
        while frame is not None:
            stack.append([frame.f_code.co_filename, frame.f_code.co_qualname])
            frame = frame.f_back
        stacks[name] = stack  # innermost first

mt.set_conv_algorithm("reference")
x = Tensor(np.ones((2, 3, 5, 5)), requires_grad=True)
w = Tensor(np.ones((4, 3, 3, 3)), requires_grad=True)
sys.setprofile(hook)
y = conv2d(x, w, padding=1)
y.sum().backward()
sys.setprofile(None)
print(json.dumps(stacks))
"""


@pytest.fixture(scope="module")
def loop_stacks():
    """The Python call stack at the entry of ``im2col_loops`` and of ``col2im_loops``, innermost first."""
    if sys.version_info < (3, 11):
        pytest.skip("co_qualname needs Python 3.11")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "MINITORCH_CNN_KERNELS": "numba"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _calls(stack, loop, start):
    """The frames from ``start`` (a qualified name) down to ``loop``, both included, outermost first."""
    names = [(Path(f).as_posix(), q) for f, q in stack]
    assert names[0][1] == loop and names[0][0].endswith("kernels/im2col.py"), names[0]
    for depth, (_, qualname) in enumerate(names):
        if qualname == start:
            return [q for _, q in reversed(names[: depth + 1])]
    raise AssertionError(f"{start} is not on the stack of {loop}: {[q for _, q in names]}")


def test_conv2d_reaches_the_im2col_loop_in_at_most_six_calls(loop_stacks):
    calls = _calls(loop_stacks["im2col_loops"], "im2col_loops", "conv2d")
    assert "Conv2dFn.forward" in calls, calls
    assert len(calls) <= MAX_CALLS, f"{len(calls)} calls from conv2d to the im2col loop: {' -> '.join(calls)}"


def test_the_reference_backward_reaches_the_col2im_loop_in_at_most_six_calls(loop_stacks):
    calls = _calls(loop_stacks["col2im_loops"], "col2im_loops", "Conv2dFn.backward")
    assert len(calls) <= MAX_CALLS, f"{len(calls)} calls from Conv2dFn.backward to col2im: {' -> '.join(calls)}"


# ---------------------------------------------------------------- imports import-linter cannot see
KERNELS = sorted((ROOT / "kernels").glob("*.py"))


def imported_modules(path: Path, package: str) -> set[str]:
    """The absolute names of the modules ``path`` imports; relative imports resolved in ``package``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level - 1 >= len(base):
                    names.add("." * node.level + (node.module or ""))  # above the top package
                    continue
                base = base[: len(base) - (node.level - 1)]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("path", KERNELS, ids=lambda p: p.name)
def test_kernels_import_only_the_backend(path):
    """The kernels sit just above the backend: of ours they may import minitorch_cnn.backend and
    their own modules (``minitorch_cnn.kernels``), nothing else."""
    imported = imported_modules(path, "minitorch_cnn.kernels")
    ours = {m for m in imported if m.startswith("minitorch_cnn") or m.startswith(".")}
    others = {m for m in ours if m != "minitorch_cnn.backend" and not m.startswith("minitorch_cnn.kernels")}
    assert not others, f"kernels/{path.name} imports {sorted(others)}"


def test_there_are_kernels_to_check():
    assert {p.name for p in KERNELS} >= {"im2col.py", "pooling.py", "window.py"}


def test_the_reference_op_imports_only_im2col_and_autograd():
    path = ROOT / "minitorch_cnn" / "functional" / "conv" / "reference.py"
    imported = imported_modules(path, "minitorch_cnn.functional.conv")
    assert imported == {"__future__", "minitorch_cnn.kernels.im2col", "minitorch_cnn.autograd"}, sorted(imported)


# ---------------------------------------------------------------- no file outside the repository
OUTSIDE = ("../shared", "DESIGN.md", "NETS.md", "STYLE.md", "seeds/")
TEXT_SUFFIXES = (".py", ".md", ".toml", ".ipynb", ".txt")


def repository_text_files() -> list[Path]:
    """The repository's text files: tracked ones and new ones git does not ignore, still present."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the list of the repository's files comes from git")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    files = [ROOT / f for f in sorted(set(listed)) if f.endswith(TEXT_SUFFIXES) or f == ".ci/run"]
    return [f for f in files if f.is_file()]


def test_no_text_file_refers_to_a_file_outside_the_repository():
    this = Path(__file__).resolve()
    found = []
    for path in repository_text_files():
        if path.resolve() == this:  # this file names the patterns it looks for
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            hits = [p for p in OUTSIDE if p in line]
            if hits:
                found.append(f"{path.relative_to(ROOT).as_posix()}:{number}: {', '.join(hits)}")
    assert not found, "references to files outside the repository (describe them in words):\n" + "\n".join(found)


# ---------------------------------------------------------------- packaging
def test_pyproject_lists_every_package_folder():
    """``pip install .`` installs only the packages pyproject names: a new package folder left out of
    the list would import from a clone and be missing from every installed copy."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "minitorch_cnn").rglob("__init__.py")}
    folders |= {"minitorch_cnn.kernels"}  # the top-level kernels/ folder, mapped by package-dir
    assert listed == folders
