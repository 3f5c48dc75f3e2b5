"""fit / evaluate: resume bit for bit, NaN stop, Ctrl-C, metrics/curves files, configs."""

import json

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import data, nn, optim, train
from minitorch_cnn.checkpoint import CheckpointError, read_checkpoint
from minitorch_cnn.functional import cross_entropy


def setup(seed=0, opt="sgd"):
    """A tiny synthetic problem: 40 8x8 images, 3 classes, a conv net with dropout (uses the RNG)."""
    mt.manual_seed(seed)
    r = np.random.default_rng(123)
    X = r.integers(0, 256, (40, 8, 8), dtype=np.uint8)
    Y = r.integers(0, 3, 40)
    train_loader = data.DataLoader(data.ArrayDataset(X, Y), batch_size=8, shuffle=True)  # seed drawn from mt's RNG
    test_loader = data.DataLoader(data.ArrayDataset(X[:16], Y[:16]), batch_size=8)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Dropout(0.3),
                        nn.Linear(72, 3))
    if opt == "sgd":
        optimizer = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    else:
        optimizer = optim.Adam(net.parameters(), lr=0.01)
    return net, train_loader, test_loader, optimizer


def weights(net):
    return {k: t.numpy().copy() for k, t in net.state_dict().items()}


def assert_bitwise_equal(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), f"{k} differs"


def quiet(*a, **k):
    pass


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_resume_is_bit_for_bit(tmp_path, opt):
    net, tr, te, o = setup(0, opt)
    full = train.fit(net, tr, te, o, 3, out=tmp_path / "full", progress=False, log=quiet)
    ref = weights(net)

    net, tr, te, o = setup(0, opt)
    train.fit(net, tr, te, o, 2, out=tmp_path / "split", progress=False, log=quiet)
    net, tr, te, o = setup(99, opt)  # a fresh process would start from other weights and RNG state
    resumed = train.fit(net, tr, te, o, 3, out=tmp_path / "split", resume=True, progress=False, log=quiet)
    assert_bitwise_equal(ref, weights(net))
    assert [r["train_loss"] for r in resumed.rows] == [r["train_loss"] for r in full.rows]
    assert [r["test_acc"] for r in resumed.rows] == [r["test_acc"] for r in full.rows]


def test_interrupted_mid_epoch_then_resumed_is_bit_for_bit(tmp_path):
    net, tr, te, o = setup(0)
    train.fit(net, tr, te, o, 3, out=tmp_path / "full", progress=False, log=quiet)
    ref = weights(net)

    calls = {"n": 0}

    def ctrl_c_in_epoch_3(logits, y):
        calls["n"] += mt.is_grad_enabled()  # training steps only, not evaluation
        if calls["n"] == 2 * 5 + 3 and mt.is_grad_enabled():  # 5 batches per epoch: the third step of epoch 3
            raise KeyboardInterrupt
        return cross_entropy(logits, y)

    lines = []
    net, tr, te, o = setup(0)
    with pytest.raises(KeyboardInterrupt):
        train.fit(net, tr, te, o, 3, out=tmp_path / "run", loss_fn=ctrl_c_in_epoch_3, progress=False,
                  log=lines.append)
    assert "interrupted during epoch 3 (step 3 of 5)" in lines[-1] and "epoch-0002" in lines[-1]
    assert read_checkpoint(tmp_path / "run").epoch == 2  # the half epoch was not saved
    assert len(json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"]) == 2

    net, tr, te, o = setup(7)
    train.fit(net, tr, te, o, 3, out=tmp_path / "run", resume=True, progress=False, log=quiet)
    assert_bitwise_equal(ref, weights(net))


def test_outputs_written_every_epoch(tmp_path):
    net, tr, te, o = setup(0)
    lines = []
    h = train.fit(net, tr, te, o, 2, out=tmp_path, config={"net": "tiny", "lr": 0.1}, progress=False,
                  log=lines.append)
    assert lines[0].startswith("epoch 1: loss ") and ", train acc " in lines[0] and ", test acc " in lines[0]
    assert lines[-3].startswith("loss ") and lines[-2].endswith("examples/sec on cpu")
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[:5] == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    assert len(csv_lines) == 3
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["config"] == {"net": "tiny", "lr": 0.1} and [r["epoch"] for r in doc["epochs"]] == [1, 2]
    assert doc["summary"]["examples_per_s"] == pytest.approx(h.examples_per_s)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert h.checkpoint == tmp_path / "checkpoints" / "epoch-0002"
    for r in h.rows:
        assert 0 <= r["train_acc"] <= 1 and 0 <= r["test_acc"] <= 1 and np.isfinite(r["train_loss"])


def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_checkpoint(tmp_path):
    calls = {"n": 0}

    def nan_in_epoch_2(logits, y):
        calls["n"] += mt.is_grad_enabled()  # training steps only, not evaluation
        loss = cross_entropy(logits, y)
        return loss * float("nan") if calls["n"] == 5 + 4 and mt.is_grad_enabled() else loss

    net, tr, te, o = setup(0)
    with pytest.raises(train.NonFiniteLossError, match=r"loss is nan at epoch 2, step 4 of 5.*epoch-0001"):
        train.fit(net, tr, te, o, 3, out=tmp_path, loss_fn=nan_in_epoch_2, progress=False, log=quiet)
    assert read_checkpoint(tmp_path).epoch == 1
    for t in net.parameters():
        assert np.isfinite(t.numpy()).all()  # the bad step changed nothing


def test_inf_loss_without_output_folder():
    net, tr, te, o = setup(0)
    with pytest.raises(train.NonFiniteLossError, match=r"loss is inf at epoch 1, step 1 .*No checkpoint"):
        train.fit(net, tr, te, o, 1, loss_fn=lambda z, y: cross_entropy(z, y) * float("inf"), progress=False,
                  log=quiet)


def test_fresh_run_refuses_to_overwrite_a_run(tmp_path):
    net, tr, te, o = setup(0)
    train.fit(net, tr, te, o, 1, out=tmp_path, progress=False, log=quiet)
    with pytest.raises(CheckpointError, match="already holds the checkpoints of a run") as info:
        train.fit(net, tr, te, o, 1, out=tmp_path, progress=False, log=quiet)
    assert str(info.value).endswith("continue it with resume=True, start over with overwrite=True (the old run is "
                                    "moved aside, not deleted), or choose another out")
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train.fit(net, tr, te, o, 1, out=tmp_path / "empty", resume=True, progress=False, log=quiet)
    assert not (tmp_path / "empty").exists()  # refused before anything was created
    with pytest.raises(CheckpointError, match="already holds") as info:  # the CLI's wording, when it is passed in
        train.fit(net, tr, te, o, 1, out=tmp_path, progress=False, log=quiet, terms=train.CLI)
    assert "continue it with --resume, start over with --overwrite" in str(info.value) and "=True" not in str(info.value)


def test_overwrite_starts_over_with_the_old_run_moved_aside(tmp_path):
    out = tmp_path / "run"
    net, tr, te, o = setup(0)
    train.fit(net, tr, te, o, 2, out=out, progress=False, log=quiet)
    old_weights = (read_checkpoint(out).path / "model.safetensors").read_bytes()
    lines = []
    net, tr, te, o = setup(0)
    h = train.fit(net, tr, te, o, 1, out=out, overwrite=True, progress=False, log=lines.append)
    assert lines[0] == f"moved the earlier run in {out} aside to {tmp_path / 'run.old-1'}"
    assert [r["epoch"] for r in h.rows] == [1] and read_checkpoint(out).epoch == 1
    old = read_checkpoint(tmp_path / "run.old-1")
    assert old.epoch == 2 and (old.path / "model.safetensors").read_bytes() == old_weights
    with pytest.raises(ValueError, match=r"fit: resume=True continues the run in .*, overwrite=True starts it over"):
        train.fit(net, tr, te, o, 1, out=out, resume=True, overwrite=True, progress=False, log=quiet)
    with pytest.raises(ValueError, match=r"fit: overwrite=True needs the run's folder \(out\)"):
        train.fit(net, tr, te, o, 1, overwrite=True, progress=False, log=quiet)
    (tmp_path / "file").write_text("mine")
    with pytest.raises(train.RunFolderError, match="is an existing file, not a folder: choose another out$"):
        train.fit(net, tr, te, o, 1, out=tmp_path / "file", overwrite=True, progress=False, log=quiet)
    assert (tmp_path / "file").read_text() == "mine"


def test_overwrite_never_moves_the_current_folder(tmp_path, monkeypatch):
    net, tr, te, o = setup(0)
    train.fit(net, tr, te, o, 1, out=tmp_path / "run", progress=False, log=quiet)
    monkeypatch.chdir(tmp_path / "run" / "checkpoints")
    with pytest.raises(train.RunFolderError, match="it is the current folder or holds it"):
        train.fit(net, tr, te, o, 1, out=tmp_path / "run", overwrite=True, progress=False, log=quiet)
    assert read_checkpoint(tmp_path / "run").epoch == 1 and not (tmp_path / "run.old-1").exists()


def test_terms_name_settings_for_python_or_the_command_line():
    from minitorch_cnn.train import terms

    assert (train.PYTHON("resume", True), train.CLI("resume", True)) == ("resume=True", "--resume")
    assert (train.PYTHON("epochs", 3), train.CLI("epochs", 3)) == ("epochs=3", "--epochs 3")
    assert (train.PYTHON("out"), train.CLI("batch_size"), train.PYTHON("init", "xavier")) == \
        ("out", "--batch-size", "init='xavier'")
    assert terms.PYTHON is train.PYTHON


def test_resume_when_already_done(tmp_path):
    net, tr, te, o = setup(0)
    train.fit(net, tr, te, o, 1, out=tmp_path, progress=False, log=quiet)
    ref = weights(net)
    lines = []
    h = train.fit(net, tr, te, o, 1, out=tmp_path, resume=True, progress=False, log=lines.append)
    assert any("nothing to train" in line for line in lines) and len(h.rows) == 1
    assert_bitwise_equal(ref, weights(net))


def test_progress_bar_shows_loss_acc_and_speed(monkeypatch, capsys):
    bars = []

    class Recording(train.run.tqdm):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.postfixes = []
            bars.append(self)

        def set_postfix_str(self, s="", refresh=True):
            self.postfixes.append(s)
            super().set_postfix_str(s, refresh)

    monkeypatch.setattr(train.run, "tqdm", Recording)
    net, tr, te, o = setup(0)
    train.fit(net, tr, te, o, 1, progress=True, log=quiet)
    assert len(bars) == 1 and bars[0].n == 5 and len(bars[0].postfixes) == 5
    assert all("loss " in p and "acc " in p and "ex/s" in p for p in bars[0].postfixes)
    assert "epoch 1/1" in capsys.readouterr().err  # drawn on stderr when asked, even without a terminal

    bars.clear()
    train.fit(net, tr, te, o, 1, progress=False, log=quiet)
    assert bars[0].disable


def test_evaluate_matches_a_plain_loop_and_restores_mode():
    net, _, te, _ = setup(0)
    net.train()
    result = train.evaluate(net, te)
    assert net.training
    net.eval()
    correct, total = 0, 0.0
    for X, y in te:
        z = net(X)
        correct += int((z.numpy().argmax(1) == y.numpy()).sum())
        total += float(cross_entropy(z, y).item()) * len(y)
    assert result["n"] == 16 and result["acc"] == correct / 16
    assert result["loss"] == pytest.approx(total / 16)


def test_default_optimizer_is_the_books_sgd():
    net, tr, te, _ = setup(0)
    h = train.fit(net, tr, te, None, 1, progress=False, log=quiet)
    assert len(h.rows) == 1


def test_configs():
    c = train.default_config("lenet")
    assert (c["lr"], c["batch_size"], c["epochs"], c["optimizer"], c["init"], c["resize"]) == \
        (0.9, 256, 10, "sgd", "xavier", None)
    assert train.default_config("resnet18")["resize"] == 96
    assert train.default_config("lenet", resize=28)["resize"] is None
    with pytest.raises(ValueError, match="unknown net 'lenet7'"):
        train.default_config("lenet7")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        train.default_config("lenet", batch_size=0)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        train.default_config("lenet", optimizer="rmsprop")
    saved = train.default_config("lenet", lr=0.5, epochs=2)
    merged = train.resolve_config("lenet", {"epochs": 5}, saved)
    assert merged["lr"] == 0.5 and merged["epochs"] == 5
    with pytest.raises(CheckpointError, match=r"cannot resume with different settings: lr=0.1 \(the run used 0.5\)"):
        train.resolve_config("lenet", {"lr": 0.1}, saved)
    with pytest.raises(CheckpointError, match=r"settings: --lr 0.1 \(the run used 0.5\).*with --overwrite, or .*--out$"):
        train.resolve_config("lenet", {"lr": 0.1}, saved, train.CLI)
    assert train.resolve_config("lenet", {"resize": 28, "lr": 0.5}, saved)["resize"] is None
    with pytest.raises(CheckpointError, match="holds net 'lenet', not 'alexnet'"):
        train.resolve_config("alexnet", {}, saved)


def test_build_model_xavier_and_default_differ():
    mt.manual_seed(0)
    a = train.build_model(train.default_config("lenet"))
    mt.manual_seed(0)
    b = train.build_model(train.default_config("lenet", init="default"))
    wa, wb = weights(a), weights(b)
    assert not np.array_equal(wa["7.weight"], wb["7.weight"])
    bound = np.sqrt(6 / (400 + 120))  # Xavier-uniform bound of Linear(400, 120)
    assert np.abs(wa["7.weight"]).max() <= bound
