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
import errno
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from . import backend, models, optim
from ._fileio import FileWriteError, FolderLock, atomic_write_bytes, clean_leftovers, write_new_file
from .autograd import no_grad
from .checkpoint import (
    CheckpointError,
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
    "RunFolderError",
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
    """The loss became NaN or infinite; the message names the epoch and step, the likely causes and the
    last good checkpoint."""


class RunFolderError(OSError):
    """The run folder cannot be used or written (a file, read-only, disk full, another run holds it);
    the message is one line naming the file and the cause, and the last complete checkpoint."""


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
        if isinstance(c[key], bool) or not isinstance(c[key], (int, float)) or not math.isfinite(c[key]) \
                or c[key] < 0:
            raise ValueError(f"{key} must be a finite number >= 0, got {c[key]!r}")
        c[key] = float(c[key])
    if c["momentum"] >= 1:
        raise ValueError(f"momentum must be in [0, 1), got {c['momentum']!r}: with 1 or more every step adds "
                         "at least the whole previous one, so the steps grow without bound")
    if c["optimizer"] != "sgd" and c["momentum"] != 0:
        raise ValueError(f"momentum is a setting of sgd, not of {c['optimizer']} (which keeps its own moving "
                         f"averages); got momentum {c['momentum']!r}")
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


def describe_optimizer(optimizer) -> str:
    """``sgd lr 0.9, momentum 0, weight decay 0``: the optimizer's name and the settings of its first group."""
    group = optimizer.param_groups[0]
    keys = {"SGD": ("lr", "momentum", "dampening", "nesterov", "weight_decay"),
            "Adam": ("lr", "betas", "eps", "weight_decay", "amsgrad")}.get(type(optimizer).__name__, ("lr",))
    shown = []
    for k in keys:
        v = group.get(k)
        if k in ("dampening", "nesterov", "amsgrad") and not v:
            continue  # off: the usual case, left out
        v = tuple(float(b) for b in v) if k == "betas" else v
        shown.append(f"{k.replace('_', ' ')} {'on' if v is True else f'{v:g}' if isinstance(v, float) else v}")
    return f"{type(optimizer).__name__.lower()} " + ", ".join(shown)


def build_loaders(config: dict, data_dir=None, train: bool = True, download: bool = True):
    """(train_loader or None, test_loader) over Fashion-MNIST (or MNIST), resized when ``resize`` is set.

    ``data_dir``, when given, must hold the files (in it, its ``fashion-mnist``/``mnist`` subfolder
    or torchvision's ``<Name>/raw``): nothing else is searched and nothing downloaded, so a mistyped
    folder is an error rather than a silent switch to another copy. Without it the dataset's usual
    places are searched (``data.FashionMNIST``), then the files downloaded when ``download``.
    Each loader's ``dataset.image_file`` names the file the images came from.

    The training loader shuffles with the run's seed; the test loader keeps the file order. With
    ``subset`` N, only the first N images of each split are used (quick smoke runs of big nets)."""
    from . import data  # noqa: PLC0415 - the data layer is only needed when data is loaded

    cls = data.FashionMNIST if config.get("dataset", "fashion-mnist") == "fashion-mnist" else data.MNIST
    transform = data.Resize(config["resize"]) if config.get("resize") else None
    device = config.get("device", "cpu")
    subset = config.get("subset")
    if data_dir is not None:
        data_dir = Path(data_dir).expanduser()
        for is_train in (True, False) if train else (False,):
            if cls.files_in(data_dir, is_train) is None:
                img, lbl = (r.filename for r in cls.resources["train" if is_train else "test"])
                where = "is not a folder" if not data_dir.is_dir() else "does not hold them"
                raise data.DatasetNotFoundError(
                    f"{cls.title}: --data-dir {data_dir} {where}: expected the "
                    f"{'training' if is_train else 'test'} files {img} and {lbl} (or the same names without "
                    f".gz) in it or in {data_dir / cls.name}; leave --data-dir out to search the usual places")
        download = False

    def dataset(is_train):
        ds = cls(root=data_dir, train=is_train, download=download, transform=transform)
        if subset is not None and subset < len(ds):
            whole = ds
            ds = data.ArrayDataset(ds.images[:subset], ds.targets[:subset], transform=transform)
            ds.image_file = whole.image_file
        return ds

    test = data.DataLoader(dataset(False), batch_size=config["batch_size"], shuffle=False, device=device)
    train_loader = None
    if train:
        train_loader = data.DataLoader(dataset(True), batch_size=config["batch_size"], shuffle=True,
                                       seed=config["seed"], device=device)
    return train_loader, test


# ---------------------------------------------------------------------------- evaluate
def _correct(logits, y) -> int:
    xp = backend.xp_of(logits.data)
    return int((xp.argmax(logits.data, axis=1) == y.data).sum())


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
    if resume and out is None:
        raise ValueError("fit: resume=True needs the run's folder (out=...)")
    lock = None if out is None else open_run_folder(out, resume=resume)
    try:
        return _fit(net, train_loader, test_loader, optimizer, epochs, loss_fn=loss_fn, out=out, config=config,
                    resume=resume, progress=progress, log=log, keep=keep)
    finally:
        if lock is not None:
            lock.release()


def check_run_folder(out, resume: bool = False) -> Path:
    """Check, before anything is trained, that ``out`` can be a run folder: not an existing file, and
    (when resuming) holding a checkpoint. Raises :class:`RunFolderError` / ``CheckpointError``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"the run folder {out} is an existing file, not a folder: choose another --out")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"cannot create the run folder {out}: {parent} is a file, not a folder")
            break
    ckpt_dir = out / CHECKPOINT_DIR
    if resume and (not ckpt_dir.is_dir() or latest_checkpoint(ckpt_dir) is None):
        raise CheckpointError(f"nothing to resume: no checkpoint in {ckpt_dir}")
    return out


def open_run_folder(out, resume: bool = False) -> FolderLock:
    """Make ``out`` (and ``out/checkpoints``) ready for one writer, before anything is trained: check
    it (:func:`check_run_folder`), create it, take its lock (a second run on the same folder is
    refused, naming the holder; a lock left by a killed run is free), prove it writable with a
    probe file, and remove what a killed run left (``.part`` files, ``.tmp-*``/``.trash-*`` folders).
    Returns the held :class:`~minitorch_cnn._fileio.FolderLock`; release it when done."""
    out = check_run_folder(out, resume)
    ckpt_dir = out / CHECKPOINT_DIR
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"cannot create the run folder {ckpt_dir}: {exc.strerror or exc}") from None
    lock = FolderLock(out, "the run folder")
    try:
        lock.acquire()
    except FileWriteError as exc:
        raise RunFolderError(f"{exc}: the run folder must be writable") from None
    except OSError as exc:  # FolderInUseError: its message names the holder
        raise RunFolderError(str(exc)) from None
    try:
        probe = ckpt_dir / f".probe-{os.getpid()}.part"
        write_new_file(probe, b"")
        probe.unlink()
        clean_leftovers(out)
        clean_leftovers(ckpt_dir)
    except FileWriteError as exc:
        lock.release()
        raise RunFolderError(f"{exc}: the run folder must be writable") from None
    except BaseException:
        lock.release()
        raise
    return lock


def _fit(net, train_loader, test_loader, optimizer, epochs, *, loss_fn, out, config, resume, progress, log,
         keep) -> History:
    """:func:`fit` with the run folder (when ``out``) open and locked."""
    ckpt_dir = None if out is None else out / CHECKPOINT_DIR
    history = History()
    start = 0
    if resume:
        found = latest_checkpoint(ckpt_dir) if ckpt_dir.is_dir() else None
        if found is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {ckpt_dir}")
        ckpt = load_checkpoint(found, net, optimizer, net=config.get("net"), restore_rng=True)
        if ckpt.epoch > epochs:
            raise CheckpointError(f"cannot resume with epochs={epochs}: the run in {out} has already completed "
                                  f"{ckpt.epoch} epochs ({found}); epochs is the total count, so give "
                                  f"{ckpt.epoch + 1} or more to train further")
        if ckpt.loader_state is not None and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(ckpt.loader_state)
        history.rows = list(ckpt.metrics)
        history.checkpoint = found
        start = ckpt.epoch
        if start == epochs:
            log(f"nothing to train: {found} has already completed all {_count(epochs, 'epoch')}")
        else:
            log(f"resuming from {found}: {_count(start, 'epoch')} done, training epochs {start + 1} to {epochs}")
    elif ckpt_dir is not None and latest_checkpoint(ckpt_dir) is not None:
        raise CheckpointError(f"{out} already holds the checkpoints of a run ({latest_checkpoint(ckpt_dir)}); "
                              "resume it (--resume / resume=True) or choose another output folder")

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
                            + (f"The last good checkpoint is {last}. " if last else "No checkpoint was written. ")
                            + _likely_causes(optimizer)
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
                try:
                    history.checkpoint = save_checkpoint(ckpt_dir, net, optimizer, epoch=epoch, config=config,
                                                         metrics=history.rows, loader_state=loader_state, keep=keep)
                    summary = {"epochs_completed": epoch, "checkpoint": str(history.checkpoint.relative_to(out))}
                    write_metrics(out, history.rows, config, summary)
                    plot_curves(out / "curves.png", history.rows, epochs, title=config.get("net"))
                except FileWriteError as exc:
                    raise RunFolderError(_write_failed(exc, epoch, ckpt_dir)) from None
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
        device = backend.device_of(next(iter(net.parameters())).data) if list(net.parameters()) else "cpu"
        log(f"{history.examples_per_s:.1f} examples/sec on {device}")
        log(f"wall time {history.wall_time_s:.1f} s for {epochs - start} epoch(s)")
        if out is not None:
            summary = {"epochs_completed": history.rows[-1]["epoch"],
                       "checkpoint": str(history.checkpoint.relative_to(out)),
                       "examples_per_s": history.examples_per_s, "train_time_s": history.train_time_s,
                       "wall_time_s": history.wall_time_s, "device": device}
            try:
                write_metrics(out, history.rows, config, summary)
            except FileWriteError as exc:
                raise RunFolderError(_write_failed(exc, history.rows[-1]["epoch"], ckpt_dir)) from None
    return history


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _write_failed(exc: FileWriteError, epoch: int, ckpt_dir: Path) -> str:
    """The one line for a write that failed after ``epoch``: the file, the cause, the last complete checkpoint."""
    try:
        last = latest_checkpoint(ckpt_dir)
    except CheckpointError:
        last = None
    fix = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (disk quota)",
           errno.EROFS: "make the folder writable", errno.EACCES: "make the folder writable"}.get(exc.errno,
                                                                                                "fix that")
    return (f"{exc}; training stopped after epoch {epoch}. "
            + (f"The last complete checkpoint is {last}: {fix}, then continue with --resume."
               if last else f"No checkpoint was saved: {fix}, then start again."))


def _likely_causes(optimizer) -> str:
    """What usually makes a loss blow up, with this optimizer's settings."""
    group = optimizer.param_groups[0] if getattr(optimizer, "param_groups", None) else {}
    settings = ", ".join(f"{k} {group[k]}" for k in ("lr", "momentum", "betas", "weight_decay") if k in group)
    return ("Likely causes: a learning rate too large for this net"
            + (f" ({settings})" if settings else "")
            + " (try a smaller --lr), momentum close to 1, or input data that is not what the net expects "
            "(NaN or huge values).")


# ---------------------------------------------------------------------------- a whole run
def train(config: dict, out, *, data_dir=None, resume: bool = False, progress: bool | None = None,
          log=print, given: dict | None = None) -> History:
    """Run ``minitorch-cnn train``: build everything from ``config`` (see :func:`default_config`), then
    :func:`fit`. With ``resume``, the saved run's config is used (``given`` holds the values the user
    set explicitly; they must agree with it, except epochs and device)."""
    out = check_run_folder(out, resume)  # before the data is loaded; fit checks again under the run's lock
    if resume:
        found = latest_checkpoint(out / CHECKPOINT_DIR)
        saved_ckpt = read_checkpoint(found)
        given = {k: v for k, v in (given or {}).items() if v is not None}
        given.setdefault("epochs", config["epochs"])
        given.setdefault("device", config["device"])
        config = resolve_config(config["net"], given, saved_ckpt.config)
        if config["epochs"] < saved_ckpt.epoch:
            raise CheckpointError(f"cannot resume with --epochs {config['epochs']}: the run in {out} has already "
                                  f"completed {saved_ckpt.epoch} epochs ({found}); --epochs is the total count, so "
                                  f"give {saved_ckpt.epoch + 1} or more to train further")
    config = check_config(config)
    backend.manual_seed(config["seed"])
    net = build_model(config)
    optimizer = build_optimizer(config, net.parameters())
    train_loader, test_loader = build_loaders(config, data_dir)
    images = getattr(train_loader.dataset, "image_file", None)
    log(f"{config['net']}: {sum(p.numel() for p in net.parameters()):,} parameters; {len(train_loader.dataset):,} "
        f"training and {len(test_loader.dataset):,} test images"
        + (f" from {Path(images).parent}" if images is not None else "")
        + f"; {describe_optimizer(optimizer)}, batch {config['batch_size']}, {_count(config['epochs'], 'epoch')} "
          f"on {config['device']}; output in {out}")
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
