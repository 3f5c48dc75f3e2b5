"""Winograd convolution: the same op as ``conv2d`` for 3×3, stride-1, dilation-1, ungrouped kernels.

``conv2d`` sends such layers here when the algorithm setting allows it (``backend.conv_algorithm``):
``"auto"`` with F(4×4, 3×3) or F(2×2, 3×3) where that was measured faster (``winograd_pays``),
``"winograd"`` always where it applies (F(4×4)), the others never (``winograd_tile``). The math, both transforms and their adjoints, is in
``kernels/winograd.py``; a 4×4 tile worked through with every number is in
``docs/winograd.md``. The im2col ``Conv2d`` stays the reference: the tests hold this op equal to
it in float64 to round-off.
"""

from __future__ import annotations

from minitorch_cnn.kernels.winograd import (
    winograd_input_tiles,
    winograd_tiles_backward,
    winograd_tiles_forward,
    winograd_weight_grad,
    winograd_weight_tiles,
)

from .._chunks import for_each_chunk
from ..autograd import Function
from ..backend import batch_chunks, keep_tiles_bytes, xp_of


def winograd_applies(weight_shape, stride, dilation, groups) -> bool:
    """True for a 3×3 kernel, stride 1, dilation 1, no groups: the layers this op computes."""
    return tuple(weight_shape[2:]) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1


def winograd_pays(input_shape, weight_shape, padding=(1, 1, 1, 1), m: int = 4) -> bool:
    """True where F(m×m, 3×3) was measured faster than im2col, and for m = 2 than F(4×4) too.

    The products shrink (2.25× for F(2×2), 4× for F(4×4)); the tile transforms cost passes over
    memory that do not shrink with the channels, and outputs that are not a multiple of m compute
    a ragged last tile in full. Read off ``python -m benchmarks.winograd`` (the nets' 3×3 layers,
    benchmarks/RESULTS.md), at 1 and at 2 threads: F(4×4) is the fastest from 8×8 outputs on, from
    8 channels (1.2-2.0× faster than im2col); on 6×6 outputs F(2×2) is, from 128 input channels
    (1.3-1.7×; there F(4×4)'s 8×8 tiles are mostly ragged); on 3×3 outputs im2col wins or ties.
    """
    if m not in (2, 4):
        raise ValueError(f"winograd_pays: expected output tile size m = 2 or 4, got {m!r}")
    (_, C, H, W), O = input_shape, weight_shape[0]
    top, bottom, left, right = padding
    Ho, Wo = H + top + bottom - 2, W + left + right - 2
    if m == 4:
        return C >= 8 and O >= 8 and min(Ho, Wo) >= 8
    return C >= 128 and 6 <= min(Ho, Wo) < 8


def winograd_tile(input_shape, weight_shape, padding, algorithm: str) -> int | None:
    """The output tile m that ``conv2d``'s ``algorithm`` uses on this 3×3 stride-1 layer, or None.

    ``"auto"`` takes F(4×4, 3×3) where it pays, else F(2×2, 3×3) where that pays; ``"winograd"``
    takes F(4×4) everywhere; the others never take Winograd. Per layer, F(2×2)'s float32 error is
    im2col's and F(4×4)'s 10-30× larger, but either one's different rounding is enough to move a
    value across a ReLU's kink that im2col and PyTorch leave on the same side: the d2l library's
    ResNet-18 at batch 2 (tests/test_d2l_library.py) then differs from PyTorch's input gradient by
    2e-4 under F(2×2), against 6e-7 under im2col. So ``"default"`` keeps PyTorch's numbers and
    leaves Winograd out.
    """
    if algorithm == "winograd":
        return 4
    if algorithm != "auto":
        return None
    if winograd_pays(input_shape, weight_shape, padding, m=4):
        return 4
    return 2 if winograd_pays(input_shape, weight_shape, padding, m=2) else None


def output_tile(dtype) -> int:
    """F(4×4, 3×3) where no tile size is asked for: in float64, and in float32 too (its error on the
    nets' layers stays below 1e-4 relative; tests/test_winograd.py)."""
    return 4


class WinogradConv2dFn(Function):
    """Y = conv2d(X, W) + b for 3×3 kernels, stride 1, by Winograd's F(m×m, 3×3) (see kernels/winograd.py).

        U = G w Gᵀ,  V = Bᵀ d B,  M[ξ, ν] = U[ξ, ν] @ V[ξ, ν],  Y = Aᵀ M A (+ b)

    Backward, through the transposes of the same transforms (dY is dL/dY)::

        dM = A dY Aᵀ
        dw = Gᵀ (dM @ Vᵀ) G          summed over every tile of every image
        dX = B (Uᵀ @ dM) Bᵀ          tiles added back where they were cut
        db = Σ over N, Ho, Wo of dY

    In chunks of images whose tiles fit ``backend.conv_chunk_bytes`` (cache-sized on the CPU), as
    im2col's columns; each chunk writes its rows of Y and dX in place. U is transformed once per
    call, and ``Gᵀ (…) G`` once, on the chunks' sum of ``dM @ Vᵀ`` (added in chunk order). V is
    kept from forward when all of it fits ``backend.keep_tiles_bytes``, else it is built again per
    chunk in backward.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, padding, m):
        need_x, need_w, _ = ctx.needs_input_grad
        chunks = _image_chunks(x, weight.shape[0], padding, m)
        y = xp_of(x).empty((x.shape[0], weight.shape[0], *_out_size(x.shape, padding)), dtype=x.dtype)
        U = winograd_weight_tiles(weight, m)  # G w Gᵀ: (α, α, O, C)
        keep_V = need_w and x.shape[0] * _image_tiles_bytes(x, padding, m, x.shape[1]) <= keep_tiles_bytes(x)

        def forward_chunk(rows):
            V = winograd_tiles_forward(x[rows], U, padding, m, y[rows])
            return V if keep_V else None

        Vs = for_each_chunk(forward_chunk, chunks, x)
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(U if need_x else None, x if need_w and not keep_V else None, Vs if keep_V else None)
        ctx.x_shape, ctx.padding, ctx.m, ctx.chunks = x.shape, padding, m, chunks
        return y

    @staticmethod
    def backward(ctx, grad):
        U, x, Vs = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        padding, m = ctx.padding, ctx.m
        dx = xp_of(grad).empty(ctx.x_shape, dtype=grad.dtype) if need_x else None

        def backward_chunk(k, rows):
            V = None
            if need_w:
                V = Vs[k] if Vs is not None else winograd_input_tiles(x[rows], padding, m)
            return winograd_tiles_backward(grad[rows], U, V, padding, m, dx[rows] if need_x else None)

        dU = None
        for dU_chunk in for_each_chunk(lambda k_rows: backward_chunk(*k_rows), list(enumerate(ctx.chunks)), grad):
            if need_w:  # in chunk order
                dU = dU_chunk if dU is None else dU + dU_chunk
        dw = winograd_weight_grad(dU, m) if need_w else None
        db = grad.sum(axis=(0, 2, 3)) if need_b else None
        return dx, dw, db


def _out_size(x_shape, padding):
    top, bottom, left, right = padding
    return x_shape[2] + top + bottom - 2, x_shape[3] + left + right - 2


def _image_tiles_bytes(x, padding, m, channels):
    """Bytes of one image's transformed tiles with ``channels`` channels: α²·channels·T values."""
    Ho, Wo = _out_size(x.shape, padding)
    return (m + 2) ** 2 * channels * -(-Ho // m) * -(-Wo // m) * x.dtype.itemsize


def _image_chunks(x, O, padding, m):
    """Slices of the batch whose transformed tiles (V, and M or dM, α²·max(C, O)·T values per image)
    fit ``backend.conv_chunk_bytes``: at least one image each."""
    return batch_chunks(x, _image_tiles_bytes(x, padding, m, max(x.shape[1], O)))


def winograd_conv2d(input, weight, bias, padding, m=None):
    """Apply the op; ``padding`` is (top, bottom, left, right). Checks are ``conv2d``'s."""
    m = output_tile(input.dtype) if m is None else m
    return WinogradConv2dFn.apply(input, weight, bias, padding=tuple(padding), m=m)

__all__ = ["WinogradConv2dFn", "winograd_applies", "winograd_conv2d", "winograd_pays", "winograd_tile"]
