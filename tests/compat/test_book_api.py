"""The PyTorch surface that *Dive into Deep Learning* touches (issue: the d2l library runs with torch aliased).

Each name is checked against PyTorch itself; each new differentiable op (bmm, meshgrid, expand; sin,
cos, sinh, cosh in functional/test_elementwise.py) also against finite differences and a plain-loop
definition.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
from _op_oracles import assert_close, check_against_torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch_cnn as mt
from minitorch_cnn import backend
from minitorch_cnn import functional as F
from minitorch_cnn.data import ArrayDataset, Compose, Resize, ToTensor
from minitorch_cnn.testing import arrays, gradcheck
from minitorch_cnn.utils import data as udata


# ------------------------------------------------------------------ 1. devices
def test_device_objects_compare_as_torch_and_with_tensor_device():
    assert mt.device("cpu") == "cpu" and mt.device("cuda:0") == mt.device("cuda") == "cuda"
    assert mt.device("cuda", 0) == mt.device("cuda:0") and mt.device(mt.device("cpu")) == "cpu"
    for name in ("cpu", "cuda", "cuda:0", "cuda:1"):
        ours, theirs = mt.device(name), torch.device(name)
        assert repr(ours) == repr(theirs) and ours.type == theirs.type and ours.index == theirs.index
    x = mt.zeros(2, device=mt.device("cpu"))
    assert x.device == mt.device("cpu") and x.device == "cpu" and repr(x.device) == "device(type='cpu')"
    assert x.to(mt.device("cpu")) is x
    with pytest.raises(ValueError, match="device: expected 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        mt.device("tpu")


def test_cuda_namespace_reports_what_the_backend_sees():
    assert mt.cuda.is_available() == backend.cuda_is_available()
    count = mt.cuda.device_count()
    assert isinstance(count, int) and (count >= 1 if mt.cuda.is_available() else count == 0)


# ------------------------------------------------------------------ 2. keyword spellings and dtypes
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "argmax"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_take_numpys_axis_and_keepdims_as_torch_does(op, keepdims):
    a = np.random.default_rng(0).standard_normal((3, 4, 2))
    ours = getattr(mt.Tensor(a), op)(axis=1, keepdims=keepdims)
    theirs = getattr(torch.tensor(a), op)(axis=1, keepdims=keepdims)
    function_form = getattr(mt, op)(mt.Tensor(a), axis=1, keepdims=keepdims)
    if op in ("max", "min"):
        ours, theirs, function_form = ours.values, theirs.values, function_form.values
    assert_close(ours, theirs, op)
    assert_close(function_form, theirs, op)
    with pytest.raises(TypeError, match=f"{op}: got both dim=0 and axis=1"):
        getattr(mt.Tensor(a), op)(0, axis=1)


def test_reduction_axis_spelling_is_differentiable_as_torch():
    a = np.random.default_rng(1).standard_normal((3, 4))
    check_against_torch(lambda x: x.sum(axis=0, keepdims=True), lambda t: t.sum(axis=0, keepdims=True), [a])
    check_against_torch(lambda x: x.mean(axis=(0, 1)), lambda t: t.mean(axis=(0, 1)), [a])


DTYPE_NAMES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
               "float", "double", "half", "long", "int", "short"]


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtype_names_are_torchs(name):
    assert np.dtype(getattr(mt, name)).name == str(getattr(torch, name)).removeprefix("torch.")


def test_type_and_the_conversion_methods_as_torch():
    a = np.array([[1.5, -2.0], [0.25, 3.0]])
    x, t = mt.Tensor(a.astype(np.float32)), torch.tensor(a, dtype=torch.float32)
    for method in ("int", "long", "float", "double", "bool"):
        assert_close(getattr(x, method)(), getattr(t, method)(), method)
        assert getattr(x, method)().dtype.name == str(getattr(t, method)().dtype).removeprefix("torch.")
    for dtype in ("int32", "int64", "float64"):
        assert_close(x.type(getattr(mt, dtype)), t.type(getattr(torch, dtype)), dtype)
    assert x.type(mt.float32) is x
    assert (x.type(), x.long().type()) == tuple(s.replace("torch.", "minitorch_cnn.") for s in (t.type(), t.long().type()))
    assert_close(x.t(), t.t())
    assert_close(x.swapaxes(0, 1), t.swapaxes(0, 1))


# ------------------------------------------------------------------ 3. lazy layers
@pytest.mark.parametrize(
    "make, x_shape",
    [(lambda nn: nn.LazyConv2d(4, kernel_size=3, padding=1, stride=2), (2, 3, 6, 5)),
     (lambda nn: nn.LazyConv2d(4, kernel_size=(1, 2), bias=False), (3, 5, 4)),
     (lambda nn: nn.LazyLinear(5), (4, 7)),
     (lambda nn: nn.LazyBatchNorm2d(), (4, 3, 2, 2)),
     (lambda nn: nn.LazyBatchNorm1d(momentum=0.2), (5, 3)),
     (lambda nn: nn.LazyConv2d(4, kernel_size=1, groups=2), (2, 6, 3, 3))],
)
def test_lazy_layers_infer_their_size_and_become_the_ordinary_class_as_torch(make, x_shape):
    ours, theirs = make(mt.nn), make(torch.nn)
    assert repr(ours) == repr(theirs)  # e.g. LazyConv2d(0, 4, kernel_size=(3, 3), ...)
    x = np.random.default_rng(2).standard_normal(x_shape).astype(np.float32)
    theirs(torch.tensor(x))
    out = ours(mt.Tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ and type(ours) is getattr(mt.nn, type(theirs).__name__)
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    with torch.no_grad():
        expected = theirs(torch.tensor(x))
    assert_close(ours(mt.Tensor(x)), expected, rtol=1e-5, atol=1e-6)
    assert out.shape == tuple(expected.shape)


def test_an_optimizer_made_before_the_first_forward_trains_the_lazy_parameters():
    mt.manual_seed(0)
    net = mt.nn.Sequential(mt.nn.LazyLinear(3), mt.nn.ReLU(), mt.nn.LazyLinear(1))
    opt = mt.optim.SGD(net.parameters(), lr=0.1)
    x, y = mt.randn(8, 5), mt.randn(8, 1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert [p.shape for p in net.parameters()] == [(3, 5), (3,), (1, 3), (1,)]
    assert all(p.grad is not None for p in opt.param_groups[0]["params"]) and losses[-1] < losses[0]


def test_a_lazy_layer_follows_to_before_its_first_forward():
    layer = mt.nn.LazyLinear(2).double()
    layer(mt.zeros(1, 3, dtype=mt.float64))
    assert layer.weight.dtype == np.float64 and layer.weight.shape == (2, 3)


def test_a_lazy_layer_rejects_a_bad_first_input_by_name():
    with pytest.raises(ValueError, match=r"LazyConv2d\(0, 4.*expected a 3-D or 4-D input, got shape \(2, 3\)"):
        mt.nn.LazyConv2d(4, 3)(mt.zeros(2, 3))


# ------------------------------------------------------------------ 4. mt.utils.data
def test_tensordataset_loader_batches_equal_torchs():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10) % 3
    for batch_size, drop_last in [(3, False), (3, True), (4, False), (10, True)]:
        ours = udata.DataLoader(udata.TensorDataset(mt.tensor(x), mt.tensor(y)), batch_size, drop_last=drop_last,
                                num_workers=2)
        theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                             batch_size, drop_last=drop_last)
        assert len(ours) == len(theirs)
        got, want = list(ours), list(theirs)
        assert len(got) == len(want)
        for (xb, yb), (xt, yt) in zip(got, want):
            assert_close(xb, xt)
            assert_close(yb, yt)
            assert xb.dtype == np.float32 and yb.dtype == np.int64


def test_a_shuffling_loader_serves_every_item_once_per_epoch_reproducibly():
    ds = udata.TensorDataset(mt.arange(50))
    mt.manual_seed(3)
    a = [int(v) for (b,) in udata.DataLoader(ds, 8, shuffle=True) for v in b]
    mt.manual_seed(3)
    b = [int(v) for (b,) in udata.DataLoader(ds, 8, shuffle=True) for v in b]
    assert sorted(a) == list(range(50)) and a == b and a != list(range(50))


class _Squares(udata.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return mt.tensor([float(i), float(i * i)]), i, float(i) / 2


class _TorchSquares(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return torch.tensor([float(i), float(i * i)]), i, float(i) / 2


def test_a_map_style_dataset_is_collated_as_torchs_default_collate():
    got = list(udata.DataLoader(_Squares(), batch_size=2))
    want = list(torch.utils.data.DataLoader(_TorchSquares(), batch_size=2))
    assert len(got) == len(want) == 3
    for ours, theirs in zip(got, want):
        for a, b in zip(ours, theirs):
            assert_close(a, b)
            assert a.dtype.name == str(b.dtype).removeprefix("torch.")
    sub = udata.Subset(_Squares(), [4, 1])
    assert len(sub) == 2 and sub[0][1] == 4 and sub[1][1] == 1


def test_loader_arguments_are_checked_by_name():
    ds = udata.TensorDataset(mt.zeros(4))
    with pytest.raises(ValueError, match="DataLoader: num_workers must be a non-negative int, got -1"):
        udata.DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="DataLoader: sampler and batch_sampler are not supported"):
        udata.DataLoader(ds, sampler=[0, 1])
    with pytest.raises(ValueError, match="TensorDataset: size mismatch"):
        udata.TensorDataset(mt.zeros(4), mt.zeros(3))


# ------------------------------------------------------------------ 5. .data and in-place initialisation
def test_data_is_a_detached_tensor_sharing_the_array_as_torch():
    p = mt.nn.Parameter(mt.zeros(2, 3))
    d = p.data
    assert isinstance(d, mt.Tensor) and not d.requires_grad and d.grad_fn is None and d.array is p.array
    d[0, 1] = 42.0
    assert p[0, 1].item() == 42.0
    p.data.fill_(2.0)
    np.testing.assert_array_equal(p.numpy(), np.full((2, 3), 2.0))
    p.data.zero_()
    assert not p.numpy().any()
    p.data.copy_(mt.ones(2, 3))
    assert (p.numpy() == 1).all() and p.requires_grad and p.is_leaf


def test_normal_and_uniform_fill_in_place_from_the_seeded_generator():
    p = mt.nn.Parameter(mt.zeros(200, 300))
    mt.manual_seed(5)
    assert p.data.normal_(0.5, 0.01) is not None
    first = p.numpy()
    mt.manual_seed(5)
    p.data.normal_(0.5, 0.01)
    np.testing.assert_array_equal(p.numpy(), first)
    assert abs(first.mean() - 0.5) < 1e-3 and abs(first.std() - 0.01) < 1e-3 and p.dtype == np.float32
    p.data.uniform_(-2.0, 3.0)
    u = p.numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.05


def test_p_data_minus_equals_updates_the_parameter_as_torch():
    a, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, -1.0])
    ours, theirs = mt.nn.Parameter(mt.tensor(a)), torch.nn.Parameter(torch.tensor(a))
    ours.grad, theirs.grad = mt.tensor(g), torch.tensor(g)
    for p in (ours, theirs):
        p.data -= 0.1 * p.grad
    assert_close(ours.detach(), theirs.detach())
    ours.data = mt.tensor([7.0, 8.0, 9.0], dtype=mt.float64)
    assert ours.numpy().tolist() == [7.0, 8.0, 9.0] and ours.requires_grad


def test_in_place_arithmetic_without_a_graph_changes_every_reference():
    # d2l's from-scratch SGD: ``for param in params: param -= lr * param.grad`` under no_grad
    a, g = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    ours, theirs = mt.nn.Parameter(mt.tensor(a)), torch.nn.Parameter(torch.tensor(a))
    ours.grad, theirs.grad = mt.tensor(g), torch.tensor(g)
    for params, no_grad in (([ours], mt.no_grad), ([theirs], torch.no_grad)):
        with no_grad():
            for param in params:
                param -= 0.5 * param.grad
                param *= 2.0
                param += 1.0
                param /= 4.0
    assert_close(ours.detach(), theirs.detach())
    assert ours.requires_grad and ours.grad_fn is None
    counts = mt.tensor([3, 4])
    counts += 1
    assert counts.tolist() == [4, 5] and counts.dtype == np.int64
    with pytest.raises(TypeError, match="in-place div: result dtype float32 cannot be written into a int64 tensor"):
        counts /= 2  # PyTorch: "result type Float can't be cast to the desired output type Long"


def test_in_place_add_in_a_graph_differentiates_as_torchs_residual_block():
    a, b = np.array([[1.0, -2.0]]), np.array([[0.5, 3.0]])

    def residual(x, y, relu):
        z = x * 2.0
        z += y
        return relu(z)

    check_against_torch(lambda x, y: residual(x, y, F.relu), lambda x, y: residual(x, y, torch.relu), [a, b])


# ------------------------------------------------------------------ 6. new ops: three oracles each
def _loop_bmm(a, b):
    out = np.zeros((a.shape[0], a.shape[1], b.shape[2]))
    for n in range(a.shape[0]):
        for i in range(a.shape[1]):
            for j in range(b.shape[2]):
                out[n, i, j] = sum(a[n, i, p] * b[n, p, j] for p in range(a.shape[2]))
    return out


@given(data=st.data())
def test_bmm_against_torch_loops_and_gradcheck(data):
    bsz, n, k, m = (data.draw(st.integers(1, 3)) for _ in range(4))
    a, b = data.draw(arrays((bsz, n, k))), data.draw(arrays((bsz, k, m)))
    out = check_against_torch(mt.bmm, torch.bmm, [a, b])
    np.testing.assert_allclose(out.numpy(), _loop_bmm(a, b), rtol=1e-12, atol=1e-12)
    assert gradcheck(mt.bmm, [mt.Tensor(a, requires_grad=True), mt.Tensor(b, requires_grad=True)])


def test_bmm_rejects_what_torch_rejects_by_name():
    with pytest.raises(ValueError, match=r"bmm: expected two 3-D tensors"):
        mt.bmm(mt.zeros(2, 3), mt.zeros(3, 2))
    with pytest.raises(ValueError, match=r"bmm: shapes \(2, 3, 4\) and \(3, 4, 2\) do not fit"):
        mt.bmm(mt.zeros(2, 3, 4), mt.zeros(3, 4, 2))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@given(data=st.data())
def test_meshgrid_against_torch_loops_and_gradcheck(indexing, data):
    vectors = [data.draw(arrays((data.draw(st.integers(1, 4)),))) for _ in range(data.draw(st.integers(1, 3)))]
    n = len(vectors)
    # all grids stacked, so every vector's gradient (the sum over its copies in its grid) is compared
    check_against_torch(lambda *v: mt.stack(mt.meshgrid(*v, indexing=indexing)),
                        lambda *v: torch.stack(torch.meshgrid(*v, indexing=indexing)), vectors)
    assert gradcheck(lambda *v: mt.stack(mt.meshgrid(*v, indexing=indexing)),
                     [mt.Tensor(v, requires_grad=True) for v in vectors])
    grids = [g.numpy() for g in mt.meshgrid(*[mt.Tensor(v) for v in vectors], indexing=indexing)]
    sizes = [len(v) for v in vectors]
    for idx in np.ndindex(grids[0].shape):  # the definition: grid i at a point holds vector i at that point's index
        ij = list(idx)
        if indexing == "xy" and n > 1:
            ij[0], ij[1] = ij[1], ij[0]
        assert [g[idx] for g in grids] == [vectors[i][ij[i]] for i in range(n)] and all(
            ij[i] < sizes[i] for i in range(n))


@given(data=st.data())
def test_expand_against_torch_loops_and_gradcheck(data):
    shape = tuple(data.draw(st.sampled_from([1, 3])) for _ in range(data.draw(st.integers(1, 3))))
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    target = lead + tuple(data.draw(st.integers(2, 3)) if s == 1 else s for s in shape)
    a = data.draw(arrays(shape))
    out = check_against_torch(lambda x: x.expand(*target), lambda t: t.expand(*target), [a])
    for idx in np.ndindex(target):
        src = tuple(0 if s == 1 else i for s, i in zip(shape, idx[len(lead):]))
        assert out.numpy()[idx] == a[src]
    assert gradcheck(lambda x: x.expand(*target), [mt.Tensor(a, requires_grad=True)])
    with pytest.raises(ValueError, match="expand: size 3 of dim"):
        mt.zeros(3).expand(4)


# ------------------------------------------------------------------ creation functions
def test_creation_functions_against_torch():
    assert_close(mt.linspace(-1.5, 2.0, 7), torch.linspace(-1.5, 2.0, 7), rtol=1e-6)
    assert mt.linspace(0, 1, 5).dtype == np.float32
    for args in [(3,), (2, 4)]:
        assert_close(mt.eye(*args), torch.eye(*args))
        assert mt.eye(*args).dtype == np.float32
    for value in (2, 2.5, True):
        ours, theirs = mt.full((2, 3), value), torch.full((2, 3), value)
        assert_close(ours, theirs)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    a = np.arange(6.0).reshape(2, 3)
    t = mt.from_numpy(a)
    a[0, 0] = 9.0
    assert t[0, 0].item() == 9.0 and t.dtype == np.float64 and not t.requires_grad


def test_normal_draws_shapes_and_moments_as_torch_normal():
    mt.manual_seed(0)
    x = mt.normal(1.0, 0.5, size=(400, 500))
    assert x.shape == (400, 500) and x.dtype == np.float32
    assert abs(x.numpy().mean() - 1.0) < 1e-2 and abs(x.numpy().std() - 0.5) < 1e-2
    m = mt.zeros(3, 4, dtype=mt.float64) + mt.tensor([0.0, 10.0, 20.0, 30.0], dtype=mt.float64)
    y = mt.normal(m, 0.0)  # std 0: exactly the means
    assert y.shape == tuple(torch.normal(torch.zeros(3, 4), 1.0).shape) and y.dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), m.numpy())
    with pytest.raises(TypeError, match="normal: with a number for mean and std, give size"):
        mt.normal(0.0, 1.0)


# ------------------------------------------------------------------ 7. ToTensor as torchvision's
def test_totensor_items_and_batches_have_torchvisions_shapes():
    images = np.random.default_rng(0).integers(0, 256, (10, 6, 6), dtype=np.uint8)
    ds = ArrayDataset(images, np.arange(10) % 3, transform=ToTensor())
    x, y = ds[2]
    assert x.shape == (1, 6, 6) and x.dtype == np.float32 and y == 2
    np.testing.assert_allclose(x[0], images[2] / 255, rtol=1e-6)
    xb, yb = next(iter(udata.DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 6, 6) and yb.shape == (4,)
    np.testing.assert_allclose(xb.numpy()[:, 0], images[:4] / 255, rtol=1e-6)
    resized = ArrayDataset(images, np.zeros(10, np.int64), transform=Compose([Resize(8), ToTensor()]))
    assert resized[0][0].shape == (1, 8, 8)
    assert next(iter(udata.DataLoader(resized, batch_size=3)))[0].shape == (3, 1, 8, 8)
    assert ToTensor()(images[0]).shape == (1, 6, 6)  # raw pixels: a channel axis is added
    with pytest.raises(ValueError, match=r"ToTensor: expected raw pixels \(H, W\) or \(B, H, W\), got shape"):
        ToTensor()(images[None])


# ------------------------------------------------------------------ 8. submodules after `import minitorch_cnn`
def test_submodules_are_reachable_and_imported_only_when_used():
    code = (
        "import sys, minitorch_cnn as mt\n"
        "lazy = ['minitorch_cnn.testing', 'minitorch_cnn.models', 'minitorch_cnn.utils', 'hypothesis']\n"
        "assert not [m for m in lazy if m in sys.modules], [m for m in lazy if m in sys.modules]\n"
        "assert mt.models.lenet and mt.testing.gradcheck and mt.data.FashionMNIST\n"
        "assert mt.utils.data.DataLoader and mt.cuda.is_available and mt.nn.functional.conv2d\n"
        "assert 'data' in dir(mt)\n"
        "try:\n    mt.nope\nexcept AttributeError as e:\n    assert \"no attribute 'nope'\" in str(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_engine_reads_a_tensors_array_through_array_never_data():
    """``Tensor.data`` is a tensor (PyTorch's meaning); engine code that wants the NumPy/CuPy array must read
    ``.array``. A ``.data`` read would still work on the CPU (a tensor converts to a NumPy array) and
    silently break on CuPy, so this scans the source (tensor.py, which defines both, aside)."""
    import re
    from pathlib import Path

    package = Path(mt.__file__).resolve().parent
    files = [*package.rglob("*.py"), *(package.parent / "kernels").rglob("*.py")]
    allowed = re.compile(r"^\s*(from|import)\s|(utils|minitorch_cnn|mt|torch)\.data\b|\.data\.(idx|transforms)")
    offenders = [f"{f.name}:{i}: {line.strip()}" for f in files if f.name != "tensor.py"
                 for i, line in enumerate(f.read_text().splitlines(), 1)
                 if re.search(r"\.data\b", line) and not allowed.search(line)]
    assert not offenders, "read .array, not .data, in the engine:\n" + "\n".join(offenders)


# ------------------------------------------------------------------ save / load (the book's file I/O)
def test_save_and_load_round_trip_as_torchs(tmp_path):
    x = mt.arange(4)
    y = mt.zeros(4, dtype=mt.float64)
    objects = [x, [x, y], {"x": x, "y": y, "n": 3, "s": None}, (y, 1.5)]
    for i, obj in enumerate(objects):
        mt.save(obj, tmp_path / f"ours-{i}")
        torch.save(_to_torch(obj), tmp_path / f"theirs-{i}")
        ours, theirs = mt.load(tmp_path / f"ours-{i}"), torch.load(tmp_path / f"theirs-{i}")
        _assert_same_structure(ours, theirs)
    with pytest.raises(TypeError, match="save: cannot store a set"):
        mt.save({1, 2}, tmp_path / "bad")
    (tmp_path / "junk").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="load: .*junk is not a file written by minitorch_cnn.save"):
        mt.load(tmp_path / "junk")


def _to_torch(obj):
    if isinstance(obj, mt.Tensor):
        return torch.from_numpy(obj.numpy())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _to_torch(v) for k, v in obj.items()}
    return obj


def _assert_same_structure(ours, theirs):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, mt.Tensor) and ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same_structure(a, b)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for k in theirs:
            _assert_same_structure(ours[k], theirs[k])
    else:
        assert ours == theirs


def test_a_saved_state_dict_loads_into_a_clone_that_computes_the_same(tmp_path):
    # the book's MLP example (sec_read_write): save net.state_dict(), load it into a fresh MLP
    def mlp():
        return mt.nn.Sequential(mt.nn.Linear(20, 256), mt.nn.ReLU(), mt.nn.Linear(256, 10))

    net, clone = mlp(), mlp()
    X = mt.randn(2, 20)
    mt.save(net.state_dict(), tmp_path / "mlp.params")
    clone.load_state_dict(mt.load(tmp_path / "mlp.params"))
    clone.eval()
    np.testing.assert_array_equal(clone(X).numpy(), net(X).numpy())
