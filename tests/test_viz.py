"""mt.viz.graph: one box per recorded op, leaves named, arrows in backward's order, pictures written."""

from collections import Counter

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import autograd, models, nn
from minitorch_cnn.functional import cross_entropy

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def lenet_loss(monkeypatch):
    """LeNet's loss on a small batch, and the ops recorded while computing it, counted at Function.apply.

    Under the "reference" algorithm, the reading path (by default LeNet's convs take fast ops)."""
    recorded = []
    apply = autograd.Function.apply.__func__

    def counting_apply(cls, *inputs, **params):
        out = apply(cls, *inputs, **params)
        if out.grad_fn is not None:
            recorded.append(cls.__name__)
        return out

    net = models.get_model("lenet")
    X = mt.randn(8, 1, 28, 28)
    y = mt.tensor(np.arange(8) % 10)
    monkeypatch.setattr(autograd.Function, "apply", classmethod(counting_apply))
    with mt.conv_algorithm("reference"):
        loss = cross_entropy(net(X), y)
    monkeypatch.undo()
    return net, loss, recorded


def test_the_default_graph_names_the_direct_conv():
    net = models.get_model("lenet")
    g = mt.viz.graph(cross_entropy(net(mt.randn(2, 1, 28, 28)), mt.tensor(np.arange(2))))
    first_conv = max(g.ops, key=lambda n: n.step)
    assert (first_conv.name, first_conv.shape) == ("DirectConv2dFn", (2, 6, 28, 28))
    assert [s[1] for s in first_conv.saved] == [(2, 1, 28, 28)]  # the images for dW, no column matrix


def test_lenet_graph_has_one_box_per_recorded_op(lenet_loss):
    net, loss, recorded = lenet_loss
    g = mt.viz.graph(loss, params=net.named_parameters())
    assert len(recorded) == 13  # conv, sigmoid, pool twice; reshape; linear, sigmoid twice; linear; loss
    assert len(g.ops) == len(recorded)
    assert Counter(n.name for n in g.ops) == Counter(recorded)
    assert sorted(n.step for n in g.ops) == list(range(1, 14))
    # every parameter is a leaf with its state-dict name and shape; the images are a leaf needing no gradient
    params = {n.name: n.shape for n in g.leaves if n.kind == "param"}
    assert params == {name: p.shape for name, p in net.named_parameters()}
    assert [(n.name, n.shape) for n in g.leaves if n.kind == "input"] == [("input", (8, 1, 28, 28))]
    # output shapes: the first op is the loss (a scalar), the last the first convolution
    first, last = min(g.ops, key=lambda n: n.step), max(g.ops, key=lambda n: n.step)
    assert (first.name, first.shape) == ("CrossEntropyFn", ())
    assert (last.name, last.shape) == ("Conv2dFn", (8, 6, 28, 28))
    # what it keeps: the first conv's column matrix as (groups, C·kh·kw, N·Ho·Wo), float32
    assert ("", (1, 25, 8 * 28 * 28), 25 * 8 * 28 * 28 * 4) in last.saved
    assert len(g.edges) == 23 and sum(e.order is not None for e in g.edges) == 22


def test_arrows_are_numbered_in_the_order_backward_sends_gradients(lenet_loss, monkeypatch):
    """Run the real backward and record every gradient it sends (each passes through sum_to, named by
    the op sending it, shaped like the input receiving it); the numbered arrows must be that sequence."""
    net, loss, _ = lenet_loss
    g = mt.viz.graph(loss, params=net)
    sent = []
    sum_to = autograd.sum_to

    def recording_sum_to(grad, shape, op_name="op"):
        sent.append((op_name, tuple(shape)))
        return sum_to(grad, shape, op_name)

    monkeypatch.setattr(autograd, "sum_to", recording_sum_to)
    loss.backward()
    drawn = sorted((e for e in g.edges if e.order is not None), key=lambda e: e.order)
    assert [(g.nodes[e.dst].name, g.nodes[e.src].shape) for e in drawn] == sent
    assert [e.order for e in drawn] == list(range(1, len(sent) + 1))


def test_pictures_are_written_and_shown(lenet_loss, tmp_path):
    net, loss, _ = lenet_loss
    g = mt.viz.graph(loss, params=net.named_parameters())
    png, svg = g.save(tmp_path / "g.png"), g.save(tmp_path / "g.svg")
    w, h = _png_size(png.read_bytes())
    assert 500 <= w <= 1600 and 900 <= h <= 2000, (w, h)  # one page: about 7 x 12 inches at 110 dpi
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for label in ("0.weight", "11.bias", "CrossEntropy", "AvgPool2d", "Reshape"):
        assert label in text
    assert _png_size(g._repr_png_()) == (w, h)
    assert "<svg" in g._repr_svg_()
    with pytest.raises(ValueError, match=r"viz.Graph.save: expected a file name ending in \.svg, \.png or \.pdf"):
        g.save(tmp_path / "g.jpg")


def test_a_skip_connection_runs_beside_the_boxes(tmp_path):
    a, b = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1)
    x = mt.randn(1, 3, 5, 5, requires_grad=True)
    with mt.conv_algorithm("reference"):
        out = (b(a(x).relu()) + x).relu().sum()
    g = mt.viz.graph(out, params={"a.weight": a.weight, "b.weight": b.weight})
    assert [n.name for n in g.ops] == ["SumFn", "ReLUFn", "AddFn", "Conv2dFn", "ReLUFn", "Conv2dFn"]
    names = sorted(n.name for n in g.leaves)
    assert names == ["a.weight", "b.weight", "tensor", "tensor", "tensor"]  # x and the two unnamed biases
    skip = [k for k, e in enumerate(g.edges) if g.nodes[e.src].rank - g.nodes[e.dst].rank > 1]
    assert len(skip) == 1 and g.nodes[g.edges[skip[0]].dst].name == "AddFn"
    src, dst = g.nodes[g.edges[skip[0]].src], g.nodes[g.edges[skip[0]].dst]
    assert (src.rank, dst.rank) == (6, 2)
    assert [r for r, _ in g.waypoints[skip[0]]] == [5, 4, 3]  # one waypoint in each row it crosses
    assert g.save(tmp_path / "res.png").stat().st_size > 5000


def test_dot_source_and_optional_graphviz(lenet_loss, tmp_path):
    import shutil

    net, loss, _ = lenet_loss
    g = mt.viz.graph(loss, params=net)
    dot = g.to_dot()
    assert dot.startswith("digraph autograd {") and dot.count(" -> ") == len(g.edges)
    assert dot.count("[label=") == len(g.nodes) + 22
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="needs Graphviz's dot program"):
            g.save(tmp_path / "g.svg", engine="dot")
    else:
        assert "<svg" in g.save(tmp_path / "g.svg", engine="dot").read_text()


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(TypeError, match="viz.graph: expected a Tensor, got ndarray"):
        mt.viz.graph(np.ones(3))
    with pytest.raises(ValueError, match="viz.graph: this tensor has no graph"):
        mt.viz.graph(mt.ones(3, requires_grad=True))
    w = mt.ones(3, requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(ValueError, match="freed by backward"):
        mt.viz.graph(loss)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    assert [n.name for n in mt.viz.graph(loss).ops] == ["SumFn", "MulFn"]
