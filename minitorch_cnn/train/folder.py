"""The run folder (``--out``): checked and locked before training, one line for every file-system fault.

``OUT/`` holds ``metrics.csv``, ``metrics.json``, ``curves.png``, ``checkpoints/`` and ``.lock``.
:func:`open_run_folder` runs before the first step: an ``--out`` that is a file, a folder that
cannot be written, or another run holding the folder each end here in one line, with nothing
trained; leftovers of killed runs are removed under the lock. A write that fails later (disk full)
becomes :class:`RunFolderError` via :func:`write_failed`, naming the file, the epoch and the last
complete checkpoint. :func:`move_run_aside` starts a run over in place (``overwrite``): the old
folder is renamed beside it, never deleted.

The messages name settings in the caller's terms (:mod:`.terms`): ``resume=True`` from Python,
``--resume`` from the command line.
"""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path

from .._fileio import FileWriteError, FolderLock, clean_leftovers, fsync_dir, write_new_file
from ..checkpoint import CheckpointError, latest_checkpoint
from .terms import PYTHON

CHECKPOINT_DIR = "checkpoints"


class RunFolderError(OSError):
    """The run folder cannot be used or written (a file, read-only, disk full, another run holds it);
    the message is one line naming the file and the cause, and the last complete checkpoint."""


def check_run_folder(out, resume: bool = False, terms=PYTHON, overwrite: bool = False) -> Path:
    """Check, before anything is trained, that ``out`` can be a run folder: not an existing file;
    when resuming, holding a checkpoint; else, unless ``overwrite`` (the old run will be moved
    aside), not holding one: a fresh run never overwrites a run, and the message offers resume,
    overwrite or another folder. Raises :class:`RunFolderError` / ``CheckpointError``; ``terms``
    words the messages (:mod:`.terms`)."""
    out = _check_place(out, terms)
    if not overwrite:
        _check_checkpoints(out, resume, terms)
    return out


def _check_place(out, terms) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"the run folder {out} is an existing file, not a folder: choose another {terms('out')}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"cannot create the run folder {out}: {parent} is a file, not a folder")
            break
    return out


def _check_checkpoints(out: Path, resume: bool, terms) -> None:
    ckpt_dir = out / CHECKPOINT_DIR
    found = latest_checkpoint(ckpt_dir) if ckpt_dir.is_dir() else None
    if resume and found is None:
        raise CheckpointError(f"nothing to resume: no checkpoint in {ckpt_dir}")
    if not resume and found is not None:
        raise CheckpointError(f"{out} already holds the checkpoints of a run ({found}): continue it with "
                              f"{terms('resume', True)}, start over with {terms('overwrite', True)} (the old run is "
                              f"moved aside, not deleted), or choose another {terms('out')}")


def move_run_aside(out, terms=PYTHON) -> Path | None:
    """Start over in ``out``: rename the folder, whole, to ``OUT.old-N`` beside it (the first free N) and
    return that path; None when there is nothing to move (no folder, or an empty one). Nothing is
    deleted or changed inside. Refused while another run holds the folder's lock, and for the
    current folder or one above it (renaming it would pull the ground from under the shell)."""
    out = _check_place(out, terms)
    if not out.is_dir():
        return None
    if not any(out.iterdir()):
        return None
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        raise RunFolderError(f"cannot move the run folder {out} aside: it is the current folder or holds it; "
                             f"choose another {terms('out')}")
    lock = _lock(out)
    try:
        for n in itertools.count(1):
            dest = out.with_name(f"{out.name}.old-{n}")
            if dest.exists() or dest.is_symlink():
                continue
            try:
                os.rename(out, dest)  # onto a name just seen free; a folder that appeared there meanwhile stops it
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    continue
                raise RunFolderError(f"cannot move the run folder {out} aside to {dest}: "
                                     f"{exc.strerror or exc}") from None
            fsync_dir(out.parent)
            return dest
    finally:
        lock.release()


def _lock(out: Path) -> FolderLock:
    """The held lock of run folder ``out``, or the one-line RunFolderError of a folder in use or read-only."""
    lock = FolderLock(out, "the run folder")
    try:
        lock.acquire()
    except FileWriteError as exc:
        raise RunFolderError(f"{exc}: the run folder must be writable") from None
    except OSError as exc:  # FolderInUseError: its message names the holder
        raise RunFolderError(str(exc)) from None
    return lock


def open_run_folder(out, resume: bool = False, terms=PYTHON) -> FolderLock:
    """Make ``out`` (and ``out/checkpoints``) ready for one writer, before anything is trained: check
    it (:func:`check_run_folder`; its checkpoints again under the lock), create it, take its lock (a second
    run on the same folder is refused, naming the holder; a lock left by a killed run is free), prove
    it writable with a probe file, and remove what a killed run left (``.part`` files,
    ``.tmp-*``/``.trash-*`` folders). Returns the held :class:`~minitorch_cnn._fileio.FolderLock`;
    release it when done."""
    out = check_run_folder(out, resume, terms)  # before anything is created
    ckpt_dir = out / CHECKPOINT_DIR
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"cannot create the run folder {ckpt_dir}: {exc.strerror or exc}") from None
    lock = _lock(out)
    try:
        _check_checkpoints(out, resume, terms)  # again under the lock: a run may have started meanwhile
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


def write_failed(exc: FileWriteError, epoch: int, ckpt_dir: Path, terms=PYTHON) -> str:
    """The one line for a write that failed after ``epoch``: the file, the cause, the last complete checkpoint."""
    try:
        last = latest_checkpoint(ckpt_dir)
    except CheckpointError:
        last = None
    fix = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (disk quota)",
           errno.EROFS: "make the folder writable", errno.EACCES: "make the folder writable"}.get(exc.errno,
                                                                                                "fix that")
    return (f"{exc}; training stopped after epoch {epoch}. "
            + (f"The last complete checkpoint is {last}: {fix}, then continue with {terms('resume', True)}."
               if last else f"No checkpoint was saved: {fix}, then start again."))
