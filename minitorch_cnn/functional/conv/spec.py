"""``ConvSpec``: one ``conv2d`` call described once, the single argument every conv algorithm takes.

A spec holds the shapes, the window (kernel, stride, padding on each side, dilation, output size:
``kernels/window.py``), the groups, and the memory the fast algorithms may use for this call
(``policy.py`` fills it in from its settings, so that no algorithm reads a setting itself). Every
conv op, the reference one and the fast ones, is called the same way::

    SomeConv2dFn.apply(input, weight, bias, spec=spec)

and every fast algorithm answers the same two questions of a spec: ``applies(spec)`` (can it
compute this layer) and ``pays(spec)`` (was it measured faster than the column matrix here).
"""

from __future__ import annotations

from typing import NamedTuple

from minitorch_cnn.kernels.window import Window


class ConvSpec(NamedTuple):
    """One convolution: x (N, C, H, W) by weight (O, C/groups, kh, kw), padded symmetrically.

    >>> spec = ConvSpec.of((2, 3, 8, 8), (4, 3, 3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
    ...                    groups=1, itemsize=4, numba=True)
    >>> spec.window.out, spec.image_cols_bytes, spec.is_depthwise
    ((8, 8), 6912, False)
    """

    input_shape: tuple  # (N, C, H, W)
    weight_shape: tuple  # (O, Cg, kh, kw)
    window: Window  # kernel, stride, padding (ph, pw) on each side, dilation, out (Ho, Wo)
    groups: int
    itemsize: int  # bytes per number: 4 for float32, 8 for float64
    numba: bool  # the arrays take the numba kernels (NumPy arrays, kernel path "numba")
    chunk_bytes: int = 2**62  # most bytes of per-image work arrays (columns, tiles) built at once
    memory_budget: int = 2**62  # the user's cap on those work arrays (policy.set_conv_memory_budget)
    keep_cols_bytes: int = 0  # largest column matrix kept from forward for the weight gradient
    keep_tiles_bytes: int = 0  # largest Winograd input transform kept from forward

    @classmethod
    def of(cls, input_shape, weight_shape, *, stride, padding, dilation, groups, itemsize, numba, **budgets):
        window = Window.fit(input_shape[2:], weight_shape[2:], stride, padding, dilation)
        return cls(tuple(input_shape), tuple(weight_shape), window, groups, itemsize, numba, **budgets)

    @property
    def is_depthwise(self) -> bool:
        """One input and one output channel per group: groups = C = O > 1."""
        return self.groups == self.input_shape[1] == self.weight_shape[0] > 1

    @property
    def is_plain(self) -> bool:
        """Stride 1, dilation 1, no groups: the layers the direct, batch-last and Winograd loops compute."""
        return self.window.stride == (1, 1) and self.window.dilation == (1, 1) and self.groups == 1

    @property
    def image_cols_bytes(self) -> int:
        """Bytes of one image's column matrix: C·kh·kw rows by Ho·Wo windows."""
        (kh, kw), (Ho, Wo) = self.window.kernel, self.window.out
        return self.input_shape[1] * kh * kw * Ho * Wo * self.itemsize

    def batch_chunks(self, bytes_per_image: int) -> list:
        """Slices of the batch whose per-image work arrays, ``bytes_per_image`` each, fit ``chunk_bytes``
        together; at least one image per chunk."""
        N, step = self.input_shape[0], max(1, self.chunk_bytes // max(1, bytes_per_image))
        return [slice(start, min(N, start + step)) for start in range(0, N, step)]
