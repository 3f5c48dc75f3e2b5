"""Module mechanics, containers, state dicts, layer reprs and defaults, and ``nn.init`` distributions.

Where PyTorch defines the answer (reprs, key order, init bounds, batch norm buffers), the test asks
PyTorch; statistical checks use large tensors and bounds many standard errors wide.
"""

import json
from collections import OrderedDict

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import nn
from minitorch_cnn.nn import functional as F

torch = pytest.importorskip("torch")


# ------------------------------------------------------------------ registration and walks
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.scale = nn.Parameter(mt.ones(1))
        self.register_buffer("steps", mt.zeros(1))
        self.register_buffer("scratch", mt.zeros(2), persistent=False)
        self.plain = 5

    def forward(self, x):
        return F.relu(self.bn(self.conv(x))) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5))

    def forward(self, x):
        return self.head(self.first(x))


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(3)
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = TorchBlock()
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5))


def test_registries_and_walk_order_match_pytorch():
    ours, ref = Net(), TorchNet()
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert [n for n, _ in ours.named_children()] == ["first", "head"]
    assert len(list(ours.children())) == 2 and len(list(ours.modules())) == 7
    assert "scratch" not in ours.first.state_dict()  # non-persistent buffer
    assert ours.first.plain == 5 and "plain" not in ours.first._parameters
    assert isinstance(ours.first.scale, nn.Parameter) and ours.first.scale.requires_grad
    assert ours.get_submodule("head.1") is ours.head[1]


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch's state_dict


def test_setattr_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.weight = mt.ones(2, 2)  # a plain Tensor cannot replace a parameter
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    m.extra = nn.ReLU()
    assert "extra" in dict(m.named_children())
    del m.extra
    assert "extra" not in dict(m.named_children())

    class Forgot(nn.Module):
        def __init__(self):
            self.conv = nn.Conv2d(1, 1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Forgot()
    with pytest.raises(KeyError, match="'.'"):
        nn.Sequential().add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential().add_module("a", 3)
    with pytest.raises(TypeError, match="unexpected arguments"):
        nn.Module(3)


def test_train_eval_apply_zero_grad_requires_grad():
    net = Net()
    assert net.training and net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "BatchNorm2d", "Block", "Flatten", "Linear", "Sequential", "Net"]  # children first
    out = net(mt.randn(2, 2, 4, 4)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_converts_floats_keeps_counters_and_objects():
    net = Net()
    weight = net.first.conv.weight
    assert weight.dtype == np.float32  # the default dtype
    assert net.double() is net
    assert net.first.conv.weight is weight and weight.dtype == np.float64
    assert net.first.bn.running_var.dtype == np.float64
    assert net.first.bn.num_batches_tracked.dtype == np.int64
    net.to(mt.float32)
    assert weight.dtype == np.float32
    net.to("cpu", dtype="float64")
    assert weight.dtype == np.float64 and weight.device == "cpu"
    with pytest.raises(TypeError, match="floating"):
        net.to(mt.int64)
    y = net(mt.randn(2, 2, 4, 4, dtype=mt.float64))
    assert y.dtype == np.float64


def test_forward_hooks_and_missing_forward():
    lin = nn.Linear(2, 3)
    seen = []
    handle = lin.register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    lin(mt.ones(4, 2))
    handle.remove()
    lin(mt.ones(4, 2))
    assert seen == [(4, 3)]
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(mt.ones(1))


# ------------------------------------------------------------------ containers
def test_sequential_indexing_slicing_append():
    seq = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten())
    assert len(seq) == 3 and isinstance(seq[0], nn.Conv2d) and isinstance(seq[-1], nn.Flatten)
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    tail = seq[1:]
    assert list(dict(tail.named_children())) == ["1", "2"]  # slicing keeps the names, as PyTorch
    assert [type(m).__name__ for m in seq] == ["Conv2d", "ReLU", "Flatten"]
    seq.append(nn.Linear(2, 4))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    seq.add_module("out", nn.Sigmoid())
    assert seq.out is seq[4]
    assert seq(mt.randn(5, 1, 3, 3)).shape == (5, 4)
    with pytest.raises(IndexError):
        seq[9]
    named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 1, 1)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Conv2d", "Flatten", "Linear", "Sigmoid"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    assert len(layers) == 4 and isinstance(layers[-1], nn.ReLU)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]
    with pytest.raises(NotImplementedError):
        layers(mt.ones(1, 2))


# ------------------------------------------------------------------ state dicts
def test_state_dict_round_trip_from_pytorch_and_back():
    ref = TorchNet()
    ours = Net()
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    for (k, v), rv in zip(ours.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_array_equal(v.numpy(), rv.numpy(), err_msg=k)
    # and our values load into PyTorch unchanged
    ref2 = TorchNet()
    ref2.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    for k, v in ref2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ref.state_dict()[k].numpy(), err_msg=k)


def test_state_dict_shares_arrays_and_load_keeps_objects_and_dtype():
    net = Net().double()
    weight = net.first.conv.weight
    sd = net.state_dict()
    assert sd["first.conv.weight"].array is weight.array  # detached view on the same array
    new = {k: np.ones(v.shape, np.float32) if v.dtype.kind == "f" else v.numpy() for k, v in sd.items()}
    result = net.load_state_dict(new)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert net.first.conv.weight is weight and weight.dtype == np.float64 and float(weight.array.min()) == 1.0


def test_strict_load_lists_every_problem_in_one_error():
    net = Net()
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    del sd["first.bn.running_var"]
    sd["first.conv.weight"] = np.zeros((3, 2, 5, 5), np.float32)
    sd["head.2.weight"] = np.zeros((1,), np.float32)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "Missing key(s)" in message and '"first.bn.running_var"' in message
    assert "Unexpected key(s)" in message and '"head.2.weight"' in message
    assert ("size mismatch for first.conv.weight: copying a param with shape minitorch_cnn.Size([3, 2, 5, 5]) "
            "from checkpoint, the shape in current model is minitorch_cnn.Size([3, 2, 3, 3]).") in message
    assert "Net" in message
    # nothing was loaded
    assert float(net.first.conv.weight.abs().sum()) > 0
    # strict=False reports, loads what matches, but still refuses shape mismatches
    with pytest.raises(ValueError, match="first.conv.weight"):
        net.load_state_dict(sd, strict=False)
    sd["first.conv.weight"] = np.zeros((3, 2, 3, 3), np.float32)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["first.bn.running_var"] and unexpected == ["head.2.weight"]
    assert float(net.first.conv.weight.abs().sum()) == 0


# ------------------------------------------------------------------ reprs (PyTorch's text)
REPR_CASES = [
    ("Conv2d(1, 6, kernel_size=5, padding=2)", None),
    ("Conv2d(3, 64, 7, 2, 3, bias=False)", None),
    ("Conv2d(4, 8, (3, 5), stride=(2, 1), dilation=2, groups=2)", None),
    ("Conv2d(2, 2, 3, padding='same')", None),
    ("Linear(400, 120)", None),
    ("Linear(3, 1, bias=False)", None),
    ("BatchNorm2d(64)", None),
    ("BatchNorm2d(8, eps=1e-3, momentum=None, affine=False)", None),
    ("BatchNorm1d(5)", None),
    ("BatchNorm2d(4, bias=False)", None),
    ("ReLU()", None),
    ("ReLU(inplace=True)", None),
    ("Sigmoid()", None),
    ("Tanh()", None),
    ("MaxPool2d(kernel_size=3, stride=2, padding=1)", None),
    ("MaxPool2d(3)", None),
    ("AvgPool2d(kernel_size=2, stride=2)", None),
    ("AdaptiveAvgPool2d((1, 1))", None),
    ("Flatten()", None),
    ("Dropout(p=0.5)", None),
    ("Dropout(0.3, inplace=True)", None),
    ("Identity()", None),
    ("CrossEntropyLoss()", None),
    ("MSELoss()", None),
]


@pytest.mark.parametrize("expr", [c[0] for c in REPR_CASES])
def test_layer_repr_matches_pytorch(expr):
    assert repr(eval("nn." + expr, {"nn": nn})) == repr(eval("nn." + expr, {"nn": torch.nn}))


def test_nested_repr_matches_pytorch():
    def build(nn_):
        seq = nn_.Sequential(nn_.Conv2d(1, 6, kernel_size=5, padding=2), nn_.Sigmoid())
        seq.add_module("block", nn_.Sequential(nn_.BatchNorm2d(6), nn_.ReLU()))
        seq.add_module("fc", nn_.Linear(6, 2))
        return seq

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.Parameter(mt.ones(1))).startswith("Parameter containing:\n")


# ------------------------------------------------------------------ layer defaults and checks
def test_default_dtype_and_shapes():
    conv = nn.Conv2d(3, 8, (3, 5), groups=1)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32 and conv.weight.requires_grad
    assert nn.Conv2d(4, 8, 3, groups=2).weight.shape == (8, 2, 3, 3)
    assert nn.Linear(3, 2, dtype=mt.float64).weight.dtype == np.float64
    bn = nn.BatchNorm2d(4)
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(4))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(4))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(4))
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()


@pytest.mark.parametrize(
    "make, fan_in", [(lambda: nn.Linear(300, 200), 300), (lambda: nn.Conv2d(16, 300, (3, 5)), 16 * 15)]
)
def test_default_init_is_pytorchs_distribution(make, fan_in):
    """kaiming_uniform_(a=√5) weights and U(±1/√fan_in) biases: both U(−b, b) with b = 1/√fan_in."""
    mt.manual_seed(0)
    layer = make()
    bound = 1 / np.sqrt(fan_in)
    for t in (layer.weight.numpy().ravel(), layer.bias.numpy()):
        assert np.abs(t).max() <= bound
        assert np.abs(t).max() > 0.97 * bound
    w = layer.weight.numpy().ravel()
    assert abs(w.std() - bound / np.sqrt(3)) < 5 * bound / np.sqrt(3) / np.sqrt(2 * w.size)
    assert abs(w.mean()) < 5 * bound / np.sqrt(3) / np.sqrt(w.size)
    # and PyTorch's bound is the same number
    ref = torch.nn.Linear(300, 200) if isinstance(layer, nn.Linear) else torch.nn.Conv2d(16, 300, (3, 5))
    assert abs(float(ref.weight.detach().abs().max()) - bound) < 0.02 * bound


def test_init_is_deterministic_under_manual_seed():
    mt.manual_seed(42)
    a = nn.Conv2d(3, 4, 3).weight.numpy()
    mt.manual_seed(42)
    b = nn.Conv2d(3, 4, 3).weight.numpy()
    c = nn.Conv2d(3, 4, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_layers_name_themselves_on_bad_input():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 6.*expected input with 1 channels.*3 channels"):
        nn.Conv2d(1, 6, 5)(mt.ones(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"Conv2d.*3-D or 4-D"):
        nn.Conv2d(1, 6, 5)(mt.ones(28, 28))
    with pytest.raises(ValueError, match=r"Linear\(in_features=400.*400 features.*\(1, 300\)"):
        nn.Linear(400, 120)(mt.ones(1, 300))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(64.*64 channels.*\(2, 32, 4, 4\)"):
        nn.BatchNorm2d(64)(mt.ones(2, 32, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d.*4-D"):
        nn.BatchNorm2d(4)(mt.ones(2, 4))
    with pytest.raises(TypeError, match=r"Linear.*Tensor"):
        nn.Linear(2, 2)(np.ones((1, 2)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="reflect")


def test_unbatched_conv_matches_batched():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = mt.randn(2, 5, 5)
    np.testing.assert_allclose(conv(x).numpy(), conv(x.unsqueeze(0)).numpy()[0], rtol=1e-6)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls", ["BatchNorm2d", "BatchNorm1d"])
def test_batch_norm_module_matches_pytorch_over_steps(cls, momentum):
    shape = (4, 3, 5, 5) if cls == "BatchNorm2d" else (6, 3)
    ours, ref = getattr(nn, cls)(3, momentum=momentum).double(), getattr(torch.nn, cls)(3, momentum=momentum).double()
    gen = np.random.default_rng(0)
    for _ in range(3):
        x = gen.standard_normal(shape) * 2 + 1
        np.testing.assert_allclose(ours(mt.tensor(x)).numpy(), ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-10)
    for key, value in ref.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, err_msg=key)
    ours.eval(), ref.eval()
    x = gen.standard_normal(shape)
    np.testing.assert_allclose(ours(mt.tensor(x)).numpy(), ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-10)
    assert int(ours.num_batches_tracked.item()) == 3


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval():
    ours, ref = nn.BatchNorm2d(2, track_running_stats=False).double(), torch.nn.BatchNorm2d(2, track_running_stats=False)
    ours.eval(), ref.eval()
    x = np.random.default_rng(1).standard_normal((3, 2, 4, 4))
    np.testing.assert_allclose(
        ours(mt.tensor(x)).numpy(), ref.double()(torch.from_numpy(x)).detach().numpy(), rtol=1e-10
    )
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]


def test_dropout_module_modes():
    drop = nn.Dropout(0.25)
    x = mt.ones(200, 200)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    drop.eval()
    assert drop(x) is x


def test_losses_match_pytorch():
    gen = np.random.default_rng(3)
    z, y = gen.standard_normal((5, 4)), gen.integers(0, 4, 5)
    for reduction in ("mean", "sum"):
        ours = nn.CrossEntropyLoss(reduction=reduction)(mt.tensor(z), mt.tensor(y))
        ref = torch.nn.CrossEntropyLoss(reduction=reduction)(torch.from_numpy(z), torch.from_numpy(y))
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
    t = gen.standard_normal((5, 4))
    ours = nn.MSELoss()(mt.tensor(z), mt.tensor(t))
    np.testing.assert_allclose(ours.numpy(), torch.nn.MSELoss()(torch.from_numpy(z), torch.from_numpy(t)).numpy())


# ------------------------------------------------------------------ nn.init
def test_calculate_gain_matches_pytorch():
    for name in ("linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="unsupported"):
        nn.init.calculate_gain("swish")


def _big(shape=(256, 128, 3, 3)):
    return mt.zeros(*shape, dtype=mt.float64)


def _assert_moments(values, mean, std):
    n = values.size
    assert abs(values.mean() - mean) < 6 * std / np.sqrt(n)
    assert abs(values.std() - std) < 6 * std / np.sqrt(2 * n)


def test_xavier_uniform_bound_and_std():
    t = nn.init.xavier_uniform_(_big(), gain=2.0)
    fan_in, fan_out = 128 * 9, 256 * 9
    std = 2.0 * np.sqrt(2.0 / (fan_in + fan_out))
    w = t.numpy().ravel()
    assert np.abs(w).max() <= np.sqrt(3) * std and np.abs(w).max() > 0.999 * np.sqrt(3) * std
    _assert_moments(w, 0.0, std)


def test_xavier_normal_std():
    t = nn.init.xavier_normal_(_big())
    _assert_moments(t.numpy().ravel(), 0.0, np.sqrt(2.0 / (128 * 9 + 256 * 9)))


@pytest.mark.parametrize("mode, fan", [("fan_in", 128 * 9), ("fan_out", 256 * 9)])
def test_kaiming_uniform_and_normal(mode, fan):
    gain = np.sqrt(2.0)
    w = nn.init.kaiming_uniform_(_big(), mode=mode, nonlinearity="relu").numpy().ravel()
    bound = gain * np.sqrt(3.0 / fan)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    _assert_moments(w, 0.0, gain / np.sqrt(fan))
    w = nn.init.kaiming_normal_(_big(), mode=mode, nonlinearity="relu").numpy().ravel()
    _assert_moments(w, 0.0, gain / np.sqrt(fan))
    a = np.sqrt(5)  # the layers' default: leaky_relu gain with slope √5
    w = nn.init.kaiming_uniform_(_big(), a=a).numpy().ravel()
    assert np.abs(w).max() <= 1 / np.sqrt(128 * 9)


def test_simple_fills_and_errors():
    t = mt.zeros(1000, 100)
    nn.init.uniform_(t, -2, 3)
    assert t.numpy().min() >= -2 and t.numpy().max() < 3
    _assert_moments(t.numpy().ravel(), 0.5, 5 / np.sqrt(12))
    nn.init.normal_(t, 1.0, 0.5)
    _assert_moments(t.numpy().ravel(), 1.0, 0.5)
    assert t.dtype == np.float32
    assert float(nn.init.constant_(t, 0.3).numpy().max()) == pytest.approx(0.3)
    assert float(nn.init.ones_(t).numpy().min()) == 1.0
    assert float(nn.init.zeros_(t).numpy().max()) == 0.0
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(mt.zeros(5))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_normal_(mt.zeros(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="Tensor"):
        nn.init.zeros_(np.zeros(3))


def test_init_records_no_graph_and_keeps_the_parameter():
    lin = nn.Linear(4, 3)
    w = lin.weight
    nn.init.xavier_uniform_(lin.weight)
    assert lin.weight is w and w.grad_fn is None and w.requires_grad


def test_state_dict_is_json_and_array_friendly():
    """Every state-dict value converts to a plain NumPy array (what checkpoints store)."""
    sd = Net().state_dict()
    arrays = {k: v.numpy() for k, v in sd.items()}
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    json.dumps({k: list(a.shape) for k, a in arrays.items()})


# ------------------------------------------------ loss and pooling layers pass their options on
def test_loss_layers_take_torch_options_and_agree_with_torch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4))
    target = np.array([0, 3, -100, 2, 1])
    weight = np.array([0.5, 1.0, 2.0, 1.5])
    for ours, theirs in [
        (nn.CrossEntropyLoss(weight=mt.tensor(weight), label_smoothing=0.2, reduction="sum"),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(weight), label_smoothing=0.2, reduction="sum")),
        (nn.CrossEntropyLoss(ignore_index=2),
         torch.nn.CrossEntropyLoss(ignore_index=2)),
        (nn.NLLLoss(weight=mt.tensor(weight)), torch.nn.NLLLoss(weight=torch.tensor(weight))),
    ]:
        t = target.copy()
        if ours.ignore_index != -100:
            t[2] = 0
        x = mt.tensor(logits, requires_grad=True)
        xt = torch.tensor(logits, requires_grad=True)
        inp, inp_t = (x, xt) if isinstance(ours, nn.CrossEntropyLoss) else (x.log_softmax(1), xt.log_softmax(1))
        loss, loss_t = ours(inp, mt.tensor(t)), theirs(inp_t, torch.tensor(t))
        loss.backward()
        loss_t.backward()
        np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-15)
        assert list(ours.state_dict()) == list(theirs.state_dict())


def test_max_pool_layers_return_indices_as_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    for ours, theirs in [(nn.MaxPool2d(3, 2, 1, return_indices=True), torch.nn.MaxPool2d(3, 2, 1, return_indices=True)),
                         (nn.AdaptiveMaxPool2d(3, return_indices=True), torch.nn.AdaptiveMaxPool2d(3, return_indices=True))]:
        (y, idx), (y_t, idx_t) = ours(mt.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_array_equal(y.numpy(), y_t.numpy())
        np.testing.assert_array_equal(idx.numpy(), idx_t.numpy())
        assert idx.dtype == mt.int64
