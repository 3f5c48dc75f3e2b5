"""docs/conv_backprop.md is executed: every ``>>>`` line runs and every printed number must match."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from minitorch_cnn import backend

PAGE = Path(__file__).resolve().parent.parent / "docs" / "conv_backprop.md"


@pytest.mark.parametrize("kernel_path", ["numba", "generic"])
def test_conv_backprop_page(kernel_path):
    previous = backend.get_kernel_path()
    backend.set_kernel_path(kernel_path)
    try:
        result = doctest.testfile(str(PAGE), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    finally:
        backend.set_kernel_path(previous)
    assert result.attempted > 40, f"only {result.attempted} examples ran: is the page still doctest-formatted?"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {PAGE.name} failed (see output)"
