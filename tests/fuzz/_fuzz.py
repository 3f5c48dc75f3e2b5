"""A differential fuzzer: random little programs run on minitorch_cnn and on PyTorch, the oracle.

A program is what a user would write: leaf tensors made from NumPy arrays (any dtype, broadcastable
shapes, size-0 and size-1 dims, non-contiguous views, ties, kinks, huge/tiny values, NaN and ±Inf),
then 1-8 statements over the public op surface (``T`` is ``minitorch_cnn`` or ``torch``, ``F`` its
``nn.functional``), then ``backward`` of a weighted sum of the outputs. Each statement is one line of
source, so the program runs unchanged on both engines and prints as a script that does the same.

What is compared, statement by statement: raise or no raise (the exception classes may differ),
then each value's type, shape, dtype, ``requires_grad``, NaN and ±Inf positions and numbers; after
``backward``, each leaf's gradient (None or not, shape, dtype, NaN/Inf positions, numbers) and each
leaf's values (an op must not write into its input, batch_norm's running statistics excepted, which
must be written as PyTorch writes them).

The round-off model (``compare_arrays``): PyTorch runs the program again with its float leaves
perturbed by a few ulps. Two kinds of perturbed runs:

* "B" runs scale each leaf's *non-round* values by (1 + c·eps) with c a small integer (one c per
  leaf and run); round values (multiples of 1/4 up to 64, zero included) stay exact, so ties stay
  ties, kinks (relu at 0, clamp at its bounds) stay on the kink and orders are kept. Where a B run
  changes a result, that result is ill-conditioned in the program itself: its spread is allowed
  in full, and an integer or a NaN/Inf position that moves in a B run is not compared.
* "A" runs move every value (round ones too) by its own random ±64 ulps, which exposes the
  conditioning of chains of transcendental functions on round inputs, of scale-invariant ops and
  of sums that cancel (the spread is then the size of the terms). Each A run is repeated 8x
  smaller: where the result moves 2-32x less, it is a smooth ill-conditioning and the spread is
  allowed in full; where it does not shrink so (a kink was crossed, a tie broken), the spread is
  allowed only up to a few hundred ulps, which can never absorb an O(1) error such as a
  gradient on the wrong side of a kink.

* "C" runs (only for a program whose numbers disagree, RoundingNoise): the inputs stay as they are and
  every float result PyTorch computes, forward and backward, is moved by its own random ±8 ulps (and
  again by ±1): the roundings another correct library may make at each step. They reach what input
  perturbations cannot: a tanh at saturation (1 - y² magnifies one ulp of y), a sum of O(1) terms that
  PyTorch happens to cancel exactly (softmax's gradient under equal weights), round-off inside a fused
  backward kernel (batch_norm's). Their spread counts in full where it shrinks with the noise or stays
  under 2^-12 of the value's scale; a tie broken or a kink crossed moves a result by O(1) and is capped
  as in the A runs. Exact ops (copies, selections, max, relu, abs, clamp: ``EXACT_ATEN``) are not moved.

For a float32 program PyTorch also runs it in float64 ("shadow"): a float32 result at least as close
to the float64 one as PyTorch's is accepted (libraries round ``exp`` or ``tanh`` differently by an ulp,
which a later cancellation can magnify), and so is an Inf the float64 run has too; where PyTorch's
float32 result overflowed but the float64 one did not (an order-dependent overflow inside a sum) any
result is accepted. A NaN is accepted from the float64 run only under ALLOWED_DIFFERENCES["conv padding NaN"].
Downstream of a float32 value accepted only through the float64 run (PyTorch's float32 run overflowed inside,
e.g. a batch_norm variance, where the float64 run did not), a result whose shape depends on values (``v[v > 0]``,
nonzero, masked_select: ``_value_shaped``) may select other elements: its shape is compared with the float64
run's, not PyTorch's (type, dtype and ndim still with PyTorch's), and neither its numbers, those of what follows
from it, nor the gradients through it are; a loss term whose shape so differs leaves backward uncompared.

On top of the spread, a floor of a few ulps of the value and one ulp of the largest value of the
array (two libraries' ``exp`` differ by an ulp, a sum's order by a few). An engine bug changes
results by O(1) of their size at points whose perturbed runs agree, and is reported;
``tests/fuzz/test_fuzz.py`` plants such bugs (tanh's gradient 1e-3 too large among them) and checks
that each is found. ``python tests/fuzz/repro.py SEED PROGRAM`` reruns one program of a failure.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import minitorch_cnn as mt

# ---------------------------------------------------------------- accepted differences
# Every deliberate difference from PyTorch the fuzzer accepts, with its reason. Nothing else is accepted.
ALLOWED_DIFFERENCES = {
    "error class and message": "when both engines raise, the classes and messages may differ: the engine raises "
    "its own one-line errors (ValueError/TypeError where PyTorch raises RuntimeError)",
    "oracle bugs": "where PyTorch 2.13 itself fails (ORACLE_BUGS: pow's backward with a bool exponent raises "
    "'Subtraction ... with a bool tensor') the engine may succeed; max_pool2d windows lying wholly in the padding "
    "are not generated, as PyTorch's backward then writes out of bounds (heap corruption); nor batch_norm with a "
    "strided weight (PyTorch's CPU backward reads it as contiguous: wrong input gradients) or with a 4-d input laid "
    "out channels-last but not contiguous, e.g. ``x.T`` of shape (1, 2, 1, 6) (wrong input gradients too); nor torch.permute of a "
    "0-d tensor, which PyTorch's argument parser rejects; nor circular pad widths larger than what a crop keeps (PyTorch "
    "reads memory it has not written, and its gradient is not that forward's adjoint; the engine refuses them)",
    "conv padding NaN": "conv2d's docstring: with padding, the engine gives NaN where PyTorch's float64 CPU kernel "
    "does (the padded zeros times an inf/NaN weight, or an inf gradient); PyTorch's float32 kernel (oneDNN) skips "
    "the padded taps. So in a float32 program, from its first padded conv2d on (values and gradients), a NaN where "
    "PyTorch's float32 run has none is accepted where the float64 run has the NaN too",
    "hardtanh gradient at NaN": "PyTorch 2.13's hardtanh_backward (hardtanh, relu6) is inconsistent at a NaN input: "
    "its vectorised loop gives 0, its scalar loop (the last <16 elements of a contiguous run) passes the upstream "
    "gradient; the engine gives 0 (activation.py, hardtanh). So the reference run is repeated with PyTorch's "
    "hardtanh_backward made 0 at every NaN input, and again made to pass the gradient there (HardtanhNaNGrad), and "
    "the engine is accepted when it agrees with either (one form at every NaN); nothing else about the op is changed",
    "adaptive_avg_pool2d empty backward": "PyTorch 2.13's adaptive_avg_pool2d backward raises for a zero-size "
    "non-batch dim (e.g. C = 0) although its forward succeeds (ORACLE_BUGS): the engine returns the empty gradient",
    "conv float32 overflow order": "conv2d's docstring: float32 sums near float32's largest value overflow in another "
    "order than PyTorch's (a product or a partial sum to inf, then inf - inf = NaN, where PyTorch's fused "
    "multiply-adds stay finite or keep the sign). So at a float32 conv2d output whose sum of |finite terms| "
    "(|x|·|w| and |bias|, in float64: conv_magnitudes) exceeds float32's max, a NaN/Inf difference is accepted; "
    "where the engine used this, NaN/Inf differences in the values and gradients that follow are accepted too "
    "(numbers are still compared)",
    "winograd inf/NaN spread": "fast/winograd.py's docstring: Winograd's transforms mix a whole tile, so one inf/NaN "
    "spreads over it, and its tile-domain values can overflow. So at a conv2d run under 'winograd' or 'auto' whose "
    "input or weight holds an inf/NaN, or whose weight has a 3x3 kernel with sum of |w| above the dtype's max / "
    "WINOGRAD_GROWTH (361), a NaN/Inf difference is accepted at its outputs and in the values that follow; in every "
    "gradient where that holds or the upstream gradient reaching such a conv holds an inf/NaN (winograd_spreads). "
    "Numbers are still compared",
    "winograd rounding": "a program that runs a conv under the 'winograd' or 'auto' setting gets 64x the round-off "
    "floor: Winograd's transforms round 10-30x further from the exact result than PyTorch's column matrix "
    "(functional/conv/policy.py); 'default' and the other settings keep the plain floor",
}
WINOGRAD_SETTINGS = ("winograd", "auto")
# F(4x4, 3x3) (kernels/winograd.py): each row of G adds up to at most 1 in |coefficients|, each row of Aᵀ to 19, so
# a tile-domain term of Y = Aᵀ (G w Gᵀ ⊙ V) A can reach 19² · (sum of |w| over a kernel) times the input's scale
# (F(2x2): 1.5² · 3² = 20.25, smaller)
WINOGRAD_GROWTH = 19.0**2

EPS = {"float32": 2.0**-23, "float64": 2.0**-52, "float16": 2.0**-10}
CONV_ALGORITHMS = tuple(getattr(getattr(mt.functional.conv, "policy", None), "CONV_ALGORITHMS", ("default",)))
KERNEL_PATHS = ("numba", "generic") if hasattr(mt, "set_kernel_path") else ()
MAX_ELEMENTS = 240  # of a new leaf: scripts stay short, programs fast


@dataclass
class Leaf:
    name: str
    base: np.ndarray  # contiguous values; the leaf is ``base`` + ``view`` (a NumPy view, e.g. ".T")
    view: str = ""
    grad: bool = False


@dataclass
class Stmt:
    name: str
    expr: str  # one expression over T, F and earlier names
    op: str  # the op family, for grouping findings
    algo: str | None = None  # the conv setting minitorch_cnn runs it under


@dataclass
class Program:
    leaves: list
    stmts: list
    loss: list = field(default_factory=list)  # (value name, weight array): loss = sum((v * W).sum())
    kernel_path: str | None = None

    @property
    def uses_winograd(self):
        return any(s.algo in WINOGRAD_SETTINGS for s in self.stmts)


@dataclass
class Finding:
    category: str  # raise, type, shape, dtype, requires_grad, nan, inf, value, grad-none, ...
    where: str  # the value ("v3"), gradient ("x0.grad"), leaf ("x1") or "backward"
    op: str
    detail: str

    def __str__(self):
        return f"{self.category} at {self.where} ({self.op}): {self.detail}"


# ---------------------------------------------------------------- running a program
def _leaf_array(leaf, scale=None):
    a = np.array(leaf.base)  # a copy, an ndarray even for 0-d
    if scale is not None and a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            a = np.asarray(a.astype(np.float64) * scale).astype(a.dtype)
    return eval("a" + leaf.view, {"a": a}) if leaf.view else a  # the view string comes from _make_view


def _snap(value, engine):
    """(kind, dtype, shape, array, requires_grad) of a result, or ("other", repr) for a non-tensor."""
    if engine is torch and isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype).removeprefix("torch."), tuple(value.shape),
                value.detach().numpy().copy(), value.requires_grad)
    if engine is mt and isinstance(value, mt.Tensor):
        a = np.array(value.numpy())
        return ("tensor", a.dtype.name, tuple(value.shape), a, bool(value.requires_grad))
    return ("other", type(value).__name__)


@dataclass
class Run:
    values: dict
    raised: tuple | None = None  # (statement index, exception)
    back_raised: BaseException | None = None
    grads: dict = field(default_factory=dict)
    leaves_after: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)  # conv2d value name -> its sum of |terms| (conv_magnitudes)
    grad_bounds: dict = field(default_factory=dict)  # leaf -> its gradient's sum of |terms| (grad_magnitudes)
    grad_scales: dict = field(default_factory=dict)  # leaf -> the term size of a batch_norm or softmax input gradient
    spreads: dict = field(default_factory=dict)  # Winograd conv2d value name -> winograd_spreads (torch only)
    grad_spreads: bool = False  # a Winograd conv2d's upstream gradient holds an inf/NaN (torch only)


_CODE = {}


def _compiled(expr):
    if expr not in _CODE:
        _CODE[expr] = compile(expr, "<fuzz>", "eval")
    return _CODE[expr]


class _MagnitudeF:
    """``F`` for ``conv_magnitudes``: conv2d of |x|, |w| and |bias| (inf and NaN as 0), in float64."""

    @staticmethod
    def conv2d(x, w, b=None, *args, **kwargs):
        def mag(t):
            if t is None:
                return None
            return torch.nan_to_num(t.detach().double().abs(), nan=0.0, posinf=0.0, neginf=0.0)
        return torch.nn.functional.conv2d(mag(x), mag(w), mag(b), *args, **kwargs)


def conv_magnitudes(expr, env):
    """The sum of |finite terms| of each output of a conv2d statement (ALLOWED_DIFFERENCES["conv float32
    overflow order"]): where it exceeds float32's max, some product or partial sum may overflow, in an
    order-dependent way."""
    with torch.no_grad():
        return eval(_compiled(expr), {**env, "F": _MagnitudeF}).numpy()


class _WinogradF:
    """``F`` for ``winograd_spreads``."""

    @staticmethod
    def conv2d(x, w, b=None, *args, **kwargs):
        if not (bool(torch.isfinite(x).all()) and bool(torch.isfinite(w).all())):
            return True
        if w.dim() != 4 or w.numel() == 0 or not w.dtype.is_floating_point:
            return False
        kernel_sums = w.detach().double().abs().sum(dim=(2, 3))
        return bool((kernel_sums * WINOGRAD_GROWTH > torch.finfo(w.dtype).max).any())


def _mag(t):
    return torch.nan_to_num(t.detach().double().abs(), nan=0.0, posinf=0.0, neginf=0.0)


class _GradMagnitudeF:
    """``F`` for ``grad_magnitudes``, with ``g`` the upstream gradient reaching the statement's output."""

    def __init__(self, g):
        self.g = g

    def conv2d(self, x, w, b=None, *args, **kwargs):
        """The sum of |terms| of the gradients of x and w: conv2d's backward of |g| over |x| and |w|."""
        xm, wm = _mag(x).requires_grad_(), _mag(w).requires_grad_()
        torch.nn.functional.conv2d(xm, wm, None, *args, **kwargs).backward(_mag(self.g))
        return "bound", {id(x): xm.grad, id(w): wm.grad}

    def batch_norm(self, x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                   eps=1e-5):
        """The size of the terms of the input gradient |w|/σ·(g - mean(g) - x̂·mean(g·x̂)) that cancel."""
        if not training or x.dim() < 2 or not x.numel():
            return "scale", {}
        dims = [0, *range(2, x.dim())]
        xd, g = x.detach().double(), _mag(self.g)
        mean = xd.mean(dims, keepdim=True)
        rstd = (((xd - mean) ** 2).mean(dims, keepdim=True) + eps).rsqrt()
        xhat = _mag((xd - mean) * rstd)
        w = 1.0 if weight is None else _mag(weight).reshape([1, -1] + [1] * (x.dim() - 2))
        s = w * rstd * (g + g.mean(dims, keepdim=True) + xhat * (g * xhat).mean(dims, keepdim=True))
        return "scale", {id(x): torch.nan_to_num(s, nan=0.0, posinf=0.0)}

    def softmax(self, x, dim=None, *args, **kwargs):
        """The size of the terms of y·(g - sum(g·y)) that cancel: y·(|g| + sum(|g|·y))."""
        y, g = torch.softmax(x.detach().double(), dim), _mag(self.g)
        return "scale", {id(x): torch.nan_to_num(y * (g + (g * y).sum(dim, keepdim=True)), nan=0.0, posinf=0.0)}

    def log_softmax(self, x, dim=None, *args, **kwargs):
        """The size of the terms of g - exp(out)·sum(g) that cancel: |g| + exp(out)·sum(|g|)."""
        y, g = torch.softmax(x.detach().double(), dim), _mag(self.g)
        return "scale", {id(x): torch.nan_to_num(g + y * g.sum(dim, keepdim=True), nan=0.0, posinf=0.0)}


_SOFTMAX_METHOD = re.compile(r"^([xv]\d+)\.(log_)?softmax\((?:dim=)?(.*)\)$")
_MAGNITUDE_OPS = ("F.conv2d(", "F.batch_norm(", "F.softmax(", "F.log_softmax(")


def _function_form(expr):
    """``x.softmax(d)`` as ``F.softmax(x, d)`` (and log_softmax), so that ``_GradMagnitudeF`` sees it."""
    return _SOFTMAX_METHOD.sub(r"F.\2softmax(\1, \3)", expr)


def grad_magnitudes(run, prog, env, names):
    """For the leaves that are direct operands of a conv2d or a training batch_norm (``names``: their outputs),
    the sum of |terms| of each gradient element (conv2d: ``Run.grad_bounds``, ALLOWED_DIFFERENCES["conv float32
    overflow order"]) and the size of the terms batch_norm's input gradient cancels (``Run.grad_scales``)."""
    exprs = {st.name: _function_form(st.expr) for st in prog.stmts}
    leaves = {id(env[leaf.name]): leaf.name for leaf in prog.leaves if leaf.grad}
    for name in names:
        g = env[name].grad
        if g is None:
            continue
        with torch.enable_grad():
            kind, mags = eval(_compiled(exprs[name]), {**env, "F": _GradMagnitudeF(g)})
        out = run.grad_bounds if kind == "bound" else run.grad_scales
        for key, m in mags.items():
            if key in leaves and m is not None:
                leaf, m = leaves[key], m.numpy()
                out[leaf] = m if leaf not in out or out[leaf].shape != m.shape else np.maximum(out[leaf], m)


def winograd_spreads(expr, env):
    """Whether a conv2d run under Winograd may spread or make an inf/NaN (ALLOWED_DIFFERENCES["winograd inf/NaN
    spread"]): its input or weight holds one, or a kernel's sum of |w| times WINOGRAD_GROWTH exceeds the max."""
    with torch.no_grad():
        return eval(_compiled(expr), {**env, "F": _WinogradF})


def execute(prog, engine, scales=None, bounds=False):
    """Run ``prog`` on ``engine`` (the module ``mt`` or ``torch``); ``scales``: leaf name -> factor;
    ``bounds``: also each conv2d's ``conv_magnitudes`` (``Run.bounds``; torch only)."""
    env = {"T": engine, "F": engine.nn.functional}
    run = Run(values={})
    magnitude_names = []
    previous_path = mt.get_kernel_path() if engine is mt and prog.kernel_path else None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            if previous_path:
                mt.set_kernel_path(prog.kernel_path)
            for leaf in prog.leaves:
                t = engine.from_numpy(_leaf_array(leaf, (scales or {}).get(leaf.name)))
                env[leaf.name] = t.requires_grad_() if leaf.grad else t
            for i, st in enumerate(prog.stmts):
                setting = mt.conv_algorithm(st.algo) if engine is mt and st.algo else contextlib.nullcontext()
                try:
                    with setting:
                        env[st.name] = eval(_compiled(st.expr), env)
                except Exception as exc:  # noqa: BLE001 - a raise is a result to compare
                    run.raised = (i, exc)
                    return run
                run.values[st.name] = _snap(env[st.name], engine)
                if bounds and engine is torch and st.expr.startswith("F.conv2d("):
                    run.bounds[st.name] = conv_magnitudes(st.expr, env)
                if bounds and engine is torch and _function_form(st.expr).startswith(_MAGNITUDE_OPS) \
                        and isinstance(env[st.name], torch.Tensor) and env[st.name].requires_grad:
                    env[st.name].retain_grad()
                    magnitude_names.append(st.name)
                if engine is torch and st.algo in WINOGRAD_SETTINGS and st.expr.startswith("F.conv2d("):
                    run.spreads[st.name] = winograd_spreads(st.expr, env)
                    if env[st.name].requires_grad:
                        env[st.name].retain_grad()
            if prog.loss:
                try:
                    loss = 0
                    for name, w in prog.loss:
                        loss = loss + (env[name] * engine.from_numpy(w.copy())).sum().double()
                    loss.backward()
                except Exception as exc:  # noqa: BLE001
                    run.back_raised = exc
                if run.back_raised is None:
                    grad_magnitudes(run, prog, env, magnitude_names)
                for name in run.spreads:
                    g = env[name].grad
                    run.grad_spreads |= g is not None and not bool(torch.isfinite(g).all())
            for leaf in prog.leaves:
                t = env[leaf.name]
                run.leaves_after[leaf.name] = _snap(t, engine)
                if leaf.grad and run.back_raised is None and prog.loss:
                    run.grads[leaf.name] = None if t.grad is None else _snap(t.grad, engine)
        finally:
            if previous_path:
                mt.set_kernel_path(previous_path)
    return run


# ---------------------------------------------------------------- the round-off model
def _scales(prog, rng, kind):
    """Per-leaf factors 1 + c·eps (c a nonzero integer in [-4, 4]) for a perturbed run of ``kind`` A or B."""
    out = {}
    for leaf in prog.leaves:
        if leaf.base.dtype.kind == "f":
            c = int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4]))
            out[leaf.name] = (1 + c * EPS[leaf.base.dtype.name], kind)
    return out


def _perturbed(prog, scales, amplitude=16):
    """The program with its leaves perturbed (B: round values kept exact; A: every value)."""
    leaves = []
    for leaf in prog.leaves:
        if leaf.name not in scales:
            leaves.append(leaf)
            continue
        s, kind = scales[leaf.name]
        with np.errstate(all="ignore"):
            a = leaf.base.astype(np.float64)
            if kind == "B":
                scaled = np.where(is_round(a), a, a * s)
            else:  # each element its own few ulps: scale-invariant ops (batch_norm, softmax) see them too
                eps = EPS[leaf.base.dtype.name]
                draw = np.random.default_rng([round((s - 1) / eps) + 8, int(leaf.name[1:])])
                scaled = a * (1 + draw.integers(-4, 5, size=a.shape) * amplitude * eps)
        leaves.append(replace(leaf, base=np.asarray(scaled).astype(leaf.base.dtype)))
    return replace(prog, leaves=leaves)


def is_round(a):
    """Multiples of 1/4 up to 64 in size (zero included): the values a test puts on kinks and ties."""
    with np.errstate(all="ignore"):
        return np.isfinite(a) & (np.abs(a) <= 64) & (a * 4 == np.round(a * 4))


def _kind(a):
    """0 finite, 1 NaN, 2 +Inf, 3 -Inf, elementwise."""
    return np.where(np.isnan(a), 1, np.where(a == np.inf, 2, np.where(a == -np.inf, 3, 0)))


def compare_arrays(mine, ref, runs_a, runs_b, dtype, floor_factor=1.0, shadow=None, runs_small=(), eps=None,
                   padded_conv_nan=False, runs_c=(), after_overflow=False, may_overflow=None, term_scale=None):
    """Where ``mine`` differs from ``ref`` beyond the round-off model (see the module doc): None, or
    (what, words) for the first such element. ``runs_*``: the perturbed runs' arrays (``runs_c``: pairs of
    RoundingNoise runs, 8 ulps a step and 8x smaller); ``shadow``: the
    float32 program run in float64 (or None): a float32 result at least as close to it as PyTorch's
    is accepted (libraries round transcendental functions and overflowing sums differently), a NaN
    only with ``padded_conv_nan`` (ALLOWED_DIFFERENCES["conv padding NaN"]). ``after_overflow``: an earlier
    value of PyTorch's float32 run overflowed where the float64 run did not; its NaN/Inf are then no
    reference for the values that follow. ``may_overflow``: a mask (or True: everywhere) where a NaN/Inf
    difference is accepted (ALLOWED_DIFFERENCES["conv float32 overflow order"]; True: a bool or integer
    result is not compared either, it may come from such a NaN). ``term_scale``: the size of terms the value
    cancels (batch_norm's input gradient): a few ulps of it are added to the floor. A float32 result equal
    to the float64 run's rounded to float32 (±inf included) is accepted where PyTorch's is not."""
    if may_overflow is True and not dtype.startswith("float"):
        return None
    if dtype.startswith("float"):
        eps = max(eps or 0.0, EPS[dtype])
        with np.errstate(all="ignore"):
            ref64 = ref.astype(np.float64)
            unstable = np.zeros(ref.shape, bool)
            for o in runs_b:
                unstable |= _kind(o) != _kind(ref)
            both = np.isfinite(ref)
            spread_b, spread_a, spread_s = np.zeros(ref.shape), np.zeros(ref.shape), np.zeros(ref.shape)
            for spread, runs in ((spread_b, runs_b), (spread_a, runs_a), (spread_s, runs_small)):
                for o in runs:
                    ok = both & np.isfinite(o)
                    spread[ok] = np.maximum(spread[ok], np.abs(o[ok] - ref64[ok]))
            mag = np.abs(ref64)
            top = float(mag[both].max()) if both.any() else 0.0
            floor = floor_factor * (8 * eps * mag + eps * top) + np.finfo(dtype).tiny
            if term_scale is not None and np.shape(term_scale) == ref.shape:
                floor = floor + floor_factor * 8 * eps * term_scale
            # the A spread counts in full where it shrinks with the perturbation (8x smaller runs move the
            # result 2-32x less: ill-conditioning); elsewhere (a kink crossed) only up to a few hundred ulps
            smooth = (spread_s > 0) & (2 * spread_s <= spread_a) & (32 * spread_s >= spread_a) if len(runs_small) \
                else np.zeros(ref.shape, bool)
            tol_a = np.where(smooth, 4 * spread_a, np.minimum(4 * spread_a, 512 * eps * (mag + top / 64)))
            # the C spread (RoundingNoise) counts in full where it shrinks with the noise, or where it stays
            # under 2^-12 of the value's scale (no tie broken, no kink crossed: those move a result by O(1));
            # elsewhere only up to a few hundred ulps, as the A spread
            tol_c = np.zeros(ref.shape)
            for big, small in runs_c:
                sb, ss = (np.where(both & np.isfinite(o), np.abs(o - ref64), 0.0) for o in (big, small))
                full = ((ss > 0) & (2 * ss <= sb) & (32 * ss >= sb)) | (sb <= 2.0**-12 * (mag + top / 64))
                tol_c = np.maximum(tol_c, np.where(full, 4 * sb, np.minimum(4 * sb, 512 * eps * (mag + top / 64))))
            tol = 4 * spread_b + np.maximum(tol_a, tol_c) + floor
            kind_bad = _kind(mine) != _kind(ref)
            if may_overflow is not None:
                kind_bad &= ~np.asarray(may_overflow)
            num_bad = np.isfinite(mine) & both & (np.abs(mine.astype(np.float64) - ref64) > tol)
            if shadow is not None:
                # PyTorch's float32 result overflowed where the float64 run did not: an intermediate sum
                # overflowed, in an order-dependent way; any result is accepted there
                kind_bad &= ~((_kind(ref) != 0) & (np.isfinite(shadow) | after_overflow))
                # an Inf where the float64 run has one (PyTorch's float32 sum stayed finite by its order)
                kind_bad &= ~(np.isinf(mine) & (mine == shadow))
                if padded_conv_nan:  # a NaN where PyTorch's float64 kernel has one (the padded taps)
                    kind_bad &= ~((_kind(mine) == 1) & (_kind(shadow) == 1))
                closer = np.abs(mine.astype(np.float64) - shadow) <= 2 * np.abs(ref64 - shadow) + tol
                num_bad &= ~(np.isfinite(shadow) & closer)
                if dtype == "float32":  # the correctly rounded float64 result, an overflow to ±inf included
                    rounded = shadow.astype(np.float32)
                    exact = (mine == rounded) & (ref != rounded)
                    kind_bad &= ~exact
                    num_bad &= ~exact
        for what, bad in (("nan", kind_bad & ((_kind(mine) == 1) | (_kind(ref) == 1))), ("inf", kind_bad),
                          ("value", num_bad)):
            bad = bad & ~unstable
            if bad.any():
                i = tuple(int(k) for k in np.argwhere(bad)[0])
                near = "" if shadow is None else f", float64 run {shadow[i]!r}"
                return what, f"at {i}: minitorch_cnn {mine[i]!r}, torch {ref[i]!r}{near} (tolerance {tol[i]:.3g})"
        return None
    unstable = np.zeros(ref.shape, bool)
    for o in runs_b:
        unstable |= o != ref
    bad = (mine != ref) & ~unstable
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        return "value", f"at {i}: minitorch_cnn {mine[i]!r}, torch {ref[i]!r}"
    return None


def _compare_snaps(where, op, mine, ref, others_a, others_b, floor_factor, shadow=None, others_s=(), eps=None,
                   padded_conv_nan=False, others_c=(), after_overflow=False, may_overflow=None, term_scale=None,
                   numbers=True, sized=True):
    """``numbers`` False: only type, shape, dtype and requires_grad are compared (ALLOWED_DIFFERENCES["winograd
    inf/NaN spread"]). ``sized`` False: only type, ndim, dtype and requires_grad (a value-shaped result after an
    overflow: the module doc)."""
    if ref is None or mine is None:
        if (ref is None) != (mine is None):
            return Finding("grad-none", where, op, f"minitorch_cnn {'None' if mine is None else 'a tensor'}, "
                                                   f"torch {'None' if ref is None else 'a tensor'}")
        return None
    if ref[0] != mine[0]:
        return Finding("type", where, op, f"minitorch_cnn gives a {mine[0]} ({mine[1]}), torch a {ref[0]} ({ref[1]})")
    if ref[0] != "tensor":
        return None
    for k, what in ((2, "shape"), (1, "dtype"), (4, "requires_grad")):
        if k == 2 and not sized:
            if len(ref[2]) != len(mine[2]):
                return Finding("ndim", where, op, f"minitorch_cnn shape {mine[2]}, torch {ref[2]}")
        elif ref[k] != mine[k]:
            return Finding(what, where, op, f"minitorch_cnn {mine[k]}, torch {ref[k]}")
    if not numbers or not sized:
        return None
    same = [o[3] for o in others_b if o and o[0] == "tensor" and o[2] == ref[2] and o[1] == ref[1]]
    same_a = [o[3] for o in others_a if o and o[0] == "tensor" and o[2] == ref[2] and o[1] == ref[1]]
    same_s = [o[3] for o in others_s if o and o[0] == "tensor" and o[2] == ref[2] and o[1] == ref[1]]
    if len(same_s) != len(same_a):
        same_s = []
    sh = None
    if ref[1].startswith("float") and shadow and shadow[0] == "tensor" and shadow[2] == ref[2] \
            and shadow[1] == "float64":
        sh = shadow[3]
    def fits(o):
        return o and o[0] == "tensor" and o[2] == ref[2] and o[1] == ref[1]
    same_c = [(b[3], s[3]) for b, s in others_c if fits(b) and fits(s)]
    if may_overflow is not None and may_overflow is not True and np.shape(may_overflow) != np.shape(ref[3]):
        may_overflow = None
    diff = compare_arrays(mine[3], ref[3], same_a, same, ref[1], floor_factor, sh, same_s, eps, padded_conv_nan,
                          same_c, after_overflow, may_overflow, term_scale)
    return None if diff is None else Finding(diff[0], where, op, diff[1])


_TO_FLOAT64 = ((".float()", ".double()"), ("T.float32", "T.float64"))


def shadow_program(prog):
    """``prog`` with float32 made float64 everywhere (leaves, casts, loss weights)."""
    def up(a):
        return a.astype(np.float64) if a.dtype == np.float32 else a

    def expr(e):
        for old, new in _TO_FLOAT64:
            e = e.replace(old, new)
        return e
    return replace(prog, leaves=[replace(leaf, base=up(leaf.base)) for leaf in prog.leaves],
                   stmts=[replace(st, expr=expr(st.expr)) for st in prog.stmts],
                   loss=[(n, up(w)) for n, w in prog.loss])


# aten ops whose float results are exact (data movement, selection, sign, comparison-based): not perturbed by
# RoundingNoise, so that ties and kinks the program makes stay ties and kinks
EXACT_ATEN = frozenset("""
    _to_copy clone copy copy_ contiguous cat stack index index_select gather scatter scatter_add where masked_fill
    masked_select constant_pad_nd reflection_pad2d replication_pad2d index_put _index_put_impl_ slice_backward
    select_backward index_select_backward max min amax amin maximum minimum max_pool2d_with_indices
    adaptive_max_pool2d max_pool2d_with_indices_backward adaptive_max_pool2d_backward relu threshold_backward
    abs neg sign clamp clamp_min clamp_max hardtanh hardtanh_backward sort topk zeros zeros_like ones ones_like
    full full_like fill new_zeros new_ones new_full new_empty empty empty_like empty_strided lift_fresh detach alias
    expand view _unsafe_view reshape permute transpose t squeeze unsqueeze select slice unbind split flip repeat
    embedding_dense_backward nll_loss nll_loss_backward nll_loss_forward dropout native_dropout
""".split())


class RoundingNoise(TorchDispatchMode):
    """Every float result PyTorch computes (forward and backward: autograd's kernels go through the dispatcher
    too) multiplied by 1 + k·amplitude·eps, k a random integer in [-4, 4]: a run with other, equally valid
    roundings. Where such runs move a result, its round-off depends on the rounding of each step (a tanh at
    saturation whose 1 - y² magnifies one ulp of y, a sum that cancels to ~0 whose terms PyTorch happens to
    cancel exactly, a chain of pow): that spread is the tolerance the input perturbations cannot find."""

    def __init__(self, amplitude, seed):
        super().__init__()
        self.amplitude = amplitude
        self.gen = torch.Generator().manual_seed(seed)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket.__name__.rstrip("_") in EXACT_ATEN:
            return out
        inputs = {t.untyped_storage().data_ptr() for t in torch.utils._pytree.tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor)}
        return torch.utils._pytree.tree_map(lambda t: self._noisy(t, inputs), out)

    def _noisy(self, t, inputs):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or not t.numel() \
                or t.untyped_storage().data_ptr() in inputs:  # a view of an input or written in place
            return t
        k = torch.randint(-4, 5, t.shape, generator=self.gen, dtype=torch.float64)
        eps = EPS[str(t.dtype).removeprefix("torch.")]
        return (t.double() * (1 + k * (self.amplitude * eps))).to(t.dtype)


def _numeric(findings):
    return findings and all(f.category.endswith("value") for f in findings)


class HardtanhNaNGrad(TorchDispatchMode):
    """PyTorch with one consistent hardtanh_backward at NaN inputs (ALLOWED_DIFFERENCES["hardtanh gradient at
    NaN"]): ``passes`` False gives 0 there, True the upstream gradient; every other element is PyTorch's own."""

    def __init__(self, passes):
        super().__init__()
        self.passes = passes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket is not torch.ops.aten.hardtanh_backward:
            return out
        grad, x = args[0], args[1]
        return torch.where(torch.isnan(x), grad if self.passes else torch.zeros_like(out), out)


_HARDTANH = re.compile(r"\b(hardtanh|relu6)\b")


def check(prog, perturbations=2, seed=0, mine=None):
    """Run ``prog`` on both engines; the findings (empty when they agree). ``mine``: the engine's ``Run``
    when given (the fuzzer's own tests pass one with planted round-off)."""
    mine = mine or execute(prog, mt)
    found = _check(prog, perturbations, seed, mine, contextlib.nullcontext)
    if found and any(_HARDTANH.search(st.expr) for st in prog.stmts):  # hardtanh's gradient at NaN: either form
        for passes in (False, True):
            if not _check(prog, perturbations, seed, mine, functools.partial(HardtanhNaNGrad, passes)):
                return []
    return found


def _check(prog, perturbations, seed, mine, torch_mode):
    """``check`` against PyTorch run under ``torch_mode()`` (a context: no change, or HardtanhNaNGrad)."""
    def execute_torch(p, bounds=False):
        with torch_mode():
            return execute(p, torch, bounds=bounds)

    ref = execute_torch(prog, bounds=not _has_float32(prog))  # a float64 program's term sizes (grad_scales)
    rng = np.random.default_rng(seed)

    def same_outcome(r):
        return (r.raised is None) == (ref.raised is None) and (r.back_raised is None) == (ref.back_raised is None)

    runs = {"A": [], "B": [], "small": []}
    for kind in ("B", "A"):
        for _ in range(perturbations):
            scales = _scales(prog, rng, kind)
            r = execute_torch(_perturbed(prog, scales))
            small = execute_torch(_perturbed(prog, scales, amplitude=2)) if kind == "A" else None
            if same_outcome(r) and (small is None or same_outcome(small)):
                runs[kind].append(r)
                if small is not None:
                    runs["small"].append(small)
    shadow = None
    if _has_float32(prog):
        shadow = execute_torch(shadow_program(prog), bounds=True)
        if (shadow.raised is None) != (ref.raised is None):
            shadow = None
    found = compare_runs(prog, mine, ref, runs["A"], runs["B"], shadow, runs["small"])
    if not _numeric(found):
        return found
    # only numbers disagree: the "C" runs (RoundingNoise, 8 ulps a step and 8x smaller; compare_arrays)
    runs_c = []
    for i in range(perturbations):
        pair = []
        for amplitude in (2.0, 0.25):
            with RoundingNoise(amplitude, seed=1000 * seed + i):
                pair.append(execute_torch(prog))
        if all(same_outcome(r) for r in pair):
            runs_c.append(tuple(pair))
    return compare_runs(prog, mine, ref, runs["A"], runs["B"], shadow, runs["small"], runs_c)


def _has_float32(prog):
    return any(leaf.base.dtype == np.float32 for leaf in prog.leaves) or any(
        "float32" in s.expr or ".float()" in s.expr for s in prog.stmts)


def _oracle_bug(exc):
    """PyTorch 2.13 failures that are its own bugs (``ALLOWED_DIFFERENCES``): the engine may succeed there."""
    return exc is not None and any(text in str(exc) for text in ORACLE_BUGS)


ORACLE_BUGS = (
    "Subtraction, the `-` operator, with a bool tensor",  # pow's backward with a bool exponent
    # ALLOWED_DIFFERENCES["adaptive_avg_pool2d empty backward"]: its forward succeeds on such an input
    "adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for non-batch dimensions",
)


def _overflowed(ref, shadow):
    """Whether PyTorch's float32 value has a NaN/Inf where its float64 run has a finite number."""
    if not (ref and shadow and ref[0] == shadow[0] == "tensor" and ref[2] == shadow[2] and ref[1] == "float32"):
        return False
    return bool(np.any(~np.isfinite(ref[3]) & np.isfinite(shadow[3])))


def _may_overflow(ref, bound):
    """Where a float32 conv2d output may overflow in an order-dependent way: its sum of |finite terms|
    (``conv_magnitudes``) above float32's max; None where that does not apply."""
    if bound is None or not (ref and ref[0] == "tensor" and ref[1] == "float32" and ref[2] == bound.shape):
        return None
    mask = bound > np.finfo(np.float32).max
    return mask if mask.any() else None


def _overflow_used(may, mine, ref):
    """Whether the engine's NaN/Inf positions differ from PyTorch's where ``may`` accepts it."""
    if may is None or not (mine and ref and mine[0] == ref[0] == "tensor" and mine[2] == ref[2]):
        return None
    return True if np.any((_kind(mine[3]) != _kind(ref[3])) & may) else None


def _overflow_rule_used(mine, ref, shadow, after_overflow):
    """Whether the engine's NaN/Inf positions differ from PyTorch's float32 ones where the after-overflow rule
    accepts it (``compare_arrays``: PyTorch's NaN/Inf where the float64 run is finite, or after an overflow)."""
    if not (mine and ref and shadow and mine[0] == ref[0] == shadow[0] == "tensor" and mine[2] == ref[2] == shadow[2]
            and ref[1] == "float32"):
        return False
    with np.errstate(all="ignore"):
        accepted = (_kind(ref[3]) != 0) & (np.isfinite(shadow[3]) | after_overflow)
    return bool(np.any((_kind(mine[3]) != _kind(ref[3])) & accepted))


# results whose shape depends on values: a subscript holding a comparison (``v[v > 0]``), nonzero and the like
_VALUE_SHAPED = re.compile(r"\[[^\[\]]*(?:[<>]=?|==|!=)[^\[\]]*\]|\b(?:nonzero|masked_select|argwhere|unique)\(")


def _value_shaped(expr, ref_values):
    """Whether the expression's result has a shape that depends on values: ``_VALUE_SHAPED``, or a subscript by
    a computed bool value (``v3[v5]``)."""
    if _VALUE_SHAPED.search(expr):
        return True
    return any((ref_values.get(name) or ("",))[0] == "tensor" and ref_values[name][1] == "bool"
               for name in re.findall(r"\[(v\d+)\]", expr))


_UNPADDED = re.compile(r"padding=(0|'valid'|\(0, 0\))[,)]")


def _first_padded_float32_conv(prog, ref, stop):
    """The index of the program's first float32 conv2d with padding (len(prog.stmts) if none): from there
    on, its values and all gradients may hold the NaN of ALLOWED_DIFFERENCES["conv padding NaN"]."""
    for i, st in enumerate(prog.stmts[:stop]):
        if st.expr.startswith("F.conv2d(") and not _UNPADDED.search(st.expr) and ref.values[st.name][1] == "float32":
            return i
    return len(prog.stmts)


_NAME = re.compile(r"\b[xv]\d+\b")


def downstream(prog, names):
    """``names`` and the statements computed from them, directly or through other statements."""
    out = set(names)
    for st in prog.stmts:
        if out & set(_NAME.findall(st.expr)):
            out.add(st.name)
    return out


def upstream(prog, names):
    """``names`` and the leaves and statements they are computed from."""
    out = set(names)
    for st in reversed(prog.stmts):
        if st.name in out:
            out |= set(_NAME.findall(st.expr))
    return out


def _padded_nan_used(mine, ref, shadow):
    """Whether the engine's value holds a NaN accepted by ALLOWED_DIFFERENCES["conv padding NaN"]."""
    if not (mine and ref and shadow and mine[0] == ref[0] == shadow[0] == "tensor" and mine[2] == ref[2] == shadow[2]
            and ref[1].startswith("float")):
        return False
    return bool(np.any(np.isnan(mine[3]) & ~np.isnan(ref[3]) & np.isnan(shadow[3])))


def compare_runs(prog, mine, ref, runs_a, runs_b, shadow=None, runs_small=(), runs_c=()):
    floor_factor = 64.0 if prog.uses_winograd else 1.0
    eps = EPS["float32"] if _has_float32(prog) else None  # a float64 value may carry float32 rounding
    found = []
    stop_ref = ref.raised[0] if ref.raised else len(prog.stmts)
    stop_mine = mine.raised[0] if mine.raised else len(prog.stmts)
    if stop_mine < stop_ref:
        exc = mine.raised[1]
        st = prog.stmts[stop_mine]
        found.append(Finding("raise", st.name, st.op, f"minitorch_cnn raised {type(exc).__name__}: "
                             f"{str(exc)[:200]}; torch succeeded"))
    elif stop_ref < stop_mine and not _oracle_bug(ref.raised[1]):
        exc = ref.raised[1]
        st = prog.stmts[stop_ref]
        found.append(Finding("no-raise", st.name, st.op, f"torch raised {type(exc).__name__}: {str(exc)[:200]}; "
                             "minitorch_cnn succeeded"))
    sh_values = shadow.values if shadow else {}
    first_conv = _first_padded_float32_conv(prog, ref, min(stop_ref, stop_mine))
    overflowed = False
    conv_overflow = None  # True once a float32 conv2d's overflow allowance was used (ALLOWED_DIFFERENCES)
    spreads = any(ref.spreads.values()) or ref.grad_spreads or None  # ALLOWED_DIFFERENCES["winograd inf/NaN spread"]
    # a Winograd conv2d with an inf/NaN or huge operand, and all that follows from it: its numbers are meaningless
    meaningless = downstream(prog, {name for name, spread in ref.spreads.items() if spread})
    after_nan = set()  # the values computed from a NaN accepted under ALLOWED_DIFFERENCES["conv padding NaN"]
    after_used = set()  # the values computed from one where the after-overflow rule was used
    unsized = set()  # value-shaped results there, and what follows (after-overflow rule: the module doc)
    for i, st in enumerate(prog.stmts[: min(stop_ref, stop_mine)]):
        may = conv_overflow or ref.spreads.get(st.name) or st.name in after_nan or _may_overflow(ref.values[st.name],
                                                                         shadow.bounds.get(st.name) if shadow else None)
        compare = functools.partial(
            _compare_snaps, st.name, st.op, mine.values[st.name], ref.values[st.name],
            [r.values.get(st.name) for r in runs_a], [r.values.get(st.name) for r in runs_b], floor_factor,
            others_s=[r.values.get(st.name) for r in runs_small], eps=eps, padded_conv_nan=i >= first_conv,
            others_c=[(b.values.get(st.name), s.values.get(st.name)) for b, s in runs_c], after_overflow=overflowed,
            may_overflow=may, numbers=st.name not in meaningless)
        sh = sh_values.get(st.name)
        if st.name in after_used and _value_shaped(st.expr, ref.values):
            unsized |= downstream(prog, {st.name})
        f = compare(shadow=sh, sized=st.name not in unsized)
        if st.name in unsized and not f and sh and mine.values[st.name] and sh[2:3] != mine.values[st.name][2:3]:
            f = Finding("shape", st.name, st.op, f"minitorch_cnn {mine.values[st.name][2]}, torch's float64 run "
                                                 f"{sh[2]} (torch {ref.values[st.name][2]})")
        # the float64 run accepted what PyTorch's float32 one (an overflow inside) does not
        if _overflow_rule_used(mine.values[st.name], ref.values[st.name], sh, overflowed) or (
                sh and not f and st.name not in unsized and compare()):
            after_used |= downstream(prog, {st.name}) - {st.name}
        if i >= first_conv and _padded_nan_used(mine.values[st.name], ref.values[st.name], sh_values.get(st.name)):
            after_nan |= downstream(prog, {st.name}) - {st.name}
        overflowed = overflowed or _overflowed(ref.values[st.name], sh_values.get(st.name))
        conv_overflow = conv_overflow or _overflow_used(may, mine.values[st.name], ref.values[st.name])
        if f:
            found.append(f)
    if found or ref.raised:
        return found
    if _oracle_bug(ref.back_raised):
        return found
    if any(name in unsized and (mine.values[name] or ("",))[2:3] != (ref.values[name] or ("",))[2:3]
           for name, _ in prog.loss):  # the engine's loss term has another shape (after-overflow rule)
        return found
    if (ref.back_raised is None) != (mine.back_raised is None):
        who, exc = ("minitorch_cnn", mine.back_raised) if mine.back_raised else ("torch", ref.back_raised)
        found.append(Finding("backward-raise", "backward", "backward", f"only {who} raised {type(exc).__name__}: "
                             f"{str(exc)[:200]}"))
        return found
    grad_meaningless = upstream(prog, meaningless | unsized) if meaningless or unsized else set()
    for what, get in (("grad", lambda r: r.grads), ("leaf", lambda r: r.leaves_after)):
        for name, r in get(ref).items():
            may, scale = conv_overflow or spreads, None
            if what == "grad" and shadow:
                may = may or _may_overflow(r, shadow.grad_bounds.get(name))
            if what == "grad":
                scale = (shadow or ref).grad_scales.get(name)
            f = _compare_snaps(f"{name}.grad" if what == "grad" else name, what, get(mine).get(name), r,
                               [get(x).get(name) for x in runs_a], [get(x).get(name) for x in runs_b], floor_factor,
                               get(shadow).get(name) if shadow else None, [get(x).get(name) for x in runs_small], eps,
                               first_conv < len(prog.stmts), [(get(b).get(name), get(s).get(name)) for b, s in runs_c],
                               overflowed, may, scale, numbers=not (what == "grad" and name in grad_meaningless))
            if f:
                if not f.category.startswith(what):
                    f.category = f"{what}-{f.category}"
                found.append(f)
    return found


# ---------------------------------------------------------------- feature detection
_NEEDS = [(re.compile(r"\bT\.(\w+)"), lambda n: hasattr(mt, n)),
          (re.compile(r"\bF\.(\w+)"), lambda n: hasattr(mt.nn.functional, n))]
_METHOD = re.compile(r"[\])\w]\.([A-Za-z_]\w*)")
_OPERATORS = {"**": "__pow__", "@": "__matmul__", "//": "__floordiv__", "%": "__mod__", "~": "__invert__",
              "&": "__and__", "|": "__or__", "^": "__xor__"}


def exists_in_engine(expr):
    """Whether every name the expression calls exists in minitorch_cnn (today's ops and tomorrow's)."""
    for pattern, has in _NEEDS:
        if not all(has(name) for name in pattern.findall(expr)):
            return False
    methods = _METHOD.findall(re.sub(r"\b[TF]\.\w+", "", expr))
    if not all(name in ("values", "indices") or hasattr(mt.Tensor, name) for name in methods):
        return False
    return all(hasattr(mt.Tensor, dunder) for sym, dunder in _OPERATORS.items() if sym in expr)


# ---------------------------------------------------------------- generating programs
SPECIAL = {"float32": [0.0, -0.0, 1.0, -1.0, 6.0, np.nan, np.inf, -np.inf, 3e38, 1e30, 1e-30, 1e-40, -1e-45],
           "float64": [0.0, -0.0, 1.0, -1.0, 6.0, np.nan, np.inf, -np.inf, 1e300, 1e30, 1e-300, 1e-310, -5e-324]}

KINKS = [0.0, -0.0, 1.0, -1.0, 6.0, 0.5, 2.0, -2.0]


class Gen:
    """Builds one program; PyTorch runs each candidate statement to learn the shapes and dtypes."""

    def __init__(self, rng, families):
        self.rng = rng
        self.families = families
        self.prog = Program([], [])
        self.env = {"T": torch, "F": torch.nn.functional}
        self.meta = {}  # name -> (shape, dtype, requires_grad, all finite)
        self.pending = []

    # --- random pieces
    def chance(self, p):
        return self.rng.random() < p

    def pick_from(self, items):
        return items[int(self.rng.integers(len(items)))]

    def size(self):
        return self.pick_from([0, 1, 1, 1, 2, 2, 3, 3, 4, 5])

    def shape(self, ndim=None):
        ndim = self.pick_from([0, 1, 1, 2, 2, 2, 3, 3, 4]) if ndim is None else ndim
        s = tuple(self.size() for _ in range(ndim))
        while np.prod(s) > MAX_ELEMENTS // 2:
            s = tuple(max(1, d // 2) for d in s)
        return s

    def dim(self, ndim, extra=0):
        n = max(ndim + extra, 1)
        if self.chance(0.03):
            return n  # out of range: both must raise
        return int(self.rng.integers(-n, n))

    def values(self, dtype, shape):
        rng = self.rng
        n = int(np.prod(shape))
        if dtype == "bool":
            return np.asarray(rng.random(shape) < 0.5)
        if dtype.startswith("int"):
            return np.asarray(rng.integers(-4, 5, size=shape)).astype(dtype)
        style = self.pick_from(["normal", "normal", "normal", "round", "round", "positive", "special", "kinks", "kinks"])
        if style == "normal":
            a = rng.standard_normal(shape) * self.pick_from([1.0, 1.0, 3.0, 100.0, 1e-3])
        elif style == "round":
            a = rng.integers(-3, 4, size=shape) * self.pick_from([1.0, 0.5])
        elif style == "positive":
            a = np.abs(rng.standard_normal(shape)) + 0.1
        else:  # special values, or the kinks of relu, abs, relu6, hardtanh and the clamps' bounds
            a = rng.standard_normal(shape)
            mask = rng.random(shape) < (0.3 if style == "special" else 0.5)
            values = SPECIAL[dtype] if style == "special" else KINKS
            picks = np.array(values)[rng.integers(len(values), size=shape)]
            a = np.where(mask, picks, a)
        with np.errstate(all="ignore"):
            return np.asarray(a).astype(dtype).reshape(shape) if n else np.zeros(shape, dtype)

    def _make_view(self, shape):
        """A contiguous base and a NumPy view of it with ``shape``: transposed, strided or offset."""
        nd = len(shape)
        kind = self.pick_from(["T", "strided", "offset"]) if nd else None
        if kind == "T" and nd >= 2:
            return tuple(reversed(shape)), ".T"
        if kind == "strided":
            return shape[:-1] + (2 * shape[-1],), "[..., ::2]"
        if kind == "offset":
            return (shape[0] + 1,) + shape[1:], "[1:]"
        return shape, ""

    # --- values of the program
    def new_leaf(self, shape, dtype=None, grad=None, values=None, contiguous=False):
        dtype = dtype or self.pick_from(["float32", "float32", "float32", "float64", "float64", "int64", "int32",
                                         "bool"])
        if self.chance(0.25) and values is None and not contiguous:
            base_shape, view = self._make_view(tuple(shape))
        else:
            base_shape, view = tuple(shape), ""
        base = self.values(dtype, base_shape) if values is None else np.asarray(values, dtype=dtype).reshape(shape)
        grad = (dtype.startswith("float") and self.chance(0.85)) if grad is None else grad
        name = f"x{len(self.prog.leaves) + len(self.pending)}"
        leaf = Leaf(name, base, view, bool(grad and dtype.startswith("float")))
        self.pending.append(leaf)
        t = torch.from_numpy(_leaf_array(leaf))
        self.env[name] = t.requires_grad_() if leaf.grad else t
        self._learn(name, self.env[name])
        return name

    def _learn(self, name, t):
        finite = bool(torch.isfinite(t).all()) if t.dtype.is_floating_point else True
        self.meta[name] = (tuple(t.shape), str(t.dtype).removeprefix("torch."), t.requires_grad, finite)

    def pick(self, kind="any", ndim=None, min_ndim=0, new=0.3, shape=None):
        """An existing value (repeated use) or a new leaf; ``kind`` any / float / int / bool."""
        def fits(m):
            if kind == "float" and not m[1].startswith("float"):
                return False
            if kind in ("int", "bool") and not m[1].startswith(kind):
                return False
            return (ndim is None or len(m[0]) == ndim) and len(m[0]) >= min_ndim
        names = [n for n, m in self.meta.items() if fits(m)]
        if names and not self.chance(new):
            return self.pick_from(names)
        if shape is None:
            shape = self.shape(ndim if ndim is not None else self.pick_from([d for d in range(min_ndim, 5)]))
        dtype = {"float": self.pick_from(["float32", "float64"]), "int": "int64", "bool": "bool"}.get(kind)
        return self.new_leaf(shape, dtype)

    def shape_of(self, name):
        return self.meta[name][0]

    def dtype_of(self, name):
        return self.meta[name][1]

    def broadcastable(self, shape):
        """A shape that broadcasts with ``shape``: a suffix of it, some dims set to 1, maybe a new leading dim."""
        s = list(shape[int(self.rng.integers(0, len(shape) + 1)):] if shape else [])
        s = [1 if self.chance(0.3) else d for d in s]
        if self.chance(0.15):
            s = [self.pick_from([1, 2])] + s
        if self.chance(0.03) and s:
            s[-1] = s[-1] + 1  # does not broadcast: both must raise
        return tuple(s)

    # --- the loop
    def statement(self):
        family = self.pick_from(self.families)
        for _ in range(30):
            self.pending = []
            made = FAMILIES[family](self)
            if made is None:
                self._drop_pending()
                continue
            expr, algo = made if isinstance(made, tuple) else (made, None)
            if not exists_in_engine(expr):
                self._drop_pending()
                family = self.pick_from(self.families)
                continue
            name = f"v{len(self.prog.leaves) + len(self.pending) + len(self.prog.stmts)}"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value = eval(_compiled(expr), self.env)
                ok = isinstance(value, torch.Tensor)
            except Exception:  # noqa: BLE001
                ok = False
                if self.chance(0.15):  # keep an error now and then: the engine must raise as well
                    self.prog.leaves += self.pending
                    self.prog.stmts.append(Stmt(name, expr, family, algo))
                    return False
            if ok:
                self.prog.leaves += self.pending
                self.prog.stmts.append(Stmt(name, expr, family, algo))
                self.env[name] = value
                self._learn(name, value)
                return True
            self._drop_pending()
        return True

    def _drop_pending(self):
        for leaf in self.pending:
            self.env.pop(leaf.name, None)
            self.meta.pop(leaf.name, None)
        self.pending = []

    def build(self, n_stmts):
        for _ in range(n_stmts):
            if self.statement() is False:
                break
        if KERNEL_PATHS:
            self.prog.kernel_path = self.pick_from(KERNEL_PATHS)
        self.prog.leaves = [leaf for leaf in self.prog.leaves if _used(leaf.name, self.prog.stmts)]
        if self.prog.stmts and self.prog.stmts[-1].name not in self.meta:
            return self.prog  # ends in an error: nothing to differentiate
        used_later = set()
        for st in self.prog.stmts:
            used_later |= set(re.findall(r"\bv\d+\b", st.expr))
        weights = [1.0, -1.0, 2.0, -2.0, 0.5, -0.5]
        for st in self.prog.stmts:
            shape, dtype, rg, _ = self.meta[st.name]
            if rg and dtype.startswith("float") and (st.name not in used_later or self.chance(0.3)):
                w = np.array(weights)[self.rng.integers(len(weights), size=shape)].astype(dtype).reshape(shape)
                self.prog.loss.append((st.name, w))
        return self.prog


def _used(name, stmts):
    pattern = re.compile(rf"\b{name}\b")
    return any(pattern.search(s.expr) for s in stmts)


def _shape_text(shape, star=False):
    inner = ", ".join(str(int(d)) for d in shape)
    return inner if star else f"({inner}{',' if len(shape) == 1 else ''})"


# ---------------------------------------------------------------- the op families
def gen_unary(g):
    a = g.pick("float" if g.chance(0.85) else "any")
    lo, hi = sorted(g.pick_from([-1.0, 0.0, 0.5, 1.0, 2.0, -2.0, 6.0]) for _ in range(2))
    if g.chance(0.05):
        lo, hi = hi + 1, lo  # min > max: PyTorch's rule for clamp and hardtanh
    return g.pick_from([
        "T.exp({a})", "{a}.exp()", "T.log({a})", "{a}.log()", "T.sqrt({a})", "{a}.sqrt()", "T.abs({a})", "abs({a})",
        "{a}.abs()", "-{a}", "T.sin({a})", "T.cos({a})", "T.sinh({a})", "T.cosh({a})", "T.tanh({a})", "{a}.tanh()",
        "T.sigmoid({a})", "{a}.sigmoid()", "F.sigmoid({a})", "F.tanh({a})", "F.relu({a})", "T.relu({a})",
        "{a}.relu()", "F.relu6({a})", "F.hardtanh({a})", "F.hardtanh({a}, {lo}, {hi})",
        "F.hardtanh({a}, min_val={lo}, max_val={hi})", "T.clamp({a}, min={lo}, max={hi})", "T.clamp({a}, {lo})",
        "{a}.clamp(max={hi})", "T.clip({a}, {lo}, {hi})", "{a}.clip(min={lo})", "{a}.clone()", "{a}.detach()",
        "F.dropout({a}, p=0.0)", "F.dropout({a}, p=0.5, training=False)", "F.dropout({a}, 0.3, False)",
    ]).format(a=a, lo=lo, hi=hi)


def gen_softmax(g):
    a = g.pick("float", min_ndim=0)
    d = g.dim(len(g.shape_of(a)))
    return g.pick_from(["F.softmax({a}, dim={d})", "F.log_softmax({a}, dim={d})", "{a}.softmax({d})",
                        "{a}.log_softmax(dim={d})", "F.softmax({a}, {d})"]).format(a=a, d=d)


def _operand(g, a):
    """The other operand of a binary op: ``a`` itself, a broadcastable leaf or value, or a Python number."""
    r = g.rng.random()
    if r < 0.15:
        return a
    if r < 0.35:
        return repr(g.pick_from([0, 1, 2, -1, 3, 0.5, -2.5, 1e30, 0.0]))
    if r < 0.45:
        return g.pick()
    dtype = g.dtype_of(a) if g.chance(0.7) else None
    return g.new_leaf(g.broadcastable(g.shape_of(a)), dtype)


def gen_binary(g):
    a = g.pick()
    b = _operand(g, a)
    if g.chance(0.5):
        op = g.pick_from(["+", "-", "*", "/", "**", "+", "*"])
        a, b = (b, a) if g.chance(0.2) else (a, b)
        return f"{a} {op} {b}"
    return g.pick_from(["T.pow({a}, {b})", "{a}.pow({b})", "T.maximum({a}, {b})", "T.minimum({a}, {b})",
                        "{a}.add({b})", "{a}.mul({b})", "{a}.sub({b})", "{a}.div({b})", "T.add({a}, {b})",
                        "T.mul({a}, {b})", "T.sub({a}, {b})", "T.div({a}, {b})"]).format(a=a, b=b)


def gen_compare(g):
    a = g.pick()
    b = _operand(g, a)
    return f"{a} {g.pick_from(['>', '<', '>=', '<=', '==', '!='])} {b}"


def gen_where(g):
    a = g.pick()
    b = _operand(g, a)
    if g.chance(0.5):
        cond = f"{a} {g.pick_from(['>', '<=', '=='])} {g.pick_from(['0', '1.0', b])}"
    else:
        cond = g.new_leaf(g.broadcastable(g.shape_of(a)), "bool")
    if g.chance(0.2):  # a Python number on either side
        return g.pick_from([f"T.where({cond}, {a}, 0.0)", f"T.where({cond}, 1.5, {a})", f"T.where({cond}, {a}, 2)"])
    return f"T.where({cond}, {a}, {b})"


def gen_reduce(g):
    a = g.pick("float" if g.chance(0.8) else "any")
    nd = len(g.shape_of(a))
    d, d2 = g.dim(nd), g.dim(nd)
    k = g.pick_from([True, False])
    return g.pick_from([
        "{a}.sum()", "T.sum({a})", "{a}.sum(dim={d})", "{a}.sum(dim={d}, keepdim=True)", "{a}.sum(({d}, {d2}))",
        "T.sum({a}, dim={d}, keepdim={k})", "{a}.sum({d})", "{a}.mean()", "T.mean({a}, dim={d}, keepdim={k})",
        "{a}.mean(({d}, {d2}))", "{a}.max()", "{a}.min()", "T.max({a})", "T.max({a}, dim={d}).values",
        "T.max({a}, {d}, keepdim=True)[0]", "{a}.min(dim={d}).indices", "{a}.max(dim={d})[1]",
        "{a}.min({d}, {k})[0]", "T.min({a}, dim={d}, keepdim={k}).values", "{a}.argmax()", "T.argmax({a}, dim={d})",
        "{a}.argmax(dim={d}, keepdim=True)", "T.argmin({a}, dim={d})", "{a}.argmin()",
        "T.cumsum({a}, dim={d})", "{a}.cumsum({d})", "T.norm({a})", "{a}.norm(dim={d}, keepdim={k})",
        "T.norm({a}, p=1)", "T.linalg.vector_norm({a}, ord=2, dim={d})", "T.linalg.norm({a})",
        "{a}.all()", "T.any({a}, dim={d})", "{a}.any(dim={d}, keepdim={k})", "T.all({a}, {d})",
    ]).format(a=a, d=d, d2=d2, k=k)


def _factor(g, n):
    k = g.pick_from([1, 2, 2, 3, 3, 4])
    dims = []
    for _ in range(k - 1):
        divs = [d for d in range(1, n + 1) if n % d == 0] if n else [0, 1, 2]
        d = g.pick_from(divs)
        dims.append(d)
        n = n // d if d else 0
    dims.append(n if dims.count(0) == 0 else g.pick_from([1, 2, 3]))
    order = list(g.rng.permutation(len(dims)))
    dims = [dims[i] for i in order]
    if g.chance(0.3) and all(dims):
        dims[int(g.rng.integers(len(dims)))] = -1
    return dims


def gen_reshape(g):
    a = g.pick()
    shape = g.shape_of(a)
    nd = len(shape)
    new = _factor(g, int(np.prod(shape)))
    s, e = sorted((g.dim(nd), g.dim(nd)), key=lambda d: d % max(nd, 1))
    return g.pick_from([
        "{a}.reshape({new})", "{a}.reshape({star})", "T.reshape({a}, {new})", "{a}.view({star})", "{a}.view(-1)",
        "{a}.flatten()", "T.flatten({a}, {s}, {e})", "{a}.flatten({s})", "{a}.contiguous()",
    ]).format(a=a, new=_shape_text(new), star=_shape_text(new, star=True), s=s, e=e)


def gen_axes(g):
    a = g.pick()
    shape = g.shape_of(a)
    nd = len(shape)
    perm = ", ".join(str(int(p) - (nd if g.chance(0.2) else 0)) for p in g.rng.permutation(nd))
    # (not T.permute of a 0-d tensor: PyTorch 2.13's argument parser rejects ``torch.permute(t, ())``)
    choices = ["{a}.permute({perm})"] + (["T.permute({a}, ({perm}{c}))"] if nd else []) + ["{a}.transpose({d0}, {d1})",
               "T.transpose({a}, {d0}, {d1})", "{a}.squeeze()", "{a}.squeeze({d0})", "T.squeeze({a}, {d0})",
               "{a}.unsqueeze({u})", "T.unsqueeze({a}, {u})", "{a}.expand({ex})", "{a}.expand_as({b})"]
    if nd == 2:
        choices += ["{a}.T", "{a}.t()"]
    if nd < 2:
        choices += ["{a}.t()"]
    ex = [g.pick_from([1, 2, 3]) if d == 1 else (-1 if g.chance(0.5) else d) for d in shape]
    if g.chance(0.4):
        ex = [g.pick_from([1, 2])] + ex
    expr = g.pick_from(choices)
    b = g.new_leaf(tuple(d if d != -1 else shape[i - (len(ex) - nd)] for i, d in enumerate(ex))) \
        if "{b}" in expr else None
    return expr.format(a=a, perm=perm, c="," if nd == 1 else "", d0=g.dim(nd), d1=g.dim(nd), u=g.dim(nd, 1),
                       ex=_shape_text(ex, star=True) or "()", b=b)


def gen_cast(g):
    a = g.pick()
    if g.dtype_of(a).startswith("float") and not g.meta[a][3]:
        return None  # NaN/Inf to an integer is undefined in C: not a question for the engine
    return g.pick_from(["{a}.float()", "{a}.double()", "{a}.long()", "{a}.int()", "{a}.bool()",
                        "{a}.to(T.float64)", "{a}.to(T.float32)", "{a}.to(dtype=T.int64)",
                        "{a}.type(T.float64)"]).format(a=a)


def gen_join(g):
    a = g.pick(min_ndim=1 if g.chance(0.9) else 0)
    shape = g.shape_of(a)
    nd = len(shape)
    d = g.dim(nd)
    dtype = g.dtype_of(a) if g.chance(0.85) else None
    if g.chance(0.5):
        other = list(shape)
        if nd:
            other[d % nd] = g.pick_from([0, 1, 2, 3])
        b = a if g.chance(0.3) else g.new_leaf(tuple(other), dtype)
        return g.pick_from(["T.cat([{a}, {b}], dim={d})", "T.cat(({a}, {b}, {a}), {d})", "T.concat([{b}, {a}], {d})",
                            "T.cat([{a}], dim={d})"]).format(a=a, b=b, d=d)
    b = a if g.chance(0.3) else g.new_leaf(shape, dtype)
    return g.pick_from(["T.stack([{a}, {b}], dim={dn})", "T.stack(({b}, {a}, {a}))"]).format(
        a=a, b=b, dn=g.dim(nd, 1))


def gen_index(g):
    a = g.pick(min_ndim=1 if g.chance(0.95) else 0)
    shape = g.shape_of(a)
    r = g.rng.random()
    if r < 0.5 or not shape:
        parts = []
        for n in shape[: int(g.rng.integers(1, len(shape) + 1))] if shape else []:
            c = g.rng.random()
            if c < 0.3 and n:
                parts.append(str(int(g.rng.integers(-n, n))))
            elif c < 0.85:
                start = g.pick_from(["", "", "1", "-2", "0"])
                stop = g.pick_from(["", "", "2", "-1", str(n + 2)])
                step = g.pick_from(["", "", ":2", ":3", ":1"] + ([":-1"] if g.chance(0.05) else []))
                parts.append(f"{start}:{stop}{step}")
            else:
                parts.append(":")
            if g.chance(0.1):
                parts.append("None")
        if g.chance(0.15):
            parts.insert(int(g.rng.integers(0, len(parts) + 1)), "...")
        if not parts:
            parts = [g.pick_from(["None", "...", "()"])]
        return f"{a}[{', '.join(parts)}]"
    n = shape[0]
    count = g.pick_from([0, 1, 2, 3, 4])
    idx = [int(i) for i in g.rng.integers(-n, n, size=count)] if n else []
    if r < 0.65:
        return f"{a}[{idx}]" if count else None
    if r < 0.8:
        dtype = g.pick_from(["", ", dtype=T.int32"])
        if len(shape) >= 2 and g.chance(0.4):
            m = shape[1]
            idx2 = [int(i) for i in g.rng.integers(-m, m, size=len(idx))] if m else []
            return f"{a}[T.tensor({idx}{dtype}), T.tensor({idx2})]" if m or not idx else None
        if len(shape) >= 2 and g.chance(0.4) and shape[1]:
            idx = [int(i) for i in g.rng.integers(-shape[1], shape[1], size=count)]
            return f"{a}[:, T.tensor({idx})]"
        return f"{a}[T.tensor({idx}{dtype})]" if count else None
    if g.dtype_of(a) != "bool" and g.chance(0.5):
        return f"{a}[{a} > 0]"
    mask = g.new_leaf(shape[: int(g.rng.integers(1, len(shape) + 1))], "bool")
    return f"{a}[{mask}]"


def gen_matmul(g):
    a = g.pick("float", min_ndim=1)
    shape = g.shape_of(a)
    dtype = g.dtype_of(a) if g.chance(0.9) else None
    k = shape[-1]
    m = g.pick_from([1, 2, 3])
    r = g.rng.random()
    if r < 0.25 and len(shape) == 3:
        b = g.new_leaf((shape[0], k, m), dtype)
        return f"T.bmm({a}, {b})"
    if r < 0.35 and len(shape) <= 2:
        if len(shape) == 1:
            return f"T.dot({a}, {g.new_leaf((k,), dtype)})"
        return g.pick_from([f"T.mm({a}, {g.new_leaf((k, m), dtype)})", f"{a}.mm({g.new_leaf((k, m), dtype)})",
                            f"T.mv({a}, {g.new_leaf((k,), dtype)})", f"{a}.mv({g.new_leaf((k,), dtype)})"])
    if r < 0.45:
        w = g.new_leaf((m, k), dtype)
        bias = g.new_leaf((m,), dtype) if g.chance(0.6) else "None"
        return g.pick_from([f"F.linear({a}, {w}, {bias})", f"F.linear({a}, {w})"])
    bshape = g.pick_from([(k,), (k, m), (2, k, m), (1, k, m)])
    if len(shape) >= 3 and g.chance(0.5):
        bshape = shape[:-2] + (k, m)
    b = g.new_leaf(bshape, dtype)
    return g.pick_from([f"{a} @ {b}", f"T.matmul({a}, {b})", f"{a}.matmul({b})"])


def _image(g, min_size=1):
    names = [n for n, m in g.meta.items() if len(m[0]) == 4 and m[1].startswith("float") and min(m[0][2:]) >= min_size]
    if names and g.chance(0.6):
        return g.pick_from(names)
    shape = (g.pick_from([1, 2]), g.pick_from([1, 2, 3, 4]), g.pick_from([1, 2, 3, 4, 5, 6, 7]),
             g.pick_from([1, 2, 3, 4, 5, 6, 7]))
    if g.chance(0.05):
        shape = (0,) + shape[1:]
    if g.chance(0.1):
        shape = shape[1:]  # unbatched (C, H, W)
    return g.new_leaf(shape, g.pick_from(["float32", "float64"]))


def gen_conv(g):
    x = _image(g)
    shape = g.shape_of(x)
    c = shape[-3]
    groups = g.pick_from([d for d in range(1, c + 1) if c % d == 0]) if c else 1
    out = groups * g.pick_from([1, 1, 2, 3])
    kh, kw = g.pick_from([1, 2, 3, 3, 3]), g.pick_from([1, 2, 3, 3, 3])
    w = g.new_leaf((out, c // groups if c else 1, kh, kw), g.dtype_of(x))
    b = g.new_leaf((out,), g.dtype_of(x)) if g.chance(0.6) else "None"
    stride = g.pick_from([1, 1, 1, 2, 3, (1, 2)])
    dilation = g.pick_from([1, 1, 1, 2, (2, 1)])
    padding = g.pick_from([0, 0, 1, 2, (1, 0), "'valid'"] + (["'same'"] if stride == 1 else []))
    algo = g.pick_from(list(CONV_ALGORITHMS))
    args = f"stride={stride}, padding={padding}, dilation={dilation}, groups={groups}"
    return f"F.conv2d({x}, {w}, {b}, {args})", algo


def gen_pool(g):
    x = _image(g)
    k = g.pick_from([1, 2, 2, 3, (2, 3)])
    kmin = min(k) if isinstance(k, tuple) else k
    stride = g.pick_from(["None", 1, 2, 3])
    padding = g.pick_from([0, 0, kmin // 2])
    ceil = g.pick_from([False, False, True])
    r = g.rng.random()
    if r < 0.35:
        dil = g.pick_from([1, 1, 2])
        ks = k if isinstance(k, tuple) else (k, k)
        st = ks if stride == "None" else (stride, stride)
        if not all(_windows_touch(n, kk, ss, padding, dil, ceil) for n, kk, ss in zip(g.shape_of(x)[-2:], ks, st)):
            return None  # PyTorch 2.13's backward writes out of bounds for an all-padding window (heap corruption)
        call = f"F.max_pool2d({x}, {k}, stride={stride}, padding={padding}, dilation={dil}, ceil_mode={ceil}"
        return call + g.pick_from([")", ")", ", return_indices=True)[0]", ", return_indices=True)[1]"])
    if r < 0.7:
        cip = g.pick_from([True, False])
        div = g.pick_from(["None", "None", 1, 3])
        return (f"F.avg_pool2d({x}, {k}, stride={stride}, padding={padding}, ceil_mode={ceil}, "
                f"count_include_pad={cip}, divisor_override={div})")
    size = g.pick_from([1, 2, 3, (2, 1), (1, 3)])
    return g.pick_from([f"F.adaptive_avg_pool2d({x}, {size})", f"F.adaptive_max_pool2d({x}, {size})",
                        f"F.adaptive_max_pool2d({x}, {size}, return_indices=True)[1]"])


def _windows_touch(n, k, s, p, d, ceil):
    """Whether every max-pooling window along an axis of size n has a tap inside the image."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1  # PyTorch's pooling_output_shape
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return all(any(0 <= o * s - p + j * d < n for j in range(k)) for o in range(out))


def gen_batch_norm(g):
    if g.chance(0.5):
        x = _image(g)
    else:
        x = g.pick("float", ndim=2)
    shape = g.shape_of(x)
    if len(shape) < 2:
        return None
    t = g.env[x]
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
        return None  # PyTorch 2.13's CPU backward gives wrong input gradients for such a layout (ALLOWED_DIFFERENCES)
    c, dtype = shape[1], g.dtype_of(x)
    training = g.pick_from([True, False])
    # contiguous (c,) tensors: PyTorch 2.13's CPU backward reads a strided weight as if it were contiguous
    if g.chance(0.8) or not training:
        rm = g.new_leaf((c,), dtype, grad=False, contiguous=True)
        rv = g.new_leaf((c,), dtype, grad=False, values=np.abs(g.values(dtype, (c,))) + 0.5)
    else:
        rm = rv = "None"
    w = g.new_leaf((c,), dtype, contiguous=True) if g.chance(0.5) else "None"
    b = g.new_leaf((c,), dtype, contiguous=True) if g.chance(0.5) else "None"
    mom = g.pick_from([0.1, 0.5, 1.0, 0.0])
    eps = g.pick_from([1e-5, 1e-3])
    return f"F.batch_norm({x}, {rm}, {rv}, {w}, {b}, training={training}, momentum={mom}, eps={eps})"


def gen_loss(g):
    r = g.rng.random()
    if r < 0.6:
        x = g.pick("float", ndim=2)
        n, k = g.shape_of(x)
        hi = max(k, 1) + (1 if g.chance(0.03) else 0)
        t = g.new_leaf((n,), "int64", values=g.rng.integers(0, hi, size=n))
        red = g.pick_from(["'mean'", "'sum'", "'none'"])
        opts = ""
        if g.chance(0.4):  # class weights, an ignored class, label smoothing (cross_entropy only)
            w = g.new_leaf((k,), g.dtype_of(x), grad=False, values=np.abs(g.values(g.dtype_of(x), (k,))) + 0.25)
            opts = g.pick_from([f", weight={w}", f", ignore_index={int(g.rng.integers(0, max(k, 1)))}",
                                f", weight={w}, ignore_index=0"])
        smooth = g.pick_from(["", ", label_smoothing=0.1"]) if g.chance(0.3) else ""
        return g.pick_from([f"F.cross_entropy({x}, {t}, reduction={red}{opts}{smooth})",
                            f"F.cross_entropy({x}, {t}{opts})", f"F.nll_loss({x}, {t}, reduction={red}{opts})",
                            f"F.nll_loss({x}, {t}{opts})"])
    x = g.pick("float")
    y = g.new_leaf(g.shape_of(x) if g.chance(0.95) else g.broadcastable(g.shape_of(x)), g.dtype_of(x))
    red = g.pick_from(["'mean'", "'sum'", "'none'"])
    return f"F.mse_loss({x}, {y}, reduction={red})"


def gen_pad(g):
    a = g.pick(min_ndim=1)
    nd = len(g.shape_of(a))
    widths = [g.pick_from([0, 1, 2, 0] + ([-1] if g.chance(0.05) else [])) for _ in range(2 * min(nd, 2))]
    if nd >= 2 and g.chance(0.5):
        widths = widths[:2]
    value = g.pick_from(["", "", ", value=1.5", ", value=-2.0", ", mode='reflect'", ", mode='replicate'",
                         ", mode='circular'", ", mode='constant'"])
    if value == ", mode='circular'":  # ORACLE_BUGS: PyTorch's circular pad wider than what a crop keeps
        shape = g.shape_of(a)  # reads memory it has not written (garbage), so such widths are not generated
        for i in range(len(widths) // 2):
            n = shape[-1 - i]
            lo, hi = widths[2 * i], widths[2 * i + 1]
            kept = n + min(lo, 0) + min(hi, 0)
            if n + lo + hi > 0 and max(lo, hi) > kept:
                widths[2 * i], widths[2 * i + 1] = min(lo, 0), min(hi, 0)
    return f"F.pad({a}, {tuple(widths)}{value})"


def gen_logic(g):
    """Bitwise and logical ops on bool/int tensors (and logical ops on floats)."""
    a = g.pick(g.pick_from(["bool", "bool", "int", "any"]))
    b = _operand(g, a) if g.chance(0.9) else g.pick("bool")
    return g.pick_from(["{a} & {b}", "{a} | {b}", "{a} ^ {b}", "~{a}", "T.bitwise_and({a}, {b})",
                        "T.bitwise_or({a}, {b})", "T.bitwise_xor({a}, {b})", "T.bitwise_not({a})",
                        "T.logical_and({a}, {b})", "T.logical_or({a}, {b})", "T.logical_xor({a}, {b})",
                        "T.logical_not({a})", "{a}.logical_not()"]).format(a=a, b=b)


FAMILIES = {
    "unary": gen_unary, "softmax": gen_softmax, "binary": gen_binary, "compare": gen_compare, "where": gen_where,
    "reduce": gen_reduce, "reshape": gen_reshape, "axes": gen_axes, "cast": gen_cast, "join": gen_join,
    "index": gen_index, "matmul": gen_matmul, "conv": gen_conv, "pool": gen_pool, "batch_norm": gen_batch_norm,
    "loss": gen_loss, "pad": gen_pad, "logic": gen_logic,
}
WEIGHTS = {"unary": 4, "binary": 4, "reduce": 3, "index": 3, "axes": 2, "reshape": 2, "conv": 2, "pool": 2}


def generate(seed, index, families=None):
    """Program ``index`` of the run ``seed``: the same pair always gives the same program."""
    rng = np.random.default_rng([seed, index])
    fams = list(families or FAMILIES)
    weighted = [f for f in fams for _ in range(WEIGHTS.get(f, 1))]
    return Gen(rng, weighted).build(int(rng.integers(1, 9)))


# ---------------------------------------------------------------- shrinking
def signature(findings):
    f = findings[0]
    return (f.category, f.op)


def _candidates(prog):
    """Smaller or simpler programs, most promising first."""
    for i in reversed(range(len(prog.stmts))):
        name = prog.stmts[i].name
        yield replace(prog, stmts=prog.stmts[:i] + prog.stmts[i + 1:], loss=[x for x in prog.loss if x[0] != name])
    for i in range(len(prog.loss)):
        yield replace(prog, loss=prog.loss[:i] + prog.loss[i + 1:])
    for i, leaf in enumerate(prog.leaves):
        def with_leaf(new, i=i):
            return replace(prog, leaves=prog.leaves[:i] + [new] + prog.leaves[i + 1:])
        a = _leaf_array(leaf)
        if leaf.view:
            yield with_leaf(replace(leaf, base=np.ascontiguousarray(a), view=""))
        for axis, n in enumerate(a.shape):
            for keep in sorted({1, n // 2}):
                if 0 < keep < n:
                    yield with_leaf(replace(leaf, base=np.ascontiguousarray(np.take(a, range(keep), axis)), view=""))
        if leaf.grad:
            yield with_leaf(replace(leaf, grad=False))
        if a.dtype.kind == "f" and a.size:
            finite = np.isfinite(a) & (np.abs(a) < 1e6)
            with np.errstate(all="ignore"):
                simplest = (np.where(finite, 1.0, a), np.where(finite, np.round(a), a), np.where(finite, np.round(a, 1), a))
            for simpler in simplest:
                simpler = simpler.astype(a.dtype)
                if not np.array_equal(simpler, a, equal_nan=True):
                    yield with_leaf(replace(leaf, base=np.ascontiguousarray(simpler), view=""))
    for i, (name, w) in enumerate(prog.loss):
        if not (w == 1).all():
            yield replace(prog, loss=prog.loss[:i] + [(name, np.ones_like(w))] + prog.loss[i + 1:])
    for i, st in enumerate(prog.stmts):
        if st.algo not in (None, "default"):
            yield replace(prog, stmts=prog.stmts[:i] + [replace(st, algo="default")] + prog.stmts[i + 1:])
    if prog.kernel_path not in (None, "numba"):
        yield replace(prog, kernel_path="numba")


def _tidy(prog):
    return replace(prog, leaves=[leaf for leaf in prog.leaves if _used(leaf.name, prog.stmts)])


def shrink(prog, findings, budget_s=30.0, max_checks=400):
    """A smaller program with the same kind of disagreement (greedy: take the first candidate that keeps it)."""
    want = signature(findings)
    start, checks = time.monotonic(), 0
    progress = True
    while progress:
        progress = False
        for cand in _candidates(prog):
            if time.monotonic() - start > budget_s or checks >= max_checks:
                return prog
            cand = _tidy(cand)
            checks += 1
            try:
                got = check(cand)
            except Exception:  # noqa: BLE001 - a crash of the harness itself is not a smaller repro
                continue
            if got and signature(got) == want:
                prog, progress = cand, True
                break
    return prog


# ---------------------------------------------------------------- the repro script
def _literal(a):
    dtype = f"np.{a.dtype.name}" if a.dtype.kind != "b" else "bool"
    text = f"np.array({a.tolist()!r}, dtype={dtype})"
    return text + (f".reshape({_shape_text(a.shape)})" if a.size == 0 else "")


def render(prog, findings=()):
    """A script that runs ``prog`` on both engines and prints what each gives."""
    lines = [f"# {f}" for f in findings[:3]]
    lines += ["import contextlib", "", "import numpy as np", "import torch", "", "import minitorch_cnn as mt", "",
              'nan, inf = float("nan"), float("inf")', "np.set_printoptions(precision=17)", "", "",
              "def program(T, algo):", "    F = T.nn.functional"]
    for leaf in prog.leaves:
        grad = ".requires_grad_()" if leaf.grad else ""
        lines.append(f"    {leaf.name} = T.from_numpy({_literal(leaf.base)}{leaf.view}){grad}")
    for st in prog.stmts:
        if st.algo:
            lines += [f"    with algo({st.algo!r}):", f"        {st.name} = {st.expr}"]
        else:
            lines.append(f"    {st.name} = {st.expr}")
    if prog.loss:
        terms = " + ".join(f"({n} * T.from_numpy({_literal(w)})).sum().double()" for n, w in prog.loss)
        lines += [f"    loss = {terms}", "    loss.backward()"]
    outs = [s.name for s in prog.stmts]
    outs += [f"{leaf.name}.grad" for leaf in prog.leaves if leaf.grad and prog.loss]
    outs += [leaf.name for leaf in prog.leaves if not leaf.grad and "batch_norm" in " ".join(s.expr for s in prog.stmts)]
    lines.append("    return {" + ", ".join(f"{o!r}: {o}" for o in outs) + "}")
    lines += ["", ""]
    if prog.kernel_path not in (None, "numba"):
        lines.append(f"mt.set_kernel_path({prog.kernel_path!r})")
    lines += ['for name, T, algo in (("minitorch_cnn", mt, mt.conv_algorithm),',
              '                      ("torch", torch, lambda _: contextlib.nullcontext())):',
              "    try:",
              "        for key, v in program(T, algo).items():",
              "            shown = v if v is None else (str(v.dtype), tuple(v.shape), v.detach().numpy())",
              "            print(name, key, shown)",
              "    except Exception as exc:",
              '        print(name, "raised", type(exc).__name__, exc)']
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- a run
@dataclass
class Failure:
    index: int
    program: Program
    findings: list
    seed: int = 0

    def key(self):
        f = self.findings[0]
        if f.op == "backward":
            return (f.category, re.sub(r"\d+", "N", f.detail[:60]))
        return (f.category, f.op if f.op not in ("grad", "leaf") else "+".join(sorted({s.op for s in self.program.stmts})))


def fuzz(seed, n, families=None, on_program=None):
    """Generate and check programs ``0..n-1`` of run ``seed``; the failures, unshrunk."""
    failures = []
    for i in range(n):
        prog = generate(seed, i, families)
        if not prog.stmts:
            continue
        findings = check(prog)
        if findings:
            failures.append(Failure(i, prog, findings, seed))
        if on_program:
            on_program(i, prog, findings)
    return failures


def report(failures, rerun, shrink_budget_s=20.0, max_classes=20):
    """The failure text: a one-line summary per class of disagreement (first category and op), how to rerun
    the run and each program, then one shrunk script per class (up to ``max_classes``)."""
    classes = {}
    for fail in failures:
        classes.setdefault(fail.key(), []).append(fail)
    lines = [f"{len(failures)} programs disagree with PyTorch, in {len(classes)} classes:"]
    for n, (k, fails) in enumerate(classes.items(), 1):
        first = fails[0]
        lines.append(f"  {n}. {k[0]} / {k[1]}: {len(fails)} program(s), first seed {first.seed} program "
                     f"{first.index}: {str(first.findings[0])[:300]}")
    lines += [f"rerun the run: {rerun}",
              "rerun one program (findings and a shrunk script): python tests/fuzz/repro.py SEED PROGRAM", ""]
    for n, (k, fails) in enumerate(classes.items(), 1):
        if n > max_classes:
            lines.append(f"(scripts of classes {n}-{len(classes)} left out: rerun their programs with repro.py)")
            break
        fail = fails[0]
        small = _tidy(shrink(fail.program, fail.findings, budget_s=shrink_budget_s))
        found = check(small) or fail.findings
        lines += [f"=== {n}. {k[0]} / {k[1]} (seed {fail.seed}, program {fail.index}; "
                  f"python tests/fuzz/repro.py {fail.seed} {fail.index})", render(small, found)]
    return "\n".join(lines)
