"""The kernels sit just above the backend: they may import minitorch_cnn.backend and nothing else of ours.

(import-linter checks the other layers; it cannot see kernels/, which package-dir maps into the package.)
"""

import ast
from pathlib import Path

import pytest

KERNELS = sorted((Path(__file__).resolve().parents[1] / "kernels").glob("*.py"))


@pytest.mark.parametrize("path", KERNELS, ids=lambda p: p.name)
def test_kernels_import_only_the_backend(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = ("." * node.level) + (node.module or "")
            imported.add(name)
    ours = {m for m in imported if m.startswith("minitorch_cnn")}
    relative = {m for m in imported if m.startswith(".")}
    assert ours <= {"minitorch_cnn.backend"}, f"{path.name} imports {sorted(ours)}"
    # relative imports stay inside kernels/ (its own modules), never up into the package
    assert all(not m.startswith("..") for m in relative), f"{path.name} imports {sorted(relative)}"


def test_there_are_kernels_to_check():
    assert {p.name for p in KERNELS} >= {"im2col.py", "pooling.py"}
