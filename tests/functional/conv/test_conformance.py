"""The conformance suite: every fast conv algorithm against every oracle, on every kernel path.

It runs each entry of the registry ``minitorch_cnn.functional.conv.fast.ALGORITHMS`` (a new line
there is tested here with no edit) on the layers it applies to (``applies(spec)``), under the
algorithm's forced setting (``mt.conv_algorithm(name)``), and checks:

* the plain loops of ``_conv_cases`` (``conv2d_reference`` from ``corr2d``, ``conv2d_backward_reference``):
  the output and every gradient, in float64;
* the reference op ``Conv2dFn`` (the docs page's code), in float64, to round-off;
* PyTorch: the output and every gradient, in float64 and float32 (one tolerance, ``ROUND_OFF_EPS``
  of ``_conv_cases``, with its reason), on drawn layers and on the nets' layers;
* float64 finite differences (gradcheck), chunked or not;
* the same bits on one thread and on every thread; one image per chunk (the work arrays kept from
  forward, or built again in backward) and one chunk equal to round-off;
* only the gradients asked for (a first layer, a frozen weight, a frozen weight beside a trainable bias);
* which Function ran: under the forced setting the algorithm's ``FUNCTION`` where it applies and the
  chunked column matrix elsewhere; under ``"reference"`` ``Conv2dFn``; under ``"default"`` and
  ``"auto"`` the first registered algorithm that applies and pays (Winograd left out of ``"default"``).

The reference op itself goes through the same oracles (the ``"reference"`` entry below), so that
"equal to the reference" means equal to the loops and to PyTorch. Each check runs on the numba
path, the forced generic path and CuPy (skipped without a GPU) wherever the algorithm applies there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import (
    assert_round_off,
    assert_same_bits,
    check_only_the_needed_gradients,
    conv2d_backward_reference,
    conv2d_reference,
    conv_arrays,
    conv_cases,
    conv_geometry,
    examples,
    leaf,
    on_one_and_every_thread,
    path,
    to_xp,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import Conv2dFn, fast, policy
from minitorch_cnn.functional.conv.fast import _chunks
from minitorch_cnn.functional.conv.fast.im2col import Im2colConv2dFn
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]  # the fixture, imported for pytest

ALGORITHMS = list(fast.ALGORITHMS)  # the registry, in its order
OPS = [*ALGORITHMS, "reference"]  # every algorithm, and the reference op through the same oracles


def function_of(name):
    return Conv2dFn if name == "reference" else fast.ALGORITHMS[name].FUNCTION


def applies(name, spec) -> bool:
    return name == "reference" or fast.ALGORITHMS[name].applies(spec)


def host(t):
    return None if t is None else backend.to_numpy(t.array if hasattr(t, "array") else t)


def spec_of(case, device, dtype=np.float64):
    """The ConvSpec conv2d builds for ``case`` on ``device`` under the current kernel path."""
    x = to_xp(np.empty(case["x_shape"], dtype), device)
    w = to_xp(np.empty(case["w_shape"], dtype), device)
    return policy.spec_for(x, w, **{k: case[k] for k in ("stride", "padding", "dilation", "groups")})


# Layers of each family at fixed sizes (5 images, so that a one-byte budget makes 5 chunks), and the
# nets' layers where each algorithm pays: the checks that need one layer an algorithm applies to
# take the first of these that it does.
def _case(x_shape, w_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True, seed=5):
    return dict(x_shape=x_shape, w_shape=w_shape, stride=stride, padding=padding, dilation=dilation,
                groups=groups, bias=bias, seed=seed)  # fmt: skip


PROBES = {
    "plain 3x3": _case((5, 3, 8, 7), (4, 3, 3, 3), padding=(1, 1)),
    "plain 2x3": _case((5, 2, 6, 7), (3, 2, 2, 3), padding=(1, 0)),
    "depthwise": _case((5, 4, 7, 6), (4, 1, 3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=4),
    "general": _case((5, 4, 7, 6), (6, 2, 2, 3), stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
}
NET_LAYERS = {  # float32, as the nets run
    "lenet first": _case((9, 1, 28, 28), (6, 1, 5, 5), padding=(2, 2)),  # direct pays; 9 images: 2 blocks of dW
    "lenet second": _case((40, 6, 14, 14), (16, 6, 5, 5)),  # batch-last pays (34 images per chunk)
    "resnet 3x3": _case((2, 16, 12, 12), (16, 16, 3, 3), padding=(1, 1)),  # Winograd F(4x4) pays
    "mobilenet depthwise": _case((2, 32, 14, 14), (32, 1, 3, 3), stride=(2, 2), padding=(1, 1), groups=32),
    "resnet stem": _case((2, 3, 32, 32), (16, 3, 7, 7), stride=(2, 2), padding=(3, 3), bias=False),
    "wide 3x3 on 3x3": _case((2, 64, 3, 3), (64, 64, 3, 3), padding=(1, 1)),  # the column matrix
}


def first_probe(name, device):
    """The first probe ``name`` applies to on this path, or skip saying it applies to none here."""
    for probe in PROBES.values():
        if applies(name, spec_of(probe, device)):
            return probe
    pytest.skip(f"{name} applies to no layer on the {backend.get_kernel_path()} kernel path")


def run(setting, case, device, dtype=np.float64, contiguous=True):
    """conv2d of ``case`` under ``setting``, then backward with the case's g: (function, y, dx, dw, db)
    on the host, db None without a bias."""
    x, w, b, g = conv_arrays(case, dtype)
    if not contiguous:  # the same values in a transposed memory layout
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    xt, wt = leaf(x, device), leaf(w, device)
    bt = None if b is None else leaf(b, device)
    with mt.conv_algorithm(setting):
        y = conv2d(xt, wt, bt, **conv_geometry(case))
    function = y.grad_fn.function
    y.backward(to_xp(g, device))
    assert y.dtype == xt.grad.dtype == wt.grad.dtype == dtype and (bt is None or bt.grad.dtype == dtype)
    return function, host(y), host(xt.grad), host(wt.grad), host(None if bt is None else bt.grad)


def run_applying(name, case, device, **kwargs):
    """``run`` under the algorithm's forced setting, on a case it applies to (else hypothesis draws
    another; the test skips on a kernel path where the algorithm applies to none of the probes)."""
    first_probe(name, device)
    assume(applies(name, spec_of(case, device, kwargs.get("dtype", np.float64))))
    function, *results = run(name, case, device, **kwargs)
    assert function is function_of(name)
    return results


def pytorch(case, dtype):
    """PyTorch's y, dx, dw, db of ``case`` (db None without a bias)."""
    x, w, b, g = conv_arrays(case, dtype)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = TF.conv2d(tx, tw, tb, **conv_geometry(case))
    ty.backward(torch.tensor(g))
    return [None if t is None else t.numpy() for t in (ty.detach(), tx.grad, tw.grad, None if tb is None else tb.grad)]


def assert_all_round_off(ours, theirs, name, oracle):
    for what, a, e in zip(("y", "dx", "dW", "db"), ours, theirs):
        if e is None:
            assert a is None, f"{name}: {what} where {oracle} has none"
        else:
            assert_round_off(a, e, f"{name} {what} against {oracle}")


ops = pytest.mark.parametrize("name", OPS)
algorithms = pytest.mark.parametrize("name", ALGORITHMS)


# ---------------------------------------------------------------- oracles
@ops
@examples(20)
@given(case=conv_cases(max_side=5))
def test_matches_the_plain_loops(path, name, case):
    y, dx, dw, db = run_applying(name, case, path)
    x, w, b, g = conv_arrays(case)
    loops = [conv2d_reference(x, w, b, **conv_geometry(case)), *conv2d_backward_reference(x, w, g, **conv_geometry(case))]
    assert_all_round_off((y, dx, dw, db), loops[:3] + [None if b is None else loops[3]], name, "the plain loops")


@algorithms
@examples(25)
@given(case=conv_cases(max_side=9, max_images=10))  # up to 10 images: more than one of direct's dW blocks
def test_equals_the_reference_op_in_float64(path, name, case):
    ours = run_applying(name, case, path)
    function, *reference = run("reference", case, path)
    assert function is Conv2dFn
    assert_all_round_off(ours, reference, name, "Conv2dFn")


@ops
@examples(30)
@given(case=conv_cases(max_side=7, max_images=3), dtype=st.sampled_from([np.float64, np.float32]), contiguous=st.booleans())
def test_matches_pytorch(path, name, case, dtype, contiguous):
    ours = run_applying(name, case, path, dtype=dtype, contiguous=contiguous)
    assert_all_round_off(ours, pytorch(case, dtype), name, f"PyTorch ({np.dtype(dtype).name})")


@ops
def test_matches_pytorch_in_float32_on_the_nets_layers(path, name):
    """Each of the nets' layers the algorithm applies to, at the nets' sizes and dtype."""
    layers = [layer for layer, case in NET_LAYERS.items() if applies(name, spec_of(case, path, np.float32))]
    if not layers:
        pytest.skip(f"{name} applies to none of the nets' layers here")
    for layer in layers:
        function, *ours = run(name, NET_LAYERS[layer], path, dtype=np.float32)
        assert function is function_of(name)
        assert_all_round_off(ours, pytorch(NET_LAYERS[layer], np.float32), f"{name} on {layer}", "PyTorch (float32)")


@ops
@examples(15)
@given(case=conv_cases(max_side=5), chunked=st.booleans())
def test_gradcheck(path, name, case, chunked):
    first_probe(name, path)
    assume(applies(name, spec_of(case, path)))
    x, w, b, _ = conv_arrays(case)
    inputs = [leaf(x, path), leaf(w, path)] + ([] if b is None else [leaf(b, path)])
    budget = 1 if chunked else policy.get_conv_memory_budget()  # one byte: one image per chunk
    with mt.conv_algorithm(name), policy.conv_memory_budget(budget):
        assert conv2d(*inputs, **conv_geometry(case)).grad_fn.function is function_of(name)
        assert gradcheck(lambda *t: conv2d(*t, **conv_geometry(case)), inputs)


# ---------------------------------------------------------------- chunks and threads
@ops
def test_chunked_equals_unchunked(path, name, monkeypatch):
    """One image per chunk (where the algorithm chunks: its node records them), with the work arrays
    kept from forward (cache-sized chunks of one byte, the kept-array budgets as they are) or built
    again in backward (a memory budget of one byte, which caps both): the unchunked numbers to round-off."""
    case = first_probe(name, path)
    N = case["x_shape"][0]
    results = []
    for variant, tile, budget, n_chunks in (("one chunk", policy.CPU_CONV_TILE_BYTES, policy.get_conv_memory_budget(), 1),
                                            ("kept", 1, policy.get_conv_memory_budget(), N), ("rebuilt", 1, 1, N)):  # fmt: skip
        monkeypatch.setattr(policy, "CPU_CONV_TILE_BYTES", tile)
        with policy.conv_memory_budget(budget):
            x, w, b, g = conv_arrays(case)
            xt, wt, bt = leaf(x, path), leaf(w, path), leaf(b, path)
            with mt.conv_algorithm(name):
                y = conv2d(xt, wt, bt, **conv_geometry(case))
            assert y.grad_fn.function is function_of(name)
            if hasattr(y.grad_fn, "chunks") and (path == "cpu" or variant == "rebuilt"):  # the GPU's chunks fill the budget
                assert len(y.grad_fn.chunks) == n_chunks, variant
            y.backward(to_xp(g, path))
        results.append([host(t) for t in (y, xt.grad, wt.grad, bt.grad)])
    for variant, result in zip(("kept", "rebuilt"), results[1:]):
        assert_all_round_off(result, results[0], f"{name} ({variant}, one image per chunk)", "the unchunked run")


@ops
def test_same_bits_on_one_and_on_every_thread(path, name):
    """One thread (numba's and OpenBLAS's, as OMP_NUM_THREADS=1 gives) against every thread, where the
    chunks run a chunk per thread (fast/_chunks.py) and the kernels' loops run in parallel."""
    if path == "cuda":
        pytest.skip("the thread count is the CPU's")
    case = first_probe(name, path)

    def forward_and_backward():
        with policy.conv_memory_budget(1):  # five chunks
            return run(name, case, path, dtype=np.float32)[1:]

    one, every = on_one_and_every_thread(forward_and_backward)
    if not _chunks._pool_takes_threads():
        pytest.skip("numba's pool is not TBB or OpenMP here: the chunks stay on the calling thread, where "
                    "BLAS's own threads split the products and may change the last bits")  # fmt: skip
    assert_same_bits(one, every)


# ---------------------------------------------------------------- only the needed gradients
@algorithms
@pytest.mark.parametrize("chunks", ["one chunk", "kept", "rebuilt"])
def test_only_the_needed_gradients_are_computed(path, name, chunks):
    """On every probe the algorithm applies to, backward returns None for each gradient not asked
    for. one chunk: the spec conv2d builds (small work arrays kept from forward); kept: one-byte
    chunks (one image each), the work arrays kept; rebuilt: one-byte chunks keeping nothing.
    (The reference op computes every gradient.)"""
    first_probe(name, path)
    for probe in PROBES.values():
        spec = spec_of(probe, path)
        if applies(name, spec):
            if chunks != "one chunk":
                spec = spec._replace(chunk_bytes=1)
            if chunks == "rebuilt":
                spec = spec._replace(memory_budget=1, keep_cols_bytes=0, keep_tiles_bytes=0)
            check_only_the_needed_gradients(function_of(name), spec, path)


# ---------------------------------------------------------------- which Function ran
def expected_function(setting, spec):
    """The Function the setting must run on ``spec`` (the policy's rules, read off the registry)."""
    if setting == "reference":
        return Conv2dFn
    if setting in fast.ALGORITHMS:
        algorithm = fast.ALGORITHMS[setting]
        return algorithm.FUNCTION if algorithm.applies(spec) else Im2colConv2dFn
    for name, algorithm in fast.ALGORITHMS.items():
        if (setting == "auto" or name != "winograd") and algorithm.applies(spec) and algorithm.pays(spec):
            return algorithm.FUNCTION
    return Im2colConv2dFn


@pytest.mark.parametrize("setting", policy.CONV_ALGORITHMS)
@pytest.mark.parametrize("layer", [*PROBES, *NET_LAYERS])
def test_which_function_runs(path, setting, layer):
    case = {**PROBES, **NET_LAYERS}[layer]
    x, w, b, _ = conv_arrays(case, np.float32)
    with mt.conv_algorithm(setting):
        y = conv2d(leaf(x, path, False), leaf(w, path), None if b is None else leaf(b, path), **conv_geometry(case))
    assert y.grad_fn.function is expected_function(setting, spec_of(case, path, np.float32))


@algorithms
@examples(20)
@given(case=conv_cases(max_side=7))
def test_forced_setting_runs_the_algorithm_where_it_applies_and_the_column_matrix_elsewhere(path, name, case):
    function, *_ = run(name, case, path)
    expected = function_of(name) if applies(name, spec_of(case, path)) else Im2colConv2dFn
    assert function is expected
