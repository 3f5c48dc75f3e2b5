"""A run around the book's loop: ``fit`` (resume, progress, checkpoints, Ctrl-C, NaN) and ``train`` (from a config).

``fit`` calls :func:`.loop.train_epoch` and :func:`.loop.evaluate` once per epoch; what it adds:

- before the first step, the run folder is checked and locked (:mod:`.folder`); with ``resume``
  the weights, optimizer state, generator and loader state come back from the last checkpoint;
  with ``overwrite`` an earlier run in the folder is first moved aside (``OUT.old-N``), never deleted;
- a tqdm bar per epoch, the book's line per epoch, the throughput at the end (:mod:`.report`); in a
  Jupyter notebook the notebook's bar and the curves under the cell, redrawn after every epoch;
- after every epoch a checkpoint, ``metrics.csv``/``metrics.json`` and ``curves.png``;
- a NaN or infinite loss, Ctrl-C and a failed write each stop the run with the last complete
  epoch's checkpoint kept; the half-done epoch is never saved.

Messages name the settings in the caller's terms (``terms``, :mod:`.terms`): ``resume=True`` for a
Python caller (the default), ``--resume`` for ``minitorch-cnn train``.
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from .. import backend, models, optim
from .._fileio import FileWriteError
from ..checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from ..functional import cross_entropy
from ..kernels._jit import cache_is_cold
from .folder import CHECKPOINT_DIR, RunFolderError, check_run_folder, move_run_aside, open_run_folder, write_failed
from .loop import NonFiniteLossError, evaluate, train_epoch
from .recipes import build_loaders, build_model, build_optimizer, check_config, describe_optimizer, resolve_config
from .report import History, InlineCurves, count, curves_png, epoch_line, plot_curves, write_metrics
from .terms import PYTHON


def fit(net, train_loader, test_loader, optimizer=None, epochs: int = 10, *, loss_fn=cross_entropy,
        out=None, config: dict | None = None, resume: bool = False, overwrite: bool = False,
        progress: bool | None = None, log=print, keep: int = 2, terms=PYTHON) -> History:
    """Train ``net`` for ``epochs`` epochs (in total, counting those before a resume); see the module doc.

    ``optimizer`` defaults to the book's SGD with lr 0.9. ``out``: the run's folder for metrics,
    curves and checkpoints (``out/checkpoints``); None keeps nothing on disk. ``config`` is stored in
    checkpoints and metrics (``minitorch-cnn eval`` rebuilds the net from its ``net``). ``progress``:
    None shows the bar only on a terminal, True/False force it. ``log``: where the per-epoch lines go.
    ``resume``: continue the run in ``out``; ``overwrite``: start over in ``out``, its earlier run
    moved aside to ``OUT.old-N`` (said in one line); neither: ``out`` must not hold a run yet.
    ``terms``: how messages name the settings (:mod:`.terms`).
    """
    if optimizer is None:
        optimizer = optim.SGD(net.parameters(), lr=0.9)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    config = dict(config or {})
    out = None if out is None else Path(out)
    if (resume or overwrite) and out is None:
        raise ValueError(f"fit: {terms('resume' if resume else 'overwrite', True)} needs the run's folder "
                         f"({terms('out')})")
    if resume and overwrite:
        raise ValueError(f"fit: {terms('resume', True)} continues the run in {out}, {terms('overwrite', True)} "
                         "starts it over: give one of them")
    if overwrite:
        moved = move_run_aside(out, terms)
        if moved is not None:
            log(f"moved the earlier run in {out} aside to {moved}")
    lock = None if out is None else open_run_folder(out, resume=resume, terms=terms)
    try:
        run = _Run(net, train_loader, test_loader, optimizer, epochs, loss_fn, out, config, progress, log, keep,
                   terms)
        run.start(resume)
        return run.epochs_and_summary()
    finally:
        if lock is not None:
            lock.release()


class _Run:
    """The state of one ``fit`` call while its folder is locked."""

    def __init__(self, net, train_loader, test_loader, optimizer, epochs, loss_fn, out, config, progress, log,
                 keep, terms):
        self.net, self.train_loader, self.test_loader, self.optimizer = net, train_loader, test_loader, optimizer
        self.epochs, self.loss_fn, self.out, self.config = epochs, loss_fn, out, config
        self.progress, self.log, self.keep, self.terms = progress, log, keep, terms
        self.ckpt_dir = None if out is None else out / CHECKPOINT_DIR
        self.history = History()
        self.first = 1  # the first epoch this call trains
        self.steps_done = 0  # in the current epoch
        self.inline = InlineCurves() if InlineCurves.in_notebook() else None  # (tqdm.auto gives the notebook's bar)

    def last_checkpoint(self):
        return latest_checkpoint(self.ckpt_dir) if self.ckpt_dir is not None and self.ckpt_dir.is_dir() else None

    # ------------------------------------------------------------ resume
    def start(self, resume: bool) -> None:
        epochs, log = self.epochs, self.log
        if not resume:  # open_run_folder made sure that out holds no run
            return
        found = self.last_checkpoint()  # open_run_folder made sure there is one
        ckpt = load_checkpoint(found, self.net, self.optimizer, net=self.config.get("net"), restore_rng=True)
        check_epochs(ckpt.epoch, epochs, self.out, found, self.terms)
        if ckpt.loader_state is not None and hasattr(self.train_loader, "load_state_dict"):
            self.train_loader.load_state_dict(ckpt.loader_state)
        self.history.rows = list(ckpt.metrics)
        self.history.checkpoint = found
        self.first = ckpt.epoch + 1
        if ckpt.epoch == epochs:
            log(f"nothing to train: {found} has already completed all {count(epochs, 'epoch')}")
        else:
            log(f"resuming from {found}: {count(ckpt.epoch, 'epoch')} done, training epochs {ckpt.epoch + 1} "
                f"to {epochs}")

    # ------------------------------------------------------------ the epochs
    def epochs_and_summary(self) -> History:
        history, wall0 = self.history, time.perf_counter()
        train_examples, train_time = 0, 0.0
        epoch = self.first - 1
        n_batches = len(self.train_loader)
        try:
            for epoch in range(self.first, self.epochs + 1):
                row = self.one_epoch(epoch, n_batches)
                train_examples += row.pop("n")
                train_time += row["train_time_s"]
                history.rows.append(row)
                self.log(epoch_line(row))
                self.save(epoch)
                if self.inline is not None:
                    self.inline.show(curves_png(history.rows, self.epochs, title=self.config.get("net")))
        except KeyboardInterrupt:
            last = self.last_checkpoint()
            step = min(self.steps_done + 1, n_batches)  # the step under way, or the last one
            self.log(f"interrupted during epoch {epoch} (step {step} of {n_batches}); the unfinished epoch was "
                     "not saved. " + (f"Last checkpoint: {last}; continue with {self.terms('resume', True)}." if last
                                      else "No checkpoint was written."))
            raise
        history.train_time_s = train_time
        history.wall_time_s = time.perf_counter() - wall0
        if train_examples:
            history.examples_per_s = train_examples / max(train_time, 1e-9)
        self.summarize()
        return history

    def one_epoch(self, epoch: int, n_batches: int):
        """Train and evaluate epoch ``epoch``; returns its metrics row (with ``n``, the examples trained)."""
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(epoch - 1)  # the shuffle order of an epoch depends on (seed, epoch) only
        bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{self.epochs}", unit="batch", leave=False,
                   disable=None if self.progress is None else not self.progress, dynamic_ncols=True)
        self.steps_done = 0
        t0 = time.perf_counter()

        def on_step(step, sums):
            self.steps_done = step
            n, elapsed = sums["n"], time.perf_counter() - t0
            bar.set_postfix_str(f"loss {sums['loss'] / n:.3f}, acc {sums['correct'] / n:.3f}, "
                                f"{n / max(elapsed, 1e-9):.0f} ex/s", refresh=False)
            bar.update()

        try:
            result = train_epoch(self.net, self.train_loader, self.optimizer, self.loss_fn, on_step)
        except NonFiniteLossError as exc:
            raise self.non_finite(exc, epoch, n_batches) from None
        finally:
            bar.close()
        epoch_time = time.perf_counter() - t0
        if result["n"] == 0:
            raise ValueError(f"fit: the training loader yielded no batches in epoch {epoch}")
        t1 = time.perf_counter()
        test = evaluate(self.net, self.test_loader, self.loss_fn)
        row = {"epoch": epoch, "train_loss": result["loss"], "train_acc": result["acc"],
               "test_loss": test["loss"], "test_acc": test["acc"],
               "examples_per_s": result["n"] / max(epoch_time, 1e-9), "train_time_s": epoch_time,
               "eval_time_s": time.perf_counter() - t1, "n": result["n"]}
        return row

    def non_finite(self, exc: NonFiniteLossError, epoch: int, n_batches: int) -> NonFiniteLossError:
        last = self.last_checkpoint()
        return NonFiniteLossError(
            f"the loss is {exc.value} at epoch {epoch}, step {exc.step} of {n_batches}: training stopped "
            "before this step changed the weights. "
            + (f"The last good checkpoint is {last}. " if last else "No checkpoint was written. ")
            + likely_causes(self.optimizer, self.terms), exc.value, exc.step)

    # ------------------------------------------------------------ outputs
    def save(self, epoch: int) -> None:
        """The epoch's checkpoint, then the metrics and curves that point at it."""
        if self.out is None:
            return
        history, out = self.history, self.out
        loader = self.train_loader
        loader_state = loader.state_dict() if hasattr(loader, "state_dict") else None
        try:
            history.checkpoint = save_checkpoint(self.ckpt_dir, self.net, self.optimizer, epoch=epoch,
                                                 config=self.config, metrics=history.rows,
                                                 loader_state=loader_state, keep=self.keep)
            summary = {"epochs_completed": epoch, "checkpoint": str(history.checkpoint.relative_to(out))}
            write_metrics(out, history.rows, self.config, summary)
            plot_curves(out / "curves.png", history.rows, self.epochs, title=self.config.get("net"))
        except FileWriteError as exc:
            raise RunFolderError(write_failed(exc, epoch, self.ckpt_dir, self.terms)) from None

    def summarize(self) -> None:
        """The book's closing lines (last epoch's figures, examples/sec) and the summary in metrics.json."""
        history, log = self.history, self.log
        if history.rows:
            r = history.rows[-1]
            log(f"loss {r['train_loss']:.3f}, train acc {r['train_acc']:.3f}, test acc {r['test_acc']:.3f}")
        if history.examples_per_s is None:
            return
        params = list(self.net.parameters())
        device = backend.device_of(params[0].array) if params else "cpu"
        log(f"{history.examples_per_s:.1f} examples/sec on {device}")
        log(f"wall time {history.wall_time_s:.1f} s for {self.epochs - self.first + 1} epoch(s)")
        if self.out is not None:
            summary = {"epochs_completed": history.rows[-1]["epoch"],
                       "checkpoint": str(history.checkpoint.relative_to(self.out)),
                       "examples_per_s": history.examples_per_s, "train_time_s": history.train_time_s,
                       "wall_time_s": history.wall_time_s, "device": device}
            try:
                write_metrics(self.out, history.rows, self.config, summary)
            except FileWriteError as exc:
                raise RunFolderError(write_failed(exc, history.rows[-1]["epoch"], self.ckpt_dir, self.terms)) from None


def check_epochs(done: int, epochs: int, out, found, terms=PYTHON) -> None:
    """A resume to ``epochs`` in total must not be below the ``done`` epochs of the run in ``out``."""
    if epochs < done:
        raise CheckpointError(f"cannot resume with {terms('epochs', epochs)}: the run in {out} has already "
                              f"completed {done} epochs ({found}); {terms('epochs')} is the total count, so give "
                              f"{done + 1} or more to train further")


def likely_causes(optimizer, terms=PYTHON) -> str:
    """What usually makes a loss blow up, with this optimizer's settings."""
    group = optimizer.param_groups[0] if getattr(optimizer, "param_groups", None) else {}
    settings = ", ".join(f"{k} {group[k]}" for k in ("lr", "momentum", "betas", "weight_decay") if k in group)
    return ("Likely causes: a learning rate too large for this net"
            + (f" ({settings})" if settings else "")
            + f" (try a smaller {terms('lr')}), momentum close to 1, or input data that is not what the net expects "
            "(NaN or huge values).")


# ---------------------------------------------------------------------------- a whole run
def train(config: dict, out, *, data_dir=None, resume: bool = False, overwrite: bool = False,
          progress: bool | None = None, log=print, given: dict | None = None, terms=PYTHON) -> History:
    """Run ``minitorch-cnn train``: build everything from ``config`` (see :func:`.recipes.default_config`),
    then :func:`fit`. With ``resume``, the saved run's config is used (``given`` holds the values the
    user set explicitly; they must agree with it, except epochs and device); ``overwrite``: see :func:`fit`.
    Before the first epoch on the CPU, a line says when the kernels will be compiled (a cold cache)."""
    out = check_run_folder(out, resume, terms, overwrite)  # before the data is loaded; fit checks again, locked
    done = 0
    if resume:
        found = latest_checkpoint(out / CHECKPOINT_DIR)
        saved_ckpt = read_checkpoint(found)
        given = {k: v for k, v in (given or {}).items() if v is not None}
        given.setdefault("epochs", config["epochs"])
        given.setdefault("device", config["device"])
        config = resolve_config(config["net"], given, saved_ckpt.config, terms)
        done = saved_ckpt.epoch
        check_epochs(done, config["epochs"], out, found, terms)
    config = check_config(config)
    backend.manual_seed(config["seed"])
    net = build_model(config)
    optimizer = build_optimizer(config, net.parameters())
    train_loader, test_loader = build_loaders(config, data_dir)
    images = getattr(train_loader.dataset, "image_file", None)
    log(f"{config['net']}: {sum(p.numel() for p in net.parameters()):,} parameters; {len(train_loader.dataset):,} "
        f"training and {len(test_loader.dataset):,} test images"
        + (f" from {Path(images).parent}" if images is not None else "")
        + f"; {describe_optimizer(optimizer)}, batch {config['batch_size']}, {count(config['epochs'], 'epoch')} "
          f"on {config['device']}; output in {out}")
    if done < config["epochs"] and (notice := compile_notice(config["device"])):
        log(notice)
    return fit(net, train_loader, test_loader, optimizer, config["epochs"], out=out, config=config,
               resume=resume, overwrite=overwrite, progress=progress, log=log, terms=terms)


def compile_notice(device: str = "cpu") -> str | None:
    """The line to print before the first step when numba will compile the kernels first (its cache
    holds none for this machine: ``kernels._jit.cache_is_cold``), else None. The step then takes
    seconds, not milliseconds, and a progress bar would sit at 0% without a word."""
    if device != "cpu" or backend.get_kernel_path() != "numba" or not cache_is_cold():
        return None
    return "compiling the kernels for this machine (first run only; training starts when they are ready)..."


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
