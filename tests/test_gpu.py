"""The GPU path: CuPy arrays through the same engine code, the CUDA kernels, device plumbing.

What runs where:

* everywhere: asking for "cuda" without a GPU raises ``DeviceUnavailableError`` saying what is
  missing; the CUDA C source of ``kernels/cuda.py`` compiles (``nvcc -ptx`` when nvcc is
  installed, NVRTC — CuPy's own compiler — when CuPy and libnvrtc are installed); the same source,
  compiled for the host by a C++ compiler with a one-thread grid, equals the numba kernels bit for
  bit; the gather formulation of col2im written as Python loops equals col2im.
* a fake GPU (``FakeDeviceArray``, a NumPy array that reports device "cuda" and, like CuPy,
  refuses to compute with host arrays): the op suite's key cases, a LeNet step, ``Module.to``,
  optimizer state, the DataLoader and checkpoints, each against the CPU. On the fake, the kernel
  path "numba" runs the CUDA kernels compiled for the host, so the Python wrappers of
  ``kernels/cuda.py`` (argument lists, shapes, contiguity) are exercised too.
* a real GPU (skipped with the reason when there is none): the same device tests on CuPy arrays,
  on both kernel paths, and the CUDA kernels against the numba kernels.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import types

import numpy as np
import pytest
from _conv_cases import distinct_values, examples, geometries, out_size, window
from hypothesis import assume, given
from hypothesis import strategies as st
from minitorch_cnn.kernels import cuda
from minitorch_cnn.kernels.im2col import col2im_numba, im2col_numba
from minitorch_cnn.kernels.pooling import (
    max_pool2d_backward_numba,
    max_pool2d_forward_numba,
    sum_pool2d_backward_numba,
    sum_pool2d_forward_numba,
)

import minitorch_cnn as mt
from minitorch_cnn import backend, kernels, nn, optim
from minitorch_cnn import functional as F
from minitorch_cnn.checkpoint import load_checkpoint, save_checkpoint
from minitorch_cnn.data import ArrayDataset, DataLoader
from minitorch_cnn.models import lenet

HAS_GPU = backend.cuda_is_available()
NO_GPU = f"no CUDA device: {backend.cuda_unavailable_reason()}"
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason=NO_GPU)
CXX = shutil.which("g++") or shutil.which("c++")


# ====================================================================== without a GPU
@pytest.mark.skipif(HAS_GPU, reason="a GPU is present, so a 'cuda' request succeeds")
def test_cuda_request_says_what_is_missing():
    reason = backend.cuda_unavailable_reason()
    assert reason
    attempts = {
        "check_device": lambda: backend.check_device("cuda:0"),
        "zeros": lambda: mt.zeros(2, device="cuda"),
        "Tensor.to": lambda: mt.tensor([1.0]).to("cuda"),
        "Tensor.cuda": lambda: mt.tensor([1.0]).cuda(),
        "Module.to": lambda: nn.Linear(2, 2).to("cuda"),
        "DataLoader": lambda: DataLoader(ArrayDataset(np.zeros((2, 4, 4), np.uint8), np.zeros(2, np.int64)),
                                         device="cuda"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(backend.DeviceUnavailableError) as info:
            attempt()
        message = str(info.value)
        assert "'cuda'" in message and reason in message, what
        assert "CuPy" in message, what  # names the missing piece: CuPy, or a GPU for CuPy


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mt.zeros(2, device="tpu")


# ====================================================================== the CUDA C source compiles
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_source_compiles_with_nvcc(dtype, tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed: cannot compile the CUDA source without a GPU")
    src = tmp_path / "kernels.cu"
    src.write_text(cuda.source(dtype))
    run = subprocess.run([nvcc, "-ptx", str(src), "-o", str(tmp_path / "kernels.ptx")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    ptx = (tmp_path / "kernels.ptx").read_text()
    assert all(f".entry {name}(" in ptx for name in cuda.KERNEL_NAMES)


def _nvrtc():
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as exc:  # CuPy missing, or libnvrtc not found
        pytest.skip(f"NVRTC (CuPy's runtime compiler) is not available: {type(exc).__name__}: {exc}")
    return nvrtc


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_source_compiles_with_nvrtc(dtype):
    """NVRTC is what ``cupy.RawModule`` compiles with at run time; no GPU is needed to compile."""
    nvrtc = _nvrtc()
    prog = nvrtc.createProgram(cuda.source(dtype), "kernels.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, ["-arch=compute_70"])
        except Exception as exc:
            pytest.fail(f"NVRTC rejected the source: {exc}\n{nvrtc.getProgramLog(prog)}")
        ptx = nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    assert all(f".entry {name}(" in ptx for name in cuda.KERNEL_NAMES)


def test_unsupported_dtype_is_refused():
    with pytest.raises(TypeError, match="float16"):
        cuda.source(np.float16)


# ====================================================================== the CUDA source, run on the host
HOST_SHIM = """
// Host build of the CUDA kernels: __global__ means nothing, and the grid is one thread, so each
// kernel's grid-stride loop walks every index in order.
struct HostDim3 { unsigned int x; };
static const HostDim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
#define __global__
"""
_C_ARGS = {np.int64: ctypes.c_longlong, np.int32: ctypes.c_int, np.float32: ctypes.c_float, np.float64: ctypes.c_double}


@pytest.fixture(scope="session")
def host_kernels(tmp_path_factory):
    """{dtype: the CUDA source compiled for the host as a shared library}."""
    if CXX is None:
        pytest.skip("no C++ compiler (g++/c++) to build the CUDA source for the host")
    libs = {}
    for dtype in cuda.DTYPES:
        folder = tmp_path_factory.mktemp(f"cuda_host_{dtype}")
        (folder / "kernels.cpp").write_text(HOST_SHIM + cuda.source(dtype))
        lib = folder / "kernels.so"
        run = subprocess.run([CXX, "-O2", "-shared", "-fPIC", "-o", str(lib), str(folder / "kernels.cpp")],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        libs[dtype] = ctypes.CDLL(str(lib))
    return libs


def host_launch(libs):
    """A stand-in for ``kernels.cuda._launch`` that runs a kernel of the host build."""

    def launch(cp, name, dtype, total, args):
        if total == 0:
            return
        c_args = []
        for a in args:
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, f"{name}: a non-contiguous array reached the kernel"
                c_args.append(ctypes.c_void_p(a.ctypes.data))
            else:
                c_args.append(_C_ARGS[type(a)](a))  # the exact C type the wrapper chose
        fn = getattr(libs[np.dtype(dtype)], name)
        fn.restype = None
        fn(*c_args)

    return launch


@examples(40)
@given(geo=geometries(pool=False), n=st.integers(1, 2), c=st.integers(1, 3), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_host_build_of_im2col_col2im_equals_numba(host_kernels, geo, n, c, seed, dtype):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, H, W)).astype(dtype)
    launch, cuda._launch = cuda._launch, host_launch(host_kernels)
    try:
        win = window(H, W, kh, kw, sh, sw, ph, pw, dh, dw)
        cols = cuda.im2col_cuda(x, win)
        np.testing.assert_array_equal(cols, im2col_numba(x, win))
        g = rng.standard_normal(cols.shape).astype(dtype)
        dx = cuda.col2im_cuda(g, x.shape, win)
        np.testing.assert_array_equal(dx, col2im_numba(g, x.shape, win))
    finally:
        cuda._launch = launch


@examples(40)
@given(geo=geometries(pool=True), ceil_mode=st.booleans(), n=st.integers(1, 2), c=st.integers(1, 2),
       seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float32, np.float64]), ties=st.booleans())
def test_host_build_of_pool_kernels_equals_numba(host_kernels, geo, ceil_mode, n, c, seed, dtype, ties):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    Ho, Wo = out_size(H, kh, sh, ph, dh, ceil_mode), out_size(W, kw, sw, pw, dw, ceil_mode)
    assume(Ho >= 1 and Wo >= 1)
    rng = np.random.default_rng(seed)
    # with ties: few distinct values, so equal maxima (first tap wins) and shared argmax pixels occur
    x = rng.integers(0, 3, (n, c, H, W)).astype(dtype) if ties else distinct_values(rng, (n, c, H, W), dtype)
    g = rng.standard_normal((n, c, Ho, Wo)).astype(dtype)
    win = window(H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)
    launch, cuda._launch = cuda._launch, host_launch(host_kernels)
    try:
        y, argmax = cuda.max_pool2d_forward_cuda(x, win)
        y_ref, argmax_ref = max_pool2d_forward_numba(x, win)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(argmax, argmax_ref)
        np.testing.assert_array_equal(cuda.max_pool2d_backward_cuda(g, argmax, x.shape, win),
                                      max_pool2d_backward_numba(g, argmax, x.shape, win))
        np.testing.assert_array_equal(cuda.sum_pool2d_forward_cuda(x, win),
                                      sum_pool2d_forward_numba(x, win))
        np.testing.assert_array_equal(cuda.sum_pool2d_backward_cuda(g, x.shape, win),
                                      sum_pool2d_backward_numba(g, x.shape, win))
    finally:
        cuda._launch = launch


def test_host_build_max_pool_nan_and_minus_inf_as_numba(host_kernels):
    """PyTorch's CPU rule, as the numba loop: the last NaN of a window wins, and a window of -inf (or of
    -inf and padding) sends its gradient to its first real pixel."""
    x = np.array([[[[1.0, np.nan], [np.nan, 5.0]]]])
    launch, cuda._launch = cuda._launch, host_launch(host_kernels)
    try:
        y, argmax = cuda.max_pool2d_forward_cuda(x, window(2, 2, 2, 2, 2, 2))
        assert np.isnan(y).all() and argmax.item() == 2  # the last NaN
        rng = np.random.default_rng(0)
        x = rng.choice([-np.inf, np.nan, 0.5, -np.inf], size=(2, 3, 5, 6))
        win = window(5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 3, 3)
        y, argmax = cuda.max_pool2d_forward_cuda(x, win)
        y_ref, argmax_ref = max_pool2d_forward_numba(x, win)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(argmax, argmax_ref)
    finally:
        cuda._launch = launch


def test_host_build_sum_pool_of_minus_zero_is_plus_zero_as_numba(host_kernels):
    x = np.full((1, 2, 4, 4), -0.0)
    launch, cuda._launch = cuda._launch, host_launch(host_kernels)
    try:
        for win in (window(4, 4, 2, 2, 2, 2), window(4, 4, 3, 3, 1, 1, 1, 1)):  # tiling, and padded windows
            y = cuda.sum_pool2d_forward_cuda(x, win)
            np.testing.assert_array_equal(np.signbit(y), np.signbit(sum_pool2d_forward_numba(x, win)))
            assert not np.signbit(y).any()
    finally:
        cuda._launch = launch


def col2im_gather_loops(cols, x_shape, sh, sw, ph, pw, dh, dw):
    """col2im as ``col2im_gather_kernel`` computes it (its index math, line for line), in Python:
    each input pixel sums the column entries copied from it, taps in ascending (i, j)."""
    C, kh, kw, N, Ho, Wo = cols.shape
    H, W = x_shape[2], x_shape[3]
    dx = np.zeros(x_shape, dtype=cols.dtype)
    for n, c, h, w in np.ndindex(N, C, H, W):
        acc = cols.dtype.type(0)
        for i in range(kh):
            ah = h + ph - i * dh  # = oh*sh when tap i of window row oh reads row h
            if ah < 0:
                break
            if ah % sh != 0:
                continue
            oh = ah // sh
            if oh >= Ho:
                continue
            for j in range(kw):
                aw = w + pw - j * dw
                if aw < 0:
                    break
                if aw % sw != 0:
                    continue
                ow = aw // sw
                if ow >= Wo:
                    continue
                acc += cols[c, i, j, n, oh, ow]
        dx[n, c, h, w] = acc
    return dx


@examples(30)
@given(geo=geometries(), n=st.integers(1, 2), c=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_gather_formulation_of_col2im_equals_col2im(geo, n, c, seed):
    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    Ho, Wo = out_size(H, kh, sh, ph, dh), out_size(W, kw, sw, pw, dw)
    cols = np.random.default_rng(seed).standard_normal((c, kh, kw, n, Ho, Wo))
    x_shape = (n, c, H, W)
    win = window(H, W, kh, kw, sh, sw, ph, pw, dh, dw)
    expected = kernels.col2im(cols, x_shape, win)
    np.testing.assert_array_equal(col2im_gather_loops(cols, x_shape, sh, sw, ph, pw, dh, dw), expected)
    np.testing.assert_array_equal(kernels.col2im_generic(cols, x_shape, win), expected)


# ====================================================================== a fake GPU
class FakeDeviceArray(np.ndarray):
    """A NumPy array that reports device "cuda". Like a CuPy array, it refuses to compute with a
    host array (a silent host/device mix is what the fake is there to catch), full reductions give
    0-d arrays rather than scalars, and ``.get()`` returns a host copy."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "at":  # ufunc.at(a, index, values): the index may be host arrays, as in CuPy
            a, index, *rest = inputs
            inputs = (_host_view(a, ufunc.__name__), _lenient(index), *_host_view(rest, ufunc.__name__))
        else:
            inputs = _host_view(inputs, ufunc.__name__)
        if "out" in kwargs:
            kwargs["out"] = _host_view(kwargs["out"], ufunc.__name__)
        return _on_fake_device(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        return _on_fake_device(func(*_host_view(args, func.__name__), **_host_view(kwargs, func.__name__)))

    def argmax(self, *args, **kwargs):
        return _on_fake_device(self.view(np.ndarray).argmax(*args, **kwargs))

    def argmin(self, *args, **kwargs):
        return _on_fake_device(self.view(np.ndarray).argmin(*args, **kwargs))

    def get(self):
        return np.array(self.view(np.ndarray))


def _host_view(obj, where):
    """The NumPy views of the fake arrays in ``obj``; a host array here is a host/device mix."""
    if isinstance(obj, FakeDeviceArray):
        return obj.view(np.ndarray)
    if isinstance(obj, np.ndarray):
        raise TypeError(f"{where}: a host array of shape {obj.shape} in an operation on the (fake) GPU")
    if isinstance(obj, (tuple, list)):
        return type(obj)(_host_view(o, where) for o in obj)
    if isinstance(obj, dict):
        return {k: _host_view(v, where) for k, v in obj.items()}
    return obj


def _lenient(obj):
    if isinstance(obj, tuple):
        return tuple(_lenient(o) for o in obj)
    return obj.view(np.ndarray) if isinstance(obj, FakeDeviceArray) else obj


def _on_fake_device(obj):
    if isinstance(obj, FakeDeviceArray) or obj is None:
        return obj
    if isinstance(obj, np.ndarray):
        return obj.view(FakeDeviceArray)
    if isinstance(obj, np.generic):
        return np.asarray(obj).view(FakeDeviceArray)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_on_fake_device(o) for o in obj)
    return obj


class FakeCupy(types.ModuleType):
    """NumPy's namespace, returning fake device arrays; ``asarray`` is the explicit host-to-device copy."""

    ndarray = FakeDeviceArray
    random = types.SimpleNamespace(seed=lambda seed: None)

    def __init__(self):
        super().__init__("fake_cupy")

    def __getattr__(self, name):
        obj = getattr(np, name)
        if isinstance(obj, (np.ufunc, type)) or not callable(obj):
            return obj  # ufuncs dispatch through FakeDeviceArray.__array_ufunc__

        def on_device(*args, **kwargs):
            return _on_fake_device(obj(*_host_view(args, name), **_host_view(kwargs, name)))

        return on_device

    @staticmethod
    def asarray(a, dtype=None):
        if isinstance(a, FakeDeviceArray):
            return a if dtype is None else a.astype(dtype, copy=False)
        return np.array(a, dtype=dtype).view(FakeDeviceArray)


# (device, kernel path): the fake GPU runs the CUDA kernels through their host build on "numba"
GPU_SETUPS = [
    ("fake", "generic"),
    ("fake", "numba"),
    pytest.param(("cuda", "generic"), marks=needs_gpu),
    pytest.param(("cuda", "numba"), marks=needs_gpu),
]


@pytest.fixture(params=GPU_SETUPS, ids=lambda s: "-".join(s))
def gpu(request, monkeypatch):
    """A "cuda" device for the test (the fake, or the real GPU) on one kernel path."""
    kind, path = request.param
    if kind == "fake":
        monkeypatch.setattr(backend, "_cupy", FakeCupy())
        monkeypatch.setattr(backend, "_cupy_error", None)
        monkeypatch.setattr(backend, "cupy_ndarray", FakeDeviceArray)
        if path == "numba":
            monkeypatch.setattr(cuda, "_launch", host_launch(request.getfixturevalue("host_kernels")))
    monkeypatch.setattr(backend, "_kernel_path", path)
    return kind


def on(device, a, requires_grad=False):
    return mt.Tensor(backend.to_device(np.asarray(a), device), requires_grad=requires_grad)


def _close(gpu_value, cpu_value, rtol=1e-9, atol=1e-12):
    assert backend.device_of(gpu_value) == "cuda"
    np.testing.assert_allclose(backend.to_numpy(gpu_value), cpu_value, rtol=rtol, atol=atol)


def _same_on_both(fn, *arrays):
    """Run ``fn`` on CPU tensors and on "cuda" tensors (float64); compare outputs and gradients."""
    results = {}
    for device in ("cpu", "cuda"):
        leaves = [on(device, a, requires_grad=True) for a in arrays]
        out = fn(*leaves)
        (out * on(device, np.linspace(0.5, 1.5, out.numel()).reshape(out.shape))).sum().backward()
        results[device] = (out.array, [t.grad.array for t in leaves])
    cpu_out, cpu_grads = results["cpu"]
    gpu_out, gpu_grads = results["cuda"]
    _close(gpu_out, cpu_out)
    for g_gpu, g_cpu in zip(gpu_grads, cpu_grads):
        _close(g_gpu, g_cpu)


def test_ops_on_gpu_match_cpu(gpu):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    _same_on_both(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)), x, w, b)
    _same_on_both(lambda x, w: F.conv2d(x, w, padding="same"), x, rng.standard_normal((3, 3, 2, 2)))  # asym pad
    _same_on_both(lambda x, w: F.conv2d(x, w, groups=3), x, rng.standard_normal((6, 1, 3, 3)))
    _same_on_both(lambda x, w: F.conv2d(x, w), x, rng.standard_normal((5, 3, 1, 1)))  # pointwise
    _same_on_both(lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), x)
    _same_on_both(lambda x: F.max_pool2d(x, 2, dilation=2), x)
    _same_on_both(lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False), x)
    _same_on_both(lambda x: F.adaptive_avg_pool2d(x, (4, 3)), x)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    _same_on_both(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True), x, gamma, beta)
    a, lw, lb = rng.standard_normal((5, 7)), rng.standard_normal((4, 7)), rng.standard_normal(4)
    _same_on_both(F.linear, a, lw, lb)
    _same_on_both(lambda a: F.log_softmax(F.sigmoid(a) * F.tanh(a) + F.relu(a), 1), a)
    _same_on_both(lambda a: a.max(dim=1).values + a.max() + a[[0, 2, 2]].sum() + a[a.array > 0].sum(), a)
    _same_on_both(lambda a: mt.cat([a, a * 2], dim=1).reshape(5, 2, 7).permute(2, 0, 1).mean(dim=(0, 2)), a)
    labels = np.array([0, 3, 1, 3, 2])
    for device in ("cpu", "cuda"):  # cross_entropy / nll_loss with labels on the device
        logits = on(device, a[:, :4], requires_grad=True)
        loss = F.cross_entropy(logits, on(device, labels)) + F.nll_loss(F.log_softmax(logits, 1), on(device, labels))
        loss.backward()
        if device == "cpu":
            cpu_loss, cpu_grad = loss.array, logits.grad.array
    _close(loss.array, cpu_loss)
    _close(logits.grad.array, cpu_grad)


def test_batch_norm_running_stats_and_dropout_on_gpu(gpu):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 5, 5))
    state = {}
    for device in ("cpu", "cuda"):
        bn = nn.BatchNorm2d(3).double().to(device)
        y = bn(on(device, x))
        bn.eval()
        z = bn(on(device, x))
        mt.manual_seed(3)  # dropout masks come from the host generator: the same on both devices
        d = F.dropout(on(device, x), 0.3)
        state[device] = [y.array, z.array, d.array] + [b.array for b in bn.buffers()]
    for g_val, c_val in zip(state["cuda"], state["cpu"]):
        _close(g_val, c_val)


def test_lenet_step_on_gpu_matches_cpu(gpu):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 8)
    results = {}
    for device in ("cpu", "cuda"):
        mt.manual_seed(0)
        net = lenet(init="xavier").to(device)
        opt = optim.SGD(net.parameters(), lr=0.9)
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(net(on(device, x)), on(device, y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results[device] = losses, [p.array for p in net.parameters()]
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-5)
    for p_gpu, p_cpu in zip(results["cuda"][1], results["cpu"][1]):
        _close(p_gpu, p_cpu, rtol=1e-4, atol=1e-5)


def _small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * 4 * 4, 3))


def test_module_to_moves_parameters_buffers_and_grads(gpu):
    net = _small_net()
    net(on("cpu", np.ones((2, 1, 8, 8), np.float32))).sum().backward()
    net.to("cuda")
    arrays = [t.array for t in (*net.parameters(), *net.buffers())] + [p.grad.array for p in net.parameters()]
    assert {backend.device_of(a) for a in arrays} == {"cuda"}
    assert net[1].num_batches_tracked.dtype == np.int64
    net(on("cuda", np.ones((2, 1, 8, 8), np.float32))).sum().backward()  # BN updates its buffers in place
    assert int(net[1].num_batches_tracked.item()) == 2
    net.to("cpu")
    assert {backend.device_of(t.array) for t in (*net.parameters(), *net.buffers())} == {"cpu"}


@pytest.mark.parametrize("make_opt", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                      lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True)], ids=["sgd", "adam"])
def test_optimizer_state_follows_its_parameters(gpu, make_opt):
    net = _small_net().to("cuda")
    opt = make_opt(net.parameters())
    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8)).astype(np.float32)

    def step(device):
        opt.zero_grad()
        net(on(device, x)).sum().backward()
        opt.step()

    step("cuda")
    state_arrays = [v for s in opt.state.values() for v in s.values() if backend.is_array(v)]
    assert state_arrays and {backend.device_of(v) for v in state_arrays} == {"cuda"}
    saved = opt.state_dict()  # host arrays, whatever the device
    assert all(isinstance(v, np.ndarray) and not isinstance(v, backend.cupy_ndarray)
               for s in saved["state"].values() for v in s.values() if hasattr(v, "shape"))
    net.to("cpu")  # the state follows at the next step
    step("cpu")
    assert {backend.device_of(v) for s in opt.state.values() for v in s.values() if backend.is_array(v)} == {"cpu"}
    net.to("cuda")
    opt.load_state_dict(saved)  # loading puts the state on the parameters' device
    assert {backend.device_of(v) for s in opt.state.values() for v in s.values() if backend.is_array(v)} == {"cuda"}
    step("cuda")


def test_data_loader_batches_land_on_the_device(gpu):
    images = np.random.default_rng(5).integers(0, 256, (10, 6, 6)).astype(np.uint8)
    loader = DataLoader(ArrayDataset(images, np.arange(10) % 3), batch_size=4, device="cuda")
    batches = list(loader)
    assert len(batches) == 3
    for x, y in batches:
        assert x.device == y.device == "cuda" and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(backend.to_numpy(batches[0][0].array)[:, 0], images[:4] / 255, rtol=1e-6)


def test_checkpoint_from_gpu_loads_on_cpu_and_back(gpu, tmp_path):
    net = _small_net().to("cuda")
    opt = optim.Adam(net.parameters(), lr=0.01)
    net(on("cuda", np.ones((2, 1, 8, 8), np.float32))).sum().backward()
    opt.step()
    folder = save_checkpoint(tmp_path / "ckpt", net, opt, epoch=1)
    expected = {k: backend.to_numpy(v.array) for k, v in net.state_dict().items()}

    cpu_net = _small_net()  # a CPU-only machine: host arrays come back
    cpu_opt = optim.Adam(cpu_net.parameters(), lr=0.01)
    load_checkpoint(folder, cpu_net, cpu_opt)
    for k, v in cpu_net.state_dict().items():
        assert v.device == "cpu"
        np.testing.assert_array_equal(v.array, expected[k])
    assert {backend.device_of(a) for s in cpu_opt.state.values() for a in s.values() if backend.is_array(a)} == {"cpu"}

    gpu_net = _small_net().to("cuda")  # and loading onto "cuda" puts everything on the GPU
    gpu_opt = optim.Adam(gpu_net.parameters(), lr=0.01)
    load_checkpoint(folder, gpu_net, gpu_opt)
    for k, v in gpu_net.state_dict().items():
        assert v.device == "cuda"
        np.testing.assert_array_equal(backend.to_numpy(v.array), expected[k])
    assert {backend.device_of(a) for s in gpu_opt.state.values() for a in s.values() if backend.is_array(a)} == {"cuda"}


def test_mixed_devices_are_errors_naming_both(gpu):
    a_cpu, a_gpu = on("cpu", np.ones((1, 1, 4, 4))), on("cuda", np.ones((1, 1, 4, 4)))
    w_gpu = on("cuda", np.ones((1, 1, 2, 2)))
    cases = {
        "conv2d": lambda: F.conv2d(a_cpu, w_gpu),  # Function.apply
        "add": lambda: a_cpu + a_gpu,
        "cat": lambda: mt.cat([a_cpu, a_gpu]),
        "eq": lambda: a_cpu == a_gpu,
        "cross_entropy": lambda: F.cross_entropy(on("cuda", np.ones((2, 3))), on("cpu", np.array([0, 1]))),
        "batch_norm": lambda: F.batch_norm(a_gpu, np.zeros(1), np.ones(1), training=True),
        "backward": lambda: on("cuda", np.ones(3), requires_grad=True).backward(on("cpu", np.ones(3))),
    }
    for name, case in cases.items():
        with pytest.raises(ValueError) as info:
            case()
        assert "cpu" in str(info.value) and "cuda" in str(info.value), name


def test_tensor_to_and_copy_across_devices(gpu):
    t = on("cpu", np.arange(4.0), requires_grad=True)
    g = t.to("cuda")
    assert g.device == "cuda" and g.to("cuda") is g
    (g * g).sum().backward()
    assert t.grad.device == "cpu"
    np.testing.assert_array_equal(t.grad.array, 2 * np.arange(4.0))
    dst = on("cuda", np.zeros(4))
    dst.copy_(on("cpu", np.arange(4.0)))  # an explicit copy: allowed across devices, as in PyTorch
    dst[1:3] = np.array([7.0, 8.0])
    np.testing.assert_array_equal(dst.numpy(), [0.0, 7.0, 8.0, 3.0])
    assert dst.device == "cuda"


# ====================================================================== a real GPU only
@needs_gpu
@examples(30)
@given(geo=geometries(pool=True), n=st.integers(1, 2), c=st.integers(1, 3), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_cuda_kernels_equal_numba(geo, n, c, seed, dtype):
    """The CUDA kernels on the GPU: bit for bit the numba kernels (same summation order)."""
    import cupy

    H, W, kh, kw, sh, sw, ph, pw, dh, dw = geo
    win = window(H, W, kh, kw, sh, sw, ph, pw, dh, dw)
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, (n, c, H, W), dtype)
    cols = cuda.im2col_cuda(cupy.asarray(x), win)
    np.testing.assert_array_equal(cols.get(), im2col_numba(x, win))
    g = rng.standard_normal(cols.shape).astype(dtype)
    np.testing.assert_array_equal(cuda.col2im_cuda(cupy.asarray(g), x.shape, win).get(),
                                  col2im_numba(g, x.shape, win))
    y, argmax = cuda.max_pool2d_forward_cuda(cupy.asarray(x), win)
    y_ref, argmax_ref = max_pool2d_forward_numba(x, win)
    np.testing.assert_array_equal(y.get(), y_ref)
    np.testing.assert_array_equal(argmax.get(), argmax_ref)
    gy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(cuda.max_pool2d_backward_cuda(cupy.asarray(gy), argmax, x.shape, win).get(),
                                  max_pool2d_backward_numba(gy, argmax_ref, x.shape, win))
    np.testing.assert_array_equal(cuda.sum_pool2d_forward_cuda(cupy.asarray(x), win).get(),
                                  sum_pool2d_forward_numba(x, win))
    np.testing.assert_array_equal(cuda.sum_pool2d_backward_cuda(cupy.asarray(gy), x.shape, win).get(),
                                  sum_pool2d_backward_numba(gy, x.shape, win))


@pytest.mark.skipif(HAS_GPU, reason="a GPU is present, so the benchmark runs instead of exiting")
def test_gpu_benchmark_exits_with_the_reason(capsys):
    from benchmarks import gpu as gpu_benchmark

    with pytest.raises(SystemExit) as info:
        gpu_benchmark.main([])
    assert info.value.code == 1
    assert "no GPU to benchmark" in capsys.readouterr().err
