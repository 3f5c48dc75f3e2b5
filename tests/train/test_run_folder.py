"""The run folder under faults: a file in its place, read-only, disk full mid-run, a second writer,
a killed holder, a kill while old checkpoints are pruned, leftovers of killed runs.

Each fault ends in one line on stderr naming the file and the cause, exit code 1, and the earlier
checkpoints intact (a resume then continues the run).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from test_cli import fake_data, run  # noqa: F401 - the fixture is used by name

from minitorch_cnn import _fileio, cli, data, train
from minitorch_cnn.checkpoint import read_checkpoint

LINUX = sys.platform.startswith("linux")


def train_argv(fake_data, out, *extra):  # noqa: F811
    return ["train", "lenet", "--batch-size", "32", "--data-dir", str(fake_data), "--out", str(out), "--no-progress",
            *extra]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- before training starts
def test_out_naming_an_existing_file(fake_data, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    code, stdout, err = run(train_argv(fake_data, out, "--epochs", "1"), capsys)
    assert code == 1 and "epoch 1:" not in stdout
    assert one_line(err) == f"minitorch-cnn: error: the run folder {out} is an existing file, not a folder: " \
                            "choose another --out"
    assert out.read_text() == "mine"
    code, _, err = run(train_argv(fake_data, out / "run", "--epochs", "1"), capsys)
    assert code == 1 and f"{out} is a file, not a folder" in one_line(err)


def test_read_only_out_is_found_before_training(fake_data, tmp_path, monkeypatch, capsys):  # noqa: F811
    """A read-only file system refuses every new file in --out (simulated: the process runs as root in
    CI, where permission bits alone do not stop a write)."""
    out = tmp_path / "ro"
    real_open, real_mkdir = os.open, os.mkdir

    def read_only(call):
        def patched(path, *a, **k):
            if str(path).startswith(str(out)):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return call(path, *a, **k)
        return patched

    monkeypatch.setattr(os, "open", read_only(real_open))
    monkeypatch.setattr(os, "mkdir", read_only(real_mkdir))
    code, stdout, err = run(train_argv(fake_data, out, "--epochs", "1"), capsys)
    assert code == 1 and "epoch 1:" not in stdout
    assert f"{out}" in one_line(err) and "Read-only file system" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_out_by_permissions(fake_data, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, stdout, err = run(train_argv(fake_data, out, "--epochs", "1"), capsys)
    finally:
        out.chmod(0o755)
    assert code == 1 and "epoch 1:" not in stdout and "Permission denied" in one_line(err)


# ---------------------------------------------------------------- disk full in the middle of a run
DISK_FULL_AFTER_EPOCH_1 = """
import errno, os, sys
from pathlib import Path
out = Path(sys.argv[1])
real_write = os.write

def write(fd, data):
    # epoch 1 is complete once its curves are drawn; from then on the disk is full
    if (out / "curves.png").exists():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real_write(fd, data)

os.write = write
from minitorch_cnn.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_disk_full_while_saving_a_checkpoint_cli(fake_data, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    argv = train_argv(fake_data, out, "--epochs", "3")
    r = subprocess.run([sys.executable, "-c", DISK_FULL_AFTER_EPOCH_1, str(out), *argv], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1
    line = one_line(r.stderr)
    ckpts = out / "checkpoints"
    assert line == (f"minitorch-cnn: error: cannot write {ckpts / 'epoch-0002' / 'model.safetensors'}: "
                    f"No space left on device; training stopped after epoch 2. The last complete checkpoint is "
                    f"{ckpts / 'epoch-0001'}: free some space, then continue with --resume.")
    assert "epoch 2: loss" in r.stdout
    assert read_checkpoint(out).epoch == 1
    assert sorted(p.name for p in ckpts.iterdir()) == [".lock", "epoch-0001", "latest"] or \
        sorted(p.name for p in ckpts.iterdir()) == ["epoch-0001", "latest"]
    # space freed: the resume finishes the run
    r = subprocess.run([sys.executable, "-m", "minitorch_cnn", *argv, "--resume"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert read_checkpoint(out).epoch == 3


def test_disk_full_while_writing_the_metrics(fake_data, tmp_path, monkeypatch, capsys):  # noqa: F811
    out = tmp_path / "run"
    real_write = os.write

    def write(fd, data):
        if (out / "checkpoints" / "latest").exists() and not (out / "metrics.csv").exists():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    code, _, err = run(train_argv(fake_data, out, "--epochs", "2"), capsys)
    assert code == 1
    assert one_line(err).startswith(f"minitorch-cnn: error: cannot write {out / 'metrics.csv'}: No space left")
    assert f"The last complete checkpoint is {out / 'checkpoints' / 'epoch-0001'}" in err
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


# ---------------------------------------------------------------- one writer per run folder
HOLD_THE_LOCK = """
import sys, time
from minitorch_cnn._fileio import FolderLock
FolderLock(sys.argv[1], "the run folder").acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not LINUX, reason="kill -9 and flock as on Linux")
def test_a_second_writer_is_refused_and_a_killed_holder_leaves_no_stale_lock(fake_data, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    code, _, err = run(train_argv(fake_data, out, "--epochs", "1"), capsys)
    assert code == 0, err
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, stdout, err = run(train_argv(fake_data, out, "--epochs", "2", "--resume"), capsys)
        assert code == 1 and "epoch 2:" not in stdout
        assert one_line(err).startswith(f"minitorch-cnn: error: the run folder {out} is in use by another run "
                                        f"(pid {holder.pid} on ")
        assert f"lock file {out / '.lock'}" in err
    finally:
        holder.send_signal(signal.SIGKILL)  # kill -9: no clean-up runs in the holder
        holder.wait(timeout=30)
    assert (out / ".lock").exists()  # the lock file stays behind; the kernel released the lock
    code, stdout, err = run(train_argv(fake_data, out, "--epochs", "2", "--resume"), capsys)
    assert code == 0, err
    assert "epoch 2: loss" in stdout and read_checkpoint(out).epoch == 2


def test_two_runs_at_once_on_one_folder_one_is_refused(fake_data, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "minitorch_cnn", *train_argv(fake_data, out, "--epochs", "2")]
    first = subprocess.Popen([*argv, "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen([*argv, "--seed", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [p.communicate(timeout=300) + (p.returncode,) for p in (first, second)]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 1], results
    refused = next(r for r in results if r[2] == 1)
    assert "is in use by another run" in refused[1] or "already holds the checkpoints of a run" in refused[1]
    winner = next(r for r in results if r[2] == 0)
    seed = 1 if winner is results[0] else 2
    ckpt = read_checkpoint(out)
    assert ckpt.epoch == 2 and ckpt.config["seed"] == seed  # the run that reported success kept its checkpoint


# ---------------------------------------------------------------- pruning and leftovers
def test_a_kill_while_pruning_never_leaves_a_checkpoint_folder_without_its_files(fake_data, tmp_path,  # noqa: F811
                                                                                monkeypatch, capsys):
    out = tmp_path / "run"
    code, _, err = run(train_argv(fake_data, out, "--epochs", "2"), capsys)
    assert code == 0, err
    real_rmtree = shutil.rmtree

    def killed_midway(path, *a, **k):  # deletes the checkpoint.json files first, then the process dies
        for meta in sorted(os.path.join(d, "checkpoint.json") for d, _, files in os.walk(path)
                           if "checkpoint.json" in files):
            os.unlink(meta)
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed_midway)
    code, _, _ = run(train_argv(fake_data, out, "--epochs", "3", "--resume"), capsys)  # epoch 3 prunes epoch 1
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert code == 130
    ckpts = out / "checkpoints"
    for folder in ckpts.glob("epoch-*"):
        assert (folder / "checkpoint.json").is_file(), f"{folder.name} lost its checkpoint.json"
    assert read_checkpoint(out).epoch == 3
    assert [p.name for p in ckpts.iterdir() if p.name.startswith(".trash-")]  # what the kill left
    code, stdout, err = run(train_argv(fake_data, out, "--epochs", "4", "--resume"), capsys)
    assert code == 0, err
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")  and p.name != ".lock"]
    assert sorted(p.name for p in ckpts.glob("epoch-*")) == ["epoch-0003", "epoch-0004"]


def test_leftovers_of_killed_runs_are_cleaned_when_a_run_starts(fake_data, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    code, _, err = run(train_argv(fake_data, out, "--epochs", "1"), capsys)
    assert code == 0, err
    ckpts = out / "checkpoints"
    leftovers = [out / ".metrics.json.x1y2.part", out / ".curves.png.abc.part", ckpts / ".latest.q8.part",
                 ckpts / ".tmp-k3j4" / "model.safetensors", ckpts / ".trash-epoch-0001-zz" / "epoch-0001" / "x"]
    for p in leftovers:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half")
    keep = out / "my-notes.part"  # not ours: no leading dot
    keep.write_text("mine")
    code, _, err = run(train_argv(fake_data, out, "--epochs", "2", "--resume"), capsys)
    assert code == 0, err
    assert not [p for p in leftovers if p.exists()]
    assert not [p for p in (*out.iterdir(), *ckpts.iterdir()) if p.name.startswith((".tmp-", ".trash-"))]
    assert keep.read_text() == "mine"


def test_fit_holds_the_lock_for_the_whole_run(tmp_path):
    """Through the Python API too: while fit runs, the folder's lock is held (another FolderLock is refused)."""
    import minitorch_cnn as mt
    from minitorch_cnn import nn, optim

    seen = []

    class Probe:
        def __init__(self, batches):
            self.batches = batches

        def __len__(self):
            return len(self.batches)

        def __iter__(self):
            try:
                _fileio.FolderLock(tmp_path).acquire()
                seen.append("acquired")
            except _fileio.FolderInUseError as exc:
                seen.append(str(exc))
            return iter(self.batches)

    mt.manual_seed(0)
    X = mt.tensor(np.random.default_rng(0).random((8, 4), dtype=np.float32))
    y = mt.tensor(np.arange(8) % 3)
    net = nn.Sequential(nn.Linear(4, 3))
    train.fit(net, Probe([(X, y)]), Probe([(X, y)]), optim.SGD(net.parameters(), lr=0.1), 1, out=tmp_path,
              log=lambda *a: None)
    assert seen and all("is in use by another run" in s for s in seen), seen
    with _fileio.FolderLock(tmp_path):  # released at the end
        pass


def test_cli_turns_any_other_os_error_into_one_line(monkeypatch, capsys):
    def broken(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/some/file")

    monkeypatch.setitem(cli.COMMANDS, "summary", broken)
    code, _, err = run(["summary", "lenet"], capsys)
    assert code == 1 and one_line(err) == "minitorch-cnn: error: /some/file: Permission denied"
    assert data  # the data layer is imported by the CLI's error handling
