"""Training and evaluation: ``fit`` / ``evaluate``, the book's recipes, metrics, curves, checkpoints.

``fit(net, train_loader, test_loader, optimizer, epochs)`` is the book's ``train_ch6`` with what a
training tool needs around it:

- a tqdm progress bar per epoch (loss, accuracy, examples/s; silent when stderr is not a terminal),
  a line per epoch (``epoch 3: loss 0.469, train acc 0.823, test acc 0.779``) and the final
  examples/s, as the book prints them;
- in a Jupyter notebook: the notebook's progress bar (``tqdm.auto``) and the curves drawn under the
  cell, redrawn after every epoch;
- with ``out``: ``metrics.csv``, ``metrics.json`` and ``curves.png`` (train loss, train acc and
  test acc per epoch on one axes, as the book's animator draws them), rewritten atomically after
  every epoch, and a checkpoint after every epoch (:mod:`minitorch_cnn.checkpoint`);
- ``resume=True`` continues from the last checkpoint in ``out``. The weights, the optimizer state,
  the engine's generator (dropout, init) and the loader's shuffle seed are restored, and the
  shuffle order of epoch ``e`` depends only on ``(seed, e)``, so a resumed run ends with the same
  weights, bit for bit, as an uninterrupted one (on the CPU);
- a NaN or infinite loss stops training before the step that produced it updates anything
  (:class:`NonFiniteLossError`, naming the epoch and step); Ctrl-C stops at once. In both cases
  the half-done epoch is never saved: the last checkpoint is the last completed epoch.

``train(config, out)`` builds the net, data and optimizer of a run from a plain config dict
(what ``minitorch-cnn train`` does); ``RECIPES`` holds the book's settings per net.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from . import backend, models, optim
from .autograd import no_grad
from .checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from .functional import cross_entropy

__all__ = [
    "CONFIG_KEYS",
    "History",
    "NonFiniteLossError",
    "RECIPES",
    "build_loaders",
    "build_model",
    "build_optimizer",
    "default_config",
    "evaluate",
    "fit",
    "resolve_config",
    "train",
]

# The book's settings per net (Dive into Deep Learning, chapters 6-8): lr, batch size, input size.
# resize None: the images' own 28x28. A net of models.MODELS missing here gets lr 0.1, batch 256
# and its models.INPUT_SIZES.
RECIPES = {
    "lenet": {"lr": 0.9, "batch_size": 256, "resize": None},
    "lenet_relu": {"lr": 0.9, "batch_size": 256, "resize": None},
    "lenet_bn": {"lr": 1.0, "batch_size": 256, "resize": None},  # the book's LeNet with batch norm (sec. 8.5)
    # not the book's: the batch-norm LeNet with ReLUs, SGD with momentum (test acc 0.897-0.899 over 3 seeds, 10 epochs)
    "lenet_bn_relu": {"lr": 0.1, "momentum": 0.9, "batch_size": 256, "resize": None},
    "alexnet": {"lr": 0.01, "batch_size": 128, "resize": 224},
    "vgg11": {"lr": 0.05, "batch_size": 128, "resize": 224},
    "vgg11_small": {"lr": 0.05, "batch_size": 128, "resize": 224},
    "googlenet": {"lr": 0.1, "batch_size": 128, "resize": 96},
    "resnet18": {"lr": 0.05, "batch_size": 256, "resize": 96},
    "resnet34": {"lr": 0.05, "batch_size": 256, "resize": 96},
    "densenet": {"lr": 0.1, "batch_size": 256, "resize": 96},
    "nin": {"lr": 0.1, "batch_size": 128, "resize": 224},  # the book's (sec. 8.3)
    # not the book's (it has none of these): torchvision's init (init "default"), SGD with momentum; the
    # _small variants at Fashion-MNIST's own 28x28, the others at their 224. MobileNetV2: torchvision's
    # reference recipe (lr 0.045 at batch 256, weight decay 4e-5) with the lr scaled to batch 128
    "squeezenet1_1": {"lr": 0.01, "momentum": 0.9, "batch_size": 128, "resize": 224, "init": "default"},
    "squeezenet1_1_small": {"lr": 0.01, "momentum": 0.9, "batch_size": 128, "resize": None, "init": "default"},
    "mobilenet_v2": {"lr": 0.02, "momentum": 0.9, "weight_decay": 4e-5, "batch_size": 128, "resize": 224,
                     "init": "default"},
    "mobilenet_v2_small": {"lr": 0.02, "momentum": 0.9, "weight_decay": 4e-5, "batch_size": 128, "resize": None,
                           "init": "default"},
    "se_resnet18": {"lr": 0.05, "batch_size": 256, "resize": 96},  # ResNet-18's
}

# What defines a run. Changing one of RUN_KEYS on --resume would silently make another run.
CONFIG_KEYS = ("net", "dataset", "epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay",
               "seed", "resize", "init", "subset", "device")
RUN_KEYS = ("net", "dataset", "lr", "batch_size", "optimizer", "momentum", "weight_decay", "seed", "resize", "init",
            "subset")
OPTIMIZERS = ("sgd", "adam")
INITS = ("xavier", "default")
DATASETS = ("fashion-mnist", "mnist")
CHECKPOINT_DIR = "checkpoints"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and step and the last good checkpoint."""


# ---------------------------------------------------------------------------- configs
def default_config(net: str = "lenet", **overrides) -> dict:
    """The book's recipe for ``net`` (10 epochs, SGD, Xavier init, seed 0, CPU), with ``overrides``."""
    if net not in models.MODELS:
        raise ValueError(f"unknown net {net!r}: expected one of {', '.join(models.MODELS)}")
    size = models.INPUT_SIZES.get(net, 28)
    recipe = RECIPES.get(net, {"lr": 0.1, "batch_size": 256, "resize": None if size == 28 else size})
    config = {"net": net, "dataset": "fashion-mnist", "epochs": 10, "optimizer": "sgd", "momentum": 0.0,
              "weight_decay": 0.0, "seed": 0, "init": "xavier", "subset": None, "device": "cpu", **recipe}
    unknown = set(overrides) - set(CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}: expected some of {', '.join(CONFIG_KEYS)}")
    config.update({k: v for k, v in overrides.items() if v is not None})
    return check_config(config)


def check_config(config: dict) -> dict:
    """Validate a config (types and ranges), with a message naming the bad value."""
    c = dict(config)
    if c["net"] not in models.MODELS:
        raise ValueError(f"unknown net {c['net']!r}: expected one of {', '.join(models.MODELS)}")
    if c["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {c['optimizer']!r}: expected one of {', '.join(OPTIMIZERS)}")
    if c["init"] not in INITS:
        raise ValueError(f"unknown init {c['init']!r}: expected one of {', '.join(INITS)}")
    if c["dataset"] not in DATASETS:
        raise ValueError(f"unknown dataset {c['dataset']!r}: expected one of {', '.join(DATASETS)}")
    for key in ("epochs", "batch_size"):
        if isinstance(c[key], bool) or not isinstance(c[key], int) or c[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {c[key]!r}")
    if isinstance(c["seed"], bool) or not isinstance(c["seed"], int) or c["seed"] < 0:
        raise ValueError(f"seed must be a non-negative integer, got {c['seed']!r}")
    for key in ("lr", "momentum", "weight_decay"):
        if not isinstance(c[key], (int, float)) or not math.isfinite(c[key]) or c[key] < 0:
            raise ValueError(f"{key} must be a finite number >= 0, got {c[key]!r}")
        c[key] = float(c[key])
    if c["resize"] is not None and (isinstance(c["resize"], bool) or not isinstance(c["resize"], int)
                                    or c["resize"] < 1):
        raise ValueError(f"resize must be a positive integer (pixels) or None, got {c['resize']!r}")
    if c["resize"] == 28:
        c["resize"] = None
    c.setdefault("subset", None)
    if c["subset"] is not None and (isinstance(c["subset"], bool) or not isinstance(c["subset"], int)
                                    or c["subset"] < 1):
        raise ValueError(f"subset must be a positive integer (images) or None, got {c['subset']!r}")
    c["device"] = backend.check_device(c["device"]) if c["device"] is not None else "cpu"
    return c


def resolve_config(net: str, given: dict, saved: dict | None = None) -> dict:
    """The config of a run: the recipe of ``net``, then (when resuming) the ``saved`` config, then
    the values the user ``given`` explicitly. On resume, a given value that contradicts the saved
    run (anything but epochs and device) is an error rather than a silently different run."""
    if saved is None:
        return default_config(net, **given)
    if saved.get("net") != net:
        raise CheckpointError(f"the checkpoint to resume holds net {saved.get('net')!r}, not {net!r}")
    if given.get("resize") == 28:  # the images' own size: the same as no resizing
        given = dict(given, resize=None)
    conflicts = [f"--{k.replace('_', '-')} {given[k]} (the run used {saved.get(k)})" for k in RUN_KEYS
                 if given.get(k) is not None and k in saved and given[k] != saved[k]]
    if conflicts:
        raise CheckpointError("cannot resume with different settings: " + "; ".join(conflicts)
                              + ". Leave them out to continue the run as it was, or start a new run with "
                              "another --out")
    merged = {k: saved[k] for k in CONFIG_KEYS if k in saved}
    merged.update({k: v for k, v in given.items() if v is not None})
    return default_config(net, **{k: v for k, v in merged.items() if k != "net"})


# ---------------------------------------------------------------------------- builders
def build_model(config: dict):
    """The net of ``config``, initialised (``init``: "xavier", the book's, or "default", the layers' own)
    and moved to its device."""
    net = models.get_model(config["net"], in_channels=1, num_classes=10)
    if config.get("init", "xavier") == "xavier":
        models.init_xavier_(net)
    return net.to(config.get("device", "cpu"))


def build_optimizer(config: dict, params):
    name = config.get("optimizer", "sgd")
    if name == "sgd":
        return optim.SGD(params, lr=config["lr"], momentum=config.get("momentum", 0.0),
                         weight_decay=config.get("weight_decay", 0.0))
    if name == "adam":
        return optim.Adam(params, lr=config["lr"], weight_decay=config.get("weight_decay", 0.0))
    raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")


def build_loaders(config: dict, data_dir=None, train: bool = True, download: bool = True):
    """(train_loader or None, test_loader) over Fashion-MNIST (or MNIST), resized when ``resize`` is set.

    The training loader shuffles with the run's seed; the test loader keeps the file order. With
    ``subset`` N, only the first N images of each split are used (quick smoke runs of big nets)."""
    from . import data  # noqa: PLC0415 - the data layer is only needed when data is loaded

    cls = data.FashionMNIST if config.get("dataset", "fashion-mnist") == "fashion-mnist" else data.MNIST
    transform = data.Resize(config["resize"]) if config.get("resize") else None
    device = config.get("device", "cpu")
    subset = config.get("subset")

    def dataset(is_train):
        ds = cls(root=data_dir, train=is_train, download=download, transform=transform)
        if subset is not None and subset < len(ds):
            ds = data.ArrayDataset(ds.images[:subset], ds.targets[:subset], transform=transform)
        return ds

    test = data.DataLoader(dataset(False), batch_size=config["batch_size"], shuffle=False, device=device)
    train_loader = None
    if train:
        train_loader = data.DataLoader(dataset(True), batch_size=config["batch_size"], shuffle=True,
                                       seed=config["seed"], device=device)
    return train_loader, test


# ---------------------------------------------------------------------------- evaluate
def _correct(logits, y) -> int:
    xp = backend.xp_of(logits.array)
    return int((xp.argmax(logits.array, axis=1) == y.array).sum())


def evaluate(net, loader, loss_fn=cross_entropy) -> dict:
    """Loss (mean per example) and accuracy of ``net`` over ``loader``, in eval mode and without a graph.

    Returns ``{"loss", "acc", "n"}``; the net's train/eval mode is restored afterwards."""
    was_training = net.training
    net.eval()
    total_loss, correct, n = 0.0, 0, 0
    try:
        with no_grad():
            for X, y in loader:
                logits = net(X)
                total_loss += float(loss_fn(logits, y).item()) * len(y)
                correct += _correct(logits, y)
                n += len(y)
    finally:
        net.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no examples")
    return {"loss": total_loss / n, "acc": correct / n, "n": n}


# ---------------------------------------------------------------------------- outputs
@dataclass
class History:
    """What :func:`fit` returns: one row per completed epoch (including those before a resume) and
    the throughput of the epochs this call trained."""

    rows: list = field(default_factory=list)
    examples_per_s: float | None = None  # training examples / training time (evaluation excluded), as the book
    train_time_s: float = 0.0
    wall_time_s: float = 0.0
    checkpoint: Path | None = None  # the last checkpoint written (None without ``out``)

    @property
    def last(self) -> dict | None:
        return self.rows[-1] if self.rows else None


METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "examples_per_s",
                  "train_time_s", "eval_time_s")


def write_metrics(out, rows, config=None, summary=None) -> None:
    """``metrics.csv`` and ``metrics.json`` in ``out``, each replaced atomically."""
    out = Path(out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "metrics.csv", buf.getvalue().encode())
    doc = {"config": config or {}, "epochs": rows, "summary": summary or {}}
    atomic_write_bytes(out / "metrics.json", (json.dumps(doc, indent=1) + "\n").encode())


def plot_curves(path, rows, epochs: int | None = None, title: str | None = None) -> None:
    """The book's animator picture: train loss, train acc and test acc against the epoch, as a PNG.

    Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch); written atomically."""
    atomic_write_bytes(path, curves_png(rows, epochs, title))


def curves_png(rows, epochs: int | None = None, title: str | None = None) -> bytes:
    """The bytes of :func:`plot_curves`'s PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - slow import, only when drawing
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    fig = Figure(figsize=(4.5, 3.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = [r["epoch"] for r in rows]
    for key, label, style in (("train_loss", "train loss", "-"), ("train_acc", "train acc", "m--"),
                              ("test_acc", "test acc", "g-.")):
        ax.plot(x, [r[key] for r in rows], style, label=label, marker="o", markersize=3)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(1, max(epochs or 1, x[-1] if x else 1, 2))
    ax.grid(True)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class _InlineCurves:
    """In a Jupyter notebook, the curves under the running cell: one picture, redrawn after every epoch."""

    def __init__(self):
        self.handle = None

    @staticmethod
    def in_notebook() -> bool:
        if "ipykernel" not in sys.modules:  # never import IPython just to find out
            return False
        try:
            from IPython import get_ipython  # noqa: PLC0415
        except ImportError:
            return False
        return type(get_ipython()).__name__ == "ZMQInteractiveShell"

    def show(self, png: bytes) -> None:
        from IPython.display import Image, display  # noqa: PLC0415

        if self.handle is None:
            self.handle = display(Image(data=png, format="png"), display_id=True)
        else:
            self.handle.update(Image(data=png, format="png"))


# ---------------------------------------------------------------------------- fit
def _epoch_line(row: dict) -> str:
    return (f"epoch {row['epoch']}: loss {row['train_loss']:.3f}, train acc {row['train_acc']:.3f}, "
            f"test acc {row['test_acc']:.3f}  [{row['train_time_s']:.1f} s, {row['examples_per_s']:.0f} examples/s]")


def fit(net, train_loader, test_loader, optimizer=None, epochs: int = 10, *, loss_fn=cross_entropy,
        out=None, config: dict | None = None, resume: bool = False, progress: bool | None = None,
        log=print, keep: int = 2) -> History:
    """Train ``net`` for ``epochs`` epochs (in total, counting those before a resume); see the module doc.

    ``optimizer`` defaults to the book's SGD with lr 0.9. ``out``: the run's folder for metrics,
    curves and checkpoints (``out/checkpoints``); None keeps nothing on disk. ``config`` is stored in
    checkpoints and metrics (``minitorch-cnn eval`` rebuilds the net from its ``net``). ``progress``:
    None shows the bar only on a terminal, True/False force it. ``log``: where the per-epoch lines go.
    """
    if optimizer is None:
        optimizer = optim.SGD(net.parameters(), lr=0.9)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    config = dict(config or {})
    out = None if out is None else Path(out)
    ckpt_dir = None if out is None else out / CHECKPOINT_DIR
    history = History()
    start = 0
    if resume:
        if out is None:
            raise ValueError("fit: resume=True needs the run's folder (out=...)")
        found = latest_checkpoint(ckpt_dir) if ckpt_dir.is_dir() else None
        if found is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {ckpt_dir}")
        ckpt = load_checkpoint(found, net, optimizer, net=config.get("net"), restore_rng=True)
        if ckpt.loader_state is not None and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(ckpt.loader_state)
        history.rows = list(ckpt.metrics)
        history.checkpoint = found
        start = ckpt.epoch
        log(f"resuming from {found} (epoch {start} of {epochs})")
        if start >= epochs:
            log(f"nothing to train: the checkpoint has already completed {start} epoch(s)")
    elif ckpt_dir is not None and ckpt_dir.is_dir() and latest_checkpoint(ckpt_dir) is not None:
        raise CheckpointError(f"{out} already holds the checkpoints of a run ({latest_checkpoint(ckpt_dir)}); "
                              "resume it (--resume / resume=True) or choose another output folder")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    n_batches = len(train_loader)
    inline = _InlineCurves() if _InlineCurves.in_notebook() else None  # (tqdm.auto gives the notebook's bar)
    wall0 = time.perf_counter()
    train_examples, train_time = 0, 0.0
    epoch = start
    step = 0
    try:
        for epoch in range(start + 1, epochs + 1):
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch - 1)  # the shuffle order of an epoch depends on (seed, epoch) only
            net.train()
            total_loss, correct, n = 0.0, 0, 0
            bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False,
                       disable=None if progress is None else not progress, dynamic_ncols=True)
            t0 = time.perf_counter()
            try:
                for step, (X, y) in enumerate(train_loader, 1):
                    logits = net(X)
                    loss = loss_fn(logits, y)
                    value = float(loss.item())
                    if not math.isfinite(value):
                        last = latest_checkpoint(ckpt_dir) if ckpt_dir is not None and ckpt_dir.is_dir() else None
                        raise NonFiniteLossError(
                            f"the loss is {value} at epoch {epoch}, step {step} of {n_batches}: training stopped "
                            "before this step changed the weights. "
                            + (f"The last good checkpoint is {last}." if last else "No checkpoint was written.")
                            + " Try a smaller --lr."
                        )
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total_loss += value * len(y)
                    correct += _correct(logits, y)
                    n += len(y)
                    elapsed = time.perf_counter() - t0
                    bar.set_postfix_str(f"loss {total_loss / n:.3f}, acc {correct / n:.3f}, "
                                        f"{n / max(elapsed, 1e-9):.0f} ex/s", refresh=False)
                    bar.update()
            finally:
                bar.close()
            epoch_time = time.perf_counter() - t0
            if n == 0:
                raise ValueError(f"fit: the training loader yielded no batches in epoch {epoch}")
            train_examples += n
            train_time += epoch_time
            t1 = time.perf_counter()
            test = evaluate(net, test_loader, loss_fn)
            row = {"epoch": epoch, "train_loss": total_loss / n, "train_acc": correct / n,
                   "test_loss": test["loss"], "test_acc": test["acc"],
                   "examples_per_s": n / max(epoch_time, 1e-9), "train_time_s": epoch_time,
                   "eval_time_s": time.perf_counter() - t1}
            history.rows.append(row)
            log(_epoch_line(row))
            if out is not None:
                loader_state = train_loader.state_dict() if hasattr(train_loader, "state_dict") else None
                history.checkpoint = save_checkpoint(ckpt_dir, net, optimizer, epoch=epoch, config=config,
                                                     metrics=history.rows, loader_state=loader_state, keep=keep)
                summary = {"epochs_completed": epoch, "checkpoint": str(history.checkpoint.relative_to(out))}
                write_metrics(out, history.rows, config, summary)
                plot_curves(out / "curves.png", history.rows, epochs, title=config.get("net"))
            if inline is not None:
                inline.show(curves_png(history.rows, epochs, title=config.get("net")))
    except KeyboardInterrupt:
        last = latest_checkpoint(ckpt_dir) if ckpt_dir is not None and ckpt_dir.is_dir() else None
        log(f"interrupted during epoch {epoch} (step {step} of {n_batches}); the unfinished epoch was not saved. "
            + (f"Last checkpoint: {last}; continue with --resume." if last else "No checkpoint was written."))
        raise
    history.train_time_s = train_time
    history.wall_time_s = time.perf_counter() - wall0
    if train_examples:
        history.examples_per_s = train_examples / max(train_time, 1e-9)
    if history.rows:
        r = history.rows[-1]
        log(f"loss {r['train_loss']:.3f}, train acc {r['train_acc']:.3f}, test acc {r['test_acc']:.3f}")
    if history.examples_per_s is not None:
        device = backend.device_of(next(iter(net.parameters())).array) if list(net.parameters()) else "cpu"
        log(f"{history.examples_per_s:.1f} examples/sec on {device}")
        log(f"wall time {history.wall_time_s:.1f} s for {epochs - start} epoch(s)")
        if out is not None:
            summary = {"epochs_completed": history.rows[-1]["epoch"],
                       "checkpoint": str(history.checkpoint.relative_to(out)),
                       "examples_per_s": history.examples_per_s, "train_time_s": history.train_time_s,
                       "wall_time_s": history.wall_time_s, "device": device}
            write_metrics(out, history.rows, config, summary)
    return history


# ---------------------------------------------------------------------------- a whole run
def train(config: dict, out, *, data_dir=None, resume: bool = False, progress: bool | None = None,
          log=print, given: dict | None = None) -> History:
    """Run ``minitorch-cnn train``: build everything from ``config`` (see :func:`default_config`), then
    :func:`fit`. With ``resume``, the saved run's config is used (``given`` holds the values the user
    set explicitly; they must agree with it, except epochs and device)."""
    out = Path(out)
    if resume:
        ckpt_dir = out / CHECKPOINT_DIR
        found = latest_checkpoint(ckpt_dir) if ckpt_dir.is_dir() else None
        if found is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {ckpt_dir}")
        saved = read_checkpoint(found).config
        given = {k: v for k, v in (given or {}).items() if v is not None}
        given.setdefault("epochs", config["epochs"])
        given.setdefault("device", config["device"])
        config = resolve_config(config["net"], given, saved)
    config = check_config(config)
    backend.manual_seed(config["seed"])
    net = build_model(config)
    optimizer = build_optimizer(config, net.parameters())
    train_loader, test_loader = build_loaders(config, data_dir)
    log(f"{config['net']}: {sum(p.numel() for p in net.parameters()):,} parameters; {len(train_loader.dataset):,} "
        f"training and {len(test_loader.dataset):,} test images; {config['optimizer']} lr {config['lr']}, batch "
        f"{config['batch_size']}, {config['epochs']} epochs on {config['device']}; output in {out}")
    return fit(net, train_loader, test_loader, optimizer, config["epochs"], out=out, config=config,
               resume=resume, progress=progress, log=log)


def load_for_eval(path, device: str = "cpu"):
    """(net, checkpoint) for a saved checkpoint: the net rebuilt from the checkpoint's config, weights loaded."""
    ckpt = read_checkpoint(path)
    name = ckpt.config.get("net")
    if name not in models.MODELS:
        raise CheckpointError(f"checkpoint {ckpt.path}: its config names net {name!r}, which is not one of "
                              f"{', '.join(models.MODELS)}")
    net = models.get_model(name, in_channels=1, num_classes=10).to(device)
    load_checkpoint(ckpt, net, net=name)
    return net, ckpt
