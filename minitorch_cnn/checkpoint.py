"""Checkpoints on disk: safetensors for arrays, JSON for everything else, never a pickle.

A run keeps its checkpoints in one folder (``OUT/checkpoints``)::

    checkpoints/
        latest                      the name of the newest complete checkpoint ("epoch-0003")
        epoch-0002/                 the one before (``keep`` checkpoints are kept, default 2)
        epoch-0003/
            model.safetensors       the weights, PyTorch's state_dict keys (torch opens it directly:
                                    ``safetensors.torch.load_file``)
            optimizer.safetensors   the optimizer's per-parameter arrays, keys ``state.<index>.<name>``
            checkpoint.json         epoch, the run's config, the optimizer's scalars and param groups,
                                    the engine's RNG state, the DataLoader's shuffle state, the metrics
                                    history, and the sha256 and size of both safetensors files

Writing is crash-safe (:mod:`minitorch_cnn._fileio`) in three steps: the three files are written into a fresh temporary folder
beside the others (each flushed and fsynced, ``checkpoint.json`` last), the folder is renamed to its
final name (a rename is atomic and never replaces anything: a name already taken gets a suffix),
then ``latest`` is replaced atomically (temporary file, fsync, ``os.replace``). A crash at any
point leaves ``latest`` naming a complete, older checkpoint; only after that are the oldest
checkpoints removed, each renamed aside before it is deleted. A failed write raises
``_fileio.FileWriteError`` naming the file and the cause (disk full, read-only). Loading checks everything it reads (JSON syntax and fields, file sizes and
checksums, the net's name, keys and shapes) and raises :class:`CheckpointError` naming the file
and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy

from . import backend
from ._fileio import (
    TMP_PREFIX,
    FileWriteError,
    atomic_write_bytes,
    clean_leftovers,
    current_umask,
    fsync_dir,
    remove_tree,
    write_new_file,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "FORMAT",
    "atomic_write_bytes",
    "find_checkpoint",
    "latest_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]

FORMAT = "minitorch_cnn.checkpoint/1"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
META_FILE = "checkpoint.json"
LATEST_FILE = "latest"
_EPOCH_DIR = re.compile(r"^epoch-(\d+)(?:-(\d+))?$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, truncated or does not fit the net/optimizer it is loaded into."""


# ---------------------------------------------------------------------------- atomic files
def _write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path``, flushed and fsynced (``_fileio.write_new_file``)."""
    write_new_file(path, data)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------- JSON helpers
def _jsonable(value, where: str):
    """Plain JSON data from numbers, strings, lists, tuples, dicts and NumPy scalars; anything else is an error."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"checkpoint: {where} is a {type(value).__name__}, which cannot be stored as JSON")


def _host(array) -> np.ndarray:
    """A C-contiguous host copy-or-view of ``array`` with its shape kept (``np.ascontiguousarray``
    would turn a 0-d array, such as BatchNorm's ``num_batches_tracked``, into shape (1,))."""
    a = backend.to_numpy(array)
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- optimizer state
def _split_optimizer_state(state_dict: dict):
    """Split an optimizer's ``state_dict()`` into (arrays for safetensors, JSON-able rest)."""
    arrays, scalars = {}, {}
    for index, entry in state_dict["state"].items():
        scalars[str(int(index))] = {}
        for name, value in entry.items():
            if backend.is_array(value) or isinstance(value, np.ndarray):
                arrays[f"state.{int(index)}.{name}"] = _host(value)
            else:
                scalars[str(int(index))][name] = _jsonable(value, f"optimizer state {index}.{name}")
    groups = _jsonable(state_dict["param_groups"], "optimizer param_groups")
    return arrays, {"state": scalars, "param_groups": groups}


def _join_optimizer_state(arrays: dict, meta: dict, where: str) -> dict:
    """The inverse of :func:`_split_optimizer_state` (lists in param groups become tuples, e.g. Adam's betas)."""
    try:
        state = {int(i): dict(entry) for i, entry in meta["state"].items()}
        groups = [
            {k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
            for g in meta["param_groups"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {where}: the optimizer entry is malformed ({exc})") from None
    for key, value in arrays.items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit():
            raise CheckpointError(f"checkpoint {where}: unexpected optimizer tensor name {key!r}")
        state.setdefault(int(parts[1]), {})[parts[2]] = value
    return {"state": state, "param_groups": groups}


# ---------------------------------------------------------------------------- saving
def _epoch_dirs(directory: Path):
    """[(epoch, suffix, path)] of the complete-looking checkpoint folders, oldest first."""
    found = []
    if directory.is_dir():
        for p in directory.iterdir():
            m = _EPOCH_DIR.match(p.name)
            if m and p.is_dir():
                found.append((int(m.group(1)), int(m.group(2) or 0), p))
    return sorted(found)


def _read_latest_name(directory: Path) -> str | None:
    pointer = directory / LATEST_FILE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint pointer {pointer} is unreadable ({exc})") from None
    if not _EPOCH_DIR.match(name):
        raise CheckpointError(f"checkpoint pointer {pointer} is corrupt: expected a name such as 'epoch-0003', "
                              f"found {name[:60]!r}")
    return name


def save_checkpoint(directory, model, optimizer=None, *, epoch: int, config: dict | None = None,
                    metrics: list | None = None, loader_state: dict | None = None,
                    rng_state: dict | None = None, extra: dict | None = None, keep: int = 2) -> Path:
    """Save a complete checkpoint as ``directory/epoch-NNNN`` and point ``directory/latest`` at it.

    ``model``: a Module (its ``state_dict()`` is stored with its own keys). ``optimizer``: an
    optimizer with ``state_dict()`` or None. ``epoch``: the number of completed epochs.
    ``rng_state`` defaults to the engine's generator state (``backend.get_rng_state()``).
    ``keep``: how many checkpoints to keep in ``directory`` (the oldest are removed after the new one
    is in place; at least 1). Returns the new checkpoint's folder.
    """
    if keep < 1:
        raise ValueError(f"save_checkpoint: keep must be >= 1, got {keep}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    epoch = int(epoch)

    weights = {k: _host(t.array if hasattr(t, "array") else t) for k, t in model.state_dict().items()}
    # one metadata key only: safetensors writes a multi-key metadata map in a per-process order,
    # and equal weights should give equal bytes (the writer is named in checkpoint.json)
    model_bytes = safetensors.numpy.save(weights, metadata={"format": "pt"})
    if optimizer is not None:
        opt_arrays, opt_meta = _split_optimizer_state(optimizer.state_dict())
        opt_meta["type"] = type(optimizer).__name__
    else:
        opt_arrays, opt_meta = {}, None
    opt_bytes = safetensors.numpy.save(opt_arrays, metadata={"writer": FORMAT})
    meta = {
        "format": FORMAT,
        "epoch": epoch,
        "config": _jsonable(config or {}, "config"),
        "model": {"type": type(model).__name__,
                  "tensors": {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in weights.items()}},
        "optimizer": opt_meta,
        "rng_state": _jsonable(backend.get_rng_state() if rng_state is None else rng_state, "rng_state"),
        "loader_state": _jsonable(loader_state, "loader_state"),
        "metrics": _jsonable(metrics or [], "metrics"),
        "extra": _jsonable(extra or {}, "extra"),
        "files": {
            MODEL_FILE: {"bytes": len(model_bytes), "sha256": _sha256(model_bytes)},
            OPTIMIZER_FILE: {"bytes": len(opt_bytes), "sha256": _sha256(opt_bytes)},
        },
    }
    meta_bytes = (json.dumps(meta, indent=1) + "\n").encode("utf-8")

    try:
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=directory))
    except OSError as exc:
        raise FileWriteError(directory / TMP_PREFIX, exc) from exc
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private (0700); a plain mkdir would not
        _write_synced(tmp / MODEL_FILE, model_bytes)
        _write_synced(tmp / OPTIMIZER_FILE, opt_bytes)
        _write_synced(tmp / META_FILE, meta_bytes)  # last: a folder with it is complete
        fsync_dir(tmp)
        final = _free_name(directory, epoch)
        os.rename(tmp, final)  # atomic; the name is free, so nothing is replaced
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # named as the user knows it: the checkpoint folder, not the temporary
            target = directory / f"epoch-{epoch:04d}"
            failed = getattr(exc, "path", tmp)
            raise FileWriteError(target / failed.name if failed.parent == tmp else target, exc) from exc
        raise
    fsync_dir(directory)
    atomic_write_text(directory / LATEST_FILE, final.name + "\n")
    _prune(directory, final, keep)
    return final


def _free_name(directory: Path, epoch: int) -> Path:
    base = f"epoch-{epoch:04d}"
    candidate, n = directory / base, 1
    while candidate.exists():
        n += 1
        candidate = directory / f"{base}-{n}"
    return candidate


def _prune(directory: Path, current: Path, keep: int) -> None:
    """Remove all but the ``keep`` newest checkpoints (``current`` always stays) and stale temporaries.

    Folders of an epoch at or after the current one (left by a run that was killed after writing
    them but before pointing ``latest`` at them) belong to an abandoned run and go first. Each
    removal renames the folder aside before deleting it (``_fileio.remove_tree``): a kill midway
    leaves a ``.trash-*`` folder, never a checkpoint folder without its files.
    """
    epoch = int(_EPOCH_DIR.match(current.name).group(1))
    older = []
    for e, _, p in _epoch_dirs(directory):
        if p == current:
            continue
        if e >= epoch:
            remove_tree(p)
        else:
            older.append(p)
    for p in older[: max(0, len(older) - (keep - 1))]:
        remove_tree(p)
    clean_leftovers(directory)  # .tmp-* / .trash-* folders and .part files of a run killed mid-save


# ---------------------------------------------------------------------------- finding
def latest_checkpoint(directory) -> Path | None:
    """The newest complete checkpoint folder under ``directory`` (a ``checkpoints`` folder), or None.

    Follows ``latest``; when it is absent (a run killed before its first pointer was written),
    the highest-numbered folder holding a ``checkpoint.json``.
    """
    directory = Path(directory)
    name = _read_latest_name(directory)
    if name is not None:
        target = directory / name
        if not (target / META_FILE).is_file():
            raise CheckpointError(f"checkpoint pointer {directory / LATEST_FILE} names {name}, but "
                                  f"{target / META_FILE} does not exist (the checkpoint was deleted?)")
        return target
    complete = [p for _, _, p in _epoch_dirs(directory) if (p / META_FILE).is_file()]
    return complete[-1] if complete else None


def find_checkpoint(path) -> Path:
    """Resolve what a user points at: a checkpoint folder, a ``checkpoints`` folder, a run's ``--out``
    folder (holding ``checkpoints/``), or a file inside a checkpoint folder. Raises CheckpointError."""
    path = Path(path)
    if path.is_file() and path.name in (META_FILE, MODEL_FILE, OPTIMIZER_FILE):
        path = path.parent
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: no such file or directory")
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path}: expected a checkpoint folder (holding {META_FILE}), a run's "
                              "output folder, or its checkpoints/ folder")
    if (path / META_FILE).is_file():
        return path
    for candidate in (path, path / "checkpoints"):
        if candidate.is_dir():
            found = latest_checkpoint(candidate)
            if found is not None:
                return found
    if _EPOCH_DIR.match(path.name):
        raise CheckpointError(f"checkpoint {path}: {META_FILE} is missing (incomplete checkpoint)")
    raise CheckpointError(f"checkpoint {path}: no checkpoint found (expected {META_FILE}, a '{LATEST_FILE}' "
                          "pointer, or a checkpoints/ folder)")


# ---------------------------------------------------------------------------- loading
@dataclass
class Checkpoint:
    """What :func:`read_checkpoint` found: host NumPy arrays and plain JSON data."""

    path: Path
    epoch: int
    config: dict
    model_state: dict  # key -> np.ndarray
    optimizer_state: dict | None  # an optimizer state_dict (arrays as NumPy), or None
    optimizer_type: str | None
    rng_state: dict | None
    loader_state: dict | None
    metrics: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _read_verified(folder: Path, name: str, files: dict) -> bytes:
    path = folder / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing") from None
    except OSError as exc:
        raise CheckpointError(f"checkpoint file {path} is unreadable ({exc})") from None
    info = files.get(name)
    if not isinstance(info, dict) or "sha256" not in info or "bytes" not in info:
        raise CheckpointError(f"checkpoint {folder / META_FILE}: no size and checksum recorded for {name}")
    if len(data) != info["bytes"]:
        raise CheckpointError(f"checkpoint file {path} is truncated or corrupt: {len(data)} bytes, "
                              f"expected {info['bytes']}")
    if _sha256(data) != info["sha256"]:
        raise CheckpointError(f"checkpoint file {path} is corrupt: its sha256 differs from the one recorded in "
                              f"{META_FILE}")
    return data


def _parse_safetensors(data: bytes, path: Path) -> dict:
    try:
        return dict(safetensors.numpy.load(data))
    except (safetensors.SafetensorError, ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint file {path} is not a readable safetensors file ({exc})") from None


def read_checkpoint(path) -> Checkpoint:
    """Read and verify a checkpoint (see :func:`find_checkpoint` for what ``path`` may be)."""
    folder = find_checkpoint(path)
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {meta_path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint file {meta_path} is corrupt: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint file {meta_path} is corrupt: expected a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint file {meta_path}: format {meta.get('format')!r} is not {FORMAT!r}")
    for key, kind in (("epoch", int), ("config", dict), ("files", dict), ("model", dict)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise CheckpointError(f"checkpoint file {meta_path} is corrupt: field {key!r} missing or not "
                                  f"a{'n' if kind is int else ''} {kind.__name__}")
    files = meta["files"]
    weights = _parse_safetensors(_read_verified(folder, MODEL_FILE, files), folder / MODEL_FILE)
    opt_arrays = _parse_safetensors(_read_verified(folder, OPTIMIZER_FILE, files), folder / OPTIMIZER_FILE)
    recorded = meta["model"].get("tensors", {})
    if set(recorded) != set(weights) or any(list(weights[k].shape) != recorded[k]["shape"] for k in weights):
        raise CheckpointError(f"checkpoint {folder}: {MODEL_FILE} does not hold the tensors listed in {META_FILE}")
    weights = {k: weights[k] for k in recorded}  # the state_dict's own order (safetensors sorts its keys)
    opt_meta = meta.get("optimizer")
    optimizer_state = None
    if opt_meta is not None:
        optimizer_state = _join_optimizer_state(opt_arrays, opt_meta, str(meta_path))
    return Checkpoint(
        path=folder,
        epoch=meta["epoch"],
        config=meta["config"],
        model_state=weights,
        optimizer_state=optimizer_state,
        optimizer_type=None if opt_meta is None else opt_meta.get("type"),
        rng_state=meta.get("rng_state"),
        loader_state=meta.get("loader_state"),
        metrics=meta.get("metrics") or [],
        extra=meta.get("extra") or {},
    )


def _check_model_fits(ckpt: Checkpoint, model) -> None:
    own = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    saved = {k: tuple(a.shape) for k, a in ckpt.model_state.items()}
    problems = []
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if missing:
        problems.append(f"missing tensors {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
    wrong = [f"{k} is {saved[k]} in the file, {own[k]} in the model" for k in own if k in saved and saved[k] != own[k]]
    if wrong:
        problems.append("wrong shapes: " + "; ".join(wrong[:6]) + (" ..." if len(wrong) > 6 else ""))
    if problems:
        net = ckpt.config.get("net")
        raise CheckpointError(f"checkpoint file {ckpt.path / MODEL_FILE}"
                              f"{f' (net {net!r})' if net else ''} does not fit this {type(model).__name__}: "
                              + "; ".join(problems))


def load_checkpoint(path, model=None, optimizer=None, *, net: str | None = None,
                    restore_rng: bool = False) -> Checkpoint:
    """Read a checkpoint and load it into ``model`` / ``optimizer`` (either may be None).

    ``path``: anything :func:`find_checkpoint` accepts, or a :class:`Checkpoint` already read.
    ``net``: the expected net name; a checkpoint of another net is refused before anything is
    loaded. ``restore_rng``: also set the engine's generator to the saved state. Every mismatch
    (net, keys, shapes, optimizer type or parameter count) raises :class:`CheckpointError`.
    """
    ckpt = path if isinstance(path, Checkpoint) else read_checkpoint(path)
    saved_net = ckpt.config.get("net")
    if net is not None and saved_net is not None and saved_net != net:
        raise CheckpointError(f"checkpoint {ckpt.path} holds net {saved_net!r}, not {net!r}")
    if model is not None:
        _check_model_fits(ckpt, model)
    if optimizer is not None:
        if ckpt.optimizer_state is None:
            raise CheckpointError(f"checkpoint {ckpt.path} holds no optimizer state")
        if ckpt.optimizer_type != type(optimizer).__name__:
            raise CheckpointError(f"checkpoint {ckpt.path} holds {ckpt.optimizer_type} state, "
                                  f"the optimizer is {type(optimizer).__name__}")
    if model is not None:
        model.load_state_dict(ckpt.model_state)
    if optimizer is not None:
        try:
            optimizer.load_state_dict(ckpt.optimizer_state)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {ckpt.path / META_FILE}: the optimizer state does not fit ({exc})") \
                from None
    if restore_rng:
        if ckpt.rng_state is None:
            raise CheckpointError(f"checkpoint {ckpt.path / META_FILE} holds no RNG state")
        try:
            backend.set_rng_state(ckpt.rng_state)
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"checkpoint {ckpt.path / META_FILE}: bad RNG state ({exc})") from None
    return ckpt
