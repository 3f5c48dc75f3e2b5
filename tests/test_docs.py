"""docs/conv_backprop.md and docs/winograd.md are executed: every ``>>>`` line runs and every printed number must match."""

from __future__ import annotations

import doctest
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
    its own process in tests/test_d2l_library.py."""
    import re

    monkeypatch.chdir(tmp_path)  # the blocks may write files (lenet_graph.png)

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    blocks = [b for b in blocks if "from d2l import" not in b]
    assert len(blocks) >= 2
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert (tmp_path / "lenet_graph.png").stat().st_size > 10_000  # the graph picture's command


def test_readme_parameter_counts_are_the_models():
    import re

    from minitorch_cnn import models

    rows = re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) \| `minitorch-cnn summary \1` \|$", README.read_text(), flags=re.M)
    assert len(rows) == 8
    for name, count in rows:
        net = models.get_model(name)
        assert sum(p.array.size for p in net.parameters()) == int(count.replace(",", "")), name
    # the ImageNet layouts: the count at 3 channels / 1000 classes, then at 1 channel / 10 classes
    rows = re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) at 3×224×224 and 1000 classes \(([\d,]+) at 1 channel and 10\) \| "
                      r"`minitorch-cnn summary \1 --input 1x3x224x224 --num-classes 1000` \|$", README.read_text(), flags=re.M)
    assert [r[0] for r in rows] == ["squeezenet1_1", "mobilenet_v2"]
    for name, full, small in rows:
        for (c, k), count in (((3, 1000), full), ((1, 10), small)):
            net = models.get_model(name, in_channels=c, num_classes=k)
            assert sum(p.array.size for p in net.parameters()) == int(count.replace(",", "")), (name, c, k)


def test_readme_says_what_ctrl_c_does():
    """test_train.test_interrupted_mid_epoch_then_resumed_is_bit_for_bit shows it: the half epoch is
    dropped and the last completed epoch's checkpoint kept; nothing is saved on Ctrl-C."""
    text = " ".join(README.read_text().split())
    assert "Ctrl-C stops after saving" not in text
    assert ("Ctrl-C stops at once: the unfinished epoch is dropped, not saved, and the checkpoint of the last "
            "completed epoch is kept") in text
