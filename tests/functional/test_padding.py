"""F.pad: the four modes of ``torch.nn.functional.pad``, negative widths (cropping), any number of
padded axes as PyTorch allows, with backward; against PyTorch, a plain-loop definition and gradcheck."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minitorch_cnn import functional as F
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

MODES = ["constant", "reflect", "replicate", "circular"]


def source_loop(n, lo, hi, mode, j):
    """The input entry that output entry j copies along one axis, or None for a constant, by cases."""
    if mode == "circular":  # PyTorch crops, then wraps around what is left
        start, kept = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
        u = j - max(lo, 0)
        while u < 0:
            u += kept
        while u >= kept:
            u -= kept
        return start + u
    t = j - lo
    if 0 <= t < n:
        return t
    if mode == "constant":
        return None
    if mode == "replicate":
        return 0 if t < 0 else n - 1
    return -t if t < 0 else 2 * (n - 1) - t  # reflect


def pad_loops(x, pad, mode, value=0.0):
    """The padded array, entry by entry, from ``source_loop`` along every axis."""
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    shape = [n + lo + hi for n, (lo, hi) in zip(x.shape, widths)]
    out = np.empty(shape)
    for index in itertools.product(*map(range, shape)):
        src = [source_loop(n, lo, hi, mode, j) for n, (lo, hi), j in zip(x.shape, widths, index)]
        out[index] = value if None in src else x[tuple(src)]
    return out


@st.composite
def pad_cases(draw):
    mode = draw(st.sampled_from(MODES))
    k = draw(st.integers(1, 3))
    extra = draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(0, 2))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=k + extra, max_size=k + extra)))
    pad = []
    for axis in range(k):
        n = shape[-1 - axis]
        lo_bound = -(n - 1) if mode != "constant" else -n
        hi_bound = n - 1 if mode == "reflect" else n
        lo = draw(st.integers(max(lo_bound, -2), min(hi_bound, 3)))
        hi = draw(st.integers(max(lo_bound, -2), min(hi_bound, 3)))
        kept = n - max(-lo, 0) - max(-hi, 0)
        if kept < 1 or (mode == "circular" and max(lo, hi) > kept) or (mode == "constant" and kept < 0):
            lo, hi = max(lo, 0), max(hi, 0)  # keep one entry at least, no double wrap
            if mode == "circular":
                lo, hi = min(lo, n), min(hi, n)
        pad += [lo, hi]
    return mode, shape, tuple(pad)


@given(case=pad_cases(), seed=st.integers(0, 2**16))
def test_pad_against_torch_the_loops_and_gradcheck(case, seed):
    mode, shape, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    value = 1.5 if mode == "constant" else None
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.pad(tx, pad, mode=mode, value=value)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    mx = Tensor(x, requires_grad=True)
    my = F.pad(mx, pad, mode=mode, value=value)
    my.backward(Tensor(g))
    np.testing.assert_array_equal(my.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(my.numpy(), pad_loops(x, pad, mode, 1.5))
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    if my.array.size:
        assert gradcheck(lambda t: F.pad(t, pad, mode=mode, value=value), [Tensor(x, requires_grad=True)])


def test_pad_examples_against_torch():
    cases = [((2, -1), "reflect"), ((-1, 2, 1, 1), "replicate"), ((1, -1), "circular"), ((1, 1, 1, 1, 1, 1), "reflect"),
             ((-1, -1, -1, 0, 1, 0, 0, 1), "constant"), ((3, 0), "reflect"), ((4, 0), "circular")]
    for pad, mode in cases:
        x = np.arange(24.0).reshape((1, 2, 3, 4)[4 - min(4, len(pad) // 2 + 2):])  # 1 or 2 more axes than padded
        np.testing.assert_array_equal(F.pad(Tensor(x), pad, mode=mode).numpy(),
                                      torch.nn.functional.pad(torch.tensor(x), pad, mode=mode).numpy(), err_msg=str(pad))
    ints = np.arange(6).reshape(2, 3)
    out = F.pad(Tensor(ints), (1, 1), value=2.5)
    assert out.dtype == np.int64  # the value is cast to the input's dtype, as PyTorch
    np.testing.assert_array_equal(out.numpy(), torch.nn.functional.pad(torch.tensor(ints), (1, 1), value=2.5).numpy())


def test_an_inf_in_the_gradient_stays_on_its_source():
    x = Tensor(np.zeros((1, 1, 4)), requires_grad=True)
    g = np.zeros((1, 1, 6))
    g[0, 0, 0] = np.inf  # output 0 reflects input 1
    F.pad(x, (1, 1), mode="reflect").backward(Tensor(g))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [0, np.inf, 0, 0])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f, x: f.pad(x, (1,)), r"pad: expected an even number of widths"),
        (lambda f, x: f.pad(x, (1.0, 1)), r"pad: expected pad to be a tuple of ints"),
        (lambda f, x: f.pad(x, (1, 1), mode="wrap"), r"pad: expected mode to be one of"),
        (lambda f, x: f.pad(x, (1, 1), mode="reflect", value=2.0), r"pad: mode 'reflect' takes no value"),
        (lambda f, x: f.pad(x, (4, 0), mode="reflect"), r"pad: reflect widths must be smaller"),
        (lambda f, x: f.pad(x, (5, 0), mode="circular"), r"pad: circular widths \(5, 0\) wrap more than once"),
        (lambda f, x: f.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"), r"pad: mode 'replicate' pads 1 to 3"),
        (lambda f, x: f.pad(x[0, 0], (1, 1), mode="reflect"), r"pad: mode 'reflect' pads 1 to 3"),
        (lambda f, x: f.pad(x, (-3, -2)), r"pad: the widths \(-3, -2\) crop more"),
        (lambda f, x: f.pad(x, (-2, -2, -2, -1), mode="replicate"), r"pad: widths .* leave none of the padded axes"),
    ],
)
def test_pad_refuses_what_torch_refuses(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(F, Tensor(np.zeros((2, 3, 4))))
    with pytest.raises((RuntimeError, NotImplementedError, TypeError, ValueError)):
        call(torch.nn.functional, torch.zeros(2, 3, 4))


@pytest.mark.parametrize("widths", [(1, 1, 1, 1), (1, 0), (2, -1, 0, -1), (0, 0), (-1, 0), (0, 0, 0, 0)])
def test_constant_padding_output_layout_is_pytorchs(widths):
    """Fuzzer: ``pad(x.T, (1, 1)).view(-1)`` raised in ours, not in PyTorch. A padded output is
    C-contiguous; a crop (every width <= 0) keeps the input's layout, in both libraries."""
    a = np.random.default_rng(0).standard_normal((3, 2, 4, 5)).T  # (5, 4, 2, 3), strided
    viewable = []
    for lib, pad in ((Tensor, F.pad), (torch.from_numpy, torch.nn.functional.pad)):
        y = pad(lib(a), widths, value=3.0)
        try:
            y.view(-1)
            viewable.append(True)
        except Exception:
            viewable.append(False)
        np.testing.assert_array_equal(y.numpy(), torch.nn.functional.pad(torch.from_numpy(a), widths, value=3.0))
    assert viewable[0] == viewable[1]


@pytest.mark.parametrize("shape, widths", [((1, 0, 1, 3), (2, 0, 0, 0)), ((1, 1, 0), (0, 0)), ((1, 0, 3), (1, 1)),
                                           ((0, 3), (1, 1)), ((1, 2, 0, 3), (1, 1, 0, 0)), ((2, 0, 2, 2, 2), (1,) * 6),
                                           ((1, 0, 2, 3), (1, -1, 1, 1)), ((1, 1, 2), (-1, -1))])
def test_circular_padding_of_empty_axes_as_torch(shape, widths):
    """Fuzzer: circular pad of an input with an empty channel (or padded) axis raised in ours; PyTorch
    pads it (reflect and replicate refuse empty non-batch axes in both)."""
    x = Tensor(np.zeros(shape), requires_grad=True)
    y = F.pad(x, widths, mode="circular")
    assert tuple(y.shape) == tuple(torch.nn.functional.pad(torch.zeros(shape), widths, mode="circular").shape)
    y.sum().backward()
    assert tuple(x.grad.shape) == shape
    for mode in ("reflect", "replicate"):
        if 0 in shape[1:]:
            with pytest.raises(ValueError, match="needs non-empty axes"):
                F.pad(x, widths, mode=mode)
            with pytest.raises(RuntimeError):
                torch.nn.functional.pad(torch.zeros(shape), widths, mode=mode)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape, widths", [((2, 3), (1, 1)), ((1, 3), (0, 0)), ((1, 1, 3, 3), (1, 1, 1, 1)),
                                           ((1, 1, 2, 2, 2), (1,) * 6)])
def test_reflect_and_replicate_refuse_bool_as_torch(mode, shape, widths):
    with pytest.raises(TypeError, match=f"pad: mode '{mode}' is not implemented for bool"):
        F.pad(Tensor(np.zeros(shape, dtype=bool)), widths, mode=mode)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.pad(torch.zeros(shape, dtype=torch.bool), widths, mode=mode)
    expected = torch.nn.functional.pad(torch.tensor([[True, False]]), (1, 1), mode="circular").numpy()
    np.testing.assert_array_equal(F.pad(Tensor(np.array([[True, False]])), (1, 1), mode="circular").numpy(), expected)


@pytest.mark.parametrize("shape, widths", [((1, 1, 1), (-2, 1)), ((1, 1, 2), (-3, 1)), ((2, 1, 3, 2), (0, 1, -4, 1))])
def test_circular_pad_with_an_empty_result_is_empty_as_torch(shape, widths):
    """PyTorch returns the empty result (and a zero gradient) where the widths leave an axis empty."""
    x, t = Tensor(np.ones(shape), requires_grad=True), torch.ones(*shape, dtype=torch.float64, requires_grad=True)
    y, u = F.pad(x, widths, mode="circular"), torch.nn.functional.pad(t, widths, mode="circular")
    assert tuple(y.shape) == tuple(u.shape) and y.numel() == 0
    y.sum().backward()
    u.sum().backward()
    # no gradient reaches the input: PyTorch leaves zeros (or, in some runs, None: nothing was read)
    assert not x.grad.numpy().any() and (u.grad is None or not u.grad.numpy().any())
