"""What each chapter of *Dive into Deep Learning* does, in our own code, printed alike on the engine and on PyTorch.

The builders' guide (model construction, parameters, initialisation, lazy initialisation, custom
layers, reading and writing), the CNN chapter (cross-correlation, padding and strides, channels,
pooling, LeNet) and the modern CNNs (AlexNet, VGG, NiN, GoogLeNet, batch norm, ResNet, DenseNet).
Nothing here is the book's text: each test is a fresh script doing what a chapter's PyTorch cells do,
written once and run twice, with ``torch`` (and ``nn``, ``F``, the d2l library) bound to
``minitorch_cnn`` and then to PyTorch. Every line the script prints must be the same on both, with
``minitorch_cnn.`` read as ``torch.`` (``minitorch_cnn.Size([2, 10])`` is ``torch.Size([2, 10])``).

The scripts print only what does not depend on random draws (the engines' generators differ): shapes,
dtypes, module and state-dict structure, values made by deterministic code (ranges, constants, the
book's small hand-made matrices), comparisons that are true whatever the draw. Where a tensor holds
random values it is printed as its repr with every number masked (``_masked``), so its structure
(nesting, ``requires_grad=True``, ``grad_fn=<AddmmBackward0>``) is still compared.

The book's own cells, run unchanged on both engines, are the job of ``book_cells.py`` (a developer
tool, not a test: it reads the book's source at run time).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import types

import numpy as np
import pytest
from _book_bindings import ENGINES, framework, load_d2l

NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")


def _masked(value) -> str:
    """``repr(value)`` with each number written ``#``, every run of white space one space, none after a bracket.

    (PyTorch pads a column of numbers with a space when one of them is negative: that is a property of
    the draw, not of the structure.)"""
    return re.sub(r"([\[(]) ", r"\1", " ".join(NUMBER.sub("#", repr(value)).split()))


def _env(engine: str, d2l=None) -> types.SimpleNamespace:
    torch = framework(engine)
    return types.SimpleNamespace(torch=torch, nn=torch.nn, F=torch.nn.functional, d2l=d2l, engine=engine)


def _printed(script, env, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = script(env, *args)
    return [line.replace("minitorch_cnn.", "torch.") for line in out.getvalue().splitlines()], result


def _same_on_both(script, *args, envs=None):
    """Run ``script(env, *args)`` on each engine; assert the printed lines agree; return both results."""
    envs = envs or {engine: _env(engine) for engine in ENGINES}
    ours, ours_result = _printed(script, envs["minitorch_cnn"], *args)
    theirs, their_result = _printed(script, envs["torch"], *args)
    assert ours == theirs
    return ours_result, their_result


def _layer_shapes(env, net, shape):
    """The book's summary loop: each top-level layer's class name and the shape it gives."""
    X = env.torch.randn(*shape)
    for layer in net:
        X = layer(X)
        print(layer.__class__.__name__, "output shape:\t", X.shape)
    return X


@pytest.fixture(scope="module")
def books():
    """Both engines with the d2l library on each (skips without the wheel or d2l's imports)."""
    return {engine: _env(engine, load_d2l(engine)) for engine in ENGINES}


@pytest.fixture
def quiet_boards(books, monkeypatch):
    """d2l's ProgressBoard shows its figure through IPython; outside a notebook that would print."""
    quiet = types.SimpleNamespace(display=lambda *a, **k: None, clear_output=lambda *a, **k: None)
    for env in books.values():
        monkeypatch.setattr(env.d2l, "display", quiet)
    import matplotlib

    matplotlib.use("Agg")
    yield books
    import matplotlib.pyplot as plt

    plt.close("all")


def _fashion_mnist_is_here():
    from test_d2l_library import _fashion_subset

    _fashion_subset(1, 1)  # skips, saying why, without the data


def _train_a_few_batches(env, model, resize, init=True, images=8, batch_size=4):
    """d2l's Trainer for one epoch on the first ``images`` training and ``batch_size`` test images."""
    d2l, subset = env.d2l, env.torch.utils.data.Subset
    data = d2l.FashionMNIST(batch_size=batch_size, resize=resize)
    data.train, data.val = subset(data.train, range(images)), subset(data.val, range(batch_size))
    data.num_workers = 0  # PyTorch would start worker processes for a handful of images
    if init:
        first_batch = next(iter(data.get_dataloader(True)))[0]
        print("first batch", first_batch.shape, first_batch.dtype)
        model.apply_init([first_batch], d2l.init_cnn)
    trainer = d2l.Trainer(max_epochs=1)
    trainer.fit(model, data)
    print("batches seen", trainer.train_batch_idx, trainer.val_batch_idx)
    for name, points in sorted(model.board.data.items()):
        print(name, "drawn at", [round(p.x, 3) for p in points])
    values = [float(p.y) for points in model.board.data.values() for p in points]
    assert values and all(math.isfinite(v) for v in values), values
    return values


def _classifier(env, net, lr):
    """A d2l Classifier around ``net`` (the chapters subclass it the same way)."""

    class Wrapped(env.d2l.Classifier):
        def __init__(self, net, lr):
            super().__init__()
            self.save_hyperparameters(ignore=["net"])
            self.net = net

    return Wrapped(net, lr)


# ================================================================== builders' guide
def test_model_construction():
    def script(env):
        torch, nn, F = env.torch, env.nn, env.F
        torch.manual_seed(0)
        X = torch.rand(2, 20)
        stack = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
        print(stack)
        print(stack(X).shape)
        print(stack)

        class TwoLayers(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = nn.LazyLinear(256)
                self.head = nn.LazyLinear(10)

            def forward(self, X):
                return self.head(F.relu(self.inner(X)))

        print(TwoLayers()(X).shape)

        class InOrder(nn.Module):  # a Sequential of our own: children run in the order they were added
            def __init__(self, *blocks):
                super().__init__()
                for position, block in enumerate(blocks):
                    self.add_module(str(position), block)

            def forward(self, X):
                for block in self.children():
                    X = block(X)
                return X

        mine = InOrder(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
        print(mine(X).shape, [name for name, _ in mine.named_children()])

        class ConstantAndReuse(nn.Module):  # a fixed tensor, one layer used twice, Python control flow
            def __init__(self):
                super().__init__()
                self.fixed = torch.rand((20, 20))
                self.dense = nn.LazyLinear(20)

            def forward(self, X):
                X = F.relu(self.dense(X) @ self.fixed + 1)
                X = self.dense(X)
                while X.abs().sum() > 1:
                    X /= 2
                return X.sum()

        out = ConstantAndReuse()(X)
        print(_masked(out), out.shape, out.dim())
        print(sorted(name for name, _ in ConstantAndReuse().named_parameters()))

        class Nested(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(32), nn.ReLU())
                self.top = nn.LazyLinear(16)

            def forward(self, X):
                return self.top(self.body(X))

        mixed = nn.Sequential(Nested(), nn.LazyLinear(20), ConstantAndReuse())
        out = mixed(X)
        print(_masked(out), bool(out.abs() <= 1))
        print([(name, tuple(p.shape)) for name, p in mixed.named_parameters()])

    _same_on_both(script)


def test_parameters_access_and_sharing():
    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
        X = torch.rand(size=(2, 4))
        print(net(X).shape)
        state = net[2].state_dict()
        print(type(state).__name__, [(k, v.shape) for k, v in state.items()])
        print(type(net[2].bias))
        print(_masked(net[2].bias), "|", _masked(net[2].bias.data))
        print(net[2].bias.requires_grad, net[2].bias.data.requires_grad, net[2].weight.grad == None)  # noqa: E711
        print([(name, param.shape) for name, param in net.named_parameters()])
        print(net.state_dict()["2.bias"].dtype, net.state_dict()["0.weight"].shape)

        tied = nn.LazyLinear(8)
        net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), tied, nn.ReLU(), tied, nn.ReLU(), nn.LazyLinear(1))
        net(X)
        print(net[2].weight.data[0] == net[4].weight.data[0])
        net[2].weight.data[0, 0] = 100
        print(net[2].weight.data[0] == net[4].weight.data[0], net[4].weight.data[0, 0])
        print(net[2].weight is net[4].weight, len(list(net.parameters())), len(net.state_dict()))
        net(X).sum().backward()
        print(net[2].weight.grad is net[4].weight.grad, net[4].weight.grad.shape)

    _same_on_both(script)


def test_parameter_initialisation():
    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
        print(net(torch.rand(size=(2, 4))).shape)

        def small_normal(m):
            if type(m) is nn.Linear:
                nn.init.normal_(m.weight, mean=0, std=0.01)
                nn.init.zeros_(m.bias)

        print(net.apply(small_normal) is net)
        print(_masked(net[0].weight.data[0]), net[0].bias.data[0], bool(net[0].weight.abs().max() < 0.1))

        def ones(m):
            if type(m) is nn.Linear:
                nn.init.constant_(m.weight, 1)
                nn.init.zeros_(m.bias)

        net.apply(ones)
        print(net[0].weight.data[0], net[0].bias.data[0])

        def xavier(m):
            if type(m) is nn.Linear:
                nn.init.xavier_uniform_(m.weight)

        def forty_two(m):
            if type(m) is nn.Linear:
                nn.init.constant_(m.weight, 42)

        net[0].apply(xavier)
        net[2].apply(forty_two)
        print(bool(net[0].weight.abs().max() <= math.sqrt(6 / (4 + 8))), net[2].weight.data)

        def wide_or_zero(m):  # uniform on [-10, 10], then every entry under 5 in size set to 0
            if type(m) is nn.Linear:
                print("Init", *[(name, p.shape) for name, p in m.named_parameters()][0])
                nn.init.uniform_(m.weight, -10, 10)
                m.weight.data *= m.weight.data.abs() >= 5

        net.apply(wide_or_zero)
        w = net[0].weight
        print(bool(((w.abs() >= 5) | (w == 0)).all()), _masked(w[:2]))
        net[0].weight.data[:] += 1
        net[0].weight.data[0, 0] = 42
        print(net[0].weight.data[0, 0], net[0].weight.data[0].shape)

        tied = nn.Linear(3, 3)  # one layer twice: initialising it once sets both places
        pair = nn.Sequential(tied, nn.ReLU(), tied)
        pair.apply(ones)
        print(pair[2].weight.data, pair[0].bias.data)

    _same_on_both(script)


def test_lazy_initialisation():
    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
        print(net[0].weight)
        print(net)
        print(type(net[0]).__name__, len(net.state_dict()))
        net(torch.rand(2, 20))
        print(net[0].weight.shape, net[2].weight.shape, type(net[0]).__name__)
        print(net)
        conv = nn.LazyConv2d(4, kernel_size=3)
        print(conv.weight, conv)
        conv(torch.zeros(1, 2, 5, 5))
        print(conv.weight.shape, conv.bias.shape, conv)

    _same_on_both(script)


def test_lazy_initialisation_through_d2ls_apply_init(books):
    def script(env):
        torch, nn, d2l = env.torch, env.nn, env.d2l
        torch.manual_seed(0)

        class Small(d2l.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Sequential(nn.LazyLinear(6), nn.ReLU(), nn.LazyLinear(3))

            def forward(self, X):
                return self.net(X)

        def fill_with_twos(m):
            if type(m) is nn.Linear:
                nn.init.constant_(m.weight, 2)
                nn.init.zeros_(m.bias)

        model = Small()
        model.apply_init([torch.ones(1, 4)], fill_with_twos)
        print([(name, p.shape) for name, p in model.named_parameters()])
        print(model(torch.ones(1, 4)))

    _same_on_both(script, envs=books)


def test_custom_layers():
    def script(env):
        torch, nn, F = env.torch, env.nn, env.F
        torch.manual_seed(0)

        class Centre(nn.Module):  # no parameters: subtract the mean
            def forward(self, X):
                return X - X.mean()

        print(Centre()(torch.tensor([1.0, 2, 3, 4, 5])))
        net = nn.Sequential(nn.LazyLinear(128), Centre())
        Y = net(torch.rand(4, 8))
        print(Y.shape, bool(Y.mean().abs() < 1e-5), _masked(Y.mean()))

        class Dense(nn.Module):  # parameters of its own, used through .data (no gradient reaches them)
            def __init__(self, n_in, n_out):
                super().__init__()
                self.weight = nn.Parameter(torch.randn(n_in, n_out))
                self.bias = nn.Parameter(torch.randn(n_out,))

            def forward(self, X):
                return F.relu(torch.matmul(X, self.weight.data) + self.bias.data)

        layer = Dense(5, 3)
        print(_masked(layer.weight))
        print(_masked(layer(torch.rand(2, 5))))
        with torch.no_grad():
            layer.weight.copy_(torch.ones(5, 3))
            layer.bias.fill_(-4.0)
        print(layer(torch.tensor([[1.0, 1, 1, 1, 1], [0, 0, 0, 0, 0]])))
        net = nn.Sequential(Dense(64, 8), Dense(8, 1))
        out = net(torch.rand(2, 64))
        print(out.shape, bool((out >= 0).all()), [n for n, _ in net.named_parameters()])

    _same_on_both(script)


def test_reading_and_writing(tmp_path):
    def script(env, folder):
        torch, nn, F = env.torch, env.nn, env.F
        torch.manual_seed(0)
        folder = folder / env.engine
        folder.mkdir()
        counts = torch.arange(4)
        torch.save(counts, str(folder / "one"))
        print(torch.load(str(folder / "one")))
        zeros = torch.zeros(4)
        torch.save([counts, zeros], str(folder / "list"))
        first, second = torch.load(str(folder / "list"))
        print((first, second))
        torch.save({"x": counts, "y": zeros}, str(folder / "dict"))
        print(torch.load(str(folder / "dict")))

        class TwoLayers(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.LazyLinear(256)
                self.output = nn.LazyLinear(10)

            def forward(self, x):
                return self.output(F.relu(self.hidden(x)))

        net = TwoLayers()
        X = torch.randn(size=(2, 20))
        Y = net(X)
        torch.save(net.state_dict(), str(folder / "mlp.params"))
        copy = TwoLayers()  # lazy: it has never seen an input; loading gives it its shapes
        loaded = torch.load(str(folder / "mlp.params"))
        print(type(loaded).__name__, [(k, v.shape) for k, v in loaded.items()])
        print(copy.load_state_dict(loaded))
        print(copy.eval())
        print(copy.training, copy.hidden.weight.shape)
        print(copy(X) == Y)

    _same_on_both(script, tmp_path)


# ================================================================== convolutional networks
def _cross_correlate(torch, X, K):
    """Two-dimensional cross-correlation, a loop over output positions."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def test_conv_layer():
    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)
        grid = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        print(_cross_correlate(torch, grid, torch.tensor([[0.0, 1.0], [2.0, 3.0]])))

        class Correlate(nn.Module):
            def __init__(self, kernel_size):
                super().__init__()
                self.weight = nn.Parameter(torch.rand(kernel_size))
                self.bias = nn.Parameter(torch.zeros(1))

            def forward(self, x):
                return _cross_correlate(torch, x, self.weight) + self.bias

        print(Correlate((2, 2))(grid).shape)
        image = torch.ones((6, 8))
        image[:, 2:6] = 0
        print(image)
        edge = torch.tensor([[1.0, -1.0]])
        target = _cross_correlate(torch, image, edge)
        print(target)
        print(_cross_correlate(torch, image.t(), edge))

        learner = nn.LazyConv2d(1, kernel_size=(1, 2), bias=False)
        X, Y = image.reshape((1, 1, 6, 8)), target.reshape((1, 1, 6, 7))
        learner(X)
        with torch.no_grad():
            learner.weight.fill_(0.5)  # a fixed start, so that both engines take the same steps
        losses = []
        for _ in range(10):
            loss = ((learner(X) - Y) ** 2).sum()
            learner.zero_grad()
            loss.backward()
            learner.weight.data[:] -= 3e-2 * learner.weight.grad
            losses.append(loss.item())
        print(learner.weight.shape, learner.weight.grad.shape)
        return losses, learner.weight.data.reshape((1, 2)).numpy()

    (ours, ours_k), (theirs, their_k) = _same_on_both(script)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    np.testing.assert_allclose(ours_k, their_k, rtol=1e-5)
    assert ours[-1] < ours[0] / 10  # the kernel moves towards [1, -1]


def test_padding_and_strides():
    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)

        def shape_through(conv, X):  # add batch and channel axes, convolve, drop them again
            Y = conv(X.reshape((1, 1) + X.shape))
            return Y.reshape(Y.shape[2:])

        X = torch.rand(size=(8, 8))
        for kwargs in ({"kernel_size": 3, "padding": 1}, {"kernel_size": (5, 3), "padding": (2, 1)},
                       {"kernel_size": 3, "padding": 1, "stride": 2},
                       {"kernel_size": (3, 5), "padding": (0, 1), "stride": (3, 4)}):
            print(kwargs, shape_through(nn.LazyConv2d(1, **kwargs), X).shape)

    _same_on_both(script)


def test_multiple_channels():
    def script(env):
        torch = env.torch
        torch.manual_seed(0)

        def many_in(X, K):  # one output channel: correlate each input channel, add them up
            return sum(_cross_correlate(torch, x, k) for x, k in zip(X, K))

        def many_out(X, K):  # one output channel per kernel stack
            return torch.stack([many_in(X, k) for k in K], 0)

        X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                          [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
        K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
        print(many_in(X, K))
        K3 = torch.stack((K, K + 1, K + 2), 0)
        print(K3.shape)
        print(many_out(X, K3))

        def one_by_one(X, K):  # a 1x1 convolution is a matrix product over the channels
            c_in, h, w = X.shape
            return torch.matmul(K.reshape((K.shape[0], c_in)), X.reshape((c_in, h * w))).reshape((K.shape[0], h, w))

        X, K = torch.normal(0, 1, (3, 3, 3)), torch.normal(0, 1, (2, 3, 1, 1))
        print(float((one_by_one(X, K) - many_out(X, K)).abs().sum()) < 1e-6, one_by_one(X, K).shape)

    _same_on_both(script)


def test_pooling():
    def script(env):
        torch, nn = env.torch, env.nn

        def pool(X, size, mode="max"):
            p_h, p_w = size
            Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    window = X[i:i + p_h, j:j + p_w]
                    Y[i, j] = window.max() if mode == "max" else window.mean()
            return Y

        grid = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        print(pool(grid, (2, 2)), pool(grid, (2, 2), "avg"))
        X = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4))
        print(X)
        print(nn.MaxPool2d(3)(X))
        print(nn.MaxPool2d(3, padding=1, stride=2)(X))
        print(nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(X))
        X = torch.cat((X, X + 1), 1)
        print(X.shape, nn.MaxPool2d(3, padding=1, stride=2)(X))
        print(nn.AvgPool2d(2, stride=2)(X))

    _same_on_both(script)


def _lenet(nn):
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))


def test_lenet_layer_shapes():
    def script(env):
        env.torch.manual_seed(0)
        net = _lenet(env.nn)
        _layer_shapes(env, net, (1, 1, 28, 28))
        print(net)

    _same_on_both(script)


def test_lenet_trains_through_d2ls_trainer(quiet_boards):
    _fashion_mnist_is_here()

    def script(env):
        env.torch.manual_seed(0)
        model = _classifier(env, _lenet(env.nn), lr=0.1)
        _train_a_few_batches(env, model, resize=(28, 28))
        print([(name, p.shape) for name, p in model.named_parameters()][-2:])

    _same_on_both(script, envs=quiet_boards)


# ================================================================== modern convolutional networks
def _alexnet(nn):
    return nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5), nn.LazyLinear(10))


def _vgg(nn, arch):
    def block(convs, channels):
        layers = []
        for _ in range(convs):
            layers += [nn.LazyConv2d(channels, kernel_size=3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))

    return nn.Sequential(*[block(*b) for b in arch], nn.Flatten(),
                         nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
                         nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(10))


def _nin(nn):
    def block(channels, kernel_size, stride, padding):
        return nn.Sequential(nn.LazyConv2d(channels, kernel_size, stride, padding), nn.ReLU(),
                             nn.LazyConv2d(channels, kernel_size=1), nn.ReLU(),
                             nn.LazyConv2d(channels, kernel_size=1), nn.ReLU())

    return nn.Sequential(block(96, 11, 4, 0), nn.MaxPool2d(3, stride=2), block(256, 5, 1, 2),
                         nn.MaxPool2d(3, stride=2), block(384, 3, 1, 1), nn.MaxPool2d(3, stride=2),
                         nn.Dropout(0.5), block(10, 3, 1, 1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


def test_alexnet_layer_shapes():
    def script(env):
        env.torch.manual_seed(0)
        net = _alexnet(env.nn)
        net.eval()
        _layer_shapes(env, net, (1, 1, 224, 224))
        print(sum(p.numel() for p in net.parameters()))

    _same_on_both(script)


def test_vgg_layer_shapes():
    def script(env):
        env.torch.manual_seed(0)
        net = _vgg(env.nn, ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))
        net.eval()
        with env.torch.no_grad():
            _layer_shapes(env, net, (1, 1, 224, 224))
        print(net[2])

    _same_on_both(script)


def test_nin_layer_shapes():
    def script(env):
        env.torch.manual_seed(0)
        net = _nin(env.nn)
        net.eval()
        _layer_shapes(env, net, (1, 1, 224, 224))
        print(net[0])

    _same_on_both(script)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "vgg", "nin"])
def test_the_224_pixel_nets_train_through_d2ls_trainer(quiet_boards, name):
    _fashion_mnist_is_here()

    def script(env):
        env.torch.manual_seed(0)
        nn = env.nn
        net = {"alexnet": lambda: _alexnet(nn), "nin": lambda: _nin(nn),
               "vgg": lambda: _vgg(nn, ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)))}[name]()
        model = _classifier(env, net, lr=0.01)
        _train_a_few_batches(env, model, resize=(224, 224), images=4, batch_size=2)

    _same_on_both(script, envs=quiet_boards)


def _inception(env):
    nn, F, torch = env.nn, env.F, env.torch

    class Inception(nn.Module):  # four branches side by side, joined along the channels
        def __init__(self, c1, c2, c3, c4):
            super().__init__()
            self.p1 = nn.LazyConv2d(c1, kernel_size=1)
            self.p2_1, self.p2_2 = nn.LazyConv2d(c2[0], kernel_size=1), nn.LazyConv2d(c2[1], 3, padding=1)
            self.p3_1, self.p3_2 = nn.LazyConv2d(c3[0], kernel_size=1), nn.LazyConv2d(c3[1], 5, padding=2)
            self.p4_1, self.p4_2 = nn.MaxPool2d(3, stride=1, padding=1), nn.LazyConv2d(c4, kernel_size=1)

        def forward(self, x):
            return torch.cat((F.relu(self.p1(x)), F.relu(self.p2_2(F.relu(self.p2_1(x)))),
                              F.relu(self.p3_2(F.relu(self.p3_1(x)))), F.relu(self.p4_2(self.p4_1(x)))), dim=1)

    return Inception


def _googlenet(env):
    nn, Inception = env.nn, _inception(env)
    return nn.Sequential(
        nn.Sequential(nn.LazyConv2d(64, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)),
        nn.Sequential(nn.LazyConv2d(64, 1), nn.ReLU(), nn.LazyConv2d(192, 3, padding=1), nn.ReLU(),
                      nn.MaxPool2d(3, stride=2, padding=1)),
        nn.Sequential(Inception(64, (96, 128), (16, 32), 32), Inception(128, (128, 192), (32, 96), 64),
                      nn.MaxPool2d(3, stride=2, padding=1)),
        nn.Sequential(Inception(192, (96, 208), (16, 48), 64), Inception(160, (112, 224), (24, 64), 64),
                      Inception(128, (128, 256), (24, 64), 64), Inception(112, (144, 288), (32, 64), 64),
                      Inception(256, (160, 320), (32, 128), 128), nn.MaxPool2d(3, stride=2, padding=1)),
        nn.Sequential(Inception(256, (160, 320), (32, 128), 128), Inception(384, (192, 384), (48, 128), 128),
                      nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()),
        nn.LazyLinear(10))


def test_googlenet_layer_shapes_and_training(quiet_boards):
    _fashion_mnist_is_here()

    def script(env):
        env.torch.manual_seed(0)
        net = _googlenet(env)
        _layer_shapes(env, net, (1, 1, 96, 96))
        print(len(list(net.parameters())), net[2][0].p4_1)
        model = _classifier(env, _googlenet(env), lr=0.01)
        _train_a_few_batches(env, model, resize=(96, 96), images=4, batch_size=2)

    _same_on_both(script, envs=quiet_boards)


def _scratch_batch_norm(env):
    torch, nn = env.torch, env.nn

    def normalise(X, gamma, beta, running_mean, running_var, eps, momentum):
        if not torch.is_grad_enabled():  # prediction: the running statistics
            X_hat = (X - running_mean) / torch.sqrt(running_var + eps)
        else:
            axes = 0 if X.dim() == 2 else (0, 2, 3)
            mean = X.mean(dim=axes, keepdim=True)
            var = ((X - mean) ** 2).mean(dim=axes, keepdim=True)
            X_hat = (X - mean) / torch.sqrt(var + eps)
            running_mean = (1.0 - momentum) * running_mean + momentum * mean
            running_var = (1.0 - momentum) * running_var + momentum * var
        return gamma * X_hat + beta, running_mean.data, running_var.data

    class BatchNorm(nn.Module):
        def __init__(self, num_features, num_dims):
            super().__init__()
            shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
            self.gamma, self.beta = nn.Parameter(torch.ones(shape)), nn.Parameter(torch.zeros(shape))
            self.running_mean, self.running_var = torch.zeros(shape), torch.ones(shape)

        def forward(self, X):
            if self.running_mean.device != X.device:
                self.running_mean, self.running_var = self.running_mean.to(X.device), self.running_var.to(X.device)
            Y, self.running_mean, self.running_var = normalise(
                X, self.gamma, self.beta, self.running_mean, self.running_var, eps=1e-5, momentum=0.1)
            return Y

    return BatchNorm


def test_batch_norm_from_scratch_and_built_in(quiet_boards):
    _fashion_mnist_is_here()

    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)
        BatchNorm = _scratch_batch_norm(env)
        X = torch.arange(24, dtype=torch.float32).reshape((2, 3, 2, 2))
        mine, built_in = BatchNorm(3, num_dims=4), nn.BatchNorm2d(3)
        gap = (mine(X) - built_in(X)).abs().max()
        print(bool(gap < 1e-5), mine.running_mean.reshape((-1,)), built_in.running_mean)
        print(BatchNorm(3, num_dims=2)(torch.ones(4, 3)))
        with torch.no_grad():
            print(mine(X).shape, bool((mine(X) - built_in.eval()(X)).abs().max() < 1e-4))

        scratch = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5), BatchNorm(6, num_dims=4), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), BatchNorm(16, num_dims=4), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
            nn.Flatten(), nn.LazyLinear(120), BatchNorm(120, num_dims=2), nn.Sigmoid(),
            nn.LazyLinear(84), BatchNorm(84, num_dims=2), nn.Sigmoid(), nn.LazyLinear(10))
        model = _classifier(env, scratch, lr=0.1)
        _train_a_few_batches(env, model, resize=(28, 28))
        print(model.net[1].gamma.reshape((-1,)).shape, _masked(model.net[1].beta.reshape((-1,))))

        lazy = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
            nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.Sigmoid(),
            nn.LazyLinear(84), nn.LazyBatchNorm1d(), nn.Sigmoid(), nn.LazyLinear(10))
        print(lazy[1])
        model = _classifier(env, lazy, lr=0.1)
        _train_a_few_batches(env, model, resize=(28, 28))
        print(lazy[1], lazy[1].num_batches_tracked, sorted(lazy[1].state_dict()))

    _same_on_both(script, envs=quiet_boards)


def _residual(env):
    nn, F = env.nn, env.F

    class Residual(nn.Module):
        def __init__(self, channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.LazyConv2d(channels, kernel_size=3, padding=1)
            self.conv3 = nn.LazyConv2d(channels, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    return Residual


def _resnet18(env):
    nn, Residual = env.nn, _residual(env)

    def stage(count, channels, first):
        return nn.Sequential(*[Residual(channels, use_1x1conv=True, strides=2) if i == 0 and not first
                               else Residual(channels) for i in range(count)])

    net = nn.Sequential(nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(),
                                      nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
    for i, (count, channels) in enumerate(((2, 64), (2, 128), (2, 256), (2, 512))):
        net.add_module(f"stage{i + 2}", stage(count, channels, first=i == 0))
    net.add_module("head", nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10)))
    return net


def test_resnet_blocks_shapes_and_training(quiet_boards):
    _fashion_mnist_is_here()

    def script(env):
        torch, nn, F = env.torch, env.nn, env.F
        torch.manual_seed(0)
        Residual = _residual(env)
        X = torch.randn(4, 3, 6, 6)
        print(Residual(3)(X).shape, Residual(6, use_1x1conv=True, strides=2)(X).shape)

        class Grouped(nn.Module):  # the ResNeXt block: 1x1, grouped 3x3, 1x1, and an optional 1x1 shortcut
            def __init__(self, channels, groups, bottleneck, use_1x1conv=False, strides=1):
                super().__init__()
                inner = int(round(channels * bottleneck))
                self.conv1 = nn.LazyConv2d(inner, kernel_size=1)
                self.conv2 = nn.LazyConv2d(inner, kernel_size=3, stride=strides, padding=1, groups=inner // groups)
                self.conv3 = nn.LazyConv2d(channels, kernel_size=1)
                self.bn1, self.bn2, self.bn3 = nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d()
                self.conv4 = nn.LazyConv2d(channels, kernel_size=1, stride=strides) if use_1x1conv else None
                self.bn4 = nn.LazyBatchNorm2d() if use_1x1conv else None

            def forward(self, X):
                Y = self.bn3(self.conv3(F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))))
                return F.relu(Y + (self.bn4(self.conv4(X)) if self.conv4 else X))

        block = Grouped(32, 16, 1)
        print(block(torch.randn(4, 32, 96, 96)).shape, block.conv2.weight.shape, block.conv2)
        print(Grouped(32, 16, 1, use_1x1conv=True, strides=2)(torch.randn(2, 32, 8, 8)).shape)

        net = _resnet18(env)
        _layer_shapes(env, net, (1, 1, 96, 96))
        print([name for name, _ in net.named_children()], sum(p.numel() for p in net.parameters()))
        model = _classifier(env, _resnet18(env), lr=0.01)
        _train_a_few_batches(env, model, resize=(96, 96), images=4, batch_size=2)

    _same_on_both(script, envs=quiet_boards)


def test_densenet_blocks_shapes_and_training(quiet_boards):
    _fashion_mnist_is_here()

    def script(env):
        torch, nn = env.torch, env.nn
        torch.manual_seed(0)

        def norm_act_conv(channels):
            return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(channels, kernel_size=3, padding=1))

        class Dense(nn.Module):  # each convolution sees every earlier output, joined along the channels
            def __init__(self, convs, channels):
                super().__init__()
                self.net = nn.Sequential(*[norm_act_conv(channels) for _ in range(convs)])

            def forward(self, X):
                for block in self.net:
                    X = torch.cat((X, block(X)), dim=1)
                return X

        def transition(channels):
            return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(channels, kernel_size=1),
                                 nn.AvgPool2d(kernel_size=2, stride=2))

        Y = Dense(2, 10)(torch.randn(4, 3, 8, 8))
        print(Y.shape, transition(10)(Y).shape)

        def densenet():
            net = nn.Sequential(nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3),
                                              nn.LazyBatchNorm2d(), nn.ReLU(),
                                              nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
            channels, growth = 64, 32
            for i, convs in enumerate((4, 4, 4, 4)):
                net.add_module(f"dense{i + 1}", Dense(convs, growth))
                channels += convs * growth
                if i != 3:
                    channels //= 2
                    net.add_module(f"transition{i + 1}", transition(channels))
            net.add_module("head", nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                                 nn.Flatten(), nn.LazyLinear(10)))
            return net

        net = densenet()
        _layer_shapes(env, net, (1, 1, 96, 96))
        print([name for name, _ in net.named_children()])
        model = _classifier(env, densenet(), lr=0.01)
        _train_a_few_batches(env, model, resize=(96, 96), images=4, batch_size=2)

    _same_on_both(script, envs=quiet_boards)
