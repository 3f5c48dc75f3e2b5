"""Where conv2d sends a layer (functional/conv/policy.py), on the layers of the nets: each algorithm's
``pays`` rule at its measured edges, Winograd's tile choice, the settings and the memory budget.

The general rules (a forced setting runs its algorithm wherever it applies and the column matrix
elsewhere; "default" and "auto" take the first registered algorithm that applies and pays) are
checked for every registered algorithm by the conformance suite (test_conformance.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import Conv2dFn, policy
from minitorch_cnn.functional.conv.fast import batch_last, direct, winograd
from minitorch_cnn.functional.conv.fast.batch_last import MIN_RUN_IMAGES, BatchLastConv2dFn
from minitorch_cnn.functional.conv.fast.depthwise import DepthwiseConv2dFn
from minitorch_cnn.functional.conv.fast.direct import DirectConv2dFn
from minitorch_cnn.functional.conv.fast.im2col import Im2colConv2dFn
from minitorch_cnn.functional.conv.fast.winograd import WinogradConv2dFn


def spec(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, dtype=np.float32):
    """The ConvSpec conv2d builds for these shapes on NumPy arrays (the numba path)."""
    pair = lambda v: (v, v) if isinstance(v, int) else v
    return policy.spec_for(np.empty(x_shape, dtype), np.empty(w_shape, dtype), stride=pair(stride),
                           padding=pair(padding), dilation=pair(dilation), groups=groups)  # fmt: skip


def test_default_sends_small_windows_to_the_direct_loops():
    assert mt.get_conv_algorithm() == "default"
    lenet_first = (mt.randn(2, 1, 28, 28), mt.randn(6, 1, 5, 5, requires_grad=True))
    lenet_second = (mt.randn(2, 6, 14, 14, requires_grad=True), mt.randn(16, 6, 5, 5, requires_grad=True))
    wide = (mt.randn(2, 3, 8, 8), mt.randn(64, 3, 3, 3, requires_grad=True))
    assert conv2d(*lenet_first, padding=2).grad_fn.function is DirectConv2dFn
    assert conv2d(*lenet_second).grad_fn.function is Im2colConv2dFn  # 150 taps per window
    assert conv2d(*wide, padding=1).grad_fn.function is Im2colConv2dFn  # 64 output channels
    assert direct.MAX_TAPS == 75 and direct.MAX_OUT_CHANNELS == 32
    assert direct.pays(spec((2, 3, 8, 8), (32, 3, 5, 5))) and not direct.pays(spec((2, 3, 8, 8), (33, 3, 5, 5)))
    assert not direct.pays(spec((2, 4, 8, 8), (8, 4, 5, 5)))  # 100 taps
    assert not direct.pays(spec((2, 1, 80, 8), (8, 1, 76, 1)))  # 76 taps: one past the rule
    assert conv2d(*lenet_first, padding=2, stride=2).grad_fn.function is Im2colConv2dFn
    assert conv2d(*lenet_first, padding=2, dilation=2).grad_fn.function is Im2colConv2dFn
    assert conv2d(*lenet_first, padding="same").grad_fn.function is DirectConv2dFn  # odd kernel: even padding
    even = mt.randn(6, 1, 4, 4, requires_grad=True)  # conv2d pads the extra row and column itself
    assert conv2d(lenet_first[0], even, padding="same").grad_fn.function is DirectConv2dFn
    with mt.conv_algorithm("im2col"):
        assert conv2d(*lenet_first, padding=2).grad_fn.function is Im2colConv2dFn
    with mt.conv_algorithm("direct"):
        assert conv2d(*wide, padding=1).grad_fn.function is DirectConv2dFn
    with mt.conv_algorithm("reference"):
        assert conv2d(*lenet_first, padding=2).grad_fn.function is Conv2dFn


def test_default_sends_layers_with_many_images_per_chunk_to_the_batch_last_columns():
    assert mt.get_conv_algorithm() == "default"
    lenet_second = (mt.randn(256, 6, 14, 14, requires_grad=True), mt.randn(16, 6, 5, 5, requires_grad=True))
    assert conv2d(*lenet_second).grad_fn.function is BatchLastConv2dFn  # 60 KiB of columns per image: 34 per chunk
    assert conv2d(lenet_second[0][:8], lenet_second[1]).grad_fn.function is Im2colConv2dFn  # a batch of 8: short runs
    assert conv2d(*lenet_second, stride=2).grad_fn.function is Im2colConv2dFn  # the loops are stride 1 only
    lenet_first = (mt.randn(256, 1, 28, 28), mt.randn(6, 1, 5, 5, requires_grad=True))
    assert conv2d(*lenet_first, padding=2).grad_fn.function is DirectConv2dFn  # few taps: the direct loops first
    assert policy.CPU_CONV_TILE_BYTES == 2 * 2**20
    per_image = policy.CPU_CONV_TILE_BYTES // MIN_RUN_IMAGES  # exactly MIN_RUN_IMAGES images per chunk pays
    assert 16 * 2 * 2 * 16 * 16 * 4 == per_image  # C = 16, 2×2 kernel, 16×16 outputs, float32
    assert batch_last.pays(spec((64, 16, 17, 17), (8, 16, 2, 2)))
    assert not batch_last.pays(spec((64, 17, 17, 17), (8, 17, 2, 2)))  # one channel more: 30 images per chunk
    assert not batch_last.pays(spec((MIN_RUN_IMAGES - 1, 1, 8, 8), (16, 1, 3, 3), padding=1))  # too few images
    with mt.conv_algorithm("im2col"):
        assert conv2d(*lenet_second).grad_fn.function is Im2colConv2dFn
    with mt.conv_algorithm("batch_last"):
        assert conv2d(*lenet_first, padding=2).grad_fn.function is BatchLastConv2dFn


def test_each_setting_takes_the_winograd_tile_its_rule_gives():
    """"default": never; "auto": F(4×4) from 8×8 outputs and 8 channels, F(2×2) on 6×6 and 7×7
    outputs from 128 channels; "winograd": wherever it applies (F(2×2) where only it pays, else
    F(4×4)); stride, dilation, groups: never."""

    def tile(x, w, **kw):
        y = conv2d(x, w, padding=kw.pop("padding", 1), **kw)
        return y.grad_fn.m if y.grad_fn.function is WinogradConv2dFn else None

    wide_6 = (mt.randn(1, 128, 6, 6), mt.randn(32, 128, 3, 3, requires_grad=True))
    narrow_6 = (mt.randn(1, 64, 6, 6), mt.randn(32, 64, 3, 3, requires_grad=True))
    narrow_8 = (mt.randn(1, 8, 8, 8), mt.randn(8, 8, 3, 3, requires_grad=True))
    wide_3 = (mt.randn(1, 256, 3, 3), mt.randn(16, 256, 3, 3, requires_grad=True))
    few_taps = (mt.randn(1, 3, 32, 32), mt.randn(4, 3, 3, 3, requires_grad=True))
    assert mt.get_conv_algorithm() == "default"
    assert [tile(*wide_6), tile(*narrow_6), tile(*narrow_8), tile(*wide_3), tile(*few_taps)] == [None] * 5
    wide_6_spec, narrow_8_spec = spec((1, 128, 6, 6), (32, 128, 3, 3), padding=1), spec((1, 8, 8, 8), (8, 8, 3, 3), padding=1)
    assert winograd.f2_pays(wide_6_spec) and not winograd.f4_pays(wide_6_spec) and winograd.output_tile(wide_6_spec) == 2
    assert winograd.f4_pays(narrow_8_spec) and winograd.output_tile(narrow_8_spec) == 4
    assert not winograd.f4_pays(spec((1, 8, 8, 8), (8, 8, 3, 3)))  # no padding: 6×6 outputs
    assert not winograd.f4_pays(spec((1, 8, 8, 8), (4, 8, 3, 3), padding=1))  # 4 output channels
    assert not winograd.f4_pays(spec((1, 4, 8, 8), (8, 4, 3, 3), padding=1))  # 4 input channels
    assert not winograd.f4_pays(spec((1, 8, 7, 8), (8, 8, 3, 3), padding=1))  # 7 rows of outputs
    assert not winograd.f4_pays(spec((1, 8, 8, 7), (8, 8, 3, 3), padding=1))  # 7 columns
    assert not winograd.f2_pays(spec((1, 128, 5, 6), (8, 128, 3, 3), padding=1))
    assert not winograd.f2_pays(spec((1, 128, 6, 5), (8, 128, 3, 3), padding=1))
    assert winograd.f2_pays(spec((1, 128, 7, 7), (8, 128, 3, 3), padding=1))
    assert not winograd.f2_pays(spec((1, 128, 8, 8), (8, 128, 3, 3), padding=1))  # F(4×4)'s from 8×8
    assert not winograd.pays(spec((1, 127, 7, 7), (8, 127, 3, 3), padding=1))  # 127 channels
    previous = mt.set_conv_algorithm("auto")
    assert [tile(*wide_6), tile(*narrow_6), tile(*narrow_8), tile(*wide_3), tile(*few_taps)] == [2, None, 4, None, None]
    assert tile(*narrow_8, padding=0) is None  # 6×6 outputs: not F(4×4), too narrow for F(2×2)
    assert tile(*wide_6, padding=0) is None  # 4×4 outputs
    assert tile(*narrow_8, stride=2) is None
    assert tile(*narrow_8, padding=2, dilation=2) is None
    grouped = mt.randn(8, 4, 3, 3, requires_grad=True)
    assert tile(narrow_8[0], grouped, groups=2) is None
    with mt.conv_algorithm("winograd"):
        assert [tile(*wide_6), tile(*narrow_6), tile(*few_taps)] == [2, 4, 4]
        with mt.conv_algorithm("im2col"):
            assert [tile(*wide_6), tile(*narrow_8)] == [None, None]
        assert mt.get_conv_algorithm() == "winograd"
    assert mt.get_conv_algorithm() == "auto"
    assert mt.set_conv_algorithm(previous) == "auto" and mt.get_conv_algorithm() == "default"


def test_conv2d_sends_only_depthwise_calls_to_the_depthwise_kernels():
    x, w = mt.randn(2, 4, 6, 6, requires_grad=True), mt.randn(4, 1, 3, 3, requires_grad=True)
    assert conv2d(x, w, groups=4, padding=1).grad_fn.function is DepthwiseConv2dFn
    # a channel multiplier (O = 2C) and ordinary groups take the column matrix; an even kernel's
    # "same" padding is made symmetric by conv2d first, so it stays depthwise
    assert conv2d(x, mt.randn(8, 1, 3, 3), groups=4).grad_fn.function is Im2colConv2dFn
    assert conv2d(x, mt.randn(4, 2, 3, 3), groups=2).grad_fn.function is Im2colConv2dFn
    assert conv2d(x, mt.randn(4, 1, 2, 2), groups=4, padding="same").grad_fn.function is DepthwiseConv2dFn
    with mt.conv_algorithm("reference"):  # the reference op runs depthwise layers too
        assert conv2d(x, w, groups=4, padding=1).grad_fn.function is Conv2dFn
    with pytest.raises(ValueError, match="conv2d: weight of shape"):
        conv2d(x, mt.randn(4, 2, 3, 3), groups=4)


def test_unknown_algorithm_is_refused_with_the_choices():
    choices = r"\('default', 'auto', 'reference', 'depthwise', 'winograd', 'direct', 'batch_last', 'im2col'\)"
    assert policy.CONV_ALGORITHMS == ("default", "auto", "reference", "depthwise", "winograd", "direct", "batch_last", "im2col")
    with pytest.raises(ValueError, match=rf"set_conv_algorithm: expected one of {choices}, got 'fft'"):
        mt.set_conv_algorithm("fft")
    assert mt.get_conv_algorithm() == "default"


def test_memory_budget_setter():
    previous = policy.set_conv_memory_budget(1234)
    assert policy.get_conv_memory_budget() == 1234
    assert policy.set_conv_memory_budget(previous) == 1234
    with policy.conv_memory_budget(99):
        assert policy.get_conv_memory_budget() == 99
    assert policy.get_conv_memory_budget() == previous
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="set_conv_memory_budget"):
            policy.set_conv_memory_budget(bad)


def test_the_spec_carries_this_devices_budgets(monkeypatch):
    """spec_for reads the module's settings at each call (so a test may monkeypatch them): on NumPy
    arrays cache-sized chunks and the kept-array sizes, each capped by the memory budget."""
    s = spec((2, 3, 8, 8), (4, 3, 3, 3), padding=1)
    assert (s.chunk_bytes, s.keep_cols_bytes, s.keep_tiles_bytes) == (2 * 2**20, 16 * 2**20, 64 * 2**20)
    assert s.memory_budget == policy.get_conv_memory_budget() and s.itemsize == 4 and s.numba
    monkeypatch.setattr(policy, "CPU_CONV_TILE_BYTES", 4096)
    monkeypatch.setattr(policy, "KEEP_COLS_BYTES", 7)
    assert spec((2, 3, 8, 8), (4, 3, 3, 3)).chunk_bytes == 4096 and spec((2, 3, 8, 8), (4, 3, 3, 3)).keep_cols_bytes == 7
    with policy.conv_memory_budget(5):
        s = spec((2, 3, 8, 8), (4, 3, 3, 3), dtype=np.float64)
        assert (s.chunk_bytes, s.memory_budget, s.keep_cols_bytes, s.keep_tiles_bytes, s.itemsize) == (5, 5, 5, 5, 8)


@pytest.mark.parametrize("setting", ["default", "direct", "batch_last"])
def test_the_numba_only_algorithms_are_not_taken_on_the_generic_path(setting):
    """The direct and batch-last loops exist for NumPy arrays on the numba path only: on the
    array-generic path (the one CuPy takes, forced here on NumPy) conv2d sends their layers to the
    column matrix, whatever the setting."""
    from minitorch_cnn import backend

    x, w = mt.randn(64, 1, 28, 28), mt.randn(6, 1, 5, 5, requires_grad=True)  # LeNet's first layer
    with mt.conv_algorithm(setting):
        assert conv2d(x, w, padding=2).grad_fn.function in (DirectConv2dFn, BatchLastConv2dFn)
        previous = backend.get_kernel_path()
        backend.set_kernel_path("generic")
        try:
            assert conv2d(x, w, padding=2).grad_fn.function is Im2colConv2dFn
        finally:
            backend.set_kernel_path(previous)
