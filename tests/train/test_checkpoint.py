"""Checkpoints: round trip, PyTorch can open the weights, crash-safe writing, clear errors on bad files."""

import json
import os

import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn import backend, checkpoint, nn, optim
from minitorch_cnn.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from minitorch_cnn.functional import cross_entropy


def small_net():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


def trained(opt_cls=optim.SGD, seed=0, **kw):
    mt.manual_seed(seed)
    net = small_net()
    opt = opt_cls(net.parameters(), **kw)
    rng = np.random.default_rng(seed)
    X = mt.tensor(rng.random((4, 1, 6, 6), dtype=np.float32))
    y = mt.tensor(np.array([0, 1, 2, 1]))
    for _ in range(2):
        opt.zero_grad()
        cross_entropy(net(X), y).backward()
        opt.step()
    return net, opt


def arrays(net):
    return {k: t.numpy().copy() for k, t in net.state_dict().items()}


def assert_same(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


@pytest.mark.parametrize("opt_cls,kw", [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"lr": 1e-2})])
def test_round_trip_model_optimizer_rng_loader(tmp_path, opt_cls, kw):
    net, opt = trained(opt_cls, **kw)
    rng_state = backend.get_rng_state()
    folder = save_checkpoint(tmp_path, net, opt, epoch=3, config={"net": "small", "lr": kw["lr"]},
                             metrics=[{"epoch": 1, "train_loss": 1.5}], loader_state={"seed": 7, "epoch": 3})
    assert folder.name == "epoch-0003" and (tmp_path / "latest").read_text().strip() == "epoch-0003"
    backend.rng().random(10)  # move the generator on

    net2, opt2 = trained(opt_cls, seed=1, **kw)  # different weights and optimizer state
    ckpt = load_checkpoint(tmp_path, net2, opt2, net="small", restore_rng=True)
    assert ckpt.epoch == 3 and ckpt.loader_state == {"seed": 7, "epoch": 3}
    assert ckpt.metrics == [{"epoch": 1, "train_loss": 1.5}] and ckpt.config["lr"] == kw["lr"]
    assert backend.get_rng_state() == rng_state
    assert_same(arrays(net), arrays(net2))  # includes BatchNorm's running stats and num_batches_tracked
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    assert s1["state"].keys() == s2["state"].keys()
    for i in s1["state"]:
        for k, v in s1["state"][i].items():
            assert np.array_equal(np.asarray(v), np.asarray(s2["state"][i][k])), (i, k)


def test_pytorch_opens_the_weights_with_its_own_keys(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    net, opt = trained(lr=0.1)
    folder = save_checkpoint(tmp_path, net, opt, epoch=1)
    tensors = safetensors_torch.load_file(str(folder / "model.safetensors"))
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(32, 3))
    ref.load_state_dict(tensors)  # strict: same keys, shapes and dtypes
    assert list(tensors) != [] and set(tensors) == set(ref.state_dict())
    ref.eval()
    net.eval()
    X = np.random.default_rng(0).random((2, 1, 6, 6), dtype=np.float32)
    np.testing.assert_allclose(ref(torch.from_numpy(X)).detach().numpy(), net(mt.tensor(X)).numpy(), atol=1e-5)


def test_keeps_the_newest_checkpoints_only(tmp_path):
    net, opt = trained(lr=0.1)
    for epoch in range(1, 5):
        save_checkpoint(tmp_path, net, opt, epoch=epoch, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0003", "epoch-0004", "latest"]


def test_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    net, opt = trained(lr=0.1)
    save_checkpoint(tmp_path, net, opt, epoch=1)
    good = arrays(net)
    net.state_dict()["0.weight"].data[...] = 123.0  # what a crashed save would have written

    real = checkpoint._write_synced
    calls = []

    def crash_midway(path, data):
        calls.append(path.name)
        if path.name == "optimizer.safetensors":  # the model file is already written in full
            with open(path, "xb") as f:
                f.write(data[: len(data) // 2])
            raise OSError("No space left on device (simulated)")
        real(path, data)

    monkeypatch.setattr(checkpoint, "_write_synced", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(tmp_path, net, opt, epoch=2)
    monkeypatch.undo()
    assert calls == ["model.safetensors", "optimizer.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001", "latest"]  # no temporary left
    net2, opt2 = trained(lr=0.1, seed=3)
    assert load_checkpoint(tmp_path, net2, opt2).epoch == 1
    assert_same(good, arrays(net2))


def test_crash_before_the_pointer_moves_keeps_the_old_one_and_later_saves_work(tmp_path, monkeypatch):
    net, opt = trained(lr=0.1)
    save_checkpoint(tmp_path, net, opt, epoch=1)

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, net, opt, epoch=2)  # folder renamed, pointer not updated
    monkeypatch.undo()
    assert read_checkpoint(tmp_path).epoch == 1  # 'latest' still names the complete epoch 1
    assert (tmp_path / "epoch-0002").is_dir()
    # the resumed run saves epoch 2 again: the abandoned folder is not overwritten in place, then cleaned up
    folder = save_checkpoint(tmp_path, net, opt, epoch=2)
    assert folder.name == "epoch-0002-2" and read_checkpoint(tmp_path).epoch == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001", "epoch-0002-2", "latest"]


def test_atomic_write_bytes_keeps_the_old_file_on_error(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    checkpoint.atomic_write_bytes(target, b"old")

    def fail(*a):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.atomic_write_bytes(target, b"new contents")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ------------------------------------------------------------------------------- bad checkpoints
@pytest.fixture
def saved(tmp_path):
    net, opt = trained(lr=0.1)
    folder = save_checkpoint(tmp_path / "ckpts", net, opt, epoch=1, config={"net": "small"})
    return folder


def test_truncated_weights_named(saved):
    path = saved / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupt"):
        read_checkpoint(saved)


def test_flipped_byte_caught_by_checksum(saved):
    path = saved / "optimizer.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors is corrupt: its sha256"):
        read_checkpoint(saved)


def test_missing_file_named(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors is missing"):
        read_checkpoint(saved)


def test_bad_json_named(saved):
    (saved / "checkpoint.json").write_text('{"format": "minitorch_cnn.checkpoint/1", "epoch": ')
    with pytest.raises(CheckpointError, match=r"checkpoint\.json is corrupt: not valid JSON"):
        read_checkpoint(saved)


def test_json_missing_field_named(saved):
    meta = json.loads((saved / "checkpoint.json").read_text())
    del meta["epoch"]
    (saved / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"checkpoint\.json is corrupt: field 'epoch'"):
        read_checkpoint(saved)


def test_garbage_safetensors_with_matching_checksum_named(saved):
    meta = json.loads((saved / "checkpoint.json").read_text())
    garbage = b"\xff" * 64
    (saved / "model.safetensors").write_bytes(garbage)
    meta["files"]["model.safetensors"] = {"bytes": 64, "sha256": checkpoint._sha256(garbage)}
    (saved / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"model\.safetensors is not a readable safetensors file"):
        read_checkpoint(saved)


def test_wrong_net_refused(saved):
    net, _ = trained(lr=0.1)
    with pytest.raises(CheckpointError, match=r"holds net 'small', not 'lenet'"):
        load_checkpoint(saved, net, net="lenet")


def test_wrong_shapes_and_keys_named(saved):
    other = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 3))
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*does not fit.*0\.weight is \(2, 1, 3, 3\) in the "
                                              r"file, \(3, 1, 3, 3\) in the model"):
        load_checkpoint(saved, other)
    fewer = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(CheckpointError, match=r"unexpected tensors 1\.weight"):
        load_checkpoint(saved, fewer)


def test_wrong_optimizer_refused(saved):
    net, _ = trained(lr=0.1)
    with pytest.raises(CheckpointError, match=r"holds SGD state, the optimizer is Adam"):
        load_checkpoint(saved, net, optim.Adam(net.parameters()))


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such file or directory"):
        read_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        read_checkpoint(tmp_path)
    (tmp_path / "latest").write_text("epoch-0009\n")
    with pytest.raises(CheckpointError, match=r"names epoch-0009, but .*does not exist"):
        read_checkpoint(tmp_path)
    (tmp_path / "latest").write_text("../../etc\n")
    with pytest.raises(CheckpointError, match="pointer .* is corrupt"):
        read_checkpoint(tmp_path)


def test_find_accepts_run_folder_and_files(saved):
    run = saved.parent.parent
    (saved.parent).rename(run / "checkpoints")
    folder = run / "checkpoints" / "epoch-0001"
    assert checkpoint.find_checkpoint(run) == folder
    assert checkpoint.find_checkpoint(run / "checkpoints") == folder
    assert checkpoint.find_checkpoint(folder / "model.safetensors") == folder


def test_no_pickle_anywhere(saved):
    for f in saved.iterdir():
        assert b"\x80\x04\x95" not in f.read_bytes()[:3]  # no pickle protocol header
    assert json.loads((saved / "checkpoint.json").read_text())["format"] == checkpoint.FORMAT


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Atomic writes go through private temporary files; the results get the umask's usual mode."""
    mask = os.umask(0o022)
    try:
        net = nn.Linear(2, 2)
        folder = save_checkpoint(tmp_path / "ckpts", net, epoch=1)
        assert (folder.stat().st_mode & 0o777) == 0o755
        for f in folder.iterdir():
            assert (f.stat().st_mode & 0o777) == 0o644, f.name
        assert ((tmp_path / "ckpts" / "latest").stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(mask)


# ------------------------------------------------------------------------------- disk full
def test_disk_full_while_saving_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """ENOSPC from the write itself (os.write, as a full disk gives it): one FileWriteError naming the
    checkpoint file being written and the cause; the earlier checkpoint intact, no temporary left."""
    import errno

    from minitorch_cnn._fileio import FileWriteError

    net, opt = trained(lr=0.1)
    save_checkpoint(tmp_path, net, opt, epoch=1)
    good = arrays(net)
    net.state_dict()["0.weight"].data[...] = 7.0
    real_write, written = os.write, []

    def disk_full(fd, data):
        if written:  # the first write (model.safetensors) fits, in part; then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real_write(fd, bytes(data)[: len(data) // 2])
        written.append(n)
        return n

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(FileWriteError) as info:
        save_checkpoint(tmp_path, net, opt, epoch=2)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == f"cannot write {tmp_path / 'epoch-0002' / 'model.safetensors'}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001", "latest"]
    net2, opt2 = trained(lr=0.1, seed=3)
    assert load_checkpoint(tmp_path, net2, opt2).epoch == 1
    assert_same(good, arrays(net2))


def test_pruning_renames_a_checkpoint_aside_before_deleting_it(tmp_path, monkeypatch):
    """A kill while an old checkpoint is deleted leaves a .trash-* folder, never an epoch folder without
    its checkpoint.json; the next save removes the trash."""
    import shutil

    net, opt = trained(lr=0.1)
    for epoch in (1, 2):
        save_checkpoint(tmp_path, net, opt, epoch=epoch, keep=2)
    real = shutil.rmtree

    def killed(path, *a, **k):
        for d, _, files in os.walk(path):
            if "checkpoint.json" in files:
                os.unlink(os.path.join(d, "checkpoint.json"))
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, net, opt, epoch=3, keep=2)  # prunes epoch 1
    monkeypatch.setattr(shutil, "rmtree", real)
    assert all((p / "checkpoint.json").is_file() for p in tmp_path.glob("epoch-*"))
    assert sorted(p.name for p in tmp_path.glob("epoch-*")) == ["epoch-0002", "epoch-0003"]
    assert [p.name for p in tmp_path.glob(".trash-epoch-0001-*")]
    save_checkpoint(tmp_path, net, opt, epoch=4, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0003", "epoch-0004", "latest"]


# ---------------------------------------------------------------- the optimizer's options of torch.optim
def test_round_trip_of_adamw_with_amsgrad_and_every_group_option(tmp_path):
    net, opt = trained(optim.AdamW, lr=1e-2, weight_decay=0.1, amsgrad=True)
    save_checkpoint(tmp_path, net, opt, epoch=1)
    net2, opt2 = trained(optim.AdamW, seed=1, lr=1e-3, amsgrad=True)
    load_checkpoint(tmp_path, net2, opt2)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"] and s2["param_groups"][0]["decoupled_weight_decay"] is True
    for i in s1["state"]:
        assert set(s1["state"][i]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        for k, v in s1["state"][i].items():
            assert np.array_equal(np.asarray(v), np.asarray(s2["state"][i][k])), (i, k)


def test_a_checkpoint_saved_before_the_group_options_existed_still_loads(tmp_path):
    """Checkpoints written when param groups had no foreach/fused/... keys: the optimizer keeps its defaults."""
    net, opt = trained(optim.Adam, lr=1e-2)
    folder = save_checkpoint(tmp_path, net, opt, epoch=1)
    meta_path = folder / checkpoint.META_FILE
    meta = json.loads(meta_path.read_text())
    new_keys = {"foreach", "capturable", "differentiable", "fused", "decoupled_weight_decay"}
    meta["optimizer"]["param_groups"] = [{k: v for k, v in g.items() if k not in new_keys}
                                         for g in meta["optimizer"]["param_groups"]]
    meta_path.write_text(json.dumps(meta))
    net2, opt2 = trained(optim.Adam, seed=1, lr=1e-3)
    load_checkpoint(tmp_path, net2, opt2)
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for i, entry in opt.state_dict()["state"].items():
        for k, v in entry.items():
            assert np.array_equal(np.asarray(v), np.asarray(opt2.state_dict()["state"][i][k])), (i, k)
