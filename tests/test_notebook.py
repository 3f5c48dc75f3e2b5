"""The notebooks: docs/conv_backprop.ipynb is generated from the markdown page and runs in a real
Jupyter kernel printing the page's numbers; training from a notebook shows a notebook progress bar
and the curves under the cell."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = DOCS / "conv_backprop.md"
NOTEBOOK = PAGE.with_suffix(".ipynb")
WIDGET = "application/vnd.jupyter.widget-view+json"


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebook", DOCS / "make_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebook_is_the_page_regenerated():
    gen = _generator()
    made = gen.render(gen.markdown_to_notebook(PAGE.read_text(encoding="utf-8"), PAGE.name))
    assert made == NOTEBOOK.read_text(encoding="utf-8"), (
        "docs/conv_backprop.ipynb is out of step with docs/conv_backprop.md: run `python docs/make_notebook.py`")


def test_doctest_blocks_split_into_source_and_output():
    gen = _generator()
    source, expected = gen.doctest_block(">>> for i in range(2):\n...     print(i)\n0\n1\n\n>>> x = 3\n")
    assert source == "for i in range(2):\n    print(i)\nx = 3"
    assert expected == "0\n1"


@pytest.fixture(scope="module")
def run_notebook():
    """Execute a notebook in a fresh python3 Jupyter kernel; skips (with the reason) when none can start."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (the test extra has it)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (the test extra has it)")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (the test extra has it)")
    from jupyter_client.manager import KernelManager

    def run(nb):
        km = KernelManager(kernel_name="python3")
        try:
            km.start_kernel()
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            kc.stop_channels()
        except Exception as exc:  # no kernelspec, a kernel that dies or never answers
            if km.has_kernel:
                km.shutdown_kernel(now=True)
            pytest.skip(f"no Jupyter kernel could be started here: {type(exc).__name__}: {exc}")
        try:
            nbclient.NotebookClient(nb, km=km, timeout=300).execute()
        finally:
            km.shutdown_kernel(now=True)
        nbformat.validate(nb)
        return nb

    run.nbformat = nbformat
    return run


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def test_the_notebook_runs_and_prints_the_pages_numbers(run_notebook):
    nb = run_notebook(run_notebook.nbformat.read(NOTEBOOK, as_version=4))
    code = [c for c in nb.cells if c.cell_type == "code"]
    expected = _generator().expected_outputs(PAGE.read_text(encoding="utf-8"))
    assert len(code) == len(expected) >= 10
    for cell, want in zip(code, expected):
        assert not [o for o in cell.outputs if o.output_type == "error"]
        # the page's doctests compare with NORMALIZE_WHITESPACE; so does this
        assert _stdout(cell).split() == want.split(), cell.source
    assert "[[19. 25.]" in "".join(_stdout(c) for c in code)


TRAINING_CELL = """
import numpy as np
from minitorch_cnn import data, models, train

rng = np.random.default_rng(0)
labels = rng.integers(0, 10, 48)
images = rng.integers(0, 40, (48, 28, 28)).astype(np.uint8)
images[np.arange(48), :, 2 + 2 * labels] = 255
train_loader = data.DataLoader(data.ArrayDataset(images, labels), batch_size=16, shuffle=True, seed=0)
test_loader = data.DataLoader(data.ArrayDataset(images[:16], labels[:16]), batch_size=16)
history = train.fit(models.get_model("lenet", init="xavier"), train_loader, test_loader, epochs=3)
"""


def test_training_in_a_notebook_shows_a_notebook_bar_and_the_curves(run_notebook):
    nbformat = run_notebook.nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(TRAINING_CELL)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    outputs = run_notebook(nb).cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    assert re.search(r"epoch 3: loss [\d.]+, train acc", _stdout(nb.cells[0]))
    bars = [o for o in outputs if o.output_type == "display_data" and WIDGET in o.data]
    assert len(bars) == 3  # one ipywidgets bar per epoch: tqdm.auto chose the notebook's
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the curves are one picture, redrawn in place after every epoch"
    import base64

    png = base64.b64decode(images[0].data["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") >= 300
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr" and "%|" in o.text], \
        "a text progress bar was printed instead of the notebook's"
