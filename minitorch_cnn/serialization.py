"""``mt.save`` / ``mt.load``: tensors, and lists, tuples and dicts of them (a ``state_dict``), in one file.

As ``torch.save(obj, path)`` / ``torch.load(path)`` in the book's file I/O section, without pickle:
the file is safetensors (loading never runs code), one array per tensor or NumPy array, and the
nesting in the file's JSON metadata: lists, tuples, dicts (``OrderedDict`` kept apart from ``dict``,
as ``torch.load`` gives back each), ``collections.Counter``, and among them plain numbers, strings,
booleans, None, NumPy scalars, shapes (a ``Size`` comes back as a ``Size``) and dtypes (``mt.float32``
comes back as the same object). Dict keys may be strings, ints, floats, booleans or None; JSON keeps
each key's type (``{0: ...}`` comes back with the int 0), so an optimizer's ``state_dict()``
round-trips. ``load`` returns tensors on the CPU (or ``map_location``) with their dtypes, and NumPy
arrays as NumPy arrays.
"""

from __future__ import annotations

import json
import os
from collections import Counter, OrderedDict

import numpy as np

from . import backend
from .dtypes import dtype, to_dtype
from .tensor import Size, Tensor

__all__ = ["load", "save"]
_KEY = "minitorch_cnn.structure"
_DICTS = {"dict": dict, "odict": OrderedDict, "counter": Counter}
_KEY_TYPES = (str, int, float, bool, type(None))


def _store(array, arrays: dict) -> str:
    name = str(len(arrays))
    arrays[name] = array
    return name


def _encode(obj, arrays: dict):
    if type(obj).__name__ in ("UninitializedParameter", "UninitializedBuffer"):  # nn's lazy placeholders
        raise TypeError("save: cannot store an uninitialized parameter of a lazy layer; run a forward pass first")
    if isinstance(obj, Tensor):
        return {"tensor": _store(backend.to_numpy(obj.array), arrays)}
    if isinstance(obj, np.ndarray):
        return {"array": _store(obj, arrays)}
    if isinstance(obj, np.generic):
        return {"scalar": _store(np.asarray(obj), arrays)}
    if isinstance(obj, Size):  # before tuple: a Size comes back as a Size
        return {"size": list(obj)}
    if isinstance(obj, dtype):
        return {"dtype": obj.name}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        kind = "counter" if isinstance(obj, Counter) else "odict" if isinstance(obj, OrderedDict) else "dict"
        bad = [k for k in obj if not isinstance(k, _KEY_TYPES)]
        if bad:
            raise TypeError(f"save: dict keys must be strings, numbers, booleans or None, got {type(bad[0]).__name__} "
                            f"key {bad[0]!r}")
        return {kind: [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__}; expected tensors, NumPy arrays, lists, tuples, "
                    "dicts of them, numbers, strings, None, Size or dtypes")


def _decode(node, arrays, device):
    if "tensor" in node:
        return Tensor(backend.to_device(arrays[node["tensor"]].copy(), device))
    if "array" in node:
        return arrays[node["array"]].copy()
    if "scalar" in node:
        return arrays[node["scalar"]][()]
    if "size" in node:
        return Size(node["size"])
    if "dtype" in node:
        return to_dtype(node["dtype"])
    if "list" in node:
        return [_decode(v, arrays, device) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays, device) for v in node["tuple"])
    for kind, cls in _DICTS.items():
        if kind in node:
            return cls({k: _decode(v, arrays, device) for k, v in node[kind]})  # Counter counts a list of pairs
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
