"""_fileio: atomic writes, atomic removal, leftovers, the folder lock (the pieces the run-folder tests rely on)."""

import errno
import json
import os
import subprocess
import sys

import pytest

from minitorch_cnn import _fileio
from minitorch_cnn._fileio import FileWriteError, FolderInUseError, FolderLock


def test_atomic_write_bytes_writes_everything_even_when_os_write_is_short(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data)[:3]))  # at most 3 bytes a call
    path = _fileio.atomic_write_bytes(tmp_path / "f.bin", b"0123456789" * 5)
    monkeypatch.undo()
    assert path.read_bytes() == b"0123456789" * 5 and [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_a_failed_write_is_one_line_naming_the_file(tmp_path, monkeypatch):
    (tmp_path / "m.json").write_bytes(b"old")
    monkeypatch.setattr(os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(FileWriteError) as info:
        _fileio.atomic_write_bytes(tmp_path / "m.json", b"new")
    monkeypatch.undo()
    assert str(info.value) == f"cannot write {tmp_path / 'm.json'}: No space left on device"
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert (tmp_path / "m.json").read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_remove_tree_and_clean_leftovers(tmp_path):
    (tmp_path / "epoch-0001").mkdir()
    (tmp_path / "epoch-0001" / "checkpoint.json").write_text("{}")
    _fileio.remove_tree(tmp_path / "epoch-0001")
    assert list(tmp_path.iterdir()) == []
    for name in (".tmp-a", ".trash-epoch-0002-b"):
        (tmp_path / name).mkdir()
    (tmp_path / ".metrics.csv.x.part").write_text("half")
    (tmp_path / "keep.part").write_text("not ours")
    (tmp_path / ".lock").write_text("")
    assert _fileio.clean_leftovers(tmp_path) == [".metrics.csv.x.part", ".tmp-a", ".trash-epoch-0002-b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "keep.part"]


def test_folder_lock_records_its_holder_and_refuses_a_second_one(tmp_path):
    with FolderLock(tmp_path, "the run folder") as lock:
        info = json.loads((tmp_path / ".lock").read_text())
        assert info["pid"] == os.getpid() and info["host"] and info["started"]
        assert lock.held
        code = ("import sys; from minitorch_cnn._fileio import FolderLock, FolderInUseError\n"
                "try:\n    FolderLock(sys.argv[1], 'the run folder').acquire()\n"
                "except FolderInUseError as e:\n    print(e); sys.exit(3)\n")
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 3, r.stderr
        assert r.stdout.startswith(f"the run folder {tmp_path} is in use by another run (pid {os.getpid()} on ")
    assert not lock.held
    with FolderLock(tmp_path):  # free again, lock file and all
        pass


def test_folder_lock_on_an_unwritable_folder_is_a_write_error(tmp_path):
    with pytest.raises(FileWriteError, match="cannot write .*missing/.lock: No such file or directory"):
        FolderLock(tmp_path / "missing").acquire()
    assert issubclass(FolderInUseError, OSError)
