"""``mt.save`` / ``mt.load``: tensors, lists, tuples and dicts of them (a ``state_dict``) in one file.

As ``torch.save(obj, path)`` / ``torch.load(path)`` in the book's file I/O section, without pickle:
the file is safetensors (loading never runs code), one array per tensor, and the nesting (lists,
tuples, dicts with string keys, and plain numbers, strings, booleans or None among them) in the
file's JSON metadata. ``load`` returns tensors on the CPU (or ``map_location``) with their dtypes.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict

from . import backend
from .tensor import Tensor

__all__ = ["load", "save"]
_KEY = "minitorch_cnn.structure"


def _encode(obj, arrays: dict):
    if isinstance(obj, Tensor):
        name = str(len(arrays))
        arrays[name] = backend.to_numpy(obj.array)
        return {"tensor": name}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("save: dict keys must be strings")
        return {"dict": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__}; expected tensors, lists, tuples, dicts of "
                    "them, numbers, strings or None")


def _decode(node, arrays, device):
    if "tensor" in node:
        return Tensor(backend.to_device(arrays[node["tensor"]].copy(), device))
    if "list" in node:
        return [_decode(v, arrays, device) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays, device) for v in node["tuple"])
    if "dict" in node:
        return OrderedDict((k, _decode(v, arrays, device)) for k, v in node["dict"])
    return node["value"]


def save(obj, f) -> None:
    """Write ``obj`` (a tensor, or lists/tuples/dicts of tensors, e.g. ``net.state_dict()``) to the path ``f``."""
    from safetensors.numpy import save_file

    arrays: dict = {}
    structure = _encode(obj, arrays)
    save_file({k: a if a.flags.c_contiguous else a.copy() for k, a in arrays.items()}, os.fspath(f),
              metadata={_KEY: json.dumps(structure)})


def load(f, map_location=None, weights_only=True):
    """Read what :func:`save` wrote: the same nesting, tensors on the CPU (or ``map_location``)."""
    from safetensors import SafetensorError, safe_open

    path = os.fspath(f)
    try:
        with safe_open(path, "np") as handle:
            metadata = handle.metadata() or {}
            arrays = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"load: {path} is not a file written by minitorch_cnn.save ({exc})") from None
    if _KEY not in metadata:
        raise ValueError(f"load: {path} has no {_KEY!r} metadata; it was not written by minitorch_cnn.save")
    return _decode(json.loads(metadata[_KEY]), arrays, str(map_location or "cpu"))
