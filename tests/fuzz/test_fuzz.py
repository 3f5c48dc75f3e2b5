"""Differential fuzzing against PyTorch: random programs of 1-8 ops on both engines (the engine is ``_fuzz.py``).

* ``test_fuzz_quick`` runs a fixed seed in the default test run (about half a minute on one core).
* ``test_fuzz_long`` is selected with ``-m fuzz_long`` (deselected by default):
  ``MINITORCH_CNN_FUZZ_SEED`` (one seed or several, comma-separated; a fresh one from the clock when
  unset) and ``MINITORCH_CNN_FUZZ_N`` (programs per seed, default 2000), e.g.
  ``MINITORCH_CNN_FUZZ_SEED=7,8 MINITORCH_CNN_FUZZ_N=1500 python -m pytest -n 0 -m fuzz_long tests/fuzz``.
* The planted-bug tests put single-line bugs into the engine at run time (one of them a gradient only
  1e-3 too large) and check that the fuzzer reports each one within a fixed budget of programs: the
  tolerance cannot hide them. The round-off tests plant errors the rounding of single steps explains
  (and the old model reported) and check that they are accepted.

A failure prints a one-line summary per class of disagreement, the commands that rerun the run and
each program (``python tests/fuzz/repro.py SEED PROGRAM``), and a shrunk script per class that runs on
both engines.
"""

import contextlib
import io
import os
import time

import numpy as np
import pytest
import torch
from _fuzz import (
    ALLOWED_DIFFERENCES,
    Leaf,
    Program,
    Stmt,
    check,
    compare_arrays,
    execute,
    fuzz,
    generate,
    render,
    report,
    shadow_program,
    shrink,
)

import minitorch_cnn as mt
from minitorch_cnn.functional import activation, elementwise, pooling

QUICK_SEED, QUICK_N = 20240611, 3000


def test_fuzz_quick():
    failures = fuzz(QUICK_SEED, QUICK_N)
    if failures:
        rerun = "python -m pytest -n 0 -q tests/fuzz/test_fuzz.py::test_fuzz_quick"
        text = report(failures, rerun, shrink_budget_s=3.0, max_classes=6)
        pytest.fail(f"fuzz seed {QUICK_SEED}, {QUICK_N} programs: {text}", pytrace=False)


@pytest.mark.fuzz_long
def test_fuzz_long():
    text = os.environ.get("MINITORCH_CNN_FUZZ_SEED") or str(time.time_ns() % 2**31)
    n = int(os.environ.get("MINITORCH_CNN_FUZZ_N", "2000"))
    seeds = [int(s) for s in text.split(",")]
    failures = [f for seed in seeds for f in fuzz(seed, n)]
    if failures:
        rerun = f"MINITORCH_CNN_FUZZ_SEED={text} MINITORCH_CNN_FUZZ_N={n} python -m pytest -n 0 -q -m fuzz_long tests/fuzz"
        report_text = report(failures, rerun, shrink_budget_s=10.0, max_classes=30)
        pytest.fail(f"fuzz seeds {text}, {n} programs each: {report_text}", pytrace=False)


# ---------------------------------------------------------------- the fuzzer's own checks
def test_programs_are_deterministic_under_a_seed():
    for i in range(5):
        a, b = generate(3, i), generate(3, i)
        assert [s.expr for s in a.stmts] == [s.expr for s in b.stmts]
        assert all(np.array_equal(x.base, y.base, equal_nan=True) for x, y in zip(a.leaves, b.leaves))


def test_round_off_model_accepts_reassociation_and_rejects_an_ulp_scaled_error():
    rng = np.random.default_rng(0)
    terms = (rng.standard_normal((50, 300)) * 1e3).astype(np.float32)
    ref = terms.sum(axis=1, dtype=np.float32)
    mine = terms[:, ::-1].cumsum(axis=1, dtype=np.float32)[:, -1]  # another order of the same sums
    runs = [(terms * np.float32(1 + c * 2.0**-23)).sum(axis=1, dtype=np.float32) for c in (3, -2)]
    assert compare_arrays(mine, ref, runs, runs, "float32") is None
    wrong = mine.copy()
    wrong[7] = ref[7] * 1.001 + 1.0  # an error no reordering makes
    assert compare_arrays(wrong, ref, runs, runs, "float32")[0] == "value"


def test_kinks_stay_on_the_kink_in_the_perturbed_runs():
    """relu'(0) = 0: a gradient of 1 at an exact zero is reported (B runs keep round values exact)."""
    prog = Program([Leaf("x0", np.array([0.0, -1.0, 2.5, 0.3], np.float32), grad=True)],
                   [Stmt("v1", "F.relu(x0)", "unary")], loss=[("v1", np.ones(4, np.float32))])
    assert check(prog) == []
    ref = np.array([0.0, 0.0, 1.0, 1.0], np.float32)
    assert compare_arrays(np.array([1.0, 0.0, 1.0, 1.0], np.float32), ref, [ref], [ref], "float32")[0] == "value"


def _with_grad_error(prog, name, change):
    """The engine's run of ``prog`` with ``change`` applied to the gradient of leaf ``name``."""
    mine = execute(prog, mt)
    kind, dtype, shape, grad, rg = mine.grads[name]
    mine.grads[name] = (kind, dtype, shape, change(grad.copy()), rg)
    return mine


def _rounding_cases():
    """(program, leaf, a change the rounding of single steps explains, a change no rounding explains)."""
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    softmax = Program([Leaf("x0", x, grad=True)], [Stmt("v1", "F.softmax(x0, dim=-1)", "softmax")],
                      loss=[("v1", np.ones((2, 3), np.float32))])
    tanh = Program([Leaf("x0", np.array([0.5, 3.99, -4.02]), grad=True)], [Stmt("v1", "T.tanh(x0)", "unary")],
                   loss=[("v1", np.ones(3))])
    chain = Program([Leaf("x0", np.array([3.0, 2.75], np.float32), grad=True),
                     Leaf("x1", np.array([60.0, 90.0], np.float32))],
                    [Stmt("v2", "T.tanh(x0) ** x1", "binary")], loss=[("v2", np.ones(2, np.float32))])

    def at(i, f):
        def change(a):
            a[i] = f(a[i])
            return a
        return change
    return [
        # (a) a softmax gradient that sums to 0: 1 - sum(y) is a few ulps in any other rounding of y
        (softmax, "x0", at((0, 0), lambda v: v + 1.4e-8), at((0, 0), lambda v: v + 1e-3)),
        # (b) tanh at saturation: 1 - y² magnifies one ulp of y (float64, no higher precision to compare with)
        (tanh, "x0", at(1, lambda v: v * (1 + 4e-14)), at(1, lambda v: v * (1 + 1e-3))),
        # (c) a float32 pow chain: an ulp of tanh(x) raised to the 90th power
        (chain, "x0", at(1, lambda v: v * (1 + 2e-6)), at(1, lambda v: v * (1 + 1e-3))),
    ]


@pytest.mark.parametrize("case", range(3))
def test_round_off_of_single_steps_is_accepted_and_a_relative_thousandth_is_not(case):
    """(a) and (b) were reported before the RoundingNoise runs (the input perturbations do not reach them)."""
    prog, name, rounding, wrong = _rounding_cases()[case]
    assert check(prog) == []
    assert check(prog, mine=_with_grad_error(prog, name, rounding)) == []
    assert [f.category for f in check(prog, mine=_with_grad_error(prog, name, wrong))] == ["grad-value"]


def test_a_repro_script_runs_on_both_engines():
    prog = Program([Leaf("x0", np.array([[1.0, -2.0], [0.0, 3.0]]), view=".T", grad=True)],
                   [Stmt("v1", "F.conv2d(x0[None, None], x0[None, None], None, padding=1)", "conv", "reference"),
                    Stmt("v2", "v1.sum()", "reduce")], loss=[("v2", np.array(2.0))])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(render(prog), "<repro>", "exec"), {})
    lines = out.getvalue().splitlines()
    assert any(line.startswith("minitorch_cnn x0.grad") for line in lines)
    assert any(line.startswith("torch x0.grad") for line in lines)


def test_the_allowed_differences_are_few_and_explained():
    assert len(ALLOWED_DIFFERENCES) <= 8
    assert all(len(reason) > 40 for reason in ALLOWED_DIFFERENCES.values())


def _with_grad(run, name, index, value):
    """``run`` with one element of a leaf's gradient replaced (a planted engine result)."""
    kind, dtype, shape, a, rg = run.grads[name]
    a = a.copy()
    a[index] = value
    run.grads[name] = (kind, dtype, shape, a, rg)
    return run


@pytest.mark.parametrize("fn", ["F.hardtanh(x0)", "F.relu6(x0)"])
def test_hardtanh_gradient_at_nan_is_accepted_as_0_or_the_upstream_gradient_only(fn):
    """ALLOWED_DIFFERENCES["hardtanh gradient at NaN"]: PyTorch gives 0 at the first NaNs of a run and the
    upstream gradient at the last few; either is accepted at the NaN inputs (one of them at all), nothing else."""
    x = np.array([0.5] * 4 + [np.nan] * 20 + [0.5], dtype=np.float32)
    g = np.full(x.shape, 3.0, dtype=np.float32)
    prog = Program([Leaf("x0", x, grad=True)], [Stmt("v1", fn, "unary")], [("v1", g)])
    assert check(prog) == []  # the engine: 0 at every NaN
    assert check(prog, mine=_with_grad(execute(prog, mt), "x0", slice(4, 24), 3.0)) == []  # the upstream gradient
    for index, value in ((10, 1.5), (0, 0.0), (24, 0.0)):  # neither form at a NaN; a finite input's gradient
        assert check(prog, mine=_with_grad(execute(prog, mt), "x0", index, value)), (index, value)


def test_conv_overflow_order_is_accepted_only_where_the_terms_exceed_float32s_max():
    """ALLOWED_DIFFERENCES["conv float32 overflow order"]: a NaN (planted) where PyTorch's float32 sum is
    finite is accepted at an output whose |terms| add up beyond float32's max (3e38 − 3e38: another order,
    with more terms, could overflow), and nowhere else (3e38 alone, or small terms)."""
    x = np.array([[[[3e38, -3e38, 1.0, 1.0]]]], dtype=np.float32)
    w = np.array([[[[1.0, 1.0]]]], dtype=np.float32)
    prog = Program([Leaf("x0", x), Leaf("x1", w)], [Stmt("v2", "F.conv2d(x0, x1, None, padding=0)", "conv")])
    assert check(prog) == []
    ref = execute(prog, torch).values["v2"][3]
    assert np.isfinite(ref).all()
    for j, accepted in ((0, True), (1, False), (2, False)):  # |terms|: 6e38, 3e38 + 1, 2
        mine = execute(prog, mt)
        kind, dtype, shape, a, rg = mine.values["v2"]
        a[0, 0, 0, j] = np.nan
        assert (check(prog, mine=mine) == []) == accepted, j


def _with_nan(prog, index):
    """The engine's run of ``prog`` with a NaN planted at ``index`` of the conv output v2."""
    mine = execute(prog, mt)
    mine.values["v2"][3][index] = np.nan
    return mine


def test_winograd_inf_nan_spread_is_accepted_only_under_winograd_with_a_nonfinite_or_huge_operand():
    """ALLOWED_DIFFERENCES["winograd inf/NaN spread"]: under 'winograd' or 'auto', a NaN (planted) at a conv
    output where PyTorch is finite is accepted when the input holds an inf or a kernel's sum of |w| times
    WINOGRAD_GROWTH exceeds float32's max (3e38); not with finite inputs and weights 1e30, nor under 'default'."""
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6) / 8
    w = np.full((1, 1, 3, 3), 0.5, dtype=np.float32)
    x_inf = x.copy()
    x_inf[0, 0, 0, 0] = -np.inf
    w_huge = w.copy()
    w_huge[0, 0, 1, 1] = 3e38
    for algo, xs, ws, accepted in (("winograd", x_inf, w, True), ("auto", x_inf, w, True),
                                   ("winograd", x / 1e8, w_huge, True), ("winograd", x, w, False),
                                   ("winograd", x, w * 2e30, False), ("default", x_inf, w, False), (None, x_inf, w, False)):
        prog = Program([Leaf("x0", xs), Leaf("x1", ws)], [Stmt("v2", "F.conv2d(x0, x1, None, padding=0)", "conv", algo)])
        assert check(prog) == [], (algo, accepted)
        assert np.isfinite(execute(prog, torch).values["v2"][3][0, 0, 3, 3])
        assert (check(prog, mine=_with_nan(prog, (0, 0, 3, 3))) == []) == accepted, (algo, accepted)


def test_winograd_spread_in_gradients_needs_a_nonfinite_upstream_gradient():
    """A NaN (planted) in the input's gradient of a Winograd conv, far from the inf of the upstream gradient
    (PyTorch finite there), is accepted; where every operand and gradient is finite it is reported."""
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6) / 8
    w = np.full((1, 1, 3, 3), 0.5, dtype=np.float32)
    for g00, accepted in ((np.inf, True), (1.0, False)):
        g = np.ones((1, 1, 4, 4), dtype=np.float32)
        g[0, 0, 0, 0] = g00
        prog = Program([Leaf("x0", x, grad=True), Leaf("x1", w)],
                       [Stmt("v2", "F.conv2d(x0, x1, None, padding=0)", "conv", "winograd")], [("v2", g)])
        assert check(prog) == [], g00
        assert np.isfinite(execute(prog, torch).grads["x0"][3][0, 0, 5, 5])
        assert (check(prog, mine=_with_grad(execute(prog, mt), "x0", (0, 0, 5, 5), np.nan)) == []) == accepted, g00


def test_winograd_numbers_are_meaningless_only_at_a_conv_with_a_nonfinite_operand_and_what_follows():
    """A wrong gradient number (planted) at the input of a Winograd conv whose weight holds an inf/NaN is accepted;
    the same with a finite weight, or under 'default', is reported."""
    x = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6) / 8
    for algo, w00, accepted in (("winograd", np.nan, True), ("winograd", 0.5, False), ("default", np.nan, False)):
        w = np.full((1, 1, 3, 3), 0.5)
        w[0, 0, 0, 0] = w00
        g = np.ones((1, 1, 4, 4))
        prog = Program([Leaf("x0", x, grad=True), Leaf("x1", w)],
                       [Stmt("v2", "F.conv2d(x0, x1, None, padding=0)", "conv", algo), Stmt("v3", "v2 * 2", "binary")],
                       [("v3", g)])
        assert check(prog) == [], algo
        planted = _with_grad(execute(prog, mt), "x0", (0, 0, 5, 5), 7.25)  # torch: 1.0 there
        assert (check(prog, mine=planted) == []) == accepted, (algo, w00)


def test_a_padded_conv_nan_is_followed_into_comparisons_downstream_only():
    """ALLOWED_DIFFERENCES["conv padding NaN"]: the engine's NaN (float64 kernel's too) compared gives False where
    PyTorch's float32 finite value gives True; a False where no NaN was accepted is reported."""
    x = np.ones((2, 1, 1, 1), np.float32)  # a batch of 2: PyTorch's float32 kernel skips the padded taps
    w = np.array([[[[1.0, 1.0, 1.0], [1.0, np.inf, 1.0]]]], np.float32)
    prog = Program([Leaf("x0", x), Leaf("x1", w)],
                   [Stmt("v2", "F.conv2d(x0, x1, None, padding=2, dilation=(2, 1))", "conv"),
                    Stmt("v3", "v2 > -2.5", "compare"),
                    Stmt("v4", "x0 > -2.5", "compare")])
    assert check(prog) == []
    ref = execute(prog, torch)
    mine = execute(prog, mt)
    i = tuple(int(k) for k in np.argwhere(np.isfinite(ref.values["v2"][3]))[0])
    shadow = execute(shadow_program(prog), torch).values["v2"][3]
    assert np.isnan(shadow[i]) and ref.values["v3"][3][i]  # PyTorch float32: finite, True; float64: NaN
    mine.values["v2"][3][i] = np.nan
    mine.values["v3"][3][i] = False
    assert check(prog, mine=mine) == []
    mine.values["v4"][3][0, 0, 0, 0] = False  # not computed from the NaN
    assert [f.where for f in check(prog, mine=mine)] == ["v4"]


def test_conv_gradient_overflow_order_is_accepted_only_where_its_terms_exceed_float32s_max():
    """ALLOWED_DIFFERENCES["conv float32 overflow order"] for gradients: a NaN (planted) in the weight gradient
    where PyTorch's is finite is accepted where sum |g|·|x| exceeds float32's max (3e38 - 3e38 at w[0]), not where the terms are small."""
    x = np.array([[[[3e38, -3e38, 1.0, 1.0]]]], dtype=np.float32)
    for xs, accepted in ((x, True), (x / 1e30, False)):
        prog = Program([Leaf("x0", xs), Leaf("x1", np.ones((1, 1, 1, 3), np.float32), grad=True)],
                       [Stmt("v2", "F.conv2d(x0, x1, None, padding=0)", "conv")], [("v2", np.ones((1, 1, 1, 2),
                                                                                                    np.float32))])
        assert check(prog) == []
        assert np.isfinite(execute(prog, torch).grads["x1"][3][0, 0, 0, 0])
        assert (check(prog, mine=_with_grad(execute(prog, mt), "x1", (0, 0, 0, 0), np.nan)) == []) == accepted


def test_a_correctly_rounded_float32_result_is_accepted_where_pytorchs_is_not():
    """batch_norm of a channel holding 1e30 with weight 3e38: the float64 result 4.2e38 overflows float32; the
    engine's inf (its float32 rounding) is accepted; -inf or NaN is reported."""
    x = np.ones((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = 1e30
    w = np.array([1.0, 3e38, 1.0], np.float32)
    prog = Program([Leaf("x0", x), Leaf("x1", np.ones(3, np.float32)), Leaf("x2", np.ones(3, np.float32)),
                    Leaf("x3", w), Leaf("x4", np.ones(3, np.float32))],
                   [Stmt("v5", "F.batch_norm(x0, x1, x2, x3, x4, training=True, momentum=0.1, eps=1e-05)", "norm")])
    shadow = execute(shadow_program(prog), torch).values["v5"][3][0, 1, 1, 0]
    assert shadow > np.finfo(np.float32).max  # its float32 rounding: inf
    for value, accepted in ((np.inf, True), (-np.inf, False), (np.nan, False)):
        mine = execute(prog, mt)
        mine.values["v5"][3][0, 1, 1, 0] = value
        assert (check(prog, mine=mine) == []) == accepted, value


def test_batch_norm_gradient_floor_is_a_few_ulps_of_its_cancelling_terms():
    """A channel [1e30, 1, 1, 1]: σ ≈ 4e29, the input gradient's terms ≈ 1e-29 cancel to 0. An error of an ulp of
    the terms (1e-36, planted) is accepted; 1e-32, thousands of ulps, is reported."""
    x = np.ones((4, 2, 1), np.float32)
    x[0, 0, 0] = 1e30
    prog = Program([Leaf("x0", x, grad=True), Leaf("x1", np.ones(2, np.float32)), Leaf("x2", np.ones(2, np.float32))],
                   [Stmt("v3", "F.batch_norm(x0, None, None, x1, x2, training=True, momentum=0.0, eps=1e-05)",
                         "norm")], [("v3", np.ones((4, 2, 1), np.float32))])
    assert abs(execute(prog, torch).grads["x0"][3][1, 0, 0]) < 1e-40
    for value, accepted in ((1e-36, True), (1e-32, False)):
        assert (check(prog, mine=_with_grad(execute(prog, mt), "x0", (1, 0, 0), value)) == []) == accepted, value


def test_float64_batch_norm_and_softmax_gradients_get_a_floor_of_their_cancelling_terms():
    """Gradients that cancel to 0: the sum over the batch of a float64 batch_norm (terms ≈ 0.5, PyTorch -6e-18)
    and a float32 softmax over 2 elements by its method (terms ≈ 1, 1 - sum(y) is an ulp). An ulp of the terms is
    accepted; a thousandth of them is reported."""
    bn = Program([Leaf("x0", np.array([[0.0], [3.0], [-1.0], [-3.0], [-2.0]]), grad=True)],
                 [Stmt("v1", "F.batch_norm(x0, None, None, None, None, training=True, momentum=0.5, eps=0.001)",
                       "norm"), Stmt("v2", "v1.sum(dim=-2, keepdim=True)", "reduce")], [("v2", np.ones((1, 1)))])
    sm = Program([Leaf("x0", np.array([[-0.1347442865371704], [0.5435855388641357]], np.float32), grad=True)],
                 [Stmt("v1", "x0.softmax(-2)", "softmax")], [("v1", np.ones((2, 1), np.float32))])
    for prog, i, ulp in ((bn, (0, 0), 1e-16), (sm, (1, 0), 4e-8)):
        for value, accepted in ((ulp, True), (1e-3, False)):
            assert (check(prog, mine=_with_grad(execute(prog, mt), "x0", i, value)) == []) == accepted, (prog, value)


# ---------------------------------------------------------------- planted bugs
def _relu_passes_gradient_at_zero(mp):
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.maximum(a, 0)

    mp.setattr(activation.ReLUFn, "forward", staticmethod(forward))
    mp.setattr(activation.ReLUFn, "backward", staticmethod(lambda ctx, g: (g * (ctx.saved_tensors[0] >= 0),)))


def _mul_drops_a_gradient_term(mp):
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None), None  # the bug: db dropped

    mp.setattr(elementwise.MulFn, "backward", staticmethod(backward))


def _int_with_float_promotes_to_float64(mp):
    binary = elementwise._binary

    def wrong(fn, op, a, b):
        kinds = [getattr(t, "dtype", np.dtype("float64")).kind for t in (a, b)]
        if "f" in kinds and any(k in "iub" for k in kinds) and all(isinstance(t, mt.Tensor) for t in (a, b)):
            a, b = a.double(), b.double()  # the bug: float64, where PyTorch keeps the float operand's dtype
        return binary(fn, op, a, b)

    mp.setattr(elementwise, "_binary", wrong)


def _max_pool_swaps_the_window_index(mp):
    def backward(ctx, g):
        (argmax,) = ctx.saved_tensors
        kh, kw = ctx.window.kernel
        swapped = (argmax % kw) * kh + argmax // kw  # the bug: tap (i, j) read as (j, i)
        return (pooling.max_pool2d_backward(g, swapped, ctx.x_shape, ctx.window),)

    mp.setattr(pooling.MaxPool2dFn, "backward", staticmethod(backward))


def _tanh_gradient_off_by_a_thousandth(mp):
    backward = activation.TanhFn.backward

    def wrong(ctx, g):
        (grad,) = backward(ctx, g)
        return (grad * grad.dtype.type(1.001),)  # the bug: 1e-3 too large, a value no round-off makes

    mp.setattr(activation.TanhFn, "backward", staticmethod(wrong))


PLANTED = {  # name -> (the bug, the op families the fuzz run draws from, programs)
    "relu backward at 0": (_relu_passes_gradient_at_zero, ["unary"], 300),
    "mul drops a gradient term": (_mul_drops_a_gradient_term, ["binary"], 60),
    "int with float promotes to float64": (_int_with_float_promotes_to_float64, ["binary", "cast"], 100),
    "max pooling swaps the window index": (_max_pool_swaps_the_window_index, ["pool"], 60),
    "tanh gradient off by 1e-3": (_tanh_gradient_off_by_a_thousandth, ["unary"], 300),
}


def test_a_failure_report_is_self_contained(monkeypatch):
    """One summary line per class, how to rerun the run and each program, a script per class."""
    with monkeypatch.context() as mp:
        _mul_drops_a_gradient_term(mp)
        failures = fuzz(11, 60, ["binary"])
        text = report(failures, "RERUN-COMMAND", shrink_budget_s=2.0, max_classes=1)
    assert failures
    summary = [line for line in text.splitlines() if line.startswith("  1. ")]
    assert len(summary) == 1 and f"seed 11 program {failures[0].index}" in summary[0]
    assert "rerun the run: RERUN-COMMAND" in text
    assert f"python tests/fuzz/repro.py 11 {failures[0].index}" in text
    assert "def program(T, algo):" in text and "loss.backward()" in text


@pytest.mark.parametrize("name", list(PLANTED))
def test_the_fuzzer_finds_a_planted_bug(name, monkeypatch):
    plant, families, n = PLANTED[name]
    clean = {f.index for f in fuzz(11, n, families)}  # programs that already disagree are not evidence
    with monkeypatch.context() as mp:
        plant(mp)
        found = [f for f in fuzz(11, n, families) if f.index not in clean]
        assert found, f"the planted bug ({name}) went unreported in {n} programs"
        small = shrink(found[0].program, found[0].findings, budget_s=10.0)
        assert check(small), "the shrunk program no longer shows the bug"
        assert len(small.stmts) <= len(found[0].program.stmts)


def test_a_value_shaped_result_after_an_overflow_is_compared_by_ndim_only():
    """The after-overflow rule for value-shaped results (_fuzz.py's doc): batch_norm of a channel holding 3e38
    overflows inside PyTorch's float32 run (its variance; the outputs become 0, the float64 run's -1.1 and 2.6 the
    engine's), so ``v[v > 0]``
    after it selects more elements in the engine: accepted, as long as the engine's shape is the float64 run's.
    Without an overflow upstream, a mask result one element longer than PyTorch's is reported."""
    x = np.ones((2, 3, 2, 2), np.float32)
    x[0, 0, 0, 0] = x[0, 2, 0, 1] = 3e38
    x[0, 2, 1, 0] = -np.inf
    ones = np.ones(3, np.float32)
    prog = Program([Leaf("x0", x), Leaf("x1", ones), Leaf("x2", ones.copy()), Leaf("x3", ones.copy())],
                   [Stmt("v4", "F.batch_norm(x0, x1, x2, x3, None, training=True, momentum=0.5, eps=1e-05)", "norm"),
                    Stmt("v5", "v4[v4 > 0]", "index"), Stmt("v6", "v5 * 2", "binary")])
    mine, ref = execute(prog, mt), execute(prog, torch)
    assert mine.values["v5"][2] != ref.values["v5"][2]
    assert check(prog, mine=mine) == []
    mine.values["v5"] = mine.values["v5"][:2] + ((1, 1),) + mine.values["v5"][3:]  # another ndim: reported
    assert [f.category for f in check(prog, mine=mine)] == ["ndim"]
    mine = execute(prog, mt)
    mine.values["v6"] = mine.values["v6"][:2] + ((99,),) + mine.values["v6"][3:]  # not the float64 run's shape
    assert [f.category for f in check(prog, mine=mine)] == ["shape"]

    plain = Program([Leaf("x0", np.array([[1.0, -2.0], [3.0, 0.5]], np.float32))],
                    [Stmt("v1", "x0[x0 > 0]", "index")])
    assert check(plain) == []
    mine = execute(plain, mt)
    mine.values["v1"] = mine.values["v1"][:2] + ((4,), np.array([1.0, 3.0, 0.5, 0.5], np.float32)) \
        + mine.values["v1"][4:]
    assert [f.category for f in check(plain, mine=mine)] == ["shape"]
