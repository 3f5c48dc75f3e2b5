"""Make the notebook version of a doctest-formatted markdown page (default: conv_backprop.md).

    python docs/make_notebook.py            # rewrites docs/conv_backprop.ipynb from docs/conv_backprop.md

The markdown page is the source; the notebook is generated from it and never edited by hand
(``tests/test_notebook.py`` regenerates it, compares, and runs it). Prose becomes markdown cells;
each fenced ``python`` block becomes one code cell holding its ``>>>`` and ``...`` lines without
the prompts. The printed lines of the page are left out: running the notebook prints them again,
and the test checks that it prints the same. No dependency beyond the standard library: the
notebook is plain JSON in nbformat 4.5.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_FENCE = re.compile(r"^```python\n(.*?)^```[ \t]*$", flags=re.S | re.M)


def doctest_block(block: str) -> tuple[str, str]:
    """(source, expected output) of a block of doctest lines: ``>>>``/``...`` lines are the source,
    the other non-blank lines the output they print."""
    source, expected = [], []
    for line in block.splitlines():
        if line.startswith(">>>") or line.startswith("..."):
            source.append(line[4:] if len(line) > 3 else "")
        elif line.strip():
            expected.append(line)
    return "\n".join(source), "\n".join(expected)


def _lines(text: str) -> list[str]:
    """A cell's text as nbformat stores it: a list of lines, each but the last ending in a newline."""
    lines = text.splitlines(keepends=True)
    return lines or [""]


def markdown_to_notebook(text: str, source_name: str) -> dict:
    """The notebook (as a JSON-ready dict) of a doctest-formatted markdown page."""
    cells = []

    def add(kind: str, body: str):
        body = body.strip("\n")
        if not body.strip():
            return
        cell = {"cell_type": kind, "id": f"cell-{len(cells)}", "metadata": {}, "source": _lines(body)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)

    add("markdown", f"*This notebook is generated from `docs/{source_name}` by `docs/make_notebook.py`; "
                    "edit the page, then run the script.*")
    position = 0
    for match in _FENCE.finditer(text):
        add("markdown", text[position:match.start()])
        add("code", doctest_block(match.group(1))[0])
        position = match.end()
    add("markdown", text[position:])
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(notebook: dict) -> str:
    """The notebook file's text (stable: the same page always gives the same bytes)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def expected_outputs(text: str) -> list[str]:
    """What each code cell of the notebook must print, in order (the page's printed lines)."""
    return [doctest_block(m.group(1))[1] for m in _FENCE.finditer(text) if doctest_block(m.group(1))[0].strip()]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    page = Path(argv[0]) if argv else HERE / "conv_backprop.md"
    target = page.with_suffix(".ipynb")
    target.write_text(render(markdown_to_notebook(page.read_text(encoding="utf-8"), page.name)), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
