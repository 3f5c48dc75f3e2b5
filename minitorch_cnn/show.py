"""What a trained net learned, as pictures: ``minitorch-cnn show RUN_DIR``.

From a run's last checkpoint (or the checkpoint given), beside the run's ``curves.png``:

- ``filters.png``: the first convolution's learned kernels, one small image per output channel
  (and input channel), on one colour scale centred on 0 (red positive, blue negative);
- ``feature_maps.png``: one test image, then what each convolution and pooling layer makes of it,
  one row per layer, one panel per channel (at most 16 shown per layer, 12 layers);
- ``confusion.png``: the test set's confusion matrix (rows: the true class, columns: the class
  the net predicted) with the dataset's class names; the diagonal holds the correct predictions.

:func:`show_run` makes all three; the ``plot_*`` functions and :func:`confusion_matrix` work on any
net and loader.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import backend, nn, train
from .autograd import no_grad
from .checkpoint import CheckpointError, atomic_write_bytes, find_checkpoint
from .tensor import Tensor

__all__ = ["PICTURES", "PictureWriteError", "confusion_matrix", "feature_maps", "plot_confusion", "plot_feature_maps",
           "plot_filters", "show_run"]

PICTURES = ("filters.png", "feature_maps.png", "confusion.png")
MAX_CHANNELS = 16  # feature maps shown per layer
MAX_LAYERS = 12
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


class PictureWriteError(OSError):
    """A picture could not be written (the message names the file and the reason)."""


# ---------------------------------------------------------------------------- numbers
def confusion_matrix(net, loader, num_classes: int = 10) -> np.ndarray:
    """``counts[t, p]``: how many examples of true class t the net classified as p (eval mode, no graph)."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    was_training = net.training
    net.eval()
    try:
        with no_grad():
            for X, y in loader:
                predicted = backend.to_numpy(net(X).array).argmax(axis=1)
                np.add.at(counts, (backend.to_numpy(y.array), predicted), 1)
    finally:
        net.train(was_training)
    return counts


def feature_maps(net, x) -> list[tuple[str, np.ndarray]]:
    """(layer name, output (C, H, W)) of every convolution and pooling layer, in the order they run,
    for one image ``x`` (C, H, W) (eval mode, no graph)."""
    names = {id(m): name for name, m in net.named_modules()}
    seen: list = []

    def hook(module, inputs, output):
        seen.append((f"{names[id(module)]} {type(module).__name__}", backend.to_numpy(output.array)[0]))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, *_POOLS))]
    was_training = net.training
    net.eval()
    try:
        device = backend.device_of(next(iter(net.parameters())).array)
        with no_grad():
            net(Tensor(np.asarray(x, dtype=np.float32)[None], device=device))
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return seen


# ---------------------------------------------------------------------------- pictures
def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - slow import, only when drawing
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    try:
        return atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        raise PictureWriteError(f"cannot write {path}: {exc.strerror or exc}") from None


def plot_filters(path, weight, title: str = "") -> Path:
    """The kernels of a convolution's ``weight`` (O, C, kh, kw) as a grid: a row per input channel
    (at most 3), a column per output channel (at most 16), one colour scale centred on 0."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight (O, C, kh, kw), got shape {tuple(w.shape)}")
    O, C = min(w.shape[0], MAX_CHANNELS), min(w.shape[1], 3)
    fig = _figure(max(1.1 * O + 1.2, 4.0), 1.25 * C + 0.9)
    grid = fig.add_gridspec(C, O + 1, width_ratios=[1] * O + [0.12], left=0.06, right=0.92, top=0.78,
                            bottom=0.06, wspace=0.15, hspace=0.25)
    limit = float(np.abs(w[:O, :C]).max()) or 1.0
    image = None
    for c in range(C):
        for o in range(O):
            ax = fig.add_subplot(grid[c, o])
            image = ax.imshow(w[o, c], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(f"out {o}", fontsize=8)
            if o == 0 and C > 1:
                ax.set_ylabel(f"in {c}", fontsize=8)
    bar = fig.colorbar(image, cax=fig.add_subplot(grid[:, O]))
    bar.set_label("weight", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(title or f"{w.shape[0]} kernels {w.shape[2]}×{w.shape[3]}", fontsize=9)
    return _save(fig, path)


def plot_feature_maps(path, image, maps, title: str = "") -> Path:
    """``image`` (C, H, W) in the first row, then one row per (name, output (C, H, W)) of ``maps``."""
    maps = list(maps)[:MAX_LAYERS]
    cols = max([MAX_CHANNELS if m.shape[0] > MAX_CHANNELS else m.shape[0] for _, m in maps] + [1])
    rows = 1 + len(maps)
    width, height = 0.75 * cols + 1.5, 0.9 * rows + 0.8
    fig = _figure(width, height)
    grid = fig.add_gridspec(rows, cols, left=1.3 / width, right=1 - 0.1 / width, top=1 - 0.65 / height,
                            bottom=0.1 / height, wspace=0.08, hspace=0.35)
    img = np.asarray(image)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(img[0] if img.shape[0] == 1 else np.moveaxis(img[:3], 0, -1), cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_ylabel(f"input\n{'×'.join(map(str, img.shape))}", fontsize=7, rotation=0, ha="right", va="center")
    for r, (name, m) in enumerate(maps, 1):
        for c in range(min(m.shape[0], cols)):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(m[c], cmap="viridis", interpolation="nearest")  # each map on its own scale
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                shown = "" if m.shape[0] <= cols else f" ({cols} shown)"
                ax.set_ylabel(f"{name}\n{'×'.join(map(str, m.shape))}{shown}", fontsize=7, rotation=0,
                              ha="right", va="center")
            if r == 1:
                ax.set_title(f"ch {c}", fontsize=7)
    fig.suptitle((title + "\n" if title else "") + "each map on its own colour scale (yellow: its largest values)",
                 fontsize=9)
    return _save(fig, path)


def plot_confusion(path, counts, class_names, title: str = "") -> Path:
    """The confusion matrix ``counts[true, predicted]`` with class names on both axes and every count written."""
    counts = np.asarray(counts)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"plot_confusion: expected a {k}x{k} matrix for {k} class names, got {tuple(counts.shape)}")
    fig = _figure(7.2, 6.4)
    ax = fig.add_axes((0.2, 0.2, 0.68, 0.7))
    image = ax.imshow(counts, cmap="Blues")
    big = counts.max() / 2 if counts.size else 0
    for t in range(k):
        for p in range(k):
            ax.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=7,
                    color="white" if counts[t, p] > big else "#222222")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted class", fontsize=9)
    ax.set_ylabel("true class", fontsize=9)
    bar = fig.colorbar(image, cax=fig.add_axes((0.9, 0.2, 0.025, 0.7)))
    bar.set_label("images", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    total = int(counts.sum())
    acc = np.trace(counts) / total if total else float("nan")
    ax.set_title((title + "\n" if title else "") + f"{total:,} test images, accuracy {acc:.3f}", fontsize=9)
    return _save(fig, path)


# ---------------------------------------------------------------------------- a run
def _class_names(config) -> list[str]:
    from . import data  # noqa: PLC0415 - the data layer is only needed when data is loaded

    return list((data.MNIST if config.get("dataset") == "mnist" else data.FashionMNIST).classes)


def show_run(run_dir, *, data_dir=None, device: str = "cpu", index: int = 0, out=None, log=print) -> list[Path]:
    """Draw ``PICTURES`` for the last checkpoint of ``run_dir`` (or the checkpoint it names) into ``out``
    (default: the run's folder, beside ``curves.png``); ``index``: which test image goes through the net."""
    run_dir = Path(run_dir)
    folder = find_checkpoint(run_dir)
    net, ckpt = train.load_for_eval(folder, device=device)
    if out is None:
        out = folder.parent.parent if folder.parent.name == train.CHECKPOINT_DIR else run_dir
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PictureWriteError(f"cannot make the output folder {out}: {exc.strerror or exc}") from None
    config = dict(ckpt.config, device=device)
    config.setdefault("batch_size", 256)
    _, test_loader = train.build_loaders(config, data_dir, train=False)
    test_set = test_loader.dataset
    if not -len(test_set) <= index < len(test_set):
        raise ValueError(f"show: --image {index} is out of range for the {len(test_set):,} test images")
    convs = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise CheckpointError(f"show: the net {config.get('net')!r} of {ckpt.path} has no convolution to draw")
    names = _class_names(config)
    about = f"{config.get('net')} after {ckpt.epoch} epoch(s)"
    made = []
    first_name, first = convs[0]
    weight = backend.to_numpy(first.weight.array)
    made.append(plot_filters(out / "filters.png", weight,
                             f"{about}: the first convolution (layer {first_name}), {weight.shape[0]} kernels "
                             f"{weight.shape[2]}×{weight.shape[3]} on {weight.shape[1]} input channel(s)"))
    x, label = test_set[index]
    if notice := train.compile_notice(device):
        log(notice)
    maps = feature_maps(net, x)
    made.append(plot_feature_maps(out / "feature_maps.png", x, maps,
                                  f"{about}: test image {index} ({names[label]}) through each conv and pool layer"))
    counts = confusion_matrix(net, test_loader, num_classes=len(names))
    made.append(plot_confusion(out / "confusion.png", counts, names, about))
    log(f"{', '.join(p.name for p in made)} are in {out} (from {ckpt.path}; test accuracy "
        f"{np.trace(counts) / counts.sum():.3f} on {int(counts.sum()):,} images)")
    return made
