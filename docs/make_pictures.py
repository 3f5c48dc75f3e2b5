"""Redraw the README's pictures of the autograd graph, and record in each the ops it shows.

    python docs/make_pictures.py        # rewrites docs/lenet_graph.png and docs/lenet_graph_reference.png

Both pictures are the program of the README's section "Pictures for learners": the book's LeNet on
a batch of 256 random images, its cross-entropy loss, ``mt.viz.graph(loss, params=...)``, drawn
before ``backward``. ``lenet_graph.png`` is drawn under the ``"default"`` conv setting, so its
boxes name the fast ops that run there; ``lenet_graph_reference.png`` under
``mt.conv_algorithm("reference")``, the learner's ``Conv2dFn`` on both convolutions. The random
generator is seeded first (the picture shows shapes and sizes, not values, but the run is then
the same every time), and the NumPy arrays take the numba kernel path, a plain install's default,
whatever ``MINITORCH_CNN_KERNELS`` says.

Each PNG keeps, in a text chunk named ``OPS_KEY``, the names of its ops in backward's order (the
``#k`` numbers of its boxes) and, in ``SETTING_KEY``, the conv setting. ``tests/test_pictures.py``
builds the same graph with ``lenet_graph`` below (without drawing it) and fails when the names differ:
a picture that no longer shows what the code runs is stale, and this script redraws it.

The other pictures of the README (``lenet_curves.png``, ``lenet_filters.png``,
``lenet_feature_maps.png``, ``lenet_confusion.png``) come from a training run
(``minitorch-cnn train lenet``, then ``minitorch-cnn show``) and name no ops: this script leaves them.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCH = 256  # the README's batch: the conv algorithms the default setting picks depend on it
SEED = 0
PICTURES = {"lenet_graph.png": "default", "lenet_graph_reference.png": "reference"}  # file -> conv setting
OPS_KEY = "minitorch_cnn:ops"
SETTING_KEY = "minitorch_cnn:conv_algorithm"


@contextlib.contextmanager
def _numba_kernel_path():
    from minitorch_cnn import backend  # noqa: PLC0415 - the module imports nothing heavy at load

    previous = backend.get_kernel_path()
    backend.set_kernel_path("numba")
    try:
        yield
    finally:
        backend.set_kernel_path(previous)


def lenet_graph(setting: str = "default", batch: int = BATCH, seed: int = SEED):
    """The README's program under conv setting ``setting``: LeNet's loss on ``batch`` images, as a
    ``mt.viz.Graph`` (not drawn: building it is cheap, drawing it is not)."""
    import minitorch_cnn as mt  # noqa: PLC0415
    from minitorch_cnn import models  # noqa: PLC0415
    from minitorch_cnn.functional import cross_entropy  # noqa: PLC0415

    mt.manual_seed(seed)
    with _numba_kernel_path(), mt.conv_algorithm(setting):
        net = models.get_model("lenet")
        X, y = mt.randn(batch, 1, 28, 28), mt.tensor([i % 10 for i in range(batch)])
        loss = cross_entropy(net(X), y)
    return mt.viz.graph(loss, params=net.named_parameters())


def op_names(graph) -> list[str]:
    """The names of the graph's op boxes in backward's order (box ``#1`` first)."""
    return [n.name for n in sorted(graph.ops, key=lambda n: n.step)]


def metadata(graph, setting: str) -> dict[str, str]:
    """The PNG text chunks of a picture: its ops, comma-separated, and its conv setting."""
    return {OPS_KEY: ",".join(op_names(graph)), SETTING_KEY: setting}


def main(folder: Path = HERE) -> list[Path]:
    written = []
    for name, setting in PICTURES.items():
        graph = lenet_graph(setting)
        written.append(graph.save(folder / name, metadata=metadata(graph, setting)))
        print(f"{folder / name}: {', '.join(op_names(graph))}")
    return written


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
