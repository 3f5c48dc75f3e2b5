"""docs/conv_backprop.md and docs/winograd.md are executed: every ``>>>`` line runs and every printed number must match."""

from __future__ import annotations

import ast
import doctest
import re
from pathlib import Path

import pytest

from minitorch_cnn import backend

PAGE = Path(__file__).resolve().parent.parent / "docs" / "conv_backprop.md"


WINOGRAD_PAGE = PAGE.parent / "winograd.md"


@pytest.mark.parametrize("kernel_path", ["numba", "generic"])
@pytest.mark.parametrize(("page", "least"), [(PAGE, 40), (WINOGRAD_PAGE, 15)], ids=["conv_backprop", "winograd"])
def test_docs_page_runs(page, least, kernel_path):
    previous = backend.get_kernel_path()
    backend.set_kernel_path(kernel_path)
    try:
        result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    finally:
        backend.set_kernel_path(previous)
    assert result.attempted > least, f"only {result.attempted} examples ran: is the page still doctest-formatted?"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {page.name} failed (see output)"


README = PAGE.parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    """Each ```python block of the README runs as written (against this package, never torch).

    The "Following the book" block aliases ``torch`` process-wide and needs the d2l wheel: it runs in
    its own process in tests/compat/test_d2l_library.py."""
    monkeypatch.chdir(tmp_path)  # the blocks may write files (the graph pictures)

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    blocks = [b for b in blocks if "from d2l import" not in b]
    assert len(blocks) >= 2
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    for picture in ("lenet_graph.png", "lenet_graph_reference.png"):  # the graph pictures' commands
        assert (tmp_path / picture).stat().st_size > 10_000


def test_readme_parameter_counts_are_the_models():
    from minitorch_cnn import models

    rows = re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) \| `minitorch-cnn summary \1` \|$", README.read_text(), flags=re.M)
    assert len(rows) == 8
    for name, count in rows:
        net = models.get_model(name)
        assert sum(p.array.size for p in net.parameters()) == int(count.replace(",", "")), name
        del net  # one net alive at a time (VGG-11's weights are half a gigabyte)
    # the ImageNet layouts: the count at 3 channels / 1000 classes, then at 1 channel / 10 classes
    rows = re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) at 3×224×224 and 1000 classes \(([\d,]+) at 1 channel and 10\) \| "
                      r"`minitorch-cnn summary \1 --input 1x3x224x224 --num-classes 1000` \|$", README.read_text(), flags=re.M)
    assert [r[0] for r in rows] == ["squeezenet1_1", "mobilenet_v2"]
    for name, full, small in rows:
        for (c, k), count in (((3, 1000), full), ((1, 10), small)):
            net = models.get_model(name, in_channels=c, num_classes=k)
            assert sum(p.array.size for p in net.parameters()) == int(count.replace(",", "")), (name, c, k)
            del net


def test_readme_says_what_ctrl_c_does():
    """test_train.test_interrupted_mid_epoch_then_resumed_is_bit_for_bit shows it: the half epoch is
    dropped and the last completed epoch's checkpoint kept; nothing is saved on Ctrl-C."""
    text = " ".join(README.read_text().split())
    assert "Ctrl-C stops after saving" not in text
    assert ("Ctrl-C stops at once: the unfinished epoch is dropped, not saved, and the checkpoint of the last "
            "completed epoch is kept") in text


REFERENCE_OP = PAGE.parent.parent / "minitorch_cnn" / "functional" / "conv" / "reference.py"
BOOKKEEPING = {"window", "groups", "N", "O"}  # the code's own locals, read off the spec and the shapes


def _assigned(statements) -> list[str]:
    """The names assigned one at a time (``name = ...``, ``name += ...``) in ``statements``, in order."""
    names = []
    for node in statements:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name):
                names.append(sub.targets[0].id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                names.append(sub.target.id)
    return [n for n in names if n not in BOOKKEEPING]


def _first_seen(names, among) -> list[str]:
    out = []
    for n in names:
        if n in among and n not in out:
            out.append(n)
    return out


def test_the_page_and_the_reference_op_tell_the_same_story():
    """Every array the reference op computes has a line of the page with the same name, and the
    forward and the backward compute them in the page's order."""
    tree = ast.parse(REFERENCE_OP.read_text(encoding="utf-8"))
    op = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Conv2dFn")
    code = {f.name: _assigned(f.body) for f in op.body if isinstance(f, ast.FunctionDef)}
    conv_sections = PAGE.read_text(encoding="utf-8").split("## 4.")[0]  # im2col, forward, backward
    page = re.findall(r"^>>> (\w+) \+?= ", conv_sections, flags=re.M)
    for step in ("forward", "backward"):
        missing = set(code[step]) - set(page)
        assert not missing, f"Conv2dFn.{step} computes {sorted(missing)}, which docs/conv_backprop.md never names"
    for step in ("forward", "backward"):
        order = _first_seen(code[step], set(code[step]))
        assert _first_seen(page, set(order)) == order, f"Conv2dFn.{step} computes its arrays in another order than the page"
