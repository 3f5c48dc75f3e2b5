"""The run folder (``--out``): checked and locked before training, one line for every file-system fault.

``OUT/`` holds ``metrics.csv``, ``metrics.json``, ``curves.png``, ``checkpoints/`` and ``.lock``.
:func:`open_run_folder` runs before the first step: an ``--out`` that is a file, a folder that
cannot be written, or another run holding the folder each end here in one line, with nothing
trained; leftovers of killed runs are removed under the lock. A write that fails later (disk full)
becomes :class:`RunFolderError` via :func:`write_failed`, naming the file, the epoch and the last
complete checkpoint.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .._fileio import FileWriteError, FolderLock, clean_leftovers, write_new_file
from ..checkpoint import CheckpointError, latest_checkpoint

CHECKPOINT_DIR = "checkpoints"


class RunFolderError(OSError):
    """The run folder cannot be used or written (a file, read-only, disk full, another run holds it);
    the message is one line naming the file and the cause, and the last complete checkpoint."""


def check_run_folder(out, resume: bool = False) -> Path:
    """Check, before anything is trained, that ``out`` can be a run folder: not an existing file, and
    (when resuming) holding a checkpoint. Raises :class:`RunFolderError` / ``CheckpointError``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"the run folder {out} is an existing file, not a folder: choose another --out")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"cannot create the run folder {out}: {parent} is a file, not a folder")
            break
    ckpt_dir = out / CHECKPOINT_DIR
    if resume and (not ckpt_dir.is_dir() or latest_checkpoint(ckpt_dir) is None):
        raise CheckpointError(f"nothing to resume: no checkpoint in {ckpt_dir}")
    return out


def open_run_folder(out, resume: bool = False) -> FolderLock:
    """Make ``out`` (and ``out/checkpoints``) ready for one writer, before anything is trained: check
    it (:func:`check_run_folder`), create it, take its lock (a second run on the same folder is
    refused, naming the holder; a lock left by a killed run is free), prove it writable with a
    probe file, and remove what a killed run left (``.part`` files, ``.tmp-*``/``.trash-*`` folders).
    Returns the held :class:`~minitorch_cnn._fileio.FolderLock`; release it when done."""
    out = check_run_folder(out, resume)
    ckpt_dir = out / CHECKPOINT_DIR
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"cannot create the run folder {ckpt_dir}: {exc.strerror or exc}") from None
    lock = FolderLock(out, "the run folder")
    try:
        lock.acquire()
    except FileWriteError as exc:
        raise RunFolderError(f"{exc}: the run folder must be writable") from None
    except OSError as exc:  # FolderInUseError: its message names the holder
        raise RunFolderError(str(exc)) from None
    try:
        probe = ckpt_dir / f".probe-{os.getpid()}.part"
        write_new_file(probe, b"")
        probe.unlink()
        clean_leftovers(out)
        clean_leftovers(ckpt_dir)
    except FileWriteError as exc:
        lock.release()
        raise RunFolderError(f"{exc}: the run folder must be writable") from None
    except BaseException:
        lock.release()
        raise
    return lock


def write_failed(exc: FileWriteError, epoch: int, ckpt_dir: Path) -> str:
    """The one line for a write that failed after ``epoch``: the file, the cause, the last complete checkpoint."""
    try:
        last = latest_checkpoint(ckpt_dir)
    except CheckpointError:
        last = None
    fix = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (disk quota)",
           errno.EROFS: "make the folder writable", errno.EACCES: "make the folder writable"}.get(exc.errno,
                                                                                                "fix that")
    return (f"{exc}; training stopped after epoch {epoch}. "
            + (f"The last complete checkpoint is {last}: {fix}, then continue with --resume."
               if last else f"No checkpoint was saved: {fix}, then start again."))
