"""Fashion-MNIST and MNIST, found on disk or downloaded and checked.

Where the files are looked for, in order (the first folder holding both files of the split wins):

1. the explicit ``root`` (the CLI's ``--data-dir``),
2. ``$MINITORCH_CNN_DATA``,
3. the system folder of a distribution package (Fashion-MNIST: Debian's ``dataset-fashion-mnist``
   installs ``/usr/share/datasets/fashion-mnist``; MNIST has no such package),
4. the user cache, ``$XDG_CACHE_HOME/minitorch_cnn/<name>`` (``~/.cache/minitorch_cnn/<name>``).

In 1 and 2 the files may sit in ``DIR/<name>`` (``fashion-mnist`` or ``mnist``), in torchvision's
``DIR/<ClassName>/raw``, or directly in ``DIR``; each file gzip-compressed (``.gz``) or not.
When none has them and ``download=True``, the files are downloaded from the dataset's official
location into ``root`` (when given) or the user cache, each checked against its published
checksum while it streams to a temporary file beside its final name, then fsynced and renamed:
an interrupted or wrong download never leaves a file that could be mistaken for a good one.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import backend
from ..tensor import Tensor
from .idx import atomic_write, read_idx
from .transforms import to_float

__all__ = ["ArrayDataset", "FashionMNIST", "MNIST", "DatasetNotFoundError", "DATA_ENV", "user_cache_dir"]

DATA_ENV = "MINITORCH_CNN_DATA"
DOWNLOAD_TIMEOUT_S = 30
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are nowhere on disk and could not be downloaded; the message says how to
    get them."""


@dataclass(frozen=True)
class Resource:
    """One file of a dataset: its stem (name without .gz), the checksum of the official ``.gz``
    as ``(algorithm, hex digest)`` and its size in bytes."""

    stem: str
    checksum: tuple[str, str]
    size: int

    @property
    def filename(self) -> str:
        return self.stem + ".gz"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/minitorch_cnn`` or ``~/.cache/minitorch_cnn``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minitorch_cnn"


class ArrayDataset:
    """Images held as one array, PyTorch-style items.

    ``images``: uint8 ``(N, H, W)`` (or any ``(N, ..., H, W)`` array); ``targets``: int64 ``(N,)``.
    ``dataset[i]`` is ``(image, label)``: the image a float Tensor ``(1, H, W)`` in [0, 1] (uint8 / 255)
    passed through ``transform`` when given, the label a Python int (as torchvision's items after
    ``ToTensor``). Only the item is made a Tensor: the :class:`~.loader.DataLoader` reads
    ``images``/``targets`` a batch at a time (one index of each array) and applies the same
    ``transform`` to the whole batch.
    """

    classes: list[str] = []

    def __init__(self, images, targets, transform=None):
        images = np.asarray(images)
        targets = np.asarray(targets)
        if targets.ndim != 1 or targets.dtype.kind not in "iu":
            raise TypeError(f"{type(self).__name__}: targets must be a 1-D integer array, got "
                            f"{targets.dtype} of shape {targets.shape}")
        if images.ndim < 3 or len(images) != len(targets):
            raise ValueError(f"{type(self).__name__}: expected images (N, H, W) and targets (N,), got "
                             f"images {images.shape} and targets {targets.shape}")
        self.images = images
        self.targets = targets.astype(np.int64, copy=False)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {len(self)} items")
        image = self.images[index]
        x = to_float(image[None] if image.ndim == 2 else image)
        if self.transform is not None:
            x = self.transform(x)
        return (Tensor(x) if backend.is_array(x) else x), int(self.targets[index])

    def __repr__(self):
        return (f"{type(self).__name__}({len(self)} items, images {self.images.shape[1:]} "
                f"{self.images.dtype}, transform={self.transform!r})")


class _IdxImageDataset(ArrayDataset):
    """An image-classification set stored as four IDX files (the MNIST family)."""

    name = ""  # folder name in caches and in $MINITORCH_CNN_DATA
    title = ""
    system_dirs: tuple[str, ...] = ()
    apt_package: str | None = None
    mirrors: tuple[str, ...] = ()  # base URLs ending in "/", tried in order
    resources: dict[str, tuple[Resource, Resource]] = {}  # split -> (images, labels)

    def __init__(self, root=None, train=True, download=True, transform=None):
        self.root = None if root is None else Path(root).expanduser()
        self.train = bool(train)
        self.split = "train" if self.train else "test"
        img_res, lbl_res = self.resources[self.split]
        found = self._find(img_res, lbl_res)
        if found is None:
            if not download:
                raise DatasetNotFoundError(self._not_found_message(img_res, lbl_res, failures=None))
            found = self._download(img_res, lbl_res)
        self.image_file, self.label_file = found
        images, labels = read_idx(self.image_file), read_idx(self.label_file)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{self.title} image file {self.image_file}: expected uint8 images (N, H, W), "
                             f"found {images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(f"{self.title} label file {self.label_file}: expected uint8 labels (N,), "
                             f"found {labels.dtype} of shape {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{self.title}: {len(images)} images in {self.image_file} but {len(labels)} "
                             f"labels in {self.label_file}")
        if labels.size and int(labels.max()) >= len(self.classes):
            raise ValueError(f"{self.title} label file {self.label_file}: labels must be in "
                             f"[0, {len(self.classes) - 1}], found {int(labels.max())}")
        super().__init__(images, labels, transform)

    # ------------------------------------------------------------------ search
    @classmethod
    def search_dirs(cls, root=None) -> list[tuple[Path, str]]:
        """The folders looked in, in order, each with where it came from."""
        dirs: list[tuple[Path, str]] = []

        def user_dir(d: Path, origin: str):
            for sub in (d / cls.name, d / cls.__name__ / "raw", d):
                dirs.append((sub, origin))

        if root is not None:
            user_dir(Path(root).expanduser(), "root / --data-dir")
        env = os.environ.get(DATA_ENV)
        if env:
            user_dir(Path(env).expanduser(), f"${DATA_ENV}")
        for d in cls.system_dirs:
            dirs.append((Path(d), f"package {cls.apt_package}"))
        dirs.append((user_cache_dir() / cls.name, "user cache"))
        return dirs

    @staticmethod
    def _file_in(folder: Path, res: Resource) -> Path | None:
        for name in (res.filename, res.stem):
            p = folder / name
            if p.is_file():
                return p
        return None

    @classmethod
    def files_in(cls, folder, train: bool = True):
        """(image file, label file) of the split in ``folder`` only (or its ``<name>`` or
        ``<ClassName>/raw`` subfolder, as for ``root``), or None; nothing else is searched."""
        img_res, lbl_res = cls.resources["train" if train else "test"]
        folder = Path(folder).expanduser()
        for sub in (folder / cls.name, folder / cls.__name__ / "raw", folder):
            img, lbl = cls._file_in(sub, img_res), cls._file_in(sub, lbl_res)
            if img is not None and lbl is not None:
                return img, lbl
        return None

    def _find(self, img_res, lbl_res):
        for folder, _ in self.search_dirs(self.root):
            img, lbl = self._file_in(folder, img_res), self._file_in(folder, lbl_res)
            if img is not None and lbl is not None:
                return img, lbl
        return None

    # ------------------------------------------------------------------ download
    def download_dir(self) -> Path:
        """Where downloads go: ``root`` when given, else the user cache."""
        return self.root if self.root is not None else user_cache_dir() / self.name

    def _download(self, img_res, lbl_res):
        dest = self.download_dir()
        paths, failures = [], []
        for res in (img_res, lbl_res):
            target = dest / res.filename
            if target.is_file():  # kept from an earlier, interrupted run: it was verified then
                paths.append(target)
                continue
            errors = []
            for base in self.mirrors:
                url = base + res.filename
                print(f"{self.title}: downloading {url} -> {target}", file=sys.stderr)
                try:
                    download_file(url, target, res.checksum, res.size)
                except (OSError, ValueError) as exc:  # URLError, timeouts, HTTP errors, checksum
                    errors.append(f"{url}: {exc}")
                    continue
                paths.append(target)
                break
            else:
                failures.extend(errors)
        if failures:
            raise DatasetNotFoundError(self._not_found_message(img_res, lbl_res, failures))
        return tuple(paths)

    def _not_found_message(self, img_res, lbl_res, failures) -> str:
        split = "training" if self.train else "test"
        lines = [f"{self.title}: the {split} files ({img_res.filename} and {lbl_res.filename}, "
                 "or the same names without .gz) were not found in:"]
        lines += [f"  - {folder} ({origin})" for folder, origin in self.search_dirs(self.root)]
        if failures is None:
            lines.append("and download=False.")
        else:
            lines.append(f"and downloading them into {self.download_dir()} failed (no network?):")
            lines += [f"  - {f}" for f in failures]
        lines.append("To get them, do one of:")
        if self.apt_package:
            lines.append(f"  - on Debian/Ubuntu: apt-get install {self.apt_package}  "
                         f"(puts them in {self.system_dirs[0]})")
        lines.append(f"  - on a machine with internet, download the four files from {self.mirrors[0]} "
                     "(" + ", ".join(r.filename for pair in self.resources.values() for r in pair) + ")")
        lines.append("    and point to their folder with --data-dir DIR (root=DIR in Python) "
                     f"or the environment variable {DATA_ENV}=DIR,")
        lines.append(f"    or put them in {user_cache_dir() / self.name}")
        return "\n".join(lines)


def download_file(url: str, dest, checksum: tuple[str, str], size: int | None = None,
                  timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its ``(algorithm, hexdigest)`` checksum
    (and byte count when ``size`` is given) before the file gets its final name.

    Raises OSError (``urllib.error.URLError``, timeouts) when the server cannot be reached and
    ValueError on a wrong checksum or size; in both cases nothing is left at ``dest`` or beside it.
    """
    dest = Path(dest)
    algorithm, expected = checksum
    digest = hashlib.new(algorithm)
    n = 0
    with atomic_write(dest) as out, urllib.request.urlopen(url, timeout=timeout) as response:
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            n += len(chunk)
        got = digest.hexdigest()
        if got != expected.lower():
            raise ValueError(f"{algorithm} mismatch: expected {expected}, got {got} ({n} bytes); "
                             "the download was discarded")
        if size is not None and n != size:
            raise ValueError(f"size mismatch: expected {size} bytes, got {n}; the download was discarded")
    return dest


class FashionMNIST(_IdxImageDataset):
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test grayscale 28×28 images, 10 classes.

    ``FashionMNIST(root=None, train=True, download=True, transform=None)``; see the module doc for
    where the files are looked for. The download is checked against the sha256 of the official
    files (whose md5 are the ones published with the dataset).
    """

    name = "fashion-mnist"
    title = "Fashion-MNIST"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    apt_package = "dataset-fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    # sha256 of the official .gz files; their md5 match the published ones
    # (8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...).
    resources = {
        "train": (
            Resource("train-images-idx3-ubyte", (
                "sha256", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"), 26421880),
            Resource("train-labels-idx1-ubyte", (
                "sha256", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"), 29515),
        ),
        "test": (
            Resource("t10k-images-idx3-ubyte", (
                "sha256", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"), 4422102),
            Resource("t10k-labels-idx1-ubyte", (
                "sha256", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"), 5148),
        ),
    }


class MNIST(_IdxImageDataset):
    """MNIST handwritten digits: 60,000 training and 10,000 test grayscale 28×28 images.

    Same interface as :class:`FashionMNIST`. Downloads come from the mirror PyTorch uses and are
    checked against the dataset's published md5 (no sha256 of these files could be checked here).
    """

    name = "mnist"
    title = "MNIST"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    classes = [str(d) for d in range(10)]
    resources = {
        "train": (
            Resource("train-images-idx3-ubyte", ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"), 9912422),
            Resource("train-labels-idx1-ubyte", ("md5", "d53e105ee54ea40749a09fcbcd1e9432"), 28881),
        ),
        "test": (
            Resource("t10k-images-idx3-ubyte", ("md5", "9fb629c4189551a2d022fa330f9573f3"), 1648877),
            Resource("t10k-labels-idx1-ubyte", ("md5", "ec29112dd5afa0611ce80d1b7f02629c"), 4542),
        ),
    }
