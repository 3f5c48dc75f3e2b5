"""Padding: ``pad``, as ``torch.nn.functional.pad``, with its four modes and negative widths (cropping).

``pad = (left, right, top, bottom, front, back)`` lists the widths from the last axis backwards, as
in PyTorch: the first pair pads the last axis, the next pair the one before, and so on. A negative
width removes that many entries from that side. Along one padded axis of length n, with widths
(lo, hi), output entry j (0 <= j < n + lo + hi) comes from input entry t = j − lo when 0 <= t < n;
outside, the mode decides:

* ``"constant"``: the number ``value`` (any number of axes, any input);
* ``"replicate"``: the nearest edge entry, ``clip(t, 0, n − 1)``;
* ``"reflect"``: the mirror image about the edge entry (the edge not repeated), ``−t`` or
  ``2(n − 1) − t``; each width must be smaller than n;
* ``"circular"``: PyTorch crops first, then wraps around what is left (length m): entry
  ``(j − max(lo, 0)) mod m`` of the cropped axis; a width may not exceed m.

The last three pad 1, 2 or 3 trailing axes of an input with one or two more axes (a batch and
channels, or channels only), as PyTorch.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import xp_of
from ._util import check_tensor

MODES = ("constant", "reflect", "replicate", "circular")


class PadFn(Function):
    """out = a with borders added (or removed) along each axis, ``widths[d] = (lo, hi)``.

    Constant mode: out is the cropped a placed inside a border of ``value``; the border is a
    constant, so da is g's interior, put back where the crop took it from (zeros where cropped).
    Other modes: every output entry copies one input entry, separately along each axis (``_source``
    gives that entry along one axis), so out = a taken along each axis in turn, and da is the
    adjoint of those copies: along each axis, every output entry's gradient is added to the entry
    it came from (an edge entry copied k times receives the sum of k gradients).
    """

    @staticmethod
    def forward(ctx, a, *, widths, mode, value):
        xp = xp_of(a)
        ctx.a_shape, ctx.widths, ctx.mode = a.shape, widths, mode
        if mode == "constant":
            keep = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, a.shape))
            if all(lo <= 0 and hi <= 0 for lo, hi in widths):  # only cropping: a copy in a's layout, as PyTorch
                return a[keep].copy(order="K")
            out = xp.full(tuple(n + lo + hi for (lo, hi), n in zip(widths, a.shape)), value, dtype=a.dtype)
            out[tuple(slice(max(lo, 0), max(lo, 0) + s.stop - s.start) for (lo, _), s in zip(widths, keep))] = a[keep]
            return out  # C-contiguous, as PyTorch's
        out = a
        for axis, ((lo, hi), n) in enumerate(zip(widths, a.shape)):
            if (lo, hi) != (0, 0):
                out = xp.take(out, xp.asarray(_source(n, lo, hi, mode)), axis=axis)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        if ctx.mode == "constant":
            da = xp.zeros(ctx.a_shape, dtype=g.dtype)
            keep = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(ctx.widths, ctx.a_shape))
            inner = tuple(slice(max(lo, 0), max(lo, 0) + s.stop - s.start) for (lo, _), s in zip(ctx.widths, keep))
            da[keep] = g[inner]
            return (da,)
        for axis, ((lo, hi), n) in enumerate(zip(ctx.widths, ctx.a_shape)):
            if (lo, hi) != (0, 0):  # along this axis: add each entry's gradient to its source entry
                summed = xp.zeros((*g.shape[:axis], n, *g.shape[axis + 1 :]), dtype=g.dtype)
                xp.add.at(summed, (slice(None),) * axis + (xp.asarray(_source(n, lo, hi, ctx.mode)),), g)
                g = summed
        return (g,)


def _source(n, lo, hi, mode):
    """The input entry each of the n + lo + hi output entries copies, along one axis (module doc)."""
    t = np.arange(n + lo + hi) - lo  # the entry at the same place of the unpadded axis
    if mode == "replicate":
        return np.clip(t, 0, n - 1)
    if mode == "reflect":
        return np.where(t < 0, -t, np.where(t > n - 1, 2 * (n - 1) - t, t))
    start, kept = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)  # circular: crop, then wrap
    return start + (np.arange(n + lo + hi) - max(lo, 0)) % kept


def _widths(op, input, pad):
    """PyTorch's flat ``pad`` -> one ``(lo, hi)`` pair per axis of ``input``."""
    if not isinstance(pad, (tuple, list)) or not all(
        isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad
    ):
        raise TypeError(f"{op}: expected pad to be a tuple of ints, got {pad!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"{op}: expected an even number of widths for at most {input.ndim} axes, got {tuple(pad)}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return widths


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative widths, crop) the last ``len(pad) // 2`` axes, as ``torch.nn.functional.pad``.

    Args:
        input: any tensor for ``"constant"``; for the other modes a tensor with 1 or 2 more axes than
            the padded ones (at most 3 padded axes); for ``"reflect"`` and ``"replicate"`` not bool and
            non-empty except for its first axis, as PyTorch.
        pad: ``(left, right, top, bottom, ...)``, ints, from the last axis backwards; negative crops.
        mode: ``"constant"``, ``"reflect"``, ``"replicate"`` or ``"circular"`` (module doc).
        value: the constant of ``"constant"`` mode (default 0); the other modes take none.

    >>> import numpy as np
    >>> from minitorch_cnn.tensor import Tensor
    >>> x = Tensor(np.arange(4.0).reshape(1, 1, 4))
    >>> [pad(x, (2, -1), mode=m).numpy()[0, 0].tolist() for m in ("constant", "reflect", "replicate", "circular")]
    [[0.0, 0.0, 0.0, 1.0, 2.0], [2.0, 1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 1.0, 2.0], [1.0, 2.0, 0.0, 1.0, 2.0]]
    """
    op = "pad"
    check_tensor(op, input)
    widths = _widths(op, input, pad)
    if mode not in MODES:
        raise ValueError(f"{op}: expected mode to be one of {MODES}, got {mode!r}")
    sizes = [n + lo + hi for n, (lo, hi) in zip(input.shape, widths)]
    if mode == "constant":
        if any(max(-lo, 0) + max(-hi, 0) > n for n, (lo, hi) in zip(input.shape, widths)):  # cropped first
            raise ValueError(f"{op}: the widths {tuple(pad)} crop more than the input's shape {tuple(input.shape)} holds")
        return PadFn.apply(input, widths=tuple(widths), mode=mode, value=0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"{op}: mode {mode!r} takes no value, got value={value!r}")
    k = len(pad) // 2
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise ValueError(f"{op}: mode {mode!r} pads 1 to 3 trailing axes of an input with 1 or 2 more axes, "
                         f"got {k} padded axes of an input of shape {tuple(input.shape)}")
    if mode != "circular" and input.dtype == np.bool_:
        raise TypeError(f"{op}: mode {mode!r} is not implemented for bool tensors (as in PyTorch), got dtype bool")
    if mode != "circular" and min(input.shape[-k - 1 :]) < 1:  # all but the batch axis; circular takes empty axes
        raise ValueError(f"{op}: mode {mode!r} needs non-empty axes (but the batch), got input shape {tuple(input.shape)}")
    if mode == "circular" and 0 in sizes[-k:] and all(n + lo + hi >= 0 and max(lo, hi) <= n
                                                     for n, (lo, hi) in zip(input.shape[-k:], widths[-k:])):
        return input.flatten()[:0].reshape(sizes)  # an empty result reads nothing (PyTorch's: no error, no gradient)
    for n, (lo, hi) in zip(input.shape[-k:], widths[-k:]):
        kept = n - max(-lo, 0) - max(-hi, 0)
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"{op}: reflect widths must be smaller than the axis they pad, got {(lo, hi)} for size {n}")
        if (mode == "circular" and kept < 0) or n + lo + hi < 0:
            raise ValueError(f"{op}: widths {(lo, hi)} crop more than an axis of size {n} holds (mode {mode!r})")
        if mode == "circular" and max(lo, hi) > kept:
            raise ValueError(f"{op}: circular widths {(lo, hi)} wrap more than once around the {kept} entries kept "
                             f"of an axis of size {n}")
    if mode != "circular" and max(sizes[-k:]) < 1:  # PyTorch's reflect/replicate: one padded axis stays
        raise ValueError(f"{op}: widths {tuple(pad)} leave none of the padded axes of input shape {tuple(input.shape)}")
    return PadFn.apply(input, widths=tuple(widths), mode=mode, value=0)


__all__ = ["PadFn", "pad"]
