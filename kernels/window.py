"""``Window``: where the windows of a sliding-window op (convolution, pooling) sit.

A window has ``kernel`` (kh, kw) taps, spaced ``dilation`` apart; windows start ``stride`` apart on
the input padded with ``padding`` rows/columns on each side; there are ``out`` (Ho, Wo) of them.
Every field is an (along H, along W) pair. Tap (i, j) of window (oh, ow) reads the padded input at

    row  oh·stride[0] + i·dilation[0],   column  ow·stride[1] + j·dilation[1]

``Window.fit`` computes ``out`` from the input size with ``conv_out_size``: the output-size rule is
written there and nowhere else. ``tap_index`` is the row/column rule above on the unpadded input,
and ``tap_range`` the windows whose tap stays inside it: the loops of ``im2col.py``,
``pooling.py`` and ``depthwise.py`` call these two rather than writing the arithmetic again. The numba loops and CUDA kernels take the same numbers as plain
ints (``Window.ints``), named ``kh, kw, sh, sw, ph, pw, dil_h, dil_w``.
"""

from __future__ import annotations

from typing import NamedTuple

import numba


def conv_out_size(size: int, k: int, s: int = 1, p: int = 0, d: int = 1, ceil_mode: bool = False) -> int:
    """Number of windows along one axis.

    ``out = floor((size + 2p - d·(k-1) - 1) / s) + 1`` (ceil instead of floor with ``ceil_mode``).

    Args:
        size: input length (H or W).
        k: kernel length (kh or kw); the window spans ``d·(k-1) + 1`` input positions.
        s: stride, the step between two windows.
        p: zero padding added on *both* sides.
        d: dilation, the step between two taps of one window.
        ceil_mode: round up, so a last partial window is kept (pooling's ``ceil_mode``); as in
            PyTorch, a window that would start inside the right padding is dropped.

    Returns the number of windows; it can be 0 or negative when the window does not fit, which the
    callers turn into an error naming the op.

    >>> conv_out_size(5, 3), conv_out_size(5, 3, p=1), conv_out_size(5, 2, s=2), conv_out_size(5, 2, s=2, ceil_mode=True)
    (3, 5, 2, 3)
    """
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + p:  # the last window would start in the right padding
        out -= 1
    return out


class Window(NamedTuple):
    """The geometry of the windows over an (H, W) input; every field is an (h, w) pair.

    >>> w = Window.fit((3, 3), kernel=(2, 2))
    >>> w.out, w.ints
    ((2, 2), (2, 2, 1, 1, 0, 0, 1, 1))
    """

    kernel: tuple[int, int]  # (kh, kw) taps per window
    stride: tuple[int, int]  # (sh, sw) between two windows
    padding: tuple[int, int]  # (ph, pw) rows/columns added on each side
    dilation: tuple[int, int]  # between two taps of one window
    out: tuple[int, int]  # (Ho, Wo) windows

    @classmethod
    def fit(cls, in_size, kernel, stride=(1, 1), padding=(0, 0), dilation=(1, 1), ceil_mode=False) -> Window:
        """The window over an input of ``in_size`` (H, W), with ``out`` from ``conv_out_size``."""
        out = tuple(conv_out_size(in_size[a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode) for a in (0, 1))
        return cls(tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), out)

    @property
    def ints(self) -> tuple[int, int, int, int, int, int, int, int]:
        """``(kh, kw, sh, sw, ph, pw, dil_h, dil_w)``, the plain ints the compiled loops take."""
        return (*self.kernel, *self.stride, *self.padding, *self.dilation)

    def tiles(self, in_size) -> bool:
        """The windows tile an input of ``in_size`` (H, W) exactly: stride = kernel, no padding, no
        dilation, Ho·kh = H and Wo·kw = W. Sum pooling adds such windows by rows (kernels/pooling.py)."""
        (kh, kw), (Ho, Wo), (H, W) = self.kernel, self.out, tuple(in_size)
        return (self.stride == self.kernel and self.padding == (0, 0) and self.dilation == (1, 1)
                and Ho * kh == H and Wo * kw == W)

    @property
    def is_pointwise(self) -> bool:
        """A 1×1 kernel at stride 1 without padding: each window is one pixel."""
        return self.kernel == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0)


def _tap_index(o, s, p, k, d):
    """The input row (or column) that tap ``k`` of window ``o`` reads: ``o·s − p + k·d``, counted on
    the unpadded input (below 0 or from the input size on, the tap reads the padding).

    >>> tap_index(2, 2, 1, 1, 1)   # window 2 at stride 2, padding 1: its second tap reads row 4
    4
    """
    return o * s - p + k * d


def _tap_range(k, d, s, p, size, out):
    """``(lo, hi)``: the windows ``o`` in ``[lo, hi)`` whose tap ``k`` reads inside the input,
    ``0 <= tap_index(o, s, p, k, d) < size`` (and ``0 <= o < out``).

    >>> tap_range(0, 1, 1, 1, 5, 5)   # 3-tap windows, padding 1: tap 0 of window 0 reads the padding
    (1, 5)
    """
    lo = max(0, -((k * d - p) // s))  # ceil((p − k·d) / s)
    hi = min(out, -((k * d - p - size) // s))  # ceil((size + p − k·d) / s)
    return lo, hi


# Compiled so that the numba loops can call them: numba inlines them into each loop (its IR, before
# LLVM), so the loops compile as if the arithmetic were written in place. Under NUMBA_DISABLE_JIT=1
# they are the plain functions. numba's cache of a loop does not notice a change to these two
# (it watches the loop's own file): clear the cache (kernels/_jit.py's cache_dir) after editing them.
tap_index = numba.njit(inline="always", cache=False)(_tap_index)
tap_range = numba.njit(inline="always", cache=False)(_tap_range)
