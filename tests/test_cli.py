"""The command line end to end on a tiny fake Fashion-MNIST written as IDX files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minitorch_cnn import cli, data, train
from minitorch_cnn.checkpoint import CheckpointError, read_checkpoint


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    """64 training and 32 test 28x28 images in the layout of the real files (DIR/fashion-mnist/*.gz)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for k in range(n):  # a learnable pattern: a bright column per class
            images[k, :, 2 + 2 * labels[k]] = 255
        data.write_idx(root / "fashion-mnist" / f"{split}-images-idx3-ubyte.gz", images)
        data.write_idx(root / "fashion-mnist" / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


def run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_eval_resume_end_to_end(fake_data, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(["train", "lenet", "--epochs", "2", "--batch-size", "16", "--data-dir", str(fake_data),
                             "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert (f"64 training and 32 test images from {fake_data / 'fashion-mnist'}; sgd lr 0.9, momentum 0, "
            "weight decay 0, batch 16, 2 epochs on cpu") in stdout
    assert "epoch 1: loss " in stdout and "epoch 2: loss " in stdout and "examples/sec on cpu" in stdout
    for name in ("metrics.csv", "metrics.json", "curves.png"):
        assert (out / name).is_file()
    ckpt = read_checkpoint(out)
    assert ckpt.epoch == 2 and ckpt.config["net"] == "lenet" and ckpt.config["init"] == "xavier"
    assert ckpt.config["lr"] == 0.9 and ckpt.config["batch_size"] == 16 and ckpt.config["seed"] == 0

    code, stdout, err = run(["eval", str(out), "--data-dir", str(fake_data)], capsys)
    assert code == 0, err
    test_acc = json.loads((out / "metrics.json").read_text())["epochs"][-1]["test_acc"]
    assert f"test acc {test_acc:.3f} on 32 images" in stdout and "lenet after 2 epoch(s)" in stdout

    # a second fresh run into the same folder is refused, in the CLI's terms; a conflicting flag on resume too
    code, _, err = run(["train", "lenet", "--epochs", "3", "--data-dir", str(fake_data), "--out", str(out)], capsys)
    assert code == 1 and "already holds the checkpoints of a run" in err
    assert "continue it with --resume, start over with --overwrite (the old run is moved aside, not deleted), " \
           "or choose another --out" in err and "=True" not in err
    code, _, err = run(["train", "lenet", "--epochs", "3", "--lr", "0.1", "--resume", "--data-dir", str(fake_data),
                        "--out", str(out)], capsys)
    assert code == 1 and "--lr 0.1 (the run used 0.9)" in err
    assert "start it over with --overwrite, or start a new run with another --out" in err and "lr=" not in err

    code, stdout, err = run(["train", "lenet", "--epochs", "3", "--resume", "--data-dir", str(fake_data),
                             "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert "resuming from" in stdout and "epoch 3: loss" in stdout and "epoch 1:" not in stdout
    assert read_checkpoint(out).epoch == 3 and read_checkpoint(out).config["batch_size"] == 16

    # the interrupted-and-resumed run ends with the same weights, byte for byte, as a straight 3-epoch run
    straight = tmp_path / "straight"
    code, _, err = run(["train", "lenet", "--epochs", "3", "--batch-size", "16", "--data-dir", str(fake_data),
                        "--out", str(straight), "--no-progress"], capsys)
    assert code == 0, err
    assert (read_checkpoint(straight).path / "model.safetensors").read_bytes() == \
        (read_checkpoint(out).path / "model.safetensors").read_bytes()


def test_better_recipe_flags_reach_the_run(fake_data, tmp_path, capsys):
    out = tmp_path / "adam"
    code, stdout, err = run(["train", "lenet_relu", "--epochs", "1", "--optimizer", "adam", "--lr", "0.001",
                             "--batch-size", "32", "--init", "default", "--seed", "3", "--data-dir", str(fake_data),
                             "--out", str(out)], capsys)
    assert code == 0, err
    c = read_checkpoint(out).config
    assert (c["net"], c["optimizer"], c["lr"], c["init"], c["seed"]) == ("lenet_relu", "adam", 0.001, "default", 3)
    assert read_checkpoint(out).optimizer_type == "Adam"


def test_subset_flag(fake_data, tmp_path, capsys):
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--subset", "20", "--batch-size", "8",
                             "--data-dir", str(fake_data), "--out", str(tmp_path / "s")], capsys)
    assert code == 0, err
    assert "20 training and 20 test images" in stdout and read_checkpoint(tmp_path / "s").config["subset"] == 20


def test_resize_flag(fake_data, tmp_path, capsys):
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--resize", "32", "--data-dir", str(fake_data),
                             "--out", str(tmp_path / "r")], capsys)
    assert code == 1 and "Linear" in err and "400" in err  # LeNet's Linear(400) cannot take 32x32: a clear error
    assert train.default_config("lenet", resize=32)["resize"] == 32


def test_nan_loss_exit_code_and_message(fake_data, tmp_path, capsys):
    # lr 1e38: one step pushes the weights past float32's range, so the next loss is inf (with 1e30
    # the ReLU net could end up dead, all outputs 0, and its loss finite)
    with np.errstate(all="ignore"):
        code, _, err = run(["train", "lenet_relu", "--epochs", "2", "--lr", "1e38", "--data-dir", str(fake_data),
                            "--out", str(tmp_path / "nan")], capsys)
    assert code == 1 and "loss is" in err and "at epoch" in err and "step" in err and "smaller --lr" in err
    assert "Likely causes: a learning rate too large for this net (lr 1e+38" in err and "momentum close to 1" in err


def test_bad_command_lines(capsys):
    for argv, expected in (
        (["train", "lenet", "--epochs", "0"], "expected a positive integer"),
        (["train", "lenet", "--lr", "fast"], "expected a finite number >= 0, got 'fast'"),
        (["train", "lenet", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["train", "lenet", "--device", "tpu"], "expected one of cpu, cuda"),
        (["train", "lenet", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "required: COMMAND"),
    ):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        assert expected in capsys.readouterr().err, argv


def test_missing_data_gives_the_data_layers_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data.FashionMNIST, "system_dirs", (str(tmp_path / "no-system-package"),))
    monkeypatch.setattr(data.FashionMNIST, "mirrors", ("http://127.0.0.1:9/",))  # refused at once, no network
    code, _, err = run(["train", "lenet", "--epochs", "1", "--out", str(tmp_path / "run")], capsys)
    assert code == 1
    assert "Fashion-MNIST: the training files" in err or "Fashion-MNIST: the test files" in err
    assert "apt-get install dataset-fashion-mnist" in err and "--data-dir" in err


@pytest.mark.parametrize("kind", ["missing", "empty", "only-training-files"])
def test_a_given_data_dir_must_hold_the_data(fake_data, tmp_path, monkeypatch, capsys, kind):
    """With the real data reachable another way ($MINITORCH_CNN_DATA here), a --data-dir without the
    files is still an error naming it, never a silent switch to the other copy."""
    monkeypatch.setenv(data.DATA_ENV, str(fake_data))
    given = tmp_path / "mine"
    if kind != "missing":
        (given / "fashion-mnist").mkdir(parents=True)
    if kind == "only-training-files":
        for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
            (given / "fashion-mnist" / name).write_bytes((fake_data / "fashion-mnist" / name).read_bytes())
    out = tmp_path / "run"
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--data-dir", str(given), "--out", str(out)], capsys)
    assert code == 1 and "epoch 1:" not in stdout
    assert f"--data-dir {given} " in err and len(err.strip().splitlines()) == 1
    expected = {"missing": "is not a folder: expected the training files",
                "empty": "does not hold them: expected the training files",
                "only-training-files": "does not hold them: expected the test files t10k-images-idx3-ubyte.gz"}
    assert expected[kind] in err
    code, _, err = run(["eval", str(out), "--data-dir", str(given)], capsys)
    assert code == 1  # eval: no checkpoint there (the run never started); the data check is train's


def test_the_run_header_names_the_data_folder_and_the_optimizers_settings(fake_data, tmp_path, capsys):
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--momentum", "0.5", "--weight-decay", "1e-4",
                             "--batch-size", "32", "--data-dir", str(fake_data), "--out", str(tmp_path / "m")], capsys)
    assert code == 0, err
    assert (f"test images from {fake_data / 'fashion-mnist'}; sgd lr 0.9, momentum 0.5, weight decay 0.0001, "
            "batch 32, 1 epoch on cpu;") in stdout
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--optimizer", "adam", "--lr", "0.01",
                             "--batch-size", "32", "--data-dir", str(fake_data), "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    assert "; adam lr 0.01, betas (0.9, 0.999), eps 1e-08, weight decay 0, batch 32, 1 epoch on cpu;" in stdout


@pytest.mark.parametrize("argv,expected", [
    (["--momentum", "1.5"], "momentum must be in [0, 1), got 1.5"),
    (["--momentum", "1"], "momentum must be in [0, 1), got 1.0"),
    (["--optimizer", "adam", "--momentum", "0.9"], "momentum is a setting of sgd, not of adam"),
])
def test_optimizer_settings_are_checked_before_anything_runs(fake_data, tmp_path, capsys, argv, expected):
    out = tmp_path / "run"
    code, stdout, err = run(["train", "lenet", "--epochs", "1", *argv, "--data-dir", str(fake_data),
                             "--out", str(out)], capsys)
    assert code == 1 and expected in err and len(err.strip().splitlines()) == 1
    assert stdout == "" and not out.exists()


def test_resuming_with_fewer_epochs_than_done_is_a_clear_error(fake_data, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "lenet", "--batch-size", "32", "--data-dir", str(fake_data), "--out", str(out), "--no-progress"]
    code, _, err = run([*base, "--epochs", "2"], capsys)
    assert code == 0, err
    code, stdout, err = run([*base, "--epochs", "1", "--resume"], capsys)
    assert code == 1 and "cannot resume with --epochs 1: the run in" in err
    assert "has already completed 2 epochs" in err and "give 3 or more" in err and "of 1)" not in stdout
    code, stdout, err = run([*base, "--epochs", "2", "--resume"], capsys)
    assert code == 0, err
    assert "nothing to train" in stdout and "already completed all 2 epochs" in stdout
    code, stdout, err = run([*base, "--epochs", "3", "--resume"], capsys)
    assert code == 0 and "2 epochs done, training epochs 3 to 3" in stdout and "epoch 3: loss" in stdout


def test_eval_of_a_missing_or_corrupt_checkpoint(tmp_path, capsys):
    code, _, err = run(["eval", str(tmp_path / "nothing")], capsys)
    assert code == 1 and "no such file or directory" in err
    bad = tmp_path / "epoch-0001"
    bad.mkdir()
    (bad / "checkpoint.json").write_text("{not json")
    code, _, err = run(["eval", str(bad)], capsys)
    assert code == 1 and "checkpoint.json is corrupt: not valid JSON" in err


def test_summary_and_bench(capsys):
    code, stdout, _ = run(["summary", "lenet"], capsys)
    assert code == 0 and "1x16x5x5" in stdout and "total parameters: 61,706" in stdout
    code, stdout, _ = run(["summary", "lenet", "--input", "2x1x28x28"], capsys)
    assert code == 0 and "input 2x1x28x28 -> output 2x10" in stdout
    code, _, err = run(["summary", "lenet", "--input", "1xAx28"], capsys)
    assert code == 1 and "input shape" in err
    code, stdout, _ = run(["summary", "squeezenet1_1", "--input", "1x3x224x224", "--num-classes", "1000"], capsys)
    assert code == 0 and "input 1x3x224x224 -> output 1x1000" in stdout and "total parameters: 1,235,496" in stdout
    code, stdout, _ = run(["summary", "mobilenet_v2_small"], capsys)
    assert code == 0 and "input 1x1x28x28 -> output 1x10" in stdout and "1x1280x4x4" in stdout
    code, _, err = run(["summary", "lenet", "--input", "2x1x28"], capsys)
    assert code == 1 and "expected N x C x H x W (four sizes, such as 1x1x28x28), got '2x1x28' (3 sizes)" in err
    assert "channels" not in err
    code, stdout, _ = run(["bench"], capsys)
    assert code == 0 and "python -m benchmarks" in stdout


def test_python_dash_m_works_the_same():
    result = subprocess.run([sys.executable, "-m", "minitorch_cnn", "summary", "lenet"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "total parameters: 61,706" in result.stdout


# ---------------------------------------------------------------- a second run in the same folder
def test_overwrite_moves_the_old_run_aside_and_never_touches_it(fake_data, tmp_path, capsys):
    out = tmp_path / "lenet"
    argv = ["train", "lenet", "--epochs", "1", "--batch-size", "32", "--data-dir", str(fake_data), "--out", str(out),
            "--no-progress"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    (out / "my-notes.txt").write_text("mine")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert any(p.name == "model.safetensors" for p in before)

    code, stdout, err = run([*argv, "--seed", "5", "--overwrite"], capsys)
    assert code == 0, err
    old = tmp_path / "lenet.old-1"
    assert stdout.splitlines().count(f"moved the earlier run in {out} aside to {old}") == 1
    after = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # every file of the old run, byte for byte, and nothing else
    assert read_checkpoint(out).config["seed"] == 5 and read_checkpoint(old).config["seed"] == 0
    assert not (out / "my-notes.txt").exists()

    code, stdout, err = run([*argv, "--overwrite"], capsys)  # the next free name; the first one is left alone
    assert code == 0, err
    assert f"aside to {tmp_path / 'lenet.old-2'}" in stdout and read_checkpoint(old).config["seed"] == 0
    assert read_checkpoint(tmp_path / "lenet.old-2").config["seed"] == 5

    code, stdout, err = run([*argv[:-3], "--out", str(tmp_path / "new"), "--no-progress", "--overwrite"], capsys)
    assert code == 0 and "moved" not in stdout  # nothing there: nothing moved, a plain fresh run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet", "lenet.old-1", "lenet.old-2", "new"]


def test_overwrite_with_resume_is_a_command_line_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "lenet", "--resume", "--overwrite"])
    assert info.value.code == 2 and "--overwrite: not allowed with argument --resume" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock as on Linux")
def test_overwrite_is_refused_while_a_run_writes_to_the_folder(fake_data, tmp_path, capsys):
    from minitorch_cnn._fileio import FolderLock

    out = tmp_path / "run"
    argv = ["train", "lenet", "--epochs", "1", "--batch-size", "32", "--data-dir", str(fake_data), "--out", str(out),
            "--no-progress"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    names = sorted(p.name for p in out.rglob("*"))
    with FolderLock(out, "the run folder"):  # a running writer (flock: a second descriptor is refused too)
        code, stdout, err = run([*argv, "--overwrite"], capsys)
    assert code == 1 and "moved" not in stdout
    assert err.count("\n") == 1 and f"the run folder {out} is in use by another run (pid " in err
    assert sorted(p.name for p in out.rglob("*")) == names and not (tmp_path / "run.old-1").exists()


def test_python_api_messages_keep_python_terms(fake_data, tmp_path):
    config = train.default_config("lenet", epochs=1, batch_size=32)
    out = tmp_path / "run"
    train.train(config, out, data_dir=fake_data, progress=False, log=lambda *a: None)
    with pytest.raises(CheckpointError) as info:
        train.train(config, out, data_dir=fake_data, progress=False, log=lambda *a: None)
    message = str(info.value)
    assert "continue it with resume=True, start over with overwrite=True" in message and "--" not in message
    with pytest.raises(CheckpointError, match=r"cannot resume with different settings: lr=0.1 \(the run used 0.9\)") as info:
        train.train(dict(config, lr=0.1), out, data_dir=fake_data, resume=True, given={"lr": 0.1},
                    progress=False, log=lambda *a: None)
    assert "--" not in str(info.value)
    lines = []
    train.train(config, out, data_dir=fake_data, overwrite=True, progress=False, log=lines.append)
    assert f"moved the earlier run in {out} aside to {tmp_path / 'run.old-1'}" in lines


# ---------------------------------------------------------------- net names
def net_subcommands():
    """The subcommands whose parser takes a NET argument (train, summary, ...)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction))
    return [name for name, p in sub.choices.items() if any(a.dest == "net" for a in p._actions)]


def test_net_names_ignore_case():
    assert {"train", "summary"} <= set(net_subcommands())
    for command in net_subcommands():
        for given, expected in (("LeNet", "lenet"), ("RESNET18", "resnet18"), ("Mobilenet_V2_Small",
                                                                                 "mobilenet_v2_small")):
            assert cli.build_parser().parse_args([command, given]).net == expected


def test_summary_of_a_net_named_in_capitals(capsys):
    code, stdout, _ = run(["summary", "LeNet"], capsys)
    assert code == 0 and "total parameters: 61,706" in stdout


@pytest.mark.parametrize("given,hint", [("lenett", "did you mean 'lenet'?"), ("LeNt", "did you mean 'lenet'?"),
                                        ("resnet-18", "did you mean 'resnet18'?"), ("transformer", None)])
def test_a_wrong_net_name_is_one_line_with_the_closest_name(capsys, given, hint):
    from minitorch_cnn import models

    for command in net_subcommands():
        with pytest.raises(SystemExit) as info:
            cli.main([command, given])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "usage:" not in err, err
        assert err.startswith(f"minitorch-cnn {command}: error: unknown net {given!r}:")
        assert ("did you mean" not in err) if hint is None else (hint in err)
        assert err.rstrip().endswith("expected one of " + ", ".join(models.MODELS))


# ---------------------------------------------------------------- the kernels' first compilation
COMPILE_NOTICE = "compiling the kernels for this machine (first run only; training starts when they are ready)..."


@pytest.mark.parametrize("cold", [True, False])
def test_train_says_when_the_kernels_will_be_compiled(fake_data, tmp_path, monkeypatch, capsys, cold):
    monkeypatch.setattr(train.run, "cache_is_cold", lambda: cold)
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--batch-size", "32", "--data-dir", str(fake_data),
                             "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    if cold:
        assert lines.count(COMPILE_NOTICE) == 1 and lines.index(COMPILE_NOTICE) == 1  # after the header, before epoch 1
    else:
        assert COMPILE_NOTICE not in stdout
    code, stdout, err = run(["eval", str(tmp_path / "run"), "--data-dir", str(fake_data)], capsys)
    assert code == 0 and (COMPILE_NOTICE in stdout) == cold, err
    code, stdout, err = run(["train", "lenet", "--epochs", "1", "--resume", "--data-dir", str(fake_data),
                             "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert code == 0 and "nothing to train" in stdout and COMPILE_NOTICE not in stdout  # nothing will be compiled


COLD_OR_WARM = """
import numpy as np
from minitorch_cnn import kernels, train
print(train.compile_notice())
kernels.im2col(np.ones((1, 1, 3, 3), np.float32), kernels.Window.fit((3, 3), kernel=(2, 2)))
"""


def test_the_notice_follows_numbas_cache_cold_then_warm(tmp_path):
    """A fresh cache folder: the notice; once a process has compiled (and cached) a loop: none. numba's
    own cache-dir setting is what kernels/_jit.py uses, so the test's cache is a temporary folder."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    first, second = (subprocess.run([sys.executable, "-c", COLD_OR_WARM], capture_output=True, text=True, env=env,
                                    timeout=300) for _ in range(2))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.splitlines() == [COMPILE_NOTICE]
    assert second.stdout.splitlines() == ["None"]
    assert list((tmp_path / "numba-cache").rglob("*.nbi"))
    jit_off = subprocess.run([sys.executable, "-c", COLD_OR_WARM], capture_output=True, text=True, timeout=300,
                             env=dict(env, NUMBA_CACHE_DIR=str(tmp_path / "empty"), NUMBA_DISABLE_JIT="1"))
    assert jit_off.returncode == 0 and jit_off.stdout.splitlines() == ["None"], jit_off.stderr  # nothing compiles


@pytest.mark.slow
@pytest.mark.parametrize(
    "net",
    ["alexnet", "vgg11_small", "googlenet", "resnet18", "densenet", "nin", "squeezenet1_1", "squeezenet1_1_small",
     "mobilenet_v2", "mobilenet_v2_small", "se_resnet18"],
)  # fmt: skip
def test_every_other_net_trains_from_the_cli_with_decreasing_loss(net, fake_data, tmp_path, capsys):
    """Four steps of each big net from the command line with its book recipe (SGD, the book's lr), at
    its own input size (the fake 28×28 images resized as the book does): one batch of the same 8
    images per epoch, so the training loss must fall epoch after epoch, except that the last may level
    off within 0.5% of the one before: MobileNetV2's fourth loss on this batch lands 0.2% above or
    below its third depending on the BLAS kernel's rounding (full-batch steps at the book's rate).
    (vgg11 at full width takes minutes per step on 2 cores; its forward and gradients are checked
    against PyTorch in test_models.)"""
    out = tmp_path / net
    code, _, err = run(["train", net, "--epochs", "4", "--subset", "8", "--batch-size", "8", "--data-dir", str(fake_data), "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    losses = [e["train_loss"] for e in json.loads((out / "metrics.json").read_text())["epochs"]]
    assert len(losses) == 4 and losses[0] > losses[1] > losses[2] and losses[3] < 1.005 * losses[2], losses
