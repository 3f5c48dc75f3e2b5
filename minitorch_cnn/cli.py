"""The command line: ``minitorch-cnn train / eval / summary / show / bench`` (also ``python -m minitorch_cnn``).

``minitorch-cnn train lenet`` is the book's recipe (10 epochs, SGD lr 0.9, batch 256, Xavier init)
on Fashion-MNIST. Every flag left out takes the net's book value (``train.RECIPES``); with
``--resume`` it takes the saved run's value instead, and a flag that contradicts the saved run is
an error; ``--overwrite`` starts over in the run folder, the earlier run moved aside beside it
(``runs/lenet.old-1``), never deleted. Net names ignore case (``LeNet``); a wrong one is one line
with the closest name (``did you mean 'lenet'?``) and the list. Messages name the flags
(``--resume``), where the Python API names its arguments (``resume=True``).

Exit codes: 0 done, 1 an error explained on stderr in one line (missing data, bad checkpoint, NaN
loss, no GPU, a run folder that is a file, read-only, full or in use by another run), 2 bad
command line (argparse, a wrong net name), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import difflib
import sys

from . import backend, models, train
from ._fileio import FileWriteError
from .checkpoint import CheckpointError

__all__ = ["build_parser", "main"]

PROG = "minitorch-cnn"


def _number(cast, ok, expected):
    """An argparse type: ``cast(text)``, kept when ``ok(value)``, else an error saying what was expected."""

    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _number(int, lambda v: v >= 0, "a non-negative integer")
_nonneg_float = _number(float, lambda v: 0 <= v < float("inf"), "a finite number >= 0")


def _resize(text):
    if text.lower() in ("0", "none", "no"):
        return 0  # no resizing (kept apart from None = "not given")
    return _positive_int(text)


def _device(text):
    name = "cuda" if text.startswith("cuda") else text
    if name not in backend.DEVICES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(backend.DEVICES)}, got {text!r}")
    return name


def _net_name(text):
    """An argparse type: a net of ``models.MODELS``, in any case; else one line with the closest name."""
    name = text.lower()
    if name in models.MODELS:
        return name
    close = difflib.get_close_matches(name, models.MODELS, n=1)
    hint = f" did you mean {close[0]!r}?" if close else ""
    raise argparse.ArgumentTypeError(f"unknown net {text!r}:{hint} expected one of {', '.join(models.MODELS)}")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that a wrong net name is one line (no usage block above it); exit code 2."""

    def error(self, message):
        prefix = "argument NET: "
        if message.startswith(prefix):
            self.exit(2, f"{self.prog}: error: {message[len(prefix):]}\n")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Train, evaluate and inspect classic CNNs on Fashion-MNIST with minitorch_cnn (no PyTorch).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a net on Fashion-MNIST (default: the book's LeNet recipe)",
                       description="Train NET. Flags left out take the book's value for NET "
                                   "(lenet: 10 epochs, SGD lr 0.9, batch 256, Xavier init), or with --resume "
                                   "the saved run's.")
    p.add_argument("net", metavar="NET", type=_net_name, help="one of (any case): " + ", ".join(models.MODELS))
    p.add_argument("--epochs", type=_positive_int, help="total number of epochs (default 10)")
    p.add_argument("--lr", type=_nonneg_float, help="learning rate (default: the book's for NET; lenet 0.9)")
    p.add_argument("--batch-size", type=_positive_int, help="batch size (default: the book's for NET; lenet 256)")
    p.add_argument("--optimizer", choices=train.OPTIMIZERS, help="sgd (default) or adam")
    p.add_argument("--momentum", type=_nonneg_float, help="SGD momentum (default 0)")
    p.add_argument("--weight-decay", type=_nonneg_float, help="L2 weight decay (default 0)")
    p.add_argument("--init", choices=train.INITS,
                   help="xavier (default, the book's Xavier-uniform on every Conv2d/Linear weight) or default "
                        "(the layers' own PyTorch-style init)")
    p.add_argument("--seed", type=_nonneg_int, help="seed of init, dropout and shuffling (default 0)")
    p.add_argument("--resize", type=_resize, metavar="PIXELS",
                   help="resize images to PIXELSxPIXELS (bilinear); 0 for none (default: the book's for NET, "
                        "e.g. 224 for alexnet, none for lenet)")
    p.add_argument("--dataset", choices=train.DATASETS, help="fashion-mnist (default) or mnist")
    p.add_argument("--subset", type=_positive_int, metavar="N",
                   help="use only the first N images of the training and of the test set (quick smoke runs)")
    p.add_argument("--device", type=_device, help="cpu (default) or cuda")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with the dataset's IDX files, which must hold them (default: search "
                        "$MINITORCH_CNN_DATA, the system package's folder, the user cache, then download)")
    p.add_argument("--out", metavar="DIR", help="run folder for checkpoints, metrics and curves (default runs/NET)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    again.add_argument("--overwrite", action="store_true",
                       help="start over in --out: the run already there is moved aside to OUT.old-N beside it "
                            "(never deleted); refused while another run is writing to it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is off anyway when not a terminal)")

    p = sub.add_parser("eval", help="evaluate a checkpoint on the test set",
                       description="Evaluate a saved checkpoint on the test set of its dataset.")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a run folder (--out of train), its checkpoints/ folder, or one checkpoint folder")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the dataset's IDX files")
    p.add_argument("--device", type=_device, default="cpu", help="cpu (default) or cuda")
    p.add_argument("--batch-size", type=_positive_int, help="batch size (default: the run's)")

    p = sub.add_parser("summary", help="print each layer's output shape and parameter count",
                       description="Run NET once on a random input and print its layers' output shapes.")
    p.add_argument("net", metavar="NET", type=_net_name, help="one of (any case): " + ", ".join(models.MODELS))
    p.add_argument("--input", metavar="SHAPE", help="input shape NxCxHxW (default: the net's, e.g. 1x1x28x28)")
    p.add_argument("--num-classes", type=_positive_int, default=10, metavar="K",
                   help="classes of the net's output (default 10; 1000 for the ImageNet layouts)")

    p = sub.add_parser("show", help="draw what a trained net learned: filters, feature maps, confusion matrix",
                       description="From the last checkpoint of RUN_DIR, write filters.png (the first conv's "
                                   "kernels), feature_maps.png (one test image through each conv and pool layer) "
                                   "and confusion.png (the test set's confusion matrix) beside its curves.png.")
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a run folder (--out of train), its checkpoints/ folder, or one checkpoint folder")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the dataset's IDX files")
    p.add_argument("--device", type=_device, default="cpu", help="cpu (default) or cuda")
    p.add_argument("--image", type=_nonneg_int, default=0, metavar="INDEX",
                   help="which test image to send through the net for feature_maps.png (default 0)")
    p.add_argument("--out", metavar="DIR", help="where to write the pictures (default: the run folder)")

    sub.add_parser("bench", help="how to run the benchmarks against PyTorch",
                   description="Points to the benchmark suite.")
    return parser


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _cmd_train(args) -> int:
    given = {
        "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "optimizer": args.optimizer,
        "momentum": args.momentum, "weight_decay": args.weight_decay, "init": args.init, "seed": args.seed,
        "dataset": args.dataset, "subset": args.subset, "device": args.device,
        "resize": None if args.resize is None else (args.resize or 28),  # 0: none = the images' own 28
    }
    given = {k: v for k, v in given.items() if v is not None}
    try:
        config = train.resolve_config(args.net, given, terms=train.CLI)
    except ValueError as exc:
        return _error(str(exc))
    out = args.out or f"runs/{args.net}"
    train.train(config, out, data_dir=args.data_dir, resume=args.resume, overwrite=args.overwrite,
                progress=False if args.no_progress else None, given=given, terms=train.CLI)
    print(f"checkpoints, metrics.csv, metrics.json and curves.png are in {out}")
    return 0


def _cmd_eval(args) -> int:
    net, ckpt = train.load_for_eval(args.checkpoint, device=args.device)
    config = dict(ckpt.config, device=args.device)
    if args.batch_size:
        config["batch_size"] = args.batch_size
    config.setdefault("batch_size", 256)
    _, test_loader = train.build_loaders(config, args.data_dir, train=False)
    if notice := train.compile_notice(args.device):
        print(notice)
    result = train.evaluate(net, test_loader)
    print(f"{config.get('net')} after {ckpt.epoch} epoch(s) ({ckpt.path}): test loss {result['loss']:.3f}, "
          f"test acc {result['acc']:.3f} on {result['n']:,} images")
    return 0


def _cmd_summary(args) -> int:
    shape = models.parse_shape(args.input) if args.input else models.default_input_shape(args.net)
    net = models.get_model(args.net, in_channels=shape[1], num_classes=args.num_classes)
    print(models.summarize(net, shape))
    return 0


def _cmd_show(args) -> int:
    from . import show  # noqa: PLC0415 - keeps `minitorch-cnn --help` light

    try:
        show.show_run(args.run_dir, data_dir=args.data_dir, device=args.device, index=args.image, out=args.out)
    except show.PictureWriteError as exc:
        return _error(str(exc))
    return 0


def _cmd_bench(args) -> int:
    print("The benchmarks time minitorch_cnn against PyTorch in the same run and print the ratios:\n"
          "    python -m benchmarks            (from a clone of the repository, with the test extra installed)\n"
          "    python -m benchmarks --help     for the list of suites")
    return 0


COMMANDS = {"train": _cmd_train, "eval": _cmd_eval, "summary": _cmd_summary, "show": _cmd_show,
            "bench": _cmd_bench}


def main(argv=None) -> int:
    """Entry point of ``minitorch-cnn``; returns the exit code."""
    from .data import DatasetNotFoundError  # noqa: PLC0415 - keeps `minitorch-cnn --help` light
    from .nn import StateDictError  # noqa: PLC0415

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except DatasetNotFoundError as exc:
        return _error(str(exc))
    except (CheckpointError, StateDictError, train.NonFiniteLossError, backend.DeviceUnavailableError) as exc:
        return _error(str(exc))
    except (train.RunFolderError, FileWriteError) as exc:  # each names the file and the cause
        return _error(str(exc))
    except OSError as exc:  # any other file-system fault: still one line
        return _error(f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc))
    except ValueError as exc:  # the engine's input checks: a bad --input shape, a --resize the net cannot take
        return _error(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
