"""Files that are never seen half-written, removals that are never seen half-done, one writer per folder.

Everything the engine writes (checkpoints, metrics, curves, downloaded data, IDX files) goes
through this module, which sits at the bottom of the layers beside the backend and knows nothing of
tensors or training:

- :func:`atomic_write_bytes` / :func:`atomic_write`: a temporary file ``.NAME.XXXX.part`` beside
  the target, flushed and fsynced, then renamed onto it (``os.replace``, atomic), then the folder
  fsynced. A reader, or a crash at any moment, sees the old file or the complete new one.
- :func:`write_new_file`: a file that must not exist yet, written in full and fsynced (the pieces
  of a checkpoint folder, which is itself renamed into place).
- :func:`remove_tree`: a folder is first renamed to ``.trash-NAME-XXXX`` (atomic), then deleted,
  so a crash mid-removal never leaves a half-deleted folder under its real name.
- :func:`clean_leftovers`: removes what a killed writer leaves behind (``.part`` files,
  ``.tmp-*`` and ``.trash-*`` folders); call it only while holding the folder's lock.
- :class:`FolderLock`: ``fcntl.flock`` on ``FOLDER/.lock``, which records the holder (pid, host,
  start time) for the message a second writer gets. The kernel releases the lock when its process
  dies, however it dies, so a run killed with ``kill -9`` leaves a lock file but never a stale lock.

Bytes are written with ``os.write`` in a loop (it may write less than asked); any ``OSError`` while
writing becomes a :class:`FileWriteError`, whose message is one line naming the file and the cause
("No space left on device", "Read-only file system", ...).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the lock then only records the holder
    fcntl = None

__all__ = [
    "FileWriteError",
    "FolderInUseError",
    "FolderLock",
    "atomic_write",
    "atomic_write_bytes",
    "clean_leftovers",
    "current_umask",
    "fsync_dir",
    "remove_tree",
    "write_new_file",
]

PART_SUFFIX = ".part"
TRASH_PREFIX = ".trash-"
TMP_PREFIX = ".tmp-"
LOCK_FILE = ".lock"


class FileWriteError(OSError):
    """Writing a file failed; ``str()`` is one line naming the file and the cause (errno kept)."""

    def __init__(self, path, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = Path(path)

    def __str__(self):
        return f"cannot write {self.path}: {self.strerror}"


class FolderInUseError(OSError):
    """Another process holds a folder's lock; the message names the lock file and the holder (errno EBUSY)."""

    def __str__(self):
        return self.strerror or super().__str__()


def current_umask() -> int:
    """The process's umask (reading it is only possible by setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path) -> None:
    """Make the entries of folder ``path`` (a rename, a new file) durable; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def write_new_file(path, data: bytes) -> Path:
    """Write ``data`` to ``path``, which must not exist yet, flushed and fsynced."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise FileWriteError(path, exc) from exc
    return path


@contextlib.contextmanager
def atomic_write(path):
    """Open a temporary file beside ``path`` for binary writing (a file object, for streaming); on
    success fsync it and rename it onto ``path``, on any error delete it. ``path`` is never left
    half-written: a reader sees either the old file or the complete new one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise FileWriteError(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            yield f  # what the caller's own code raises passes through as it is (a download's URLError)
            with _naming(path):
                f.flush()
                os.fsync(f.fileno())
        with _naming(path):
            os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private (0600); a plain open() would not
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)  # make the rename itself durable


@contextlib.contextmanager
def _naming(path):
    """Turn an OSError of the block into a FileWriteError naming ``path``."""
    try:
        yield
    except FileWriteError:
        raise
    except OSError as exc:
        raise FileWriteError(path, exc) from exc


def atomic_write_bytes(path, data: bytes) -> Path:
    """Replace ``path`` by a file holding ``data`` atomically (see :func:`atomic_write`)."""
    path = Path(path)
    with atomic_write(path) as f, _naming(path):
        _write_all(f.fileno(), data)
    return path


def remove_tree(path) -> None:
    """Delete folder ``path``: renamed aside first (atomic), then removed; a crash leaves only a trash folder."""
    path = Path(path)
    trash = Path(tempfile.mkdtemp(prefix=f"{TRASH_PREFIX}{path.name}-", dir=path.parent))
    try:
        os.replace(path, trash / path.name)  # into a fresh empty folder: never replaces anything else
    except FileNotFoundError:
        pass
    fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def clean_leftovers(folder) -> list:
    """Remove the ``.part`` files and ``.tmp-*`` / ``.trash-*`` folders a killed writer left in ``folder``
    (not recursive). Only safe while holding the folder's lock. Returns the names removed."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        name = p.name
        if p.is_dir() and (name.startswith(TMP_PREFIX) or name.startswith(TRASH_PREFIX)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(name)
        elif p.is_file() and name.startswith(".") and name.endswith(PART_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
            removed.append(name)
    return sorted(removed)


class FolderLock:
    """An exclusive, non-blocking lock on ``folder`` (``folder/.lock``) for one writer at a time.

    ``acquire()`` raises :class:`FolderInUseError` naming the holder (pid, host, start time) when
    another process holds it, and :class:`FileWriteError` when the lock file cannot be created (a
    read-only folder). The kernel releases the lock when the holder exits or is killed, so an
    old lock file left by a killed run never blocks the next one. Use as a context manager.
    """

    def __init__(self, folder, what: str = "folder"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.what = what
        self._fd = None

    def holder(self) -> str:
        """The holder recorded in the lock file, in words ("pid 123 on host, since ...")."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return f"pid {info['pid']} on {info['host']}, started {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def acquire(self) -> FolderLock:
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise FileWriteError(self.path, exc) from exc
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise FolderInUseError(
                        errno.EBUSY,
                        f"{self.what} {self.folder} is in use by another run ({self.holder()}; lock file "
                        f"{self.path}): wait for it to finish, or choose another folder") from None
                raise FileWriteError(self.path, exc) from exc
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
        try:
            os.ftruncate(fd, 0)
            _write_all(fd, (json.dumps(record) + "\n").encode())
        except OSError as exc:
            os.close(fd)
            raise FileWriteError(self.path, exc) from exc
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
