"""conv2d on every kernel path, against four oracles: the worked values of NETS.md, plain loops
(corr2d), PyTorch (outputs and every gradient) and float64 finite differences (gradcheck)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _conv_cases import (
    conv2d_backward_reference,
    conv2d_reference,
    corr2d,
    examples,
    geometries,
    leaf,
    path,
    to_xp,
)
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn.backend import conv_memory_budget, get_conv_memory_budget, set_conv_memory_budget
from minitorch_cnn.functional import conv2d
from minitorch_cnn.tensor import Tensor
from minitorch_cnn.testing import gradcheck

__all__ = ["path"]

X = np.arange(9.0).reshape(3, 3)
K = np.array([[0.0, 1.0], [2.0, 3.0]])


def host(t):
    return backend.to_numpy(t.array)


# ---------------------------------------------------------------- NETS.md "Small worked values"
def test_worked_values(path):
    y = conv2d(leaf(X[None, None], path), leaf(K[None, None], path))
    np.testing.assert_array_equal(host(y)[0, 0], [[19, 25], [37, 43]])
    np.testing.assert_array_equal(corr2d(X, K), [[19, 25], [37, 43]])

    x2 = np.stack([X, X + 1])[None]  # (1, 2, 3, 3)
    k2 = np.stack([K, K + 1])  # (2, 2, 2)
    y2 = conv2d(leaf(x2, path), leaf(k2[None], path))
    np.testing.assert_array_equal(host(y2)[0, 0], [[56, 72], [104, 120]])

    k3 = np.stack([k2, k2 + 1, k2 + 2])  # (3, 2, 2, 2): three output channels
    y3 = host(conv2d(leaf(x2, path), leaf(k3, path)))[0]
    assert y3.shape == (3, 2, 2)
    for o in range(3):
        np.testing.assert_array_equal(y3[o], sum(corr2d(x2[0, c], k3[o, c]) for c in range(2)))


@pytest.mark.parametrize(
    ("kernel", "padding", "stride", "shape"),
    [(3, 1, 1, (8, 8)), ((5, 3), (2, 1), 1, (8, 8)), (3, 1, 2, (4, 4)), ((3, 5), (0, 1), (3, 4), (2, 2))],
)
def test_output_shapes_on_8x8(path, kernel, padding, stride, shape):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    y = conv2d(leaf(np.zeros((1, 1, 8, 8)), path), leaf(np.zeros((1, 1, kh, kw)), path), stride=stride, padding=padding)
    assert y.shape == (1, 1) + shape


def test_edge_detection_kernel_is_learned(path):
    """NETS.md: a bias-free Conv(1,1,(1,2)) fitted to the edges of X by 10 gradient steps."""
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    y = corr2d(x, np.array([[1.0, -1.0]]))
    assert (y[:, 1] == 1).all() and (y[:, 5] == -1).all() and (np.abs(y).sum() == 12)
    mt.manual_seed(0)
    start = backend.rng().uniform(-0.5**0.5, 0.5**0.5, (1, 1, 1, 2))  # nn.Conv2d's default range
    weight = leaf(start.astype(np.float32), path)
    xt, yt = leaf(x.reshape(1, 1, 6, 8).astype(np.float32), path, False), y.reshape(1, 1, 6, 7)
    tw = torch.tensor(start.astype(np.float32), requires_grad=True)  # the same steps in PyTorch
    tx, ty = torch.tensor(xt.numpy()), torch.tensor(yt, dtype=torch.float32)
    for _ in range(10):
        y_hat = conv2d(xt, weight)
        diff = y_hat.array - to_xp(yt.astype(np.float32), path)
        loss = float((diff**2).sum())
        y_hat.backward(2 * diff)  # d(Σ (ŷ − y)²)/dŷ
        weight.data -= 3e-2 * weight.grad.data
        weight.grad = None
        t_loss = ((TF.conv2d(tx, tw) - ty) ** 2).sum()
        t_loss.backward()
        with torch.no_grad():
            tw -= 3e-2 * tw.grad
            tw.grad = None
    np.testing.assert_allclose(host(weight), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-4)
    np.testing.assert_allclose(host(weight).reshape(2), [1.0, -1.0], atol=0.15)
    assert loss < 0.5


# ---------------------------------------------------------------- hypothesis: loops, PyTorch, gradcheck
@st.composite
def conv_cases(draw, max_side=6):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = draw(geometries(max_side=max_side))
    groups = draw(st.integers(1, 2))
    n, cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    bias = draw(st.booleans())
    return dict(
        x_shape=(n, cg * groups, H, W), w_shape=(og * groups, cg, kh, kw), bias=bias,
        stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups, seed=draw(st.integers(0, 2**16)),
    )


def _draw_arrays(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    w = rng.standard_normal(case["w_shape"]).astype(dtype)
    b = rng.standard_normal(case["w_shape"][0]).astype(dtype) if case["bias"] else None
    return rng, x, w, b


def _params(case):
    return {k: case[k] for k in ("stride", "padding", "dilation", "groups")}


@examples(25)
@given(case=conv_cases(max_side=5))
def test_matches_plain_loops(path, case):
    rng, x, w, b = _draw_arrays(case)
    y = conv2d(leaf(x, path), leaf(w, path), None if b is None else leaf(b, path), **_params(case))
    np.testing.assert_allclose(host(y), conv2d_reference(x, w, b, **_params(case)), rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(y.shape)
    xt, wt = leaf(x, path), leaf(w, path)
    bt = leaf(np.zeros(w.shape[0]), path)
    conv2d(xt, wt, bt, **_params(case)).backward(to_xp(g, path))
    dx, dw, db = conv2d_backward_reference(x, w, g, **_params(case))
    for got, want in ((xt, dx), (wt, dw), (bt, db)):
        np.testing.assert_allclose(host(got.grad), want, rtol=1e-10, atol=1e-10)


@examples(40)
@given(case=conv_cases(), dtype=st.sampled_from([np.float64, np.float32]), contiguous=st.booleans())
def test_matches_pytorch(path, case, dtype, contiguous):
    rng, x, w, b = _draw_arrays(case, dtype)
    if not contiguous:  # the same values in a transposed memory layout
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = TF.conv2d(tx, tw, tb, **_params(case))
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g))

    xt, wt, bt = leaf(x, path), leaf(w, path), None if b is None else leaf(b, path)
    y = conv2d(xt, wt, bt, **_params(case))
    y.backward(to_xp(g, path))
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    assert y.dtype == dtype and xt.grad.dtype == dtype and wt.grad.dtype == dtype
    np.testing.assert_allclose(host(y), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(host(wt.grad), tw.grad.numpy(), **tol)
    if b is not None:
        np.testing.assert_allclose(host(bt.grad), tb.grad.numpy(), **tol)


@examples(25)
@given(case=conv_cases(max_side=5))
def test_gradcheck(path, case):
    _, x, w, b = _draw_arrays(case)
    inputs = [leaf(x, path), leaf(w, path)] + ([leaf(b, path)] if b is not None else [])
    gradcheck(lambda *t: conv2d(*t, **_params(case)), inputs)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 2), (4, 3)])
@pytest.mark.parametrize("dilation", [1, 2])
def test_padding_same_and_valid(path, kernel, dilation):
    """'same' keeps H×W (an even kernel pads one more at the bottom/right), 'valid' pads nothing."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 8, 9)), rng.standard_normal((3, 2) + kernel)
    g = rng.standard_normal((2, 3, 8, 9))
    for padding in ("same", "valid"):
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        ty = TF.conv2d(tx, tw, padding=padding, dilation=dilation)
        ty.backward(torch.tensor(g[..., : ty.shape[2], : ty.shape[3]]))
        xt, wt = leaf(x, path), leaf(w, path)
        y = conv2d(xt, wt, padding=padding, dilation=dilation)
        y.backward(to_xp(g[..., : y.shape[2], : y.shape[3]], path))
        np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(host(wt.grad), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
        if padding == "same":
            assert y.shape == (2, 3, 8, 9)


def test_chunked_equals_unchunked(path):
    """A small memory budget splits the batch (and rebuilds the columns in backward); same numbers."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    g = rng.standard_normal((5, 4, 4, 4))
    results = []
    image_cols = 3 * 3 * 2 * 4 * 4 * 8  # C·kh·kw·Ho·Wo float64 bytes of one image
    for budget, n_chunks in ((None, 1), (1, 5), (2 * image_cols, 3)):
        xt, wt, bt = leaf(x, path), leaf(w, path), leaf(b, path)
        with conv_memory_budget(budget or get_conv_memory_budget()):
            y = conv2d(xt, wt, bt, stride=(2, 2), padding=1)
            assert len(y.grad_fn.chunks) == n_chunks
            y.backward(to_xp(g, path))
        results.append([host(t) for t in (y, xt.grad, wt.grad, bt.grad)])
    for other in results[1:]:
        for a, c in zip(results[0], other):
            np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)


def test_small_columns_are_kept_for_the_backward_pass(monkeypatch):
    """On NumPy arrays the columns of a small layer (all chunks, at most backend.KEEP_COLS_BYTES and the
    memory budget) are built once, in forward; with nothing kept, backward builds them again. The
    same bits either way, and PyTorch's numbers. (test_chunked_equals_unchunked: the budget caps it.)"""
    from minitorch_cnn.functional import conv as conv_module

    calls = []
    real_im2col = conv_module.im2col
    monkeypatch.setattr(conv_module, "im2col", lambda *a, **k: (calls.append(1), real_im2col(*a, **k))[1])
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((6, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    g = rng.standard_normal((6, 4, 4, 4))
    image_cols = 3 * 3 * 2 * 4 * 4 * 8  # C·kh·kw·Ho·Wo float64 bytes of one image
    monkeypatch.setattr(backend, "CPU_CONV_TILE_BYTES", 2 * image_cols)  # 3 chunks of 2 images
    runs = []
    for keep_bytes, builds in ((backend.KEEP_COLS_BYTES, 3), (0, 6)):
        monkeypatch.setattr(backend, "KEEP_COLS_BYTES", keep_bytes)
        calls.clear()
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        with mt.conv_algorithm("im2col"):
            y = conv2d(xt, wt, bt, stride=(2, 2), padding=1)
            assert len(y.grad_fn.chunks) == 3
            y.backward(g)
        assert len(calls) == builds
        runs.append([t.numpy() for t in (y, xt.grad, wt.grad, bt.grad)])
    for kept, rebuilt in zip(*runs):
        np.testing.assert_array_equal(kept, rebuilt)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    TF.conv2d(tx, tw, tb, stride=2, padding=1).backward(torch.from_numpy(g))
    np.testing.assert_allclose(runs[0][2], tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(runs[0][1], tx.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_memory_budget_setter():
    previous = set_conv_memory_budget(1234)
    assert get_conv_memory_budget() == 1234
    assert set_conv_memory_budget(previous) == 1234
    with pytest.raises(ValueError, match="set_conv_memory_budget"):
        set_conv_memory_budget(0)


def test_unbatched_input_is_a_batch_of_one_as_pytorch(path):
    """conv2d of one (C, H, W) image gives (O, Ho, Wo): the batched values and gradients, and PyTorch's."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 6, 5)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    single, batch = leaf(x, path), leaf(x[None], path)
    ws, wb = leaf(w, path), leaf(w, path)
    y = conv2d(single, ws, leaf(b, path), stride=(2, 1), padding=1)
    yb = conv2d(batch, wb, leaf(b, path), stride=(2, 1), padding=1)
    assert y.shape == yb.shape[1:] == (4, 3, 6)
    y.sum().backward()
    yb.sum().backward()
    np.testing.assert_array_equal(host(y), host(yb)[0])
    np.testing.assert_array_equal(host(single.grad), host(batch.grad)[0])
    np.testing.assert_array_equal(host(ws.grad), host(wb.grad))
    ty = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=(2, 1), padding=1)
    np.testing.assert_allclose(host(y), ty.numpy(), rtol=1e-12, atol=1e-12)


def test_float32_end_to_end_and_partial_grads(path):
    rng = np.random.default_rng(5)
    x = leaf(rng.standard_normal((2, 3, 5, 5)).astype(np.float32), path)
    w = leaf(rng.standard_normal((4, 3, 1, 1)).astype(np.float32), path, requires_grad=False)  # 1×1 kernel
    y = conv2d(x, w)
    assert y.dtype == np.float32
    y.backward(to_xp(np.ones(y.shape, np.float32), path))
    assert x.grad.dtype == np.float32 and w.grad is None
    expected = np.broadcast_to(host(w).sum(axis=0)[:, 0, 0][None, :, None, None], x.shape)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-6)

    x2 = leaf(host(x), path, requires_grad=False)
    w2 = leaf(host(w), path)
    conv2d(x2, w2).backward(to_xp(np.ones(y.shape, np.float32), path))
    assert x2.grad is None and w2.grad.shape == (4, 3, 1, 1)


# ---------------------------------------------------------------- bad input
def _t(shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((_t((4, 4)), _t((1, 3, 2, 2))), {}, ValueError, r"conv2d: expected a 3-D or 4-D input, got shape \(4, 4\)"),
        ((_t((1, 1, 3, 4, 4)), _t((1, 3, 2, 2))), {}, ValueError, r"conv2d: expected a 3-D or 4-D input, got shape \(1, 1, 3, 4, 4\)"),
        ((_t((1, 3, 4, 4)), _t((3, 2, 2))), {}, ValueError, "conv2d: expected a 4-D weight"),
        ((_t((1, 3, 4, 4)), _t((2, 2, 2, 2))), {}, ValueError, "conv2d: weight of shape .* expects 2 input channels"),
        ((_t((1, 4, 4, 4)), _t((3, 2, 2, 2))), {"groups": 2}, ValueError, "conv2d: groups=2 must divide"),
        ((_t((1, 3, 4, 4)), _t((2, 3, 2, 2))), {"groups": 0}, ValueError, "conv2d: expected groups to be a positive"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 4, 4))), {"padding": 0}, ValueError, "conv2d: kernel .* larger than the padded"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"dilation": 3}, ValueError, "larger than the padded input"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"stride": 0}, ValueError, "conv2d: expected a positive stride"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"padding": -1}, ValueError, "conv2d: expected a non-negative padding"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"padding": "full"}, ValueError, "conv2d: expected padding to be"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"padding": "same", "stride": 2}, ValueError, "needs stride 1"),
        ((_t((1, 1, 3, 3)), _t((1, 1, 2, 2))), {"stride": (1, 2, 3)}, TypeError, "conv2d: expected stride"),
        ((_t((1, 1, 3, 3), np.int64), _t((1, 1, 2, 2))), {}, TypeError, "conv2d: expected a floating-point input"),
        ((_t((1, 1, 3, 3), np.float32), _t((1, 1, 2, 2))), {}, TypeError, "conv2d: expected weight of the input's"),
        ((_t((1, 1, 3, 3)), _t((2, 1, 2, 2)), _t((3,))), {}, ValueError, r"conv2d: expected bias of shape \(2,\)"),
        ((np.zeros((1, 1, 3, 3)), _t((1, 1, 2, 2))), {}, TypeError, "conv2d: expected input to be a Tensor"),
    ],
)
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv2d(*args, **kwargs)


def test_chunks_on_every_core_give_the_bits_of_one_core():
    """With several threads the chunks run on a thread each (minitorch_cnn/_chunks.py); the numbers
    are the same bits as one chunk after another on one thread."""
    import numba

    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((9, 3, 8, 8)).astype(np.float32), rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal((9, 5, 8, 8)).astype(np.float32)
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, max(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            xt, wt = leaf(x, "cpu"), leaf(w, "cpu")
            with mt.conv_algorithm("im2col"), conv_memory_budget(3 * 9 * 64 * 4 * 2):  # 2 images per chunk
                y = conv2d(xt, wt, padding=1)
                assert len(y.grad_fn.chunks) == 5
                y.backward(to_xp(g, "cpu"))
            results.append([host(t) for t in (y, xt.grad, wt.grad)])
    finally:
        numba.set_num_threads(previous)
    for one, every in zip(*results):
        np.testing.assert_array_equal(one, every)
    np.testing.assert_allclose(results[0][2], conv2d_backward_reference(x.astype(float), w.astype(float), g.astype(float),
                                                                        padding=(1, 1))[1], rtol=1e-4, atol=1e-4)


def test_chunks_on_other_threads_keep_the_callers_errstate():
    """np.errstate set by the caller (the CLI silences overflow while it detects a NaN loss) holds
    in the threads that run the chunks."""
    import warnings

    import numba

    x = np.full((8, 2, 10, 10), 1e30, dtype=np.float32)
    w = np.full((4, 2, 3, 3), 1e30, dtype=np.float32)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="ignore", invalid="ignore"), mt.conv_algorithm("im2col"), conv_memory_budget(2 * 2 * 9 * 64 * 4):
                y = conv2d(leaf(x, "cpu"), leaf(w, "cpu"))
        assert len(y.grad_fn.chunks) == 4 and np.isinf(host(y)).all()
    finally:
        numba.set_num_threads(previous)


def test_chunks_stay_on_the_calling_thread_with_numbas_workqueue_pool(monkeypatch):
    """numba's workqueue pool aborts the process when kernels start from two threads at once: with
    it (chosen by the user, or where OpenMP and TBB do not load) the chunks run one after another."""
    import threading

    import numba

    from minitorch_cnn import _chunks

    seen = set()

    def work(rows):
        seen.add(threading.current_thread())
        return rows

    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
        chunks = [slice(0, 1), slice(1, 2), slice(2, 3)]
        assert _chunks.for_each_chunk(work, chunks, np.zeros(3)) == chunks
        assert seen == {threading.current_thread()}
    finally:
        numba.set_num_threads(previous)


def test_chunks_are_taken_by_the_caller_and_a_helper(monkeypatch):
    """On OpenMP with 2 threads the caller and one helper thread take the chunks; the results come
    back in chunk order, the caller's thread count is restored, and an error in a chunk reaches
    the caller."""
    import threading

    import numba

    from minitorch_cnn import _chunks

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: the chunks stay on the calling thread")
    first_two = threading.Barrier(2, timeout=30)  # each of the two threads must take one of the first two chunks
    seen = []

    def work(rows):
        seen.append(threading.current_thread())
        if rows.start < 2:
            first_two.wait()
        if rows.start == 4 and fail:
            raise ZeroDivisionError("chunk 4")
        return rows

    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
        chunks = [slice(k, k + 1) for k in range(6)]
        fail = False
        assert _chunks.for_each_chunk(work, chunks, np.zeros(6)) == chunks
        assert len(set(seen[:2])) == 2 and threading.current_thread() in seen[:2]
        assert numba.get_num_threads() == 2
        fail, seen[:] = True, []
        first_two.reset()
        with pytest.raises(ZeroDivisionError, match="chunk 4"):
            _chunks.for_each_chunk(work, chunks, np.zeros(6))
        assert numba.get_num_threads() == 2
    finally:
        numba.set_num_threads(previous)


def test_a_layer_whose_columns_are_smaller_than_its_weight_runs_in_one_chunk(monkeypatch):
    """Deep layers on small images: cache-sized chunks would each read the whole weight again."""
    monkeypatch.setattr(backend, "CPU_CONV_TILE_BYTES", 4096)  # a few images' columns at most
    w = mt.randn(64, 64, 3, 3, dtype=mt.float64, requires_grad=True)  # 64·576·8 = 295 KB
    for N, one_chunk in ((4, True), (8, False)):  # columns 4·576·9·8 = 166 KB; 8 images: 332 KB
        x = mt.randn(N, 64, 3, 3, dtype=mt.float64, requires_grad=True)
        with mt.conv_algorithm("im2col"):
            y = conv2d(x, w, padding=1)
        assert (len(y.grad_fn.chunks) == 1) == one_chunk
        with conv_memory_budget(1):  # the memory budget still caps it
            with mt.conv_algorithm("im2col"):
                assert len(conv2d(x, w, padding=1).grad_fn.chunks) == N


@pytest.mark.parametrize(("N", "C", "H"), [(16, 2, 12), (2, 16, 3)], ids=["long_contraction", "short_contraction"])
def test_weight_gradient_is_contiguous_and_pytorchs(N, C, H):
    """dW = g @ colsᵀ is computed as (cols @ gᵀ)ᵀ, a transposed array, only where the contraction
    (N·Ho·Wo) is longer than the window (C·kh·kw); elsewhere the op's weight gradient is C-contiguous
    (the leaf's copy of a transposed one is a slow strided copy). PyTorch's numbers either way."""
    rng = np.random.default_rng(N + C)
    x, w = rng.standard_normal((N, C, H, H)), rng.standard_normal((5, C, 3, 3))
    g = rng.standard_normal((N, 5, H, H))
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    with mt.conv_algorithm("im2col"):
        y = conv2d(xt, wt, padding=1)
    _, dw, _ = y.grad_fn.function.backward(y.grad_fn, g)
    assert dw.flags.c_contiguous == (N * H * H <= C * 9)
    y.backward(g)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    TF.conv2d(tx, tw, padding=1).backward(torch.tensor(g))
    np.testing.assert_allclose(wt.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
