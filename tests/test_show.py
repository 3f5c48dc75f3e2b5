"""minitorch-cnn show: filters.png, feature_maps.png and confusion.png from a run's last checkpoint."""

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import cli, data, models, show, train
from minitorch_cnn.checkpoint import save_checkpoint

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    """48 training and 30 test 28x28 images in the layout of the real files (DIR/fashion-mnist/*.gz)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(1)
    for split, n in (("train", 48), ("t10k", 30)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for k in range(n):
            images[k, :, 2 + 2 * labels[k]] = 255
        data.write_idx(root / "fashion-mnist" / f"{split}-images-idx3-ubyte.gz", images)
        data.write_idx(root / "fashion-mnist" / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="module")
def trained_run(fake_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lenet"
    code = cli.main(["train", "lenet", "--epochs", "1", "--batch-size", "16", "--data-dir", str(fake_data),
                     "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_writes_the_three_pictures_beside_the_curves(trained_run, fake_data, capsys):
    code, stdout, err = run(["show", str(trained_run), "--data-dir", str(fake_data)], capsys)
    assert code == 0, err
    assert "filters.png, feature_maps.png, confusion.png are in" in stdout and "on 30 images" in stdout
    sizes = {name: _png_size(trained_run / name) for name in ("curves.png", *show.PICTURES)}
    for name, (w, h) in sizes.items():
        assert 300 <= w <= 2000 and 150 <= h <= 2000, (name, w, h)
    assert sizes["filters.png"][0] > 2 * sizes["filters.png"][1]  # six kernels side by side
    assert sizes["feature_maps.png"][1] > sizes["filters.png"][1]  # the input and four layers, one per row
    # the checkpoint folder itself, with --out elsewhere
    other = trained_run.parent / "pictures"
    code, _, err = run(["show", str(trained_run / "checkpoints" / "epoch-0001"), "--data-dir", str(fake_data),
                        "--out", str(other), "--image", "29"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in other.iterdir()) == sorted(show.PICTURES)


def test_confusion_matrix_counts_every_test_image_once(trained_run, fake_data):
    net, ckpt = train.load_for_eval(trained_run)
    _, loader = train.build_loaders(dict(ckpt.config, batch_size=7), fake_data, train=False)
    counts = show.confusion_matrix(net, loader)
    labels = data.read_idx(fake_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    assert counts.shape == (10, 10) and counts.sum() == 30 == len(labels)
    assert counts.sum(axis=1).tolist() == np.bincount(labels, minlength=10).tolist()  # a row per true class
    assert np.trace(counts) / 30 == pytest.approx(train.evaluate(net, loader)["acc"])


def test_feature_maps_are_the_layers_outputs():
    net = models.get_model("lenet")
    x = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)
    maps = show.feature_maps(net, x)
    assert [(name, m.shape) for name, m in maps] == [
        ("0 Conv2d", (6, 28, 28)), ("2 AvgPool2d", (6, 14, 14)), ("3 Conv2d", (16, 10, 10)),
        ("5 AvgPool2d", (16, 5, 5))]
    h = mt.tensor(x[None])
    by_hand = {}
    with mt.no_grad():
        for i, layer in enumerate(net):
            h = layer(h)
            by_hand[i] = h.numpy()[0]
    for (name, m), i in zip(maps, (0, 2, 3, 5)):
        np.testing.assert_array_equal(m, by_hand[i], err_msg=name)
    assert net.training  # the mode is restored


def test_bad_run_dirs_give_one_line(tmp_path, trained_run, fake_data, capsys):
    cases = [
        (["show", str(tmp_path / "nothing")], "no such file or directory"),
        (["show", str(tmp_path)], "no checkpoint found"),
        (["show", str(trained_run), "--data-dir", str(fake_data), "--image", "30"],
         "--image 30 is out of range for the 30 test images"),
        (["show", str(trained_run), "--data-dir", str(fake_data), "--out", str(trained_run / "metrics.csv")],
         "cannot make the output folder"),
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert code == 1, (argv, out, err)
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_missing_data_gives_the_data_layers_message(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data.FashionMNIST, "system_dirs", (str(tmp_path / "no-system-package"),))
    monkeypatch.setattr(data.FashionMNIST, "mirrors", ("http://127.0.0.1:9/",))  # refused at once, no network
    code, _, err = run(["show", str(trained_run)], capsys)
    assert code == 1 and "Fashion-MNIST: the test files" in err and "Traceback" not in err
    # a given --data-dir must hold the files itself (issue 11): its own one-line message
    code, _, err = run(["show", str(trained_run), "--data-dir", str(tmp_path / "empty")], capsys)
    assert code == 1 and f"--data-dir {tmp_path / 'empty'} is not a folder: expected the test files" in err
    assert "Traceback" not in err


@pytest.mark.skipif(not any(d.is_dir() and any(d.iterdir()) for d, _ in data.FashionMNIST.search_dirs()),
                    reason="real Fashion-MNIST is not installed")
def test_confusion_of_the_real_test_set(tmp_path, capsys):
    """An untrained LeNet's checkpoint on real Fashion-MNIST: the matrix holds all 10,000 test images."""
    config = train.default_config("lenet")
    save_checkpoint(tmp_path / "checkpoints", models.get_model("lenet"), epoch=0, config=config)
    code, stdout, err = run(["show", str(tmp_path)], capsys)
    assert code == 0, err
    assert "on 10,000 images" in stdout
    assert all((tmp_path / name).is_file() for name in show.PICTURES)
