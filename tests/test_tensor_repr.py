"""A tensor prints as PyTorch's does, character for character: number format, alignment, line wrapping
at 80 characters, summaries of big tensors, and the facts after the values (dtype, size, grad_fn)."""

import numpy as np
import pytest
import torch

import minitorch_cnn as mt

RNG = np.random.default_rng(0)
CASES = {
    "0-d float": np.array(3.0, np.float32), "0-d decimal": np.array(0.1, np.float32),
    "0-d tiny": np.array(1e-5, np.float32), "0-d int": np.array(5), "0-d bool": np.array(True),
    "0-d nan": np.array(np.nan, np.float32), "0-d -0": np.array(-0.0, np.float32), "0-d big": np.array(123456789.0, np.float32),
    "whole floats": np.array([1.0, 2.0], np.float32), "decimals": np.array([0.1, 2.5], np.float32),
    "negatives": np.array([-1.5, 2.25, 100.0], np.float32), "zeros": np.zeros(4, np.float32),
    "-0 and 1": np.array([-0.0, 1.0], np.float32), "ratio 1000": np.array([1000.0, 1.0], np.float32),
    "ratio 1001": np.array([1001.0, 1.0], np.float32), "over 1e8": np.array([1e9, 1.0], np.float32),
    "below 1e-4": np.array([1e-5, 1.0], np.float32), "just 1e-4": np.array([0.0001, 0.1], np.float32),
    "non-finite": np.array([np.nan, 1.0, np.inf, -np.inf], np.float32), "nan and decimal": np.array([np.nan, 0.5], np.float32),
    "only nan": np.array([np.nan, np.nan], np.float32), "inf with sci": np.array([1e-5, 1e5, np.nan], np.float32),
    "normal 30": RNG.standard_normal(30).astype(np.float32), "big spread": RNG.standard_normal(100).astype(np.float32) * 1000,
    "ints": RNG.integers(-1000, 1000, 50), "huge ints": RNG.integers(-10**12, 10**12, 40),
    "2-D": RNG.standard_normal((3, 4)).astype(np.float32), "long rows": RNG.standard_normal((3, 30)).astype(np.float32),
    "3-D": RNG.standard_normal((2, 3, 4)).astype(np.float32), "4-D": RNG.standard_normal((2, 2, 2, 3)).astype(np.float32),
    "sci 2-D": RNG.standard_normal((3, 30)).astype(np.float32) * 1e-6, "1e20": RNG.standard_normal((3, 3, 3)).astype(np.float32) * 1e20,
    "summarised 1-D": RNG.standard_normal(2000).astype(np.float32), "summarised 2-D": RNG.standard_normal((40, 40)).astype(np.float32),
    "summarised 3-D": RNG.standard_normal((10, 10, 11)).astype(np.float32), "summarised ints": RNG.integers(0, 5, (50, 30)),
    "summarised wide": RNG.standard_normal((4, 1000)).astype(np.float32), "mnist batch": RNG.standard_normal((1, 6, 28, 28)).astype(np.float32),
    "summarised zeros": np.zeros(1001, np.float32), "summarised bools": RNG.random(1001) > 0.5,
    "bools": np.array([True, False, True]), "all true": np.array([[True, True], [True, True]]),
    "deep": RNG.standard_normal((2,) * 12).astype(np.float32)[..., :1],
    "empty": np.zeros(0, np.float32), "empty 2-D": np.zeros((2, 0), np.float32),
}
TYPED = {  # a dtype that is not the default for its kind adds ", dtype=..." (the line width then counts our longer name)
    "float64": RNG.standard_normal((2, 3)), "int32": RNG.integers(0, 10, (3, 4)).astype(np.int32),
    "uint8 3-D": RNG.integers(0, 255, (2, 3, 4)).astype(np.uint8), "int8 row": np.arange(1, 30, dtype=np.int8),
    "float16": np.arange(12, dtype=np.float16).reshape(3, 4) / 3, "float16 summarised": RNG.standard_normal(1001).astype(np.float16),
    "empty float64": np.zeros(0), "empty int 2-D": np.zeros((0, 3), np.int64),
    "empty int": np.zeros(0, np.int64), "empty 3-D bool": np.zeros((3, 0, 2), np.bool_),  # no values to tell int64 from
}


def _both(a, requires_grad=False, op=None):
    x, t = mt.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)
    return (repr(x), repr(t)) if op is None else (repr(op(x)), repr(op(t)))


@pytest.mark.parametrize("name", CASES)
def test_repr_is_torchs_character_for_character(name):
    ours, theirs = _both(CASES[name])
    assert ours == theirs and str(mt.tensor(CASES[name])) == ours


@pytest.mark.parametrize("name", [n for n, a in CASES.items() if a.dtype.kind == "f"])
def test_requires_grad_and_grad_fn_are_placed_as_torch_places_them(name):
    ours, theirs = _both(CASES[name], requires_grad=True)
    assert ours == theirs
    ours, theirs = _both(CASES[name], requires_grad=True, op=lambda t: t * 2)
    assert ours == theirs


def _words(text):
    return text.replace("minitorch_cnn.", "torch.").split()


@pytest.mark.parametrize("name", TYPED)
def test_a_dtype_fact_names_our_package(name):
    ours, theirs = _both(TYPED[name])
    assert "dtype=minitorch_cnn." in ours and "dtype=torch." in theirs
    # the same text, but for the package's name (whose length may move a fact to the next line)
    assert _words(ours) == _words(theirs)
    if TYPED[name].dtype.kind == "f":
        ours, theirs = _both(TYPED[name], requires_grad=True, op=lambda t: t.sum(0))
        assert _words(ours) == _words(theirs)


def test_facts_wrap_to_the_next_line_past_80_characters_as_torch():
    # the same rule, two results: with "torch." the dtype fits on the first line and grad_fn moves to the
    # next; with the longer "minitorch_cnn." the dtype itself passes 80 characters and moves
    x = mt.tensor(np.arange(9.0), requires_grad=True) * 2
    assert repr(x) == ("tensor([ 0.,  2.,  4.,  6.,  8., 10., 12., 14., 16.],\n"
                       "       dtype=minitorch_cnn.float64, grad_fn=<MulBackward0>)")
    assert repr(torch.tensor(np.arange(9.0), requires_grad=True) * 2) == (
        "tensor([ 0.,  2.,  4.,  6.,  8., 10., 12., 14., 16.], dtype=torch.float64,\n"
        "       grad_fn=<MulBackward0>)")
    y = mt.tensor([[1.0, 2.0]], dtype=mt.float64, requires_grad=True)
    assert repr(y) == repr(torch.tensor([[1.0, 2.0]], dtype=torch.float64, requires_grad=True)).replace("torch.", "minitorch_cnn.")


def test_default_dtype_float64_prints_float32_with_its_dtype_as_torch():
    try:
        mt.set_default_dtype(mt.float64)
        torch.set_default_dtype(torch.float64)
        for a in (np.array([1.5, 2.0]), np.array([1.5, 2.0], np.float32), np.zeros(0), np.zeros(0, np.float32)):
            assert _words(repr(mt.tensor(a))) == _words(repr(torch.tensor(a)))
        assert repr(mt.tensor([1.5])) == repr(torch.tensor([1.5])) == "tensor([1.5000])"
    finally:
        mt.set_default_dtype(mt.float32)
        torch.set_default_dtype(torch.float32)


def test_format_spec_and_print_use_the_repr():
    x = mt.tensor([0.5, 1.5])
    assert str(x) == f"{x}" == repr(x) == "tensor([0.5000, 1.5000])" and f"{mt.tensor(2.5):.2f}" == "2.50"
