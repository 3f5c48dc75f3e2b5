"""The data layer: IDX files, dataset search order and download, DataLoader, Resize."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from minitorch_cnn import backend
from minitorch_cnn.data import (
    DATA_ENV,
    MNIST,
    ArrayDataset,
    DataLoader,
    DatasetNotFoundError,
    FashionMNIST,
    Resize,
    ToTensor,
    read_idx,
    to_float,
    write_idx,
)
from minitorch_cnn.data.datasets import Resource, download_file
from minitorch_cnn.data.idx import atomic_write, to_idx_bytes

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


# ---------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip(tmp_path, dtype, name):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    p = write_idx(tmp_path / name, a)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # writable


def test_idx_format_is_big_endian_and_detected_by_magic_not_name(tmp_path):
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    raw = to_idx_bytes(a)
    assert raw[:4] == b"\x00\x00\x0c\x02" and raw[4:12] == struct.pack(">II", 2, 3)
    assert raw[12:16] == b"\x00\x00\x00\x00" and raw[16:20] == b"\x00\x00\x00\x01"
    (tmp_path / "raw-named.gz").write_bytes(raw)  # raw bytes under a .gz name
    (tmp_path / "gzipped-no-suffix").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-named.gz"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "gzipped-no-suffix"), a)
    write_idx(tmp_path / "forced", a, compress=True)
    assert (tmp_path / "forced").read_bytes()[:2] == b"\x1f\x8b"


def _good_idx():
    return to_idx_bytes(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))


CORRUPT = {
    "empty": (b"", "too short"),
    "bad magic (non-zero start)": (b"\x01\x00" + _good_idx()[2:], "bad magic"),
    "bad magic (unknown dtype)": (b"\x00\x00\x07" + _good_idx()[3:], "bad magic"),
    "rank 0": (b"\x00\x00\x08\x00", "rank 0"),
    "truncated header": (_good_idx()[:9], "truncated header"),
    "short payload": (_good_idx()[:-1], "short payload"),
    "trailing bytes": (_good_idx() + b"\x00\x00", "trailing bytes"),
    "truncated gzip": (gzip.compress(_good_idx())[:-6], "gzip"),
    "corrupt gzip": (gzip.compress(_good_idx())[:12] + b"\xff" * 20, "gzip"),
    "gzip of a short payload": (gzip.compress(_good_idx()[:-3]), "short payload"),
    "a PNG, not IDX": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "bad magic"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_idx_corrupt_file_gives_clear_error_naming_the_file(tmp_path, case):
    data, what = CORRUPT[case]
    p = tmp_path / "broken-images-idx3-ubyte.gz"
    p.write_bytes(data)
    with pytest.raises(ValueError) as err:
        read_idx(p)
    msg = str(err.value)
    assert str(p) in msg and what in msg, msg


def test_idx_missing_file_and_bad_write(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")
    with pytest.raises(TypeError, match="no IDX code"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    assert not list(tmp_path.iterdir())


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"good")
    with pytest.raises(RuntimeError), atomic_write(p) as f:
        f.write(b"half-writ")
        raise RuntimeError("crash mid-write")
    assert p.read_bytes() == b"good"
    assert [q.name for q in tmp_path.iterdir()] == ["f.bin"]  # no temporary left behind
    with atomic_write(p) as f:
        f.write(b"new")
    assert p.read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 1


# ---------------------------------------------------------------------------- datasets on disk
def make_fake(folder: Path, label: int, n=12, split="train", gz=True, h=28, w=28):
    """Write a tiny fake split into ``folder``; every label is ``label`` to tell folders apart."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(label)
    images = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    labels = np.full(n, label, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    img_stem, lbl_stem = STEMS[split]
    write_idx(folder / (img_stem + suffix), images)
    write_idx(folder / (lbl_stem + suffix), labels)
    return images, labels


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No env var, no system folder, the user cache under tmp_path."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(tmp_path / "system"),))
    monkeypatch.setattr(FashionMNIST, "mirrors", (f"http://127.0.0.1:{_closed_port()}/",))
    monkeypatch.setattr(MNIST, "mirrors", (f"http://127.0.0.1:{_closed_port()}/",))
    return tmp_path


def test_search_order_root_env_system_cache(isolated, monkeypatch):
    t = isolated
    make_fake(t / "cache" / "minitorch_cnn" / "fashion-mnist", 4)
    assert FashionMNIST(download=False).targets[0] == 4
    make_fake(t / "system", 3)
    assert FashionMNIST(download=False).targets[0] == 3
    make_fake(t / "env", 2)
    monkeypatch.setenv(DATA_ENV, str(t / "env"))
    assert FashionMNIST(download=False).targets[0] == 2
    make_fake(t / "root", 1)
    ds = FashionMNIST(root=t / "root", download=False)
    assert ds.targets[0] == 1 and ds.image_file == t / "root" / "train-images-idx3-ubyte.gz"
    # a root without the files falls through to the next place
    (t / "empty").mkdir()
    assert FashionMNIST(root=t / "empty", download=False).targets[0] == 2


def test_search_layouts_and_uncompressed_names(isolated, monkeypatch):
    t = isolated
    monkeypatch.setenv(DATA_ENV, str(t / "env"))
    make_fake(t / "env", 5, gz=False)  # directly in DIR, no .gz
    assert FashionMNIST(download=False).targets[0] == 5
    make_fake(t / "env" / "FashionMNIST" / "raw", 6)  # torchvision's layout
    assert FashionMNIST(download=False).targets[0] == 6
    make_fake(t / "env" / "fashion-mnist", 7)  # DIR/<name> comes first
    assert FashionMNIST(download=False).targets[0] == 7
    make_fake(t / "env" / "mnist", 8)  # MNIST looks in its own sub-folder
    assert MNIST(download=False).targets[0] == 8


def test_dataset_items_and_splits(isolated):
    images, labels = make_fake(isolated / "root", 3, n=10, split="test")
    ds = FashionMNIST(root=isolated / "root", train=False, download=False)
    assert len(ds) == 10 and ds.images.dtype == np.uint8 and ds.images.shape == (10, 28, 28)
    assert ds.targets.dtype == np.int64
    x, y = ds[-1]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and type(y) is int and y == 3
    np.testing.assert_array_equal(x[0], images[-1].astype(np.float32) / 255)
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(DatasetNotFoundError):  # only the test split is there
        FashionMNIST(root=isolated / "root", train=True, download=False)


def test_inconsistent_files_are_rejected_naming_them(isolated):
    root = isolated / "root"
    make_fake(root, 3, n=10)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(ValueError, match="10 images in .* but 9 labels"):
        FashionMNIST(root=root, download=False)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.full(10, 10, dtype=np.uint8))
    with pytest.raises(ValueError, match="labels must be in"):
        FashionMNIST(root=root, download=False)
    (root / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_good_idx())[:-4])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        FashionMNIST(root=root, download=False)


def test_not_found_message_says_how_to_get_the_files(isolated):
    with pytest.raises(DatasetNotFoundError) as err:
        FashionMNIST(download=False)
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-dir" in msg and DATA_ENV in msg
    assert "download=False" in msg


# ---------------------------------------------------------------------------- download
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _serve_fake(www: Path, monkeypatch, wrong=None):
    """Serve a fake split and point FashionMNIST's resources at it (sha256 of the fake files)."""
    make_fake(www, 7, n=16)
    res = []
    for stem in STEMS["train"]:
        data = (www / (stem + ".gz")).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if stem == wrong:
            sha = "0" * 64
        res.append(Resource(stem, ("sha256", sha), len(data)))
    monkeypatch.setattr(FashionMNIST, "resources", {"train": tuple(res), "test": tuple(res)})


def test_download_from_local_server_verified_and_atomic(isolated, server, monkeypatch):
    www, url = server
    _serve_fake(www, monkeypatch)
    monkeypatch.setattr(FashionMNIST, "mirrors", (f"http://127.0.0.1:{_closed_port()}/", url))
    ds = FashionMNIST()  # nothing on disk: downloads into the user cache (first mirror is down)
    cache = isolated / "cache" / "minitorch_cnn" / "fashion-mnist"
    assert ds.image_file.parent == cache and ds.targets[0] == 7 and len(ds) == 16
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    for p in cache.iterdir():
        assert p.read_bytes() == (www / p.name).read_bytes()
    # with root given (and the files nowhere else), downloads go to root
    for p in cache.iterdir():
        p.unlink()
    ds = FashionMNIST(root=isolated / "mine")
    assert ds.image_file == isolated / "mine" / "train-images-idx3-ubyte.gz"


def test_download_wrong_checksum_rejected_nothing_left(isolated, server, monkeypatch):
    www, url = server
    _serve_fake(www, monkeypatch, wrong="train-labels-idx1-ubyte")
    monkeypatch.setattr(FashionMNIST, "mirrors", (url,))
    dest = isolated / "dest"
    with pytest.raises(DatasetNotFoundError) as err:
        FashionMNIST(root=dest)
    assert "sha256 mismatch" in str(err.value) and "discarded" in str(err.value)
    # the good file is kept under its final name; the bad one left nothing (no temporary either)
    assert sorted(p.name for p in dest.iterdir()) == ["train-images-idx3-ubyte.gz"]


def test_download_file_checks_size_and_never_overwrites_with_garbage(tmp_path, server):
    www, url = server
    (www / "f").write_bytes(b"payload")
    good = hashlib.sha256(b"payload").hexdigest()
    dest = tmp_path / "out" / "f"
    dest.parent.mkdir()
    dest.write_bytes(b"old good")
    with pytest.raises(ValueError, match="size mismatch"):
        download_file(url + "f", dest, ("sha256", good), size=3)
    with pytest.raises(ValueError, match="md5 mismatch"):
        download_file(url + "f", dest, ("md5", "0" * 32))
    with pytest.raises(OSError):  # 404
        download_file(url + "missing", dest, ("sha256", good))
    assert dest.read_bytes() == b"old good" and len(list(dest.parent.iterdir())) == 1
    download_file(url + "f", dest, ("sha256", good), size=7)
    assert dest.read_bytes() == b"payload" and len(list(dest.parent.iterdir())) == 1


def test_download_interrupted_before_rename_leaves_nothing(isolated, server, monkeypatch):
    www, url = server
    _serve_fake(www, monkeypatch)
    monkeypatch.setattr(FashionMNIST, "mirrors", (url,))

    def crash(src, dst):
        raise KeyboardInterrupt  # as if the process died between write and rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        FashionMNIST(root=isolated / "dest")
    assert list((isolated / "dest").iterdir()) == []


def test_no_network_message(isolated):
    with pytest.raises(DatasetNotFoundError) as err:
        FashionMNIST(root=isolated / "dest")
    msg = str(err.value)
    assert "failed (no network?)" in msg and "127.0.0.1" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-dir DIR" in msg and DATA_ENV in msg
    assert not any((isolated / "dest").iterdir())
    with pytest.raises(FileNotFoundError, match="--data-dir"):  # MNIST has no apt package
        MNIST(root=isolated / "dest2")


# ---------------------------------------------------------------------------- the real files
needs_debian = pytest.mark.skipif(
    not all((DEBIAN_DIR / (s + ".gz")).is_file() for pair in STEMS.values() for s in pair),
    reason=f"real Fashion-MNIST not installed in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)",
)

# md5 of the official .gz files, as published with the dataset
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
# gzip header time stamps of the official files (Aug 31 2017)
OFFICIAL_MTIME = {
    "train-images-idx3-ubyte": 1504176606,
    "train-labels-idx1-ubyte": 1504176606,
    "t10k-images-idx3-ubyte": 1504176627,
    "t10k-labels-idx1-ubyte": 1504176627,
}


@needs_debian
def test_hard_coded_sha256_match_the_official_files():
    """Debian ships the same compressed stream with a header stripped of the file name and time;
    putting them back rebuilds the official files, whose md5 is the published one: so the sha256 in
    the package are those of the official downloads."""
    resources = {r.stem: r for pair in FashionMNIST.resources.values() for r in pair}
    for stem, md5 in PUBLISHED_MD5.items():
        deb = (DEBIAN_DIR / (stem + ".gz")).read_bytes()
        assert deb[:4] == b"\x1f\x8b\x08\x00"  # deflate, no flags
        official = b"\x1f\x8b\x08\x08" + struct.pack("<I", OFFICIAL_MTIME[stem]) + b"\x00\x03"
        official += stem.encode() + b"\x00" + deb[10:]
        assert hashlib.md5(official).hexdigest() == md5
        res = resources[stem]
        assert res.checksum == ("sha256", hashlib.sha256(official).hexdigest()) and res.size == len(official)


@needs_debian
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent-cache")
    train, test = FashionMNIST(download=False), FashionMNIST(train=False, download=False)
    assert train.image_file.parent == DEBIAN_DIR
    assert len(train) == 60000 and len(test) == 10000
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.targets.min() == 0 and train.targets.max() == 9
    np.testing.assert_array_equal(np.bincount(train.targets), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test.targets), [1000] * 10)
    assert train.targets[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert test.targets[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and y == 9
    assert FashionMNIST.classes[y] == "Ankle boot"


# ---------------------------------------------------------------------------- DataLoader
def _array_ds(n=10, h=4, w=3, transform=None):
    images = np.arange(n * h * w, dtype=np.uint8).reshape(n, h, w)
    return ArrayDataset(images, np.arange(n) % 10, transform=transform)


class _ListDataset:
    """A map-style dataset without arrays (the loader's item-by-item path)."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return self.base[i]


@pytest.mark.parametrize("wrap", [False, True])
def test_loader_batches_no_shuffle(wrap):
    base = _array_ds(10)
    ds = _ListDataset(base) if wrap else base
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 1, 4, 3), (4, 1, 4, 3), (2, 1, 4, 3)]
    x, y = batches[0]
    assert type(x).__name__ == "Tensor" and x.dtype == np.float32 and y.dtype == np.int64
    assert y.shape == (4,) and not x.requires_grad
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), np.arange(10))
    np.testing.assert_array_equal(x.numpy()[1], base[1][0])
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [len(y) for _, y in dl] == [4, 4]
    assert len(DataLoader(ds, batch_size=20, drop_last=True)) == 0 and list(DataLoader(ds, 20, drop_last=True)) == []
    assert DataLoader(ds, batch_size=3, dtype=np.float64).batch_arrays([0])[0].dtype == np.float64


def _epoch_labels(loader):
    return np.concatenate([y.numpy() for _, y in loader])


def test_loader_shuffle_determinism_and_resume():
    ds = ArrayDataset(np.zeros((50, 2, 2), np.uint8), np.arange(50))
    a, b = DataLoader(ds, 8, shuffle=True, seed=3), DataLoader(ds, 8, shuffle=True, seed=3)
    ea = [_epoch_labels(a) for _ in range(3)]
    eb = [_epoch_labels(b) for _ in range(3)]
    for x, y in zip(ea, eb):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(np.sort(x), np.arange(50))  # a permutation of every item
    assert not np.array_equal(ea[0], ea[1]) and not np.array_equal(ea[0], np.arange(50))
    assert not np.array_equal(ea[0], _epoch_labels(DataLoader(ds, 8, shuffle=True, seed=4)))
    # the engine's seed drives it when no seed is given
    backend.manual_seed(11)
    c = [_epoch_labels(DataLoader(ds, 8, shuffle=True)) for _ in range(1)]
    backend.manual_seed(11)
    d = DataLoader(ds, 8, shuffle=True)
    np.testing.assert_array_equal(c[0], _epoch_labels(d))
    # resume: a fresh loader given the state after epoch 1 serves epoch 2 like the uninterrupted one
    state = DataLoader(ds, 8, shuffle=True, seed=3)
    _epoch_labels(state), _epoch_labels(state)
    assert state.state_dict() == {"seed": 3, "epoch": 2}
    backend.manual_seed(999)  # whatever else happened in between does not matter
    resumed = DataLoader(ds, 8, shuffle=True)
    resumed.load_state_dict(state.state_dict())
    np.testing.assert_array_equal(_epoch_labels(resumed), ea[2])
    np.testing.assert_array_equal(resumed.order(0), ea[0])
    with pytest.raises(ValueError, match="load_state_dict"):
        resumed.load_state_dict({"epoch": 1})


def test_loader_without_shuffle_draws_nothing_from_the_engine():
    backend.manual_seed(5)
    before = backend.get_rng_state()
    loader = DataLoader(_array_ds(), 4)
    assert backend.get_rng_state() == before and loader.state_dict() == {"seed": None, "epoch": 0}
    list(loader)
    assert loader.state_dict()["epoch"] == 1


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cuda_is_available(), reason="needs CuPy and a CUDA GPU")
def test_loader_on_cuda_matches_cpu():
    ds = _array_ds(9, h=6, w=5, transform=Resize(11))
    xc, yc = next(iter(DataLoader(ds, 9)))
    xg, yg = next(iter(DataLoader(ds, 9, device="cuda")))
    assert xg.device == "cuda" and yg.device == "cuda"
    np.testing.assert_allclose(xg.numpy(), xc.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(yg.numpy(), yc.numpy())


def test_loader_checks_arguments():
    ds = _array_ds()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(TypeError, match="floating"):
        DataLoader(ds, dtype=np.int32)
    with pytest.raises(ValueError, match="unknown device"):
        DataLoader(ds, device="tpu")


def test_loader_applies_transform_per_batch_like_per_item():
    ds = _array_ds(6, h=5, w=7, transform=Resize((9, 4)))
    X, y = next(iter(DataLoader(ds, batch_size=6)))
    assert X.shape == (6, 1, 9, 4)
    for i in range(6):
        np.testing.assert_allclose(X.numpy()[i], ds[i][0], rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- transforms
@pytest.mark.parametrize(
    "shape,size",
    [((3, 1, 28, 28), 224), ((2, 1, 28, 28), 96), ((2, 1, 28, 28), (13, 9)), ((1, 2, 10, 7), (23, 5)),
     ((2, 1, 5, 5), 5), ((1, 1, 1, 3), (4, 1))],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resize_matches_torch_interpolate(shape, size, dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random(shape).astype(dtype)
    ours = Resize(size)(x)
    hw = (size, size) if isinstance(size, int) else size
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=hw, mode="bilinear", align_corners=False)
    assert ours.shape == tuple(ref.shape) and ours.dtype == x.dtype
    np.testing.assert_allclose(ours, ref.numpy(), rtol=0, atol=1e-6 if dtype == "float32" else 1e-12)
    # one image (C, H, W) gives the same as its batch row
    np.testing.assert_allclose(Resize(size)(x[0]), ours[0], rtol=0, atol=1e-6)


def test_resize_checks_and_to_tensor():
    with pytest.raises(ValueError, match="Resize"):
        Resize(0)
    with pytest.raises(ValueError, match="Resize"):
        Resize((2, 3, 4))
    with pytest.raises(ValueError, match="at least 2 axes"):
        Resize(4)(np.zeros(3, np.float32))
    u = np.array([[0, 51], [255, 128]], dtype=np.uint8)
    t = ToTensor()(u)
    assert t.shape == (1, 2, 2) and t.dtype == np.float32
    np.testing.assert_array_equal(t[0], u.astype(np.float32) / np.float32(255))
    assert ToTensor()(np.stack([u, u])).shape == (2, 1, 2, 2)
    assert to_float(u, np.float64).dtype == np.float64
    with pytest.raises(TypeError):
        to_float(u, np.int32)

