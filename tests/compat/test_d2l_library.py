"""The d2l library's own ``d2l/torch.py`` (the d2l 1.0.3 wheel) runs on our engine with ``torch`` aliased.

A learner writes ``import minitorch_cnn as torch``; every notebook of *Dive into Deep Learning* starts
with ``from d2l import torch as d2l``. This test executes the library's real source, read from the
wheel (never copied into this repository), with ``torch``, ``torch.nn``, ``torch.nn.functional``,
``torch.optim``, ``torch.utils`` and ``torch.utils.data`` bound to the engine, and a ``torchvision``
module with no code of its own whose ``transforms`` and ``datasets`` are the engine's
``minitorch_cnn.data.transforms`` and ``minitorch_cnn.data`` (d2l imports ``transforms`` from it at
import time). Nothing else is replaced.

The oracle is the same library source executed a second time on PyTorch itself: d2l's own blocks
built on both, PyTorch's weights copied into ours, outputs and gradients compared.

Where the wheel is looked for: ``$MINITORCH_CNN_D2L`` (the .whl, or a folder holding it), else
``<user cache>/minitorch_cnn/d2l`` (``~/.cache/minitorch_cnn/d2l``), where ``.ci/run`` puts it with
``pip download --no-deps d2l==1.0.3``. The test skips, saying so, when the wheel or one of the
libraries d2l imports at import time (pandas, requests, IPython, matplotlib-inline, scipy, Pillow;
the ``book`` extra) is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import os
import re
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _op_oracles import assert_close

import minitorch_cnn as mt
from minitorch_cnn.data import DatasetNotFoundError, user_cache_dir

WHEEL = "d2l-1.0.3-py3-none-any.whl"
WHEEL_ENV = "MINITORCH_CNN_D2L"
D2L_IMPORTS = ("pandas", "requests", "IPython", "matplotlib_inline", "scipy", "PIL", "matplotlib")


def _find_wheel() -> Path | None:
    candidates = []
    if os.environ.get(WHEEL_ENV):
        p = Path(os.environ[WHEEL_ENV]).expanduser()
        candidates += [p, p / WHEEL]
    candidates.append(user_cache_dir() / "d2l" / WHEEL)
    return next((p for p in candidates if p.is_file()), None)


def _d2l_source() -> str:
    wheel = _find_wheel()
    if wheel is None:
        pytest.skip(f"the d2l 1.0.3 wheel is not here: set {WHEEL_ENV} to it or run "
                    f"`pip download --no-deps d2l==1.0.3 -d {user_cache_dir() / 'd2l'}` (as .ci/run does)")
    missing = [m for m in D2L_IMPORTS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"d2l/torch.py imports {', '.join(missing)} at import time; install them: "
                    "pip install -e '.[book]'")
    with zipfile.ZipFile(wheel) as z:
        return z.read("d2l/torch.py").decode("utf-8")


def _load(name: str, torch_modules: dict) -> types.ModuleType:
    """Execute d2l/torch.py as module ``name`` with ``torch_modules`` in sys.modules during the import."""
    import matplotlib

    matplotlib.use("Agg")
    source = _d2l_source()
    module = types.ModuleType(name)
    module.__file__ = f"<{WHEEL}>/d2l/torch.py"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in torch_modules.items():
            mp.setitem(sys.modules, key, value)
        mp.setitem(sys.modules, name, module)  # d2l binds `d2l = sys.modules[__name__]`
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _torchvision(transforms, datasets=None) -> types.ModuleType:
    tv = types.ModuleType("torchvision")
    tv.transforms = transforms
    if datasets is not None:
        tv.datasets = datasets
    return tv


@pytest.fixture(scope="module")
def d2l():
    """d2l/torch.py on our engine: torch aliased, torchvision's two names bound to our data layer."""
    return _load("d2l_on_minitorch_cnn", {
        "torch": mt, "torch.nn": mt.nn, "torch.nn.functional": mt.nn.functional, "torch.optim": mt.optim,
        "torch.utils": mt.utils, "torch.utils.data": mt.utils.data,
        "torchvision": _torchvision(mt.data.transforms, mt.data), "torchvision.transforms": mt.data.transforms,
    })


@pytest.fixture(scope="module")
def d2l_pytorch():
    """The same source on PyTorch (the oracle); torchvision is not needed by the blocks compared."""
    return _load("d2l_on_pytorch", {"torchvision": _torchvision(types.ModuleType("transforms"))})


def _copy_weights(ours: mt.nn.Module, theirs: torch.nn.Module) -> None:
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def _compare_forward_backward(ours, theirs, x: np.ndarray, rtol=1e-4, atol=1e-5, zero=()):
    """Outputs, the input's gradient and every parameter's gradient, under one random upstream gradient.

    ``zero`` names parameters whose gradient is exactly 0 (a conv bias followed by batch norm in
    training: the normalisation removes any shift). Both engines' values there are float32 round-off
    of a sum that cancels, so each is held to rtol times the largest other parameter gradient
    instead of to the other engine's noise."""
    xo, xt = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert yo.shape == tuple(yt.shape)
    assert_close(yo, yt, "forward", rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(yo.shape).astype(np.float32)
    yo.backward(mt.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xo.grad, xt.grad, "input gradient", rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    scale = max(float(p.grad.abs().max()) for name, p in theirs_params.items() if name not in zero)
    for name, p in ours.named_parameters():
        if name in zero:
            for engine, grad in (("ours", p.grad.numpy()), ("PyTorch", theirs_params[name].grad.numpy())):
                assert np.max(np.abs(grad)) <= rtol * scale, f"{engine}: gradient of {name} {grad} is not 0 to round-off"
            continue
        assert_close(p.grad, theirs_params[name].grad, f"gradient of {name}", rtol=rtol, atol=atol)
    return yo


# ------------------------------------------------------------------ import and the small helpers
def test_the_library_imports_on_the_engine(d2l):
    assert d2l.torch is mt and d2l.nn is mt.nn and d2l.F is mt.nn.functional and d2l.data is mt.utils.data
    for name in ("meshgrid", "sin", "cos", "sinh", "cosh", "linspace", "normal", "eye", "batch_matmul"):
        assert callable(getattr(d2l, name)), name


def test_try_gpu_corr2d_and_accuracy(d2l):
    expected_device = mt.device("cuda:0") if mt.cuda.device_count() else mt.device("cpu")
    assert d2l.try_gpu() == expected_device and d2l.cpu() == "cpu"
    assert d2l.try_all_gpus() == [mt.device(f"cuda:{i}") for i in range(mt.cuda.device_count())]
    # the book's example (sec_conv_layer): [[19, 25], [37, 43]]
    X = d2l.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = d2l.tensor([[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(d2l.corr2d(X, K).numpy(), [[19.0, 25.0], [37.0, 43.0]])
    # the book's example (sec_softmax_scratch): one of two predictions is right
    y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = d2l.tensor([0, 2])
    assert d2l.accuracy(y_hat, y) / len(y) == 0.5


def test_evaluate_accuracy_gpu_against_pytorch(d2l):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 1, 4, 4)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    ours = mt.nn.Sequential(mt.nn.Flatten(), mt.nn.Linear(16, 3))
    _copy_weights(ours, theirs)
    with torch.no_grad():
        expected = (theirs(torch.tensor(x)).argmax(1).numpy() == y).mean()
    loader = mt.utils.data.DataLoader(mt.utils.data.TensorDataset(mt.tensor(x), mt.tensor(y)), batch_size=16)
    assert d2l.evaluate_accuracy_gpu(ours, loader) == pytest.approx(expected)
    assert not ours.training  # it switched the net to eval mode, as with PyTorch


def test_the_readmes_aliasing_lines_import_the_library_in_a_fresh_process():
    _d2l_source()  # skips without the wheel or d2l's imports
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "from d2l import" in b]
    check = "\nassert d2l.torch is torch and d2l.try_gpu() is not None and d2l.LeNet is not None\nprint('ok')\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_find_wheel()), *sys.path]), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-c", block + check], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


# ------------------------------------------------------------------ the book's blocks, on both engines
def test_lazy_lenet_of_the_library_has_the_books_shapes_and_gradients(d2l, d2l_pytorch):
    ours, theirs = d2l.LeNet(), d2l_pytorch.LeNet()
    ours.apply_init([d2l.randn(1, 1, 28, 28)], d2l.init_cnn)
    theirs.apply_init([torch.randn(1, 1, 28, 28)], d2l_pytorch.init_cnn)
    assert [type(m).__name__ for m in ours.net] == [type(m).__name__ for m in theirs.net]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ours.layer_summary((1, 1, 28, 28))
    shapes = [line.split("\t")[-1].strip() for line in out.getvalue().splitlines()]
    # the book's table (sec_lenet)
    assert [s.replace("minitorch_cnn.Size([", "(").replace("])", ")") for s in shapes] == ["(1, 6, 28, 28)", "(1, 6, 28, 28)", "(1, 6, 14, 14)", "(1, 16, 10, 10)", "(1, 16, 10, 10)",
                      "(1, 16, 5, 5)", "(1, 400)", "(1, 120)", "(1, 120)", "(1, 84)", "(1, 84)", "(1, 10)"]
    _copy_weights(ours, theirs)
    x = np.random.default_rng(2).standard_normal((4, 1, 28, 28)).astype(np.float32)
    _compare_forward_backward(ours, theirs, x)
    yo, yt = ours(mt.tensor(x)), theirs(torch.tensor(x))
    labels = np.array([0, 3, 9, 1])
    assert ours.loss(yo, mt.tensor(labels)).item() == pytest.approx(
        theirs.loss(yt, torch.tensor(labels)).item(), rel=1e-5)


@pytest.mark.parametrize("args, kwargs, out_shape", [((3,), {}, (4, 3, 6, 6)),
                                                     ((6,), {"use_1x1conv": True, "strides": 2}, (4, 6, 3, 3))])
def test_residual_block_of_the_library_against_pytorch(d2l, d2l_pytorch, args, kwargs, out_shape):
    torch.manual_seed(5)  # PyTorch's draw is the weights both engines use (copied below): fixed, whatever ran before
    ours, theirs = d2l.Residual(*args, **kwargs), d2l_pytorch.Residual(*args, **kwargs)
    x = np.random.default_rng(3).standard_normal((4, 3, 6, 6)).astype(np.float32)
    ours(mt.tensor(x)), theirs(torch.tensor(x))  # materialise the lazy layers
    _copy_weights(ours, theirs)  # weights and the BN running statistics of that first call
    y = _compare_forward_backward(ours, theirs, x, zero={"conv1.bias", "conv2.bias"})  # each followed by a BN
    assert y.shape == out_shape  # the book's shapes (sec_resnet)
    assert_close(ours.bn1.running_mean, theirs.bn1.running_mean, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_resnet18_of_the_library_runs_forward_and_backward_against_pytorch(d2l, d2l_pytorch):
    torch.manual_seed(0)
    ours, theirs = d2l.resnet18(10), d2l_pytorch.resnet18(10)
    x = np.random.default_rng(4).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with mt.no_grad(), torch.no_grad():
        ours(mt.tensor(x)), theirs(torch.tensor(x))  # materialise the residual blocks' lazy layers
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    _copy_weights(ours, theirs)
    y = _compare_forward_backward(ours, theirs, x, rtol=1e-4, atol=1e-4)
    assert y.shape == (2, 10)


# ------------------------------------------------------------------ training through the library
def _fashion_subset(n_train, n_test):
    try:
        train = mt.data.FashionMNIST(train=True, download=False)
        test = mt.data.FashionMNIST(train=False, download=False)
    except DatasetNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST is not on this machine: {str(exc).splitlines()[0]}")
    to_tensor = mt.data.ToTensor()
    return (mt.data.ArrayDataset(train.images[:n_train], train.targets[:n_train], transform=to_tensor),
            mt.data.ArrayDataset(test.images[:n_test], test.targets[:n_test], transform=to_tensor))


def test_load_data_fashion_mnist_of_the_library_gives_torchvisions_batches(d2l):
    _fashion_subset(1, 1)  # skips without the data
    train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=64)
    X, y = next(iter(train_iter))
    assert X.shape == (32, 1, 64, 64) and X.dtype == np.float32 and y.shape == (32,) and y.dtype == np.int64
    assert len(train_iter) == math.ceil(60000 / 32) and len(test_iter) == math.ceil(10000 / 32)
    assert train_iter.num_workers == d2l.get_dataloader_workers()  # accepted; batches are made in-process


@pytest.mark.slow
def test_train_ch6_of_the_library_lowers_the_loss_on_a_fashion_mnist_subset(d2l):
    """The book's batch-norm LeNet (sec_batch_norm, lr 1.0) through d2l's own ``train_ch6``: 1,024 images."""
    train, test = _fashion_subset(1024, 256)
    mt.manual_seed(0)
    nn = mt.nn
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))
    train_iter = d2l.data.DataLoader(train, 64, shuffle=True, num_workers=d2l.get_dataloader_workers())
    test_iter = d2l.data.DataLoader(test, 128, shuffle=False)
    points = []

    class Recording(d2l.Animator):  # the library's own Animator, which also keeps what it plots
        def add(self, x, y):
            points.append((x, y))
            super().add(x, y)

    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(io.StringIO()) as printed:
        mp.setattr(d2l, "Animator", Recording)
        d2l.train_ch6(net, train_iter, test_iter, 2, 1.0, d2l.try_gpu())
    losses = [y[0] for _, y in points if y[0] is not None]  # running mean of the epoch's loss, 5 per epoch
    assert len(losses) == 12 and all(math.isfinite(v) for v in losses)
    assert losses[0] > 2.0 and losses[-1] < 0.8 * losses[0] and losses[-1] < losses[5]  # epoch 2 below epoch 1
    final = printed.getvalue()
    assert "training on cpu" in final or "training on cuda" in final
    assert f"loss {losses[-1]:.3f}" in final
