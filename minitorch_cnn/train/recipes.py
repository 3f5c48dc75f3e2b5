"""What defines a run: the book's recipes per net, the config dict, and the net, optimizer and data built from it.

A run is a plain dict of ``CONFIG_KEYS`` (what ``minitorch-cnn train`` flags set); the
checkpoint stores it, so a resumed run and ``minitorch-cnn eval`` rebuild exactly the same pieces.
"""

from __future__ import annotations

import math
from pathlib import Path

from .. import backend, models, optim
from ..checkpoint import CheckpointError
from .terms import PYTHON

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


def resolve_config(net: str, given: dict, saved: dict | None = None, terms=None) -> dict:
    """The config of a run: the recipe of ``net``, then (when resuming) the ``saved`` config, then
    the values the user ``given`` explicitly. On resume, a given value that contradicts the saved
    run (anything but epochs and device) is an error rather than a silently different run; ``terms``
    names the settings in its message (``train.terms``: ``lr=0.1``, the default, or ``--lr 0.1``)."""
    if saved is None:
        return default_config(net, **given)
    if saved.get("net") != net:
        raise CheckpointError(f"the checkpoint to resume holds net {saved.get('net')!r}, not {net!r}")
    if given.get("resize") == 28:  # the images' own size: the same as no resizing
        given = dict(given, resize=None)
    terms = terms or PYTHON
    conflicts = [f"{terms(k, given[k])} (the run used {saved.get(k)})" for k in RUN_KEYS
                 if given.get(k) is not None and k in saved and given[k] != saved[k]]
    if conflicts:
        raise CheckpointError("cannot resume with different settings: " + "; ".join(conflicts)
                              + f". Leave them out to continue the run as it was, start it over with "
                              f"{terms('overwrite', True)}, or start a new run with another {terms('out')}")
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
    from .. import data  # noqa: PLC0415 - the data layer is only needed when data is loaded

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
