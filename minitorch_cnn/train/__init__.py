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
  every epoch, and a checkpoint after every epoch (:mod:`minitorch_cnn.checkpoint`); the folder is
  checked and locked before the first step (one writer per run folder);
- ``resume=True`` continues from the last checkpoint in ``out``; ``overwrite=True`` starts over
  in ``out``, the earlier run moved aside to ``OUT.old-N`` (never deleted). The weights, the optimizer state,
  the engine's generator (dropout, init) and the loader's shuffle seed are restored, and the
  shuffle order of epoch ``e`` depends only on ``(seed, e)``, so a resumed run ends with the same
  weights, bit for bit, as an uninterrupted one (on the CPU);
- a NaN or infinite loss stops training before the step that produced it updates anything
  (:class:`NonFiniteLossError`, naming the epoch and step); Ctrl-C stops at once; a write that
  fails (disk full) stops with :class:`RunFolderError`. In each case the half-done epoch is never
  saved: the last checkpoint is the last completed epoch.

``train(config, out)`` builds the net, data and optimizer of a run from a plain config dict
(what ``minitorch-cnn train`` does); ``RECIPES`` holds the book's settings per net.

The files, by job:

- ``loop.py``: the book's loop, one training epoch and one evaluation pass, nothing else;
- ``run.py``: ``fit`` and ``train``, the orchestration around the loop (resume, progress,
  checkpoints, Ctrl-C, NaN);
- ``recipes.py``: the recipes, the run's config, and the net/optimizer/data built from it;
- ``report.py``: the history, the per-epoch line, ``metrics.csv``/``.json``, ``curves.png``;
- ``folder.py``: the run folder, checked and locked before training, and its error messages;
- ``terms.py``: how those messages name the settings (``resume=True`` in Python, ``--resume`` in the CLI).
"""

from .folder import CHECKPOINT_DIR, RunFolderError, check_run_folder, move_run_aside, open_run_folder
from .loop import NonFiniteLossError, evaluate, train_epoch
from .recipes import (
    CONFIG_KEYS,
    DATASETS,
    INITS,
    OPTIMIZERS,
    RECIPES,
    RUN_KEYS,
    build_loaders,
    build_model,
    build_optimizer,
    check_config,
    default_config,
    describe_optimizer,
    resolve_config,
)
from .report import METRIC_COLUMNS, History, curves_png, plot_curves, write_metrics
from .run import compile_notice, fit, load_for_eval, train
from .terms import CLI, PYTHON, Terms

__all__ = [
    "CHECKPOINT_DIR",
    "CLI",
    "CONFIG_KEYS",
    "DATASETS",
    "History",
    "INITS",
    "METRIC_COLUMNS",
    "NonFiniteLossError",
    "OPTIMIZERS",
    "PYTHON",
    "RECIPES",
    "RUN_KEYS",
    "RunFolderError",
    "Terms",
    "build_loaders",
    "build_model",
    "build_optimizer",
    "check_config",
    "check_run_folder",
    "compile_notice",
    "curves_png",
    "default_config",
    "describe_optimizer",
    "evaluate",
    "fit",
    "load_for_eval",
    "move_run_aside",
    "open_run_folder",
    "plot_curves",
    "resolve_config",
    "train",
    "train_epoch",
    "write_metrics",
]
