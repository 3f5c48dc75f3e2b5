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


def run_algorithm(algorithm, x, w, b, pad, g, needs_x=True):
    """conv2d under ``algorithm`` on NumPy arrays, backward with g: (function used, y, dx, dw, db),
    the gradients None where not asked for (``needs_x``) or not computed."""
    import minitorch_cnn as mt
    from minitorch_cnn.functional import conv2d

    xt, wt = Tensor(np.asarray(x), requires_grad=needs_x), Tensor(np.asarray(w), requires_grad=True)
    bt = None if b is None else Tensor(np.asarray(b), requires_grad=True)
    with mt.conv_algorithm(algorithm):
        y = conv2d(xt, wt, bt, padding=pad)
    y.backward(Tensor(g))
    grads = [None if t is None or t.grad is None else t.grad.numpy() for t in (xt, wt, bt)]
    return y.grad_fn.function, y.numpy(), *grads


def check_only_the_needed_gradients(algorithm, function):
    """A first layer (x needs no gradient) gets dW and db only; a frozen weight gets dx only, or dx
    and db beside a trainable bias; each equal to the plain-loop definition. ``function`` is the op
    ``algorithm`` must pick."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 1, 6, 6)), rng.standard_normal((2, 1, 3, 3))
    g, b = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal(2)
    fn, _, dx, dw, db = run_algorithm(algorithm, x, w, b, (1, 1), g, needs_x=False)
    assert fn is function and dx is None
    rdx, rdw, rdb = conv2d_backward_reference(x, w, g, padding=(1, 1))
    np.testing.assert_allclose(dw, rdw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, rdb, rtol=1e-10, atol=1e-10)
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=False)
    function.apply(xt, wt, None, padding=(1, 1)).backward(Tensor(g))
    assert wt.grad is None
    np.testing.assert_allclose(xt.grad.numpy(), rdx, rtol=1e-10, atol=1e-10)
    bt = Tensor(b, requires_grad=True)
    function.apply(Tensor(x), wt, bt, padding=(1, 1)).backward(Tensor(g))
    assert wt.grad is None
    np.testing.assert_allclose(bt.grad.numpy(), rdb, rtol=1e-10, atol=1e-10)


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
