"""Winograd's minimal filtering: 3×3, stride-1, ungrouped convolutions with fewer multiplications.

F(m×m, 3×3) computes an m×m tile of outputs from an (m+2)×(m+2) tile of inputs with (m+2)²
multiplications per channel pair instead of 9m²: 2.25× fewer for F(2×2), 4× fewer for F(4×4). The
math, both transforms and their adjoints, is in ``kernels/winograd.py``; a 4×4 tile worked through
with every number is in ``docs/winograd.md``. Not in the ``"default"`` setting (``policy.py`` says
why); ``"auto"`` takes it where it pays, ``"winograd"`` wherever it applies.

A deliberate difference from PyTorch: infinities and NaN. The transforms add and subtract the
values of a whole tile (V = Bᵀ d B mixes every input of a tile, Y = Aᵀ M A every product), so one
inf or NaN in the input, the weight or the upstream gradient spreads to the outputs and gradients
of its whole tile, and inf − inf makes NaN where PyTorch has ±inf. With finite numbers the results
are PyTorch's to round-off. That is one more reason why ``"default"`` never picks Winograd
(``policy.NOT_IN_DEFAULT``); every other algorithm gives PyTorch's inf and NaN positions.
"""

from __future__ import annotations

from minitorch_cnn.kernels.winograd import (
    tile_counts,
    winograd_input_tiles,
    winograd_tiles_backward,
    winograd_tiles_forward,
    winograd_weight_grad,
    winograd_weight_tiles,
)

from ....autograd import Function
from ....backend import xp_of
from ._chunks import for_each_chunk

NAME = "winograd"


def applies(spec) -> bool:
    """A 3×3 kernel, stride 1, dilation 1, no groups, on any kernel path."""
    return spec.window.kernel == (3, 3) and spec.is_plain


def f4_pays(spec) -> bool:
    """F(4×4, 3×3) was measured fastest from 8×8 outputs and 8 channels (``python -m benchmarks.winograd``)."""
    (_, C, _, _), O, (Ho, Wo) = spec.input_shape, spec.weight_shape[0], spec.window.out
    return C >= 8 and O >= 8 and min(Ho, Wo) >= 8


def f2_pays(spec) -> bool:
    """F(2×2, 3×3) was measured fastest on 6×6 and 7×7 outputs from 128 input channels, where most of
    F(4×4)'s 8×8 tiles would be ragged; on 3×3 outputs the column matrix wins or ties."""
    C, (Ho, Wo) = spec.input_shape[1], spec.window.out
    return C >= 128 and 6 <= min(Ho, Wo) < 8


def pays(spec) -> bool:
    """Where F(4×4) or F(2×2) was measured faster than the column matrix."""
    return f4_pays(spec) or f2_pays(spec)


def output_tile(spec) -> int:
    """The tile size m of this layer: F(2×2) where it pays and F(4×4) does not, else F(4×4)."""
    return 2 if f2_pays(spec) and not f4_pays(spec) else 4


class WinogradConv2dFn(Function):
    """Y = conv2d(X, W) + b for 3×3 kernels, stride 1, by Winograd's F(m×m, 3×3) (see kernels/winograd.py).

        U = G w Gᵀ,  V = Bᵀ d B,  M[ξ, ν] = U[ξ, ν] @ V[ξ, ν],  Y = Aᵀ M A (+ b)

    Backward, through the transposes of the same transforms (dY is dL/dY)::

        dM = A dY Aᵀ
        dw = Gᵀ (dM @ Vᵀ) G          summed over every tile of every image
        dX = B (Uᵀ @ dM) Bᵀ          tiles added back where they were cut
        db = Σ over N, Ho, Wo of dY

    In chunks of images whose tiles fit ``spec.chunk_bytes``, as the column matrix's; each chunk
    writes its rows of Y and dX in place. U is transformed once per call, and ``Gᵀ (…) G`` once, on
    the chunks' sum of ``dM @ Vᵀ`` (added in chunk order). V is kept from forward when all of it
    fits ``spec.keep_tiles_bytes``, else it is built again per chunk in backward.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, spec):
        need_x, need_w, _ = ctx.needs_input_grad
        window, m = spec.window, output_tile(spec)
        per_image = _image_tiles_bytes(spec, m, max(x.shape[1], weight.shape[0]))  # V, and M or dM
        chunks = spec.batch_chunks(per_image)
        y = xp_of(x).empty((x.shape[0], weight.shape[0], *window.out), dtype=x.dtype)
        U = winograd_weight_tiles(weight, m)  # G w Gᵀ: (α, α, O, C)
        keep_V = need_w and x.shape[0] * _image_tiles_bytes(spec, m, x.shape[1]) <= spec.keep_tiles_bytes

        def forward_chunk(rows):
            V = winograd_tiles_forward(x[rows], U, _sides(window), m, y[rows])
            return V if keep_V else None

        Vs = for_each_chunk(forward_chunk, chunks, x)
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(U if need_x else None, x if need_w and not keep_V else None, Vs if keep_V else None)
        ctx.x_shape, ctx.spec, ctx.m, ctx.chunks = x.shape, spec, m, chunks
        return y

    @staticmethod
    def backward(ctx, grad):
        U, x, Vs = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        window, m = ctx.spec.window, ctx.m
        dx = xp_of(grad).empty(ctx.x_shape, dtype=grad.dtype) if need_x else None

        def backward_chunk(k, rows):
            V = None
            if need_w:
                V = Vs[k] if Vs is not None else winograd_input_tiles(x[rows], _sides(window), m)
            return winograd_tiles_backward(grad[rows], U, V, _sides(window), m, dx[rows] if need_x else None)

        dU = None
        for dU_chunk in for_each_chunk(lambda k_rows: backward_chunk(*k_rows), list(enumerate(ctx.chunks)), grad):
            if need_w:  # in chunk order
                dU = dU_chunk if dU is None else dU + dU_chunk
        dw = winograd_weight_grad(dU, m) if need_w else None
        db = grad.sum(axis=(0, 2, 3)) if need_b else None
        return dx, dw, db


FUNCTION = WinogradConv2dFn


def _sides(window):
    """The padding as the kernels take it: (top, bottom, left, right)."""
    (ph, pw) = window.padding
    return (ph, ph, pw, pw)


def _image_tiles_bytes(spec, m, channels):
    """Bytes of one image's transformed tiles with ``channels`` channels: α²·channels·T values."""
    T_h, T_w = tile_counts(*spec.window.out, m)
    return (m + 2) ** 2 * channels * T_h * T_w * spec.itemsize


__all__ = ["FUNCTION", "NAME", "WinogradConv2dFn", "applies", "f2_pays", "f4_pays", "output_tile", "pays"]
