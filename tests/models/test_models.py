"""The nets against the book's shape tables (the layer-by-layer output shapes its chapters print) and against PyTorch.

For each net: the output-shape table row by row; the parameter count and the state-dict keys
(same names, same order) of the seed's PyTorch net; and, with PyTorch's weights loaded through
``load_state_dict``, the logits, the loss, every parameter's gradient and (in train mode) the batch
norm running buffers after the step equal PyTorch's on the same batch, in float64 to ~1e-9 and
float32 to ~1e-4. Dropout is switched off in both nets for the gradient check (its random mask
cannot be shared); AlexNet and VGG have no batch norm, so one mode covers them.
"""

import contextlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import _torch_nets  # noqa: E402
from _memory import release_freed_memory  # noqa: E402

import minitorch_cnn as mt  # noqa: E402
from minitorch_cnn import models, nn  # noqa: E402
from minitorch_cnn.functional import activation  # noqa: E402

# ------------------------------------------------------------------ shape tables (the book's chapters)
LENET_TABLE = [
    ("Conv2d", (1, 6, 28, 28)), ("Sigmoid", (1, 6, 28, 28)), ("AvgPool2d", (1, 6, 14, 14)),
    ("Conv2d", (1, 16, 10, 10)), ("Sigmoid", (1, 16, 10, 10)), ("AvgPool2d", (1, 16, 5, 5)),
    ("Flatten", (1, 400)), ("Linear", (1, 120)), ("Sigmoid", (1, 120)), ("Linear", (1, 84)),
    ("Sigmoid", (1, 84)), ("Linear", (1, 10)),
]  # fmt: skip
ALEXNET_TABLE = [
    ("Conv2d", (1, 96, 54, 54)), ("ReLU", (1, 96, 54, 54)), ("MaxPool2d", (1, 96, 26, 26)),
    ("Conv2d", (1, 256, 26, 26)), ("ReLU", (1, 256, 26, 26)), ("MaxPool2d", (1, 256, 12, 12)),
    ("Conv2d", (1, 384, 12, 12)), ("ReLU", (1, 384, 12, 12)), ("Conv2d", (1, 384, 12, 12)),
    ("ReLU", (1, 384, 12, 12)), ("Conv2d", (1, 256, 12, 12)), ("ReLU", (1, 256, 12, 12)),
    ("MaxPool2d", (1, 256, 5, 5)), ("Flatten", (1, 6400)), ("Linear", (1, 4096)), ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)), ("Linear", (1, 4096)), ("ReLU", (1, 4096)), ("Dropout", (1, 4096)),
    ("Linear", (1, 10)),
]  # fmt: skip


def _vgg_table(channels):
    flat = channels[-1] * 7 * 7
    blocks = [("Sequential", (1, c, 224 >> (i + 1), 224 >> (i + 1))) for i, c in enumerate(channels)]
    head = [("Flatten", (1, flat)), ("Linear", (1, 4096)), ("ReLU", (1, 4096)), ("Dropout", (1, 4096)),
            ("Linear", (1, 4096)), ("ReLU", (1, 4096)), ("Dropout", (1, 4096)), ("Linear", (1, 10))]  # fmt: skip
    return blocks + head


GOOGLENET_TABLE = [
    ("Sequential", (1, 64, 24, 24)), ("Sequential", (1, 192, 12, 12)), ("Sequential", (1, 480, 6, 6)),
    ("Sequential", (1, 832, 3, 3)), ("Sequential", (1, 1024)), ("Linear", (1, 10)),
]  # fmt: skip
RESNET18_TABLE = [
    ("Sequential", (1, 64, 56, 56)), ("Sequential", (1, 64, 56, 56)), ("Sequential", (1, 128, 28, 28)),
    ("Sequential", (1, 256, 14, 14)), ("Sequential", (1, 512, 7, 7)), ("AdaptiveAvgPool2d", (1, 512, 1, 1)),
    ("Flatten", (1, 512)), ("Linear", (1, 10)),
]  # fmt: skip
DENSENET_TABLE = [  # (name, shape): the seed loops over named_children()
    ("0", (1, 64, 48, 48)), ("1", (1, 64, 48, 48)), ("2", (1, 64, 48, 48)), ("3", (1, 64, 24, 24)),
    ("DenseBlosk_0", (1, 192, 24, 24)), ("transition_block_0", (1, 96, 12, 12)),
    ("DenseBlosk_1", (1, 224, 12, 12)), ("transition_block_1", (1, 112, 6, 6)),
    ("DenseBlosk_2", (1, 240, 6, 6)), ("transition_block_2", (1, 120, 3, 3)),
    ("DenseBlosk_3", (1, 248, 3, 3)), ("BN", (1, 248, 3, 3)), ("relu", (1, 248, 3, 3)),
    ("global_avg_pool", (1, 248, 1, 1)), ("fc", (1, 10)),
]  # fmt: skip


def _propagate(net, shape, by_name=False):
    """The seeds' loop: feed a random input through the top-level layers, one row per layer."""
    X = mt.rand(size=shape, dtype=mt.float32)
    rows = []
    with mt.no_grad():
        for name, layer in net.named_children():
            X = layer(X)
            rows.append((name if by_name else layer.__class__.__name__, X.shape))
    return rows


@pytest.mark.parametrize("name", ["lenet", "lenet_relu"])
def test_lenet_shape_table(name):
    table = [(("ReLU" if name == "lenet_relu" and i == 1 else n), s) for i, (n, s) in enumerate(LENET_TABLE)]
    assert _propagate(models.get_model(name), (1, 1, 28, 28)) == table


def test_googlenet_shape_table():
    assert _propagate(models.get_model("googlenet"), (1, 1, 96, 96)) == GOOGLENET_TABLE


def test_densenet_shape_table():
    assert _propagate(models.get_model("densenet"), (1, 1, 96, 96), by_name=True) == DENSENET_TABLE


@pytest.mark.slow
def test_alexnet_shape_table():
    assert _propagate(models.get_model("alexnet"), (1, 1, 224, 224)) == ALEXNET_TABLE


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, channels", [("vgg11", (64, 128, 256, 512, 512)), ("vgg11_small", (16, 32, 64, 128, 128))]
)
def test_vgg_shape_table(name, channels):
    assert _propagate(models.get_model(name), (1, 1, 224, 224)) == _vgg_table(channels)


@pytest.mark.slow
def test_resnet18_shape_table():
    net = models.get_model("resnet18")
    assert _propagate(net, (1, 1, 224, 224)) == RESNET18_TABLE
    # the second seed shows b1's layers one by one: conv, BN and ReLU 64x112x112, max pool 64x56x56
    assert _propagate(net[0], (1, 1, 224, 224)) == [
        ("Conv2d", (1, 64, 112, 112)), ("BatchNorm2d", (1, 64, 112, 112)), ("ReLU", (1, 64, 112, 112)),
        ("MaxPool2d", (1, 64, 56, 56)),
    ]  # fmt: skip


@pytest.mark.slow
def test_resnet34_shapes():
    """Four layers of 3, 4, 6, 3 blocks: 64x56x56, 64x56x56, 128x28x28, 256x14x14, 512x7x7, then 1000 classes."""
    net = models.resnet34()
    rows = []
    for name, child in net.named_children():
        child.register_forward_hook(lambda m, i, out, name=name: rows.append((name, out.shape)))
    with mt.no_grad():
        net(mt.rand(1, 3, 224, 224))
    assert rows == [
        ("pre", (1, 64, 56, 56)), ("layer1", (1, 64, 56, 56)), ("layer2", (1, 128, 28, 28)),
        ("layer3", (1, 256, 14, 14)), ("layer4", (1, 512, 7, 7)), ("fc", (1, 1000)),
    ]  # fmt: skip
    assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]


NIN_TABLE = [  # the book's (sec. 8.3), 1x224x224
    ("Sequential", (1, 96, 54, 54)), ("MaxPool2d", (1, 96, 26, 26)), ("Sequential", (1, 256, 26, 26)),
    ("MaxPool2d", (1, 256, 12, 12)), ("Sequential", (1, 384, 12, 12)), ("MaxPool2d", (1, 384, 5, 5)),
    ("Dropout", (1, 384, 5, 5)), ("Sequential", (1, 10, 5, 5)), ("AdaptiveAvgPool2d", (1, 10, 1, 1)),
    ("Flatten", (1, 10)),
]  # fmt: skip


@pytest.mark.slow
def test_nin_shape_table():
    assert _propagate(models.get_model("nin"), (1, 1, 224, 224)) == NIN_TABLE


def _feature_shapes(net, shape):
    """Output shape of every child of ``net.features`` on a random input."""
    X = mt.rand(size=shape, dtype=mt.float32)
    rows = []
    with mt.no_grad():
        for layer in net.features:
            X = layer(X)
            rows.append(X.shape[1:])
    return rows


@pytest.mark.slow
def test_squeezenet1_1_shapes_at_224():
    """torchvision's SqueezeNet 1.1 at 3x224x224: 111 after the stem, 55 / 27 / 13 after the ceil-mode pools."""
    rows = _feature_shapes(models.squeezenet1_1(), (1, 3, 224, 224))
    assert rows == [
        (64, 111, 111), (64, 111, 111), (64, 55, 55), (128, 55, 55), (128, 55, 55), (128, 27, 27),
        (256, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13), (512, 13, 13), (512, 13, 13),
    ]  # fmt: skip


def test_small_variants_keep_fashion_mnist_maps_large_enough():
    sq = _feature_shapes(models.get_model("squeezenet1_1_small"), (1, 1, 28, 28))
    assert [sq[i] for i in (0, 2, 5, 8, 12)] == [(64, 28, 28), (64, 14, 14), (128, 7, 7), (256, 3, 3), (512, 3, 3)]
    mb = _feature_shapes(models.get_model("mobilenet_v2_small"), (1, 1, 28, 28))
    # stem, then the last block of each stage (t, c, n, s table), then the 1x1 to 1280: total stride 8
    assert [mb[i] for i in (0, 1, 3, 6, 10, 13, 16, 17, 18)] == [
        (32, 28, 28), (16, 28, 28), (24, 28, 28), (32, 14, 14), (64, 7, 7), (96, 7, 7), (160, 4, 4), (320, 4, 4),
        (1280, 4, 4),
    ]  # fmt: skip


@pytest.mark.slow
def test_mobilenet_v2_shapes_at_224():
    """Total stride 32: 112 after the stem, 7x7x1280 at the end, as torchvision's MobileNetV2."""
    mb = _feature_shapes(models.mobilenet_v2(), (1, 3, 224, 224))
    assert [mb[i] for i in (0, 1, 3, 6, 10, 13, 16, 17, 18)] == [
        (32, 112, 112), (16, 112, 112), (24, 56, 56), (32, 28, 28), (64, 14, 14), (96, 14, 14), (160, 7, 7),
        (320, 7, 7), (1280, 7, 7),
    ]  # fmt: skip


def test_se_resnet18_shapes_and_gates():
    """ResNet-18's shapes (b1..b5 at 64: 16, 16, 8, 4, 2); every SE gate is in (0, 1) and scales its channel."""
    net = models.get_model("se_resnet18")
    rows = _propagate(net, (2, 1, 64, 64))
    assert [s for _, s in rows] == [
        (2, 64, 16, 16), (2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2), (2, 512, 1, 1), (2, 512),
        (2, 10),
    ]  # fmt: skip
    se = net[2][0].se
    assert (se.fc1.weight.shape, se.fc2.weight.shape) == ((8, 128, 1, 1), (128, 8, 1, 1))  # reduction 16
    x = mt.randn(2, 128, 5, 5)
    with mt.no_grad():
        y = se(x).numpy()
        gate = nn.functional.sigmoid(se.fc2(nn.functional.relu(se.fc1(x.mean((2, 3), keepdim=True))))).numpy()
    assert ((gate > 0) & (gate < 1)).all()
    np.testing.assert_allclose(y, x.numpy() * gate, rtol=1e-6)


# ------------------------------------------------------------------ keys and parameter counts
FULL_SIZE = ("resnet34", "squeezenet1_1", "mobilenet_v2")  # factories default to 3 channels, 1000 classes


def _ours(name):
    return getattr(models, name)() if name in FULL_SIZE else models.get_model(name)


@pytest.mark.parametrize("name", models.MODELS)
def test_state_dict_keys_and_parameter_count_match_pytorch(name):
    torch.manual_seed(0)
    ref = _torch_nets.BUILDERS[name]()
    ref_shapes = [(key, tuple(v.shape)) for key, v in ref.state_dict().items()]
    ref_parameters = [(key, p.numel()) for key, p in ref.named_parameters()]
    del ref  # one net in memory at a time (VGG-11: 129 M parameters)
    ours = _ours(name)
    assert [(key, tuple(v.shape)) for key, v in ours.state_dict().items()] == ref_shapes
    assert [(key, p.numel()) for key, p in ours.named_parameters()] == ref_parameters


def test_lenet_parameter_count_is_the_books():
    assert sum(p.numel() for p in models.get_model("lenet").parameters()) == 61_706


@pytest.mark.parametrize(
    "name, count",
    [("squeezenet1_1", 1_235_496), ("mobilenet_v2", 3_504_872), ("se_resnet18", 11_267_458), ("nin", 1_992_166)],
)
def test_parameter_counts_are_the_published_ones(name, count):
    """torchvision's documented counts for SqueezeNet 1.1 and MobileNetV2 (3 channels, 1000 classes);
    SE-ResNet-18 = the book's ResNet-18 (11,178,378) + 89,080 in the SE blocks; NiN's from its layers."""
    assert sum(p.numel() for p in _ours(name).parameters()) == count


def test_torchvision_keys_load_key_for_key():
    """A state dict with torchvision's keys (here the PyTorch reference's, written to torchvision's names)."""
    mb, sq = models.mobilenet_v2(), models.squeezenet1_1()
    for key in ("features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                "features.2.conv.0.0.weight", "features.2.conv.1.0.weight", "features.17.conv.3.running_var",
                "features.18.1.num_batches_tracked", "classifier.1.weight"):  # fmt: skip
        assert key in mb.state_dict(), key
    assert mb.state_dict()["features.2.conv.1.0.weight"].shape == (96, 1, 3, 3)  # depthwise: groups = 96
    for key in ("features.0.weight", "features.3.squeeze.weight", "features.3.expand1x1.bias",
                "features.12.expand3x3.weight", "classifier.1.weight"):  # fmt: skip
        assert key in sq.state_dict(), key
    torch.manual_seed(0)
    ref = _torch_nets.BUILDERS["mobilenet_v2"]()
    result = mb.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def test_named_keys_quoted_in_nets_md():
    assert "2.0.p2_1.bias" in models.get_model("googlenet").state_dict()
    assert "DenseBlosk_0.net.0.2.weight" in models.get_model("densenet").state_dict()
    assert "layer1.0.left.0.weight" in models.resnet34().state_dict()
    assert "0.weight" in models.get_model("lenet").state_dict()


# ------------------------------------------------------------------ logits and gradients vs PyTorch
TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


def _no_dropout(net):
    """Put every Dropout in eval (identity); the rest keeps its mode."""
    for m in net.modules():
        if type(m).__name__ == "Dropout":
            m.eval()


def _close(ours, ref, rtol, what, floor=0.0, slack=0.0):
    """|ours − ref| ≤ rtol · (|ref| + max(max|ref|, floor)) + slack.

    Relative, with the tensor's own scale as floor; ``floor`` is for tensors that are zero up to
    round-off (a conv bias followed by batch norm in training has an exactly zero gradient), where
    the scale is that of the net's other gradients; ``slack`` is an absolute allowance. Computed
    in blocks of ``_BLOCK`` values, so that a large weight (VGG-11's first Linear: 103 M values)
    costs no float64 copies of its size.
    """
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    ours, ref = ours.reshape(-1), ref.reshape(-1)
    blocks = [slice(i, i + _BLOCK) for i in range(0, ref.size, _BLOCK)]
    scale = max(_max_abs(ref), floor)
    worst = max_err = 0.0
    for b in blocks:
        o, r = ours[b].astype(np.float64), ref[b].astype(np.float64)
        err = np.abs(o - r)
        bound = rtol * (np.abs(r) + scale) + slack + 1e-300
        worst, max_err = max(worst, float(np.max(err / bound))), max(max_err, float(err.max()))
    assert worst <= 1.0, (
        f"{what}: max error {max_err:.3e} exceeds {rtol:g} relative (scale {scale:.3e}, slack {slack:.2e})"
    )


_BLOCK = 2**20


def _max_abs(a) -> float:
    """max |a|, in blocks (no copy of a large array)."""
    a = np.asarray(a).reshape(-1)
    return max((float(np.max(np.abs(a[i : i + _BLOCK]))) for i in range(0, a.size, _BLOCK)), default=0.0)


class _Spilled(dict):
    """{key: array} whose arrays wait in .npy files (``_torch_run(..., spill=folder)``); each is read
    back when asked for, so that one at a time is in memory. A value that is not a file is kept as is."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return np.load(value) if isinstance(value, Path) else value

    def path(self, key):
        return super().__getitem__(key)

    def values(self):
        return (self[k] for k in self)

    def items(self):
        return ((k, self[k]) for k in self)


def _torch_run(name, tdtype, train, x, y, masks=None, state=False, spill=None):
    """The seed's PyTorch net (seeded weights) on (x, y): logits, loss, grads, buffers after, the slope
    masks of its ReLU calls ("kinks"), and with ``state`` its state dict before the step (parameters
    as views of PyTorch's tensors, which forward and backward leave unchanged; buffers copied). With
    ``spill`` (a folder) the gradients are written there as they are taken and read back one at a
    time (``_Spilled``): the big nets' PyTorch gradients then wait on disk while ours run."""
    previous_threads = torch.get_num_threads()
    # one thread: PyTorch runs a float64 grouped conv as one small conv per group (MobileNetV2: ~7000
    # per step), and on a loaded 2-core machine handing each to a thread pool made it 50x slower
    torch.set_num_threads(1)
    try:
        return _torch_run_on_one_thread(name, tdtype, train, x, y, masks, state, spill)
    finally:
        torch.set_num_threads(previous_threads)


def _torch_run_on_one_thread(name, tdtype, train, x, y, masks, state, spill):
    torch.manual_seed(1)
    ref = _torch_nets.BUILDERS[name]().to(tdtype)
    parameters = {id(p) for p in ref.parameters()}
    before = {k: v.detach().numpy() if id(v) in parameters else v.detach().numpy().copy()
              for k, v in ref.state_dict(keep_vars=True).items()} if state else None  # fmt: skip
    grads = {} if spill is None else _Spilled()
    if spill is not None:  # each gradient to disk as soon as PyTorch has it: one at a time in memory
        def to_disk(p, key):
            path = grads[key] = spill / f"grad.{key}.npy"
            np.save(path, p.grad.numpy())
            p.grad = None

        for key, p in ref.named_parameters():
            p.register_post_accumulate_grad_hook(lambda p, key=key: to_disk(p, key))
    ref.train(train)
    _no_dropout(ref)
    with _torch_kinks(masks) as kinks:
        out = ref(torch.from_numpy(x).to(tdtype))
    loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
    release_freed_memory()
    loss.backward()
    if spill is None:
        grads = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    else:
        grads = _Spilled((k, grads.path(k)) for k, _ in ref.named_parameters())  # in the parameters' order
        if state:  # the parameters wait on disk too, so that none of PyTorch's net is left in memory
            for k in list(before):
                if k in grads:
                    np.save(spill / f"state.{k}.npy", before[k])
                    before[k] = spill / f"state.{k}.npy"
            before = _Spilled(before)
    return {
        "state": before,
        "logits": out.detach().numpy(),
        "loss": loss.detach().numpy(),
        "grads": grads,
        "buffers": {k: b.numpy() for k, b in ref.named_buffers()},
        "kinks": kinks,
    }


# The kinks of the nets' piecewise-linear activations, wherever they are called (a module or F.relu in a
# block's forward): PyTorch's F.relu and F.hardtanh (nn.ReLU calls the first, nn.ReLU6 the second), and
# our ReLUFn and HardtanhFn. Each call's slope mask is 1 strictly inside the linear piece, as both backwards.
@contextlib.contextmanager
def _torch_kinks(masks=None):
    """Record the slope mask of every F.relu / F.hardtanh call (the list yielded). Given ``masks`` (one
    per call, in call order), each call's gradient takes that mask as its slope instead of its own:
    the output keeps its value, the backward follows the given side of every kink."""
    recorded, calls = [], iter(masks) if masks is not None else None
    relu, hardtanh = torch.nn.functional.relu, torch.nn.functional.hardtanh

    def follow(z, y, inside):
        recorded.append(inside.numpy())
        if calls is None:
            return y
        mask = next(calls)
        assert mask.shape == tuple(z.shape), f"kink call {len(recorded)}: mask {mask.shape}, input {tuple(z.shape)}"
        return y.detach() + (z - z.detach()) * torch.from_numpy(mask).to(z.dtype)

    def relu_following(input, inplace=False):  # not in place: the pre-activation is needed
        return follow(input, relu(input), input.detach() > 0)

    def hardtanh_following(input, min_val=-1.0, max_val=1.0, inplace=False):
        z = input.detach()
        return follow(input, hardtanh(input, min_val, max_val), (z > min_val) & (z < max_val))

    torch.nn.functional.relu, torch.nn.functional.hardtanh = relu_following, hardtanh_following
    try:
        yield recorded
    finally:
        torch.nn.functional.relu, torch.nn.functional.hardtanh = relu, hardtanh


@contextlib.contextmanager
def _our_kinks():
    """Record the slope mask of every ReLU and hardtanh (ReLU6) our engine computes, in call order."""
    recorded = []
    relu_forward, hardtanh_forward = activation.ReLUFn.forward, activation.HardtanhFn.forward

    def relu_recording(ctx, a):
        recorded.append(np.asarray(a > 0))
        return relu_forward(ctx, a)

    def hardtanh_recording(ctx, a, *, lo, hi):
        recorded.append(np.asarray((a > lo) & (a < hi)))
        return hardtanh_forward(ctx, a, lo=lo, hi=hi)

    activation.ReLUFn.forward, activation.HardtanhFn.forward = staticmethod(relu_recording), staticmethod(hardtanh_recording)
    try:
        yield recorded
    finally:
        activation.ReLUFn.forward, activation.HardtanhFn.forward = staticmethod(relu_forward), staticmethod(hardtanh_forward)


def _cross_check(name, size, batch, dtype, train, in_channels=1, num_classes=10, spill=None):
    """Our net with PyTorch's weights: logits, loss, every gradient and the buffers after the step.

    float64: against PyTorch in float64 to 1e-9 relative. float32: against PyTorch in float64, to
    1e-4 relative or, where float32 itself cannot do better (batch norm over a handful of values,
    a ReLU kink), to 3× PyTorch's own float32 error on the same tensor.

    The two engines' nets are never alive at once: PyTorch's runs first (its parameters handed to
    ours, then dropped), ours next (its parameters dropped once its gradients are read off), and
    what is compared is kept as arrays only. With ``spill`` (a folder) PyTorch's parameters and
    float64 gradients wait there on disk while ours run, and ours computes its gradients in two
    passes (VGG-11 at 224: 1 GB of each, 822 MB in its first Linear's weight alone).
    """
    gen = np.random.default_rng(7)
    x = gen.standard_normal((batch, in_channels, size, size))
    y = gen.integers(0, num_classes, size=batch)
    slack_of = {}  # (kind, key): 3× PyTorch's float32 error on that tensor (none in float64)
    if dtype == np.float64:
        ref = _torch_run(name, torch.float64, train, x, y, state=True, spill=spill)
        state, torch_kinks = ref.pop("state"), len(ref.pop("kinks"))
        grad_scale = max(_max_abs(g) for g in ref["grads"].values())  # the floor of every gradient's check
        release_freed_memory()
    else:
        # A pre-activation within float32 round-off of a ReLU kink may land on either side in float32,
        # and the two sides' gradients differ by that unit's whole contribution: MobileNetV2 at 3x64x64
        # has dozens within 3x float32's error of 0 (counted against PyTorch's float64). Which side our
        # float32 or PyTorch's takes depends on the BLAS kernel's rounding, so each engine is compared
        # with the float64 gradient along the side of every kink that engine took: the reference is
        # PyTorch in float64 with our float32 forward's slope masks at every ReLU / ReLU6 call (below),
        # the slack (3x PyTorch's float32 error) PyTorch's float32 against float64 along its own masks.
        ref32 = _torch_run(name, torch.float32, train, x, y, state=True)
        ref32_f64 = _torch_run(name, torch.float64, train, x, y, masks=ref32["kinks"])
        for kind in ("logits", "loss", "grads", "buffers"):
            pairs = [((kind, None), ref32[kind], ref32_f64[kind])] if kind in ("logits", "loss") else [
                ((kind, k), ref32[kind][k], ref32_f64[kind][k]) for k in ref32[kind]]  # fmt: skip
            for where, a, b in pairs:
                slack_of[where] = 3.0 * float(np.max(np.abs(np.asarray(a, np.float64) - b)))
        state, torch_kinks = ref32["state"], len(ref32["kinks"])  # the weights are built in float32 either way
        ref32_keys = list(ref32["grads"])
        del ref32, ref32_f64
        release_freed_memory()
    rtol = 1e-9 if dtype == np.float64 else 1e-4

    def slack(kind, key=None):
        return slack_of.get((kind, key), 0.0)

    previous_dtype = mt.get_default_dtype()
    mt.set_default_dtype(dtype)  # built in the dtype compared: no float32 copy of a float64 net on the way
    try:
        ours = _ours(name).to(dtype)
    finally:
        mt.set_default_dtype(previous_dtype)
    if isinstance(state, _Spilled):  # one array at a time from disk
        assert list(state) == list(ours.state_dict())
        for key in state:
            ours.load_state_dict({key: state[key]}, strict=False)
    else:
        ours.load_state_dict(state)  # PyTorch's weights and buffers (as NumPy arrays), by key
    del state  # PyTorch's parameters go
    release_freed_memory()
    ours.train(train)
    _no_dropout(ours)
    params = dict(ours.named_parameters())
    assert list(params) == list(ref32_keys if dtype == np.float32 else ref["grads"])
    passes = [list(params)]  # the parameters whose gradients each forward and backward computes
    if spill is not None:  # every gradient but the largest weight's (that weight frozen), then that
        # weight's alone (the others frozen, so no graph is recorded below it): never all at once
        largest = max(params.items(), key=lambda item: item[1].numel())[0]
        passes = [[k for k in params if k != largest], [largest]]
    grads = {}
    for number, needs in enumerate(passes):
        for key, p in params.items():
            p.requires_grad = key in needs
        with _our_kinks() as kinks:
            out = ours(mt.tensor(x.astype(dtype)))
        loss_tensor = nn.functional.cross_entropy(out, mt.tensor(y))
        release_freed_memory()  # what forward freed, before backward's gradients
        loss_tensor.backward()
        if number == 0:
            ours_kinks = kinks
            assert len(ours_kinks) == torch_kinks, f"{name}: {len(ours_kinks)} ReLU calls, PyTorch {torch_kinks}"
            assert out.dtype == dtype
            logits, loss = out.numpy(), loss_tensor.numpy()
            # after the step: running statistics and batch counters (a later pass steps them again)
            buffers = {key: b.array.copy() for key, b in ours.named_buffers()}
        for key in needs:
            p = params[key]
            assert p.grad is not None, f"{name}: no gradient for {key}"
            assert p.grad.dtype == dtype and p.grad.shape == p.shape
            grads[key], p.grad = p.grad.array, None  # the array itself: no copy
        del out, loss_tensor, p
        release_freed_memory()
        if number < len(passes) - 1:  # spilled (float64): compared now, while our net is still needed
            for key in needs:
                _close(grads.pop(key), ref["grads"][key], rtol, f"{name} grad of {key}", floor=grad_scale)
    del ours, params  # our parameters go (backward has released the graph)
    release_freed_memory()
    if dtype == np.float32:  # float64 along our float32's side of every kink (see above)
        ref = _torch_run(name, torch.float64, train, x, y, masks=ours_kinks)
        grad_scale = max(_max_abs(g) for g in ref["grads"].values())

    _close(logits, ref["logits"], rtol, f"{name} logits", slack=slack("logits"))
    _close(loss, ref["loss"], rtol, f"{name} loss", slack=slack("loss"))
    for key in list(grads):  # each dropped once compared
        _close(grads.pop(key), ref["grads"][key], rtol, f"{name} grad of {key}", floor=grad_scale, slack=slack("grads", key))
    for key, b in buffers.items():
        if b.dtype.kind == "f":
            assert b.dtype == dtype
            # a running mean is an average of values of spread sqrt(running_var); where the batch's input
            # is centred already (MobileNetV2: a BN, then a bias-free 1x1 conv, then this BN) it is zero
            # up to that spread's round-off, so the spread is its scale
            floor = 0.0
            if key.endswith("running_mean"):
                floor = float(np.sqrt(np.max(ref["buffers"][key.removesuffix("mean") + "var"])))
            _close(b, ref["buffers"][key], rtol, f"{name} buffer {key}", floor=floor, slack=slack("buffers", key))
        else:
            assert int(b) == int(ref["buffers"][key]), key


FAST_CASES = [  # (name, input size, batch)
    ("lenet", 28, 4),
    ("lenet_relu", 28, 4),
    ("lenet_bn", 28, 4),
    ("lenet_bn_relu", 28, 4),
    ("googlenet", 32, 2),
    ("resnet18", 32, 3),
    ("densenet", 32, 3),
    ("nin", 72, 2),  # the smallest size its three 3/2 max pools take is 67
    ("squeezenet1_1_small", 28, 2),
    ("mobilenet_v2_small", 28, 2),
    ("se_resnet18", 32, 3),
]
FLOAT32_CASES = FAST_CASES[:4] + [
    ("resnet18", 64, 4), ("densenet", 64, 4), ("nin", 72, 4), ("squeezenet1_1_small", 28, 4), ("se_resnet18", 64, 4),
    ("mobilenet_v2_small", 28, 2),  # its 1280-channel ReLU6 input holds a value within float32 round-off of 0
]  # fmt: skip
FULL_CASES = [("squeezenet1_1", 64, 2), ("mobilenet_v2", 64, 2)]  # 3 channels, 1000 classes, small inputs


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name, size, batch", FAST_CASES, ids=[c[0] for c in FAST_CASES])
def test_matches_pytorch_float64(name, size, batch, train):
    _cross_check(name, size, batch, np.float64, train)


@pytest.mark.parametrize("name, size, batch", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
def test_matches_pytorch_float32(name, size, batch):
    _cross_check(name, size, batch, np.float32, True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name, size, batch", FULL_CASES, ids=[c[0] for c in FULL_CASES])
def test_torchvision_layouts_match_pytorch(name, size, batch, train, dtype):
    """SqueezeNet 1.1 and MobileNetV2 as torchvision builds them (3 channels, 1000 classes), at 64x64."""
    _cross_check(name, size, batch, dtype, train, in_channels=3, num_classes=1000)


@pytest.mark.slow
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", ["squeezenet1_1", "mobilenet_v2"])
def test_torchvision_layouts_match_pytorch_at_224(name, train):
    _cross_check(name, 224, 2, np.float64, train, in_channels=3, num_classes=1000)


@pytest.mark.slow
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_nin_matches_pytorch_at_224(train):
    _cross_check("nin", 224, 2, np.float64, train)


@pytest.mark.slow
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", ["googlenet", "resnet18", "densenet", "se_resnet18"])
def test_matches_pytorch_float64_at_96(name, train):
    _cross_check(name, 96, 2, np.float64, train)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "vgg11_small", "vgg11"])
def test_matches_pytorch_at_224(name, tmp_path):
    """The Linear after the Flatten fixes the input at 224; no batch norm, so train mode = eval mode here.
    PyTorch's gradients wait on disk while ours run (VGG-11's are 1 GB in float64)."""
    _cross_check(name, 224, 2, np.float64, True, spill=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_resnet34_matches_pytorch(train):
    """The seed's ImageNet-style net: 3 channels, 1000 classes, 224 input (its avg_pool2d(7) needs 7x7)."""
    _cross_check("resnet34", 224, 2, np.float64, train, in_channels=3, num_classes=1000)


# ------------------------------------------------------------------ factories, options, summary
def test_get_model_names_and_options():
    assert set(models.MODELS) == set(models.INPUT_SIZES)
    assert models.MODELS == (
        "lenet", "lenet_relu", "lenet_bn", "lenet_bn_relu", "alexnet", "vgg11", "vgg11_small", "googlenet", "resnet18", "resnet34", "densenet",
        "nin", "squeezenet1_1", "squeezenet1_1_small", "mobilenet_v2", "mobilenet_v2_small", "se_resnet18",
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown model 'lenet6'"):
        models.get_model("lenet6")
    net = models.get_model("lenet", in_channels=3, num_classes=7)
    assert net[0].weight.shape == (6, 3, 5, 5) and net[11].out_features == 7
    assert models.default_input_shape("googlenet") == (1, 1, 96, 96)


def test_lenet_xavier_init_is_the_books_distribution():
    mt.manual_seed(3)
    net = models.get_model("lenet", init="xavier")
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight.shape[1] * int(np.prod(m.weight.shape[2:]))
            fan_out = m.weight.shape[0] * int(np.prod(m.weight.shape[2:]))
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            w = m.weight.numpy()
            assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    # the default init's bound is 1/sqrt(fan_in), visibly different on the 400->120 Linear
    default = models.get_model("lenet")
    assert np.abs(default[7].weight.numpy()).max() <= 1 / np.sqrt(400)
    assert np.abs(net[7].weight.numpy()).max() > 1 / np.sqrt(400)
    # deterministic under the seed
    mt.manual_seed(3)
    again = models.get_model("lenet", init="xavier")
    np.testing.assert_array_equal(again[0].weight.numpy(), net[0].weight.numpy())
    with pytest.raises(ValueError, match="init"):
        models.get_model("lenet", init="he")


def test_resnet34_rejects_small_inputs_clearly():
    with pytest.raises(ValueError, match="224"):
        with mt.no_grad():
            models.resnet34(in_channels=1, num_classes=10)(mt.rand(1, 1, 64, 64))


def test_summary_rows_and_total():
    text = models.summarize(models.get_model("lenet"), "1x1x28x28")
    lines = text.splitlines()
    assert lines[1].split() == ["layer", "type", "output", "shape", "params"]
    assert lines[2].split() == ["0", "Conv2d", "1x6x28x28", "156"]
    assert lines[-2].split() == ["11", "Linear", "1x10", "850"]
    assert lines[-1] == "total parameters: 61,706"
    densenet = models.summarize(models.get_model("densenet"), (1, 1, 96, 96))
    assert "DenseBlosk_3" in densenet and "1x248x3x3" in densenet
    net = models.get_model("resnet18")
    assert net.training
    models.summarize(net, (2, 1, 64, 64))
    assert net.training and all(m.training for m in net.modules())  # mode restored
    assert int(net[0][1].num_batches_tracked.item()) == 0  # ran in eval: no statistics updated
    with pytest.raises(ValueError, match="1x1x28x28"):
        models.summarize(net, "1by28")


WINOGRAD_CASES = [("resnet18", 64, 4), ("se_resnet18", 64, 4), ("densenet", 64, 4), ("googlenet", 96, 2),
                  pytest.param("alexnet", 224, 2, marks=pytest.mark.slow),
                  pytest.param("vgg11_small", 224, 2, marks=pytest.mark.slow)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("name", "size", "batch"), WINOGRAD_CASES)
def test_cross_check_with_winograd_where_it_pays(monkeypatch, name, size, batch, dtype):
    """conv2d's "auto" algorithm (Winograd F(4x4, 3x3) or F(2x2, 3x3) on the wide 3x3 layers): the
    same cross-check, for every net with such layers at these sizes (VGG-11-small and AlexNet: slow)."""
    from minitorch_cnn.functional.conv.fast.winograd import WinogradConv2dFn

    calls = []
    forward = WinogradConv2dFn.forward
    monkeypatch.setattr(WinogradConv2dFn, "forward", staticmethod(lambda *a, **k: calls.append(1) or forward(*a, **k)))
    with mt.conv_algorithm("auto"):
        _cross_check(name, size, batch, dtype, train=True)
    assert calls, f"{name} at {size}x{size}: no layer ran by Winograd"
