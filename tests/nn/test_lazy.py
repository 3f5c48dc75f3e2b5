"""Lazy layers as PyTorch's: placeholders that print as ``<UninitializedParameter>``, a ``load_state_dict``
that fills them from the saved tensors before any forward, and ``nn.functional`` under its PyTorch name."""

import subprocess
import sys

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn, optim

torch = pytest.importorskip("torch")


def test_nn_functional_is_the_functional_module():
    import minitorch_cnn.nn.functional as F
    from minitorch_cnn.nn.functional import relu

    assert F is mt.functional is mt.nn.functional and relu is mt.functional.relu
    np.testing.assert_array_equal(F.relu(mt.tensor([-1.0, 2.0])).numpy(), [0.0, 2.0])


def test_nn_functional_imports_first_in_a_fresh_interpreter():
    code = ("import minitorch_cnn.nn.functional as F, sys; import minitorch_cnn; "
            "assert F is minitorch_cnn.functional is sys.modules['minitorch_cnn.nn.functional']; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.LazyLinear(8), lib.nn.ReLU(), lib.nn.LazyLinear(3))


def _cnn(lib):
    return lib.nn.Sequential(lib.nn.LazyConv2d(4, kernel_size=3, padding=1), lib.nn.LazyBatchNorm2d(), lib.nn.ReLU(),
                             lib.nn.Flatten(), lib.nn.LazyLinear(2))


@pytest.mark.parametrize("make", [_mlp, _cnn])
def test_uninitialized_parameters_print_as_torchs(make):
    ours, theirs = make(mt), make(torch)
    assert repr(ours[0].weight) == str(ours[0].weight) == repr(theirs[0].weight) == "<UninitializedParameter>"
    assert repr(ours.state_dict()) == repr(theirs.state_dict())  # OrderedDict([('0.weight', <Uninit...
    assert repr(list(ours.parameters())) == repr(list(theirs.parameters()))
    assert repr(ours) == repr(theirs)
    assert isinstance(ours[0].weight, nn.Parameter) and isinstance(ours[0].weight, nn.UninitializedParameter)


def test_the_books_lazy_mlp_loads_into_a_clone_before_its_first_forward(tmp_path):
    mt.manual_seed(0)
    net = _mlp(mt)
    X = mt.randn(2, 20)
    Y = net(X)
    mt.save(net.state_dict(), tmp_path / "mlp.params")
    clone = _mlp(mt)
    weights = list(clone.parameters())
    opt = optim.SGD(clone.parameters(), lr=0.1)  # made before the load: it must hold the loaded parameters
    assert clone.load_state_dict(mt.load(tmp_path / "mlp.params")) == ([], [])
    # as PyTorch: the layers stay lazy (in_features=0) until the first forward, with the loaded shapes
    theirs = _mlp(torch)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in net.state_dict().items()})
    assert repr(clone) == repr(theirs)
    assert [p.shape for p in clone.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert all(type(p) is nn.Parameter for p in clone.parameters())
    assert all(a is b for a, b in zip(weights, clone.parameters()))
    np.testing.assert_array_equal(clone(X).numpy(), Y.numpy())
    theirs(torch.from_numpy(X.numpy()))
    assert repr(clone) == repr(theirs) and type(clone[0]) is nn.Linear  # Linear(in_features=20, ...)
    clone(X).sum().backward()
    opt.step()
    assert not np.array_equal(clone[0].weight.numpy(), net[0].weight.numpy())


def test_a_torch_lazy_nets_state_dict_loads_into_ours_and_computes_the_same():
    torch.manual_seed(0)
    theirs = _cnn(torch)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    theirs(torch.from_numpy(x))  # materialise, and move the running statistics
    theirs.eval()
    ours = _cnn(mt)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval()
    np.testing.assert_allclose(ours(mt.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    for key, value in theirs.state_dict().items():  # nothing loaded was re-initialised by the first forward
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert ours[1].num_features == 4  # (PyTorch leaves num_features=0 on a loaded LazyBatchNorm2d)


def test_a_partial_load_keeps_what_was_loaded_and_initialises_the_rest():
    mt.manual_seed(1)
    layer = nn.LazyLinear(3)
    weight = np.arange(12, dtype=np.float32).reshape(3, 4)
    missing, unexpected = layer.load_state_dict({"weight": weight}, strict=False)
    assert missing == ["bias"] and unexpected == []
    assert repr(layer.bias) == "<UninitializedParameter>" and layer.has_uninitialized_params()
    layer(mt.ones(2, 4))
    np.testing.assert_array_equal(layer.weight.numpy(), weight)
    assert layer.bias.shape == (3,) and np.all(np.abs(layer.bias.numpy()) <= 0.5)  # U(±1/√4)


def test_an_input_that_does_not_fit_the_loaded_shapes_is_named():
    layer = nn.LazyLinear(3)
    layer.load_state_dict({"weight": np.zeros((3, 5), np.float32), "bias": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"LazyLinear\(in_features=0, out_features=3, bias=True\): an input of "
                                         r"shape \(2, 6\) needs weight of shape \(3, 6\), the loaded weight has "
                                         r"shape \(3, 5\)"):
        layer(mt.ones(2, 6))


def test_a_lazy_layer_on_float64_loads_in_its_own_dtype():
    layer = nn.LazyConv2d(2, kernel_size=1).double()
    layer.load_state_dict({"weight": np.ones((2, 3, 1, 1), np.float32), "bias": np.zeros(2, np.float32)})
    assert layer.weight.dtype == np.float64 and layer.weight.shape == (2, 3, 1, 1)
    assert layer(mt.ones(1, 3, 2, 2, dtype=mt.float64)).dtype == np.float64


def test_saving_an_uninitialized_state_dict_is_refused(tmp_path):
    with pytest.raises(TypeError, match="save: cannot store an uninitialized parameter of a lazy layer"):
        mt.save(_mlp(mt).state_dict(), tmp_path / "x")
