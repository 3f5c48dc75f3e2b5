"""Shared by the conv / pooling / batch-norm / kernel tests: the kernel-path fixture, hypothesis
strategies for window geometries, and the plain-loop reference definitions (slow, obviously right).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from minitorch_cnn import backend
from minitorch_cnn.tensor import Tensor

PATHS = [
    "numba",
    "generic",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not backend.cuda_is_available(), reason=f"no CUDA device: {backend.cuda_unavailable_reason()}"
        ),
    ),
]


@pytest.fixture(params=PATHS)
def path(request):
    """Run on the numba path, the forced generic path (both CPU) and CuPy; yields the device name."""
    previous = backend.get_kernel_path()
    backend.set_kernel_path("numba" if request.param == "cuda" else request.param)
    yield "cuda" if request.param == "cuda" else "cpu"
    backend.set_kernel_path(previous)


def examples(n):
    """Hypothesis settings for a test that uses the ``path`` fixture (it only sets a global switch,
    so sharing it between the generated examples is safe). ``n`` examples, or more under a profile
    that asks for more (HYPOTHESIS_PROFILE=thorough)."""
    n = max(n, settings.default.max_examples) if settings.default.max_examples > 100 else n
    checks = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much]
    return settings(max_examples=n, deadline=None, suppress_health_check=checks)


def window(H, W, kh, kw, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, Ho=None, Wo=None):
    """The kernels' ``Window`` from plain ints; ``Ho``/``Wo`` default to the floor rule."""
    from minitorch_cnn.kernels import Window

    w = Window.fit((H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    return w._replace(out=(w.out[0] if Ho is None else Ho, w.out[1] if Wo is None else Wo))


def to_xp(a, device):
    """A NumPy array moved to ``device`` (a CuPy array for "cuda")."""
    return backend.to_device(np.asarray(a), device)


def leaf(a, device, requires_grad=True):
    return Tensor(to_xp(a, device), requires_grad=requires_grad)


def out_size(size, k, s, p, d, ceil_mode=False):
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


@st.composite
def geometries(draw, max_kernel=3, max_side=6, dilation=True, pool=False):
    """(H, W, kh, kw, sh, sw, ph, pw, dh, dw) with at least one output position.

    A quarter of the draws make the (dilated) kernel exactly as large as the padded input along
    both axes, the edge case of a single output row and column. With ``pool`` the padding is at
    most half the kernel, as PyTorch's pooling requires.
    """
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ph = draw(st.integers(0, kh // 2 if pool else 2))
    pw = draw(st.integers(0, kw // 2 if pool else 2))
    if draw(st.integers(0, 3)) == 0:  # the kernel fills the padded input exactly
        H, W = dh * (kh - 1) + 1 - 2 * ph, dw * (kw - 1) + 1 - 2 * pw
    else:
        H, W = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    assume(H >= 1 and W >= 1)
    assume(out_size(H, kh, sh, ph, dh) >= 1 and out_size(W, kw, sw, pw, dw) >= 1)
    return H, W, kh, kw, sh, sw, ph, pw, dh, dw


def distinct_values(rng, shape, dtype=np.float64):
    """Values ≥ 0.1 apart in random order (no ties: max pooling stays differentiable)."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) * 0.1 + rng.uniform(0, 0.02, shape) - 0.05 * size).astype(dtype)


# ---------------------------------------------------------------- plain-loop references
def corr2d(x, k):
    """The book's 2-D cross-correlation of one channel: Y[i, j] = Σ X[i:i+h, j:j+w] · K."""
    h, w = k.shape
    y = np.zeros((x.shape[0] - h + 1, x.shape[1] - w + 1))
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = (x[i : i + h, j : j + w] * k).sum()
    return y


def dilate(k, dh, dw):
    """Kernel with dh-1 / dw-1 zeros between its taps (what dilation means)."""
    kh, kw = k.shape
    out = np.zeros((dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    out[::dh, ::dw] = k
    return out


def conv2d_reference(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """conv2d from corr2d: pad, dilate the kernel, correlate channel by channel, subsample by the stride."""
    N, C, H, W = x.shape
    O, Cg = w.shape[:2]
    Og = O // groups
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    out = []
    for n in range(N):
        channels = []
        for o in range(O):
            g = o // Og
            y = sum(corr2d(xp[n, g * Cg + c], dilate(w[o, c], *dilation)) for c in range(Cg))
            y = y[:: stride[0], :: stride[1]] + (0.0 if b is None else b[o])
            channels.append(y)
        out.append(channels)
    return np.array(out)


def conv2d_backward_reference(x, w, g, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """dX, dW, db by the definition: every output y[n,o,oh,ow] = Σ x[n,c,h,w] · w[o,c',i,j] + b[o]
    sends g · w to the x it read and g · x to the w it used (loops over every term)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    Og = O // groups
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for n in range(N):
        for o in range(O):
            for oh in range(g.shape[2]):
                for ow in range(g.shape[3]):
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                h = oh * stride[0] - padding[0] + i * dilation[0]
                                ww = ow * stride[1] - padding[1] + j * dilation[1]
                                if 0 <= h < H and 0 <= ww < W:
                                    cin = (o // Og) * Cg + c
                                    dx[n, cin, h, ww] += g[n, o, oh, ow] * w[o, c, i, j]
                                    dw[o, c, i, j] += g[n, o, oh, ow] * x[n, cin, h, ww]
    return dx, dw, g.sum(axis=(0, 2, 3))


def windows(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo):
    """For each (n, c, oh, ow): the list of (value, tap index k, h, w) of the in-bounds taps, and the
    number of taps inside the padded input (for count_include_pad)."""
    N, C, H, W = x.shape
    for n in range(N):
        for c in range(C):
            for oh in range(Ho):
                for ow in range(Wo):
                    taps, padded = [], 0
                    for i in range(kh):
                        for j in range(kw):
                            h, w = oh * sh - ph + i * dh, ow * sw - pw + j * dw
                            if -ph <= h < H + ph and -pw <= w < W + pw:
                                padded += 1
                            if 0 <= h < H and 0 <= w < W:
                                taps.append((x[n, c, h, w], i * kw + j, h, w))
                    yield (n, c, oh, ow), taps, padded


def max_pool2d_reference(x, g, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo):
    """The book's pool2d (max), plus its gradient: each window's g goes to its first largest pixel."""
    y, argmax, dx = np.zeros(x.shape[:2] + (Ho, Wo)), np.zeros(x.shape[:2] + (Ho, Wo), int), np.zeros(x.shape)
    for (n, c, oh, ow), taps, _ in windows(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo):
        value, k, h, w = max(taps, key=lambda t: (t[0], -t[1]))  # largest value, first tap on ties
        y[n, c, oh, ow], argmax[n, c, oh, ow] = value, k
        dx[n, c, h, w] += g[n, c, oh, ow]
    return y, argmax, dx


def avg_pool2d_reference(x, g, kh, kw, sh, sw, ph, pw, Ho, Wo, count_include_pad=True):
    """The book's pool2d (average), plus its gradient: g / count to every pixel of the window."""
    y, dx = np.zeros(x.shape[:2] + (Ho, Wo)), np.zeros(x.shape)
    for (n, c, oh, ow), taps, padded in windows(x, kh, kw, sh, sw, ph, pw, 1, 1, Ho, Wo):
        count = padded if count_include_pad else len(taps)
        y[n, c, oh, ow] = sum(t[0] for t in taps) / count
        for _, _, h, w in taps:
            dx[n, c, h, w] += g[n, c, oh, ow] / count
    return y, dx


# ---------------------------------------------------------------- conv cases for the algorithms
# The conformance suite (functional/conv/test_conformance.py) draws convolutions from four families
# and keeps those an algorithm applies to: any geometry ("general": stride, padding, dilation,
# groups), the plain layers (stride 1, dilation 1, no groups) that the direct and batch-last loops
# compute, the plain 3×3 layers of Winograd, and depthwise layers (groups = C = O).
FAMILIES = ("general", "plain", "3x3", "depthwise")


@st.composite
def conv_cases(draw, max_side=6, max_images=2):
    """One conv2d call: dict(x_shape, w_shape, bias, stride, padding, dilation, groups, seed)."""
    family = draw(st.sampled_from(FAMILIES))
    n = draw(st.integers(1, max_images))
    if family in ("general", "depthwise"):
        H, W, kh, kw, sh, sw, ph, pw, dh, dw = draw(geometries(max_side=max_side))
        if family == "general":
            groups, cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        else:
            groups, cg, og = draw(st.integers(2, 4)), 1, 1
    else:
        kh, kw = (3, 3) if family == "3x3" else (draw(st.integers(1, 5)), draw(st.integers(1, 4)))
        ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        H = draw(st.integers(max(1, kh - 2 * ph), max(max_side, kh)))
        W = draw(st.integers(max(1, kw - 2 * pw), max(max_side, kw)))
        sh = sw = dh = dw = groups = 1
        cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return dict(
        x_shape=(n, cg * groups, H, W), w_shape=(og * groups, cg, kh, kw), bias=draw(st.booleans()),
        stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups, seed=draw(st.integers(0, 2**16)),
    )  # fmt: skip


def conv_geometry(case):
    """The keyword arguments of conv2d (and of the plain-loop references) for ``case``."""
    return {k: case[k] for k in ("stride", "padding", "dilation", "groups")}


def conv_arrays(case, dtype=np.float64):
    """x, w, b (None without bias) and an upstream gradient g for ``case``, from its seed."""
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    w = rng.standard_normal(case["w_shape"]).astype(dtype)
    b = rng.standard_normal(case["w_shape"][0]).astype(dtype) if case["bias"] else None
    (N, _, H, W), (O, _, kh, kw) = case["x_shape"], case["w_shape"]
    Ho = out_size(H, kh, case["stride"][0], case["padding"][0], case["dilation"][0])
    Wo = out_size(W, kw, case["stride"][1], case["padding"][1], case["dilation"][1])
    g = rng.standard_normal((N, O, Ho, Wo)).astype(dtype)
    return x, w, b, g


# One tolerance for "equal to round-off", for every algorithm, dtype and oracle: the largest error,
# relative to the largest magnitude of the array compared, in units of the dtype's machine epsilon.
# Winograd's F(4×4, 3×3) loses the most: about 1e-4 of the largest output in float32 on the nets'
# widest 3×3 layers (~840 eps; kernels/test_winograd_kernels.py bounds it there), as its transforms
# add and subtract values up to 8× an input before the products. The column matrix and the direct
# loops stay within a few eps times the number of terms of a sum, far inside this bound.
# The scale is the largest magnitude compared, or 1 if that is smaller: every array these tests
# draw (x, w, b, g) is standard normal, so a sum's round-off is eps times its terms (about 1 each),
# however small the sum itself comes out; a bias gradient Σ g whose terms cancel to 3e-3 differed
# from the loops' by 1.4e-15, 6 eps of its terms but 2,000 eps of the result.
ROUND_OFF_EPS = 1000
TERM_SCALE = 1.0  # the magnitude of the drawn values, the least scale of a sum's round-off


def assert_round_off(ours, theirs, what=""):
    """max |ours − theirs| ≤ ROUND_OFF_EPS · eps(ours' dtype) · max(max |theirs|, TERM_SCALE) (see ROUND_OFF_EPS)."""
    assert ours is not None and theirs is not None, f"{what}: a gradient is missing"
    ours, theirs = backend.to_numpy(ours), backend.to_numpy(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, expected {theirs.shape}"
    eps = np.finfo(ours.dtype).eps
    scale = max(float(np.abs(theirs).max()) if theirs.size else 0.0, TERM_SCALE)
    err = float(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max()) if theirs.size else 0.0
    assert err <= ROUND_OFF_EPS * eps * scale, (
        f"{what}: max error {err:.3e}, more than {ROUND_OFF_EPS} eps ({ours.dtype}) of the scale {scale:.3e} (the largest value, at least TERM_SCALE)"
    )


def check_only_the_needed_gradients(function, spec, device="cpu"):
    """``function.apply(x, w, b, spec=spec)`` with every choice of which of x, w, b need a gradient
    (a first layer: x needs none; a frozen weight, alone or beside a trainable bias; ...): its backward
    returns None for each gradient not asked for, and each one asked for equals the plain-loop definition.
    Without a bias too (dx and dW only)."""
    import itertools

    rng = np.random.default_rng(4)
    N, O = spec.input_shape[0], spec.weight_shape[0]
    x, w, b = rng.standard_normal(spec.input_shape), rng.standard_normal(spec.weight_shape), rng.standard_normal(O)
    g = rng.standard_normal((N, O, *spec.window.out))
    geometry = dict(stride=spec.window.stride, padding=spec.window.padding, dilation=spec.window.dilation,
                    groups=spec.groups)  # fmt: skip
    expected = conv2d_backward_reference(x, w, g, **geometry)
    choices = [(*needs, True) for needs in itertools.product((False, True), repeat=3) if any(needs)]
    for need_x, need_w, need_b, with_bias in [*choices, (True, True, False, False)]:
        xt, wt = leaf(x, device, need_x), leaf(w, device, need_w)
        bt = leaf(b, device, need_b) if with_bias else None
        y = function.apply(xt, wt, bt, spec=spec)
        node = y.grad_fn
        assert node.function is function and node.needs_input_grad == (need_x, need_w, need_b)
        grads = function.backward(node, to_xp(g, device))
        for what, got, needed, want in zip(("dx", "dW", "db"), grads, (need_x, need_w, need_b), expected):
            if needed:
                assert_round_off(got, want, f"{function.__name__} {what}, needs {(need_x, need_w, need_b)}")
            else:
                assert got is None, f"{function.__name__} computed {what}, which was not asked for"


def on_one_and_every_thread(work):
    """``[work() on 1 thread, work() on every thread]``: numba's kernels and OpenBLAS both set to the
    count, as OMP_NUM_THREADS would; numba's count is restored afterwards."""
    import numba
    from threadpoolctl import threadpool_limits

    previous, results = numba.get_num_threads(), []
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            with threadpool_limits(limits=threads, user_api="blas"):
                results.append(work())
    finally:
        numba.set_num_threads(previous)
    return results


def assert_same_bits(one, every):
    """Each array of ``one`` equal, bit for bit, to the same array of ``every`` (None matches None)."""
    for a, b in zip(one, every, strict=True):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_array_equal(a, b)
