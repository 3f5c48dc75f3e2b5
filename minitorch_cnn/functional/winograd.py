"""Winograd convolution: the same op as ``conv2d`` for 3×3, stride-1, dilation-1, ungrouped kernels.

``conv2d`` sends such layers here when the algorithm setting allows it (``backend.conv_algorithm``):
``"im2col"`` (the default) never, ``"winograd"`` always where it applies, ``"auto"`` where it
was measured faster (``winograd_pays``). The math, both transforms and their adjoints, is in
``kernels/winograd.py``; a 4×4 tile worked through with every number is in
``docs/winograd.md``. The im2col ``Conv2d`` stays the reference: the tests hold this op equal to
it in float64 to round-off.
"""

from __future__ import annotations

from minitorch_cnn.kernels.winograd import winograd_conv2d_backward, winograd_conv2d_forward, winograd_input_tiles

from .._chunks import for_each_chunk
from ..autograd import Function
from ..backend import conv_chunk_bytes, xp_of


def winograd_applies(weight_shape, stride, dilation, groups) -> bool:
    """True for a 3×3 kernel, stride 1, dilation 1, no groups: the layers this op computes."""
    return tuple(weight_shape[2:]) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1


def winograd_pays(input_shape, weight_shape, padding=(1, 1, 1, 1)) -> bool:
    """``"auto"``'s rule: Winograd where the channel products are large enough to pay for the transforms.

    The products shrink 4× (F(4×4, 3×3)); the transforms cost passes over memory that do not
    shrink with the channels, and outputs that are not a multiple of 4 compute a ragged last tile
    in full. Measured with ``python -m benchmarks.winograd`` (benchmarks/RESULTS.md): F(4×4) was
    1.2-1.7× faster than im2col from 32 input and output channels and 12×12 outputs, and slower
    on 6×6 and 8×8 outputs and on 16-channel layers.
    """
    (_, C, H, W), O = input_shape, weight_shape[0]
    top, bottom, left, right = padding
    Ho, Wo = H + top + bottom - 2, W + left + right - 2
    return C >= 32 and O >= 32 and min(Ho, Wo) >= 12


def output_tile(dtype) -> int:
    """F(4×4, 3×3) in float64; in float32 too (its error on the nets' layers stays below 1e-4 relative)."""
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
    im2col's columns: V of each chunk is then rebuilt in backward instead of kept from forward.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, padding, m):
        need_x, need_w, _ = ctx.needs_input_grad
        chunks = _image_chunks(x, weight.shape[0], padding, m)
        if len(chunks) == 1:
            y, U, V = winograd_conv2d_forward(x, weight, padding, m)
        else:
            y = xp_of(x).empty((x.shape[0], weight.shape[0], *_out_size(x.shape, padding)), dtype=x.dtype)

            def forward_chunk(rows):
                y[rows], U, _ = winograd_conv2d_forward(x[rows], weight, padding, m)
                return U

            U, V = for_each_chunk(forward_chunk, chunks, x)[0], None  # V: rebuilt per chunk from x
        if bias is not None:
            y += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(U if need_x else None, V if need_w else None, x if need_w and V is None else None)
        ctx.x_shape, ctx.padding, ctx.m, ctx.chunks = x.shape, padding, m, chunks
        return y

    @staticmethod
    def backward(ctx, grad):
        U, V, x = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        if len(ctx.chunks) == 1:
            dx, dw = winograd_conv2d_backward(grad, U, V, ctx.x_shape, ctx.padding, ctx.m, need_x, need_w)
        else:
            dx = xp_of(grad).empty(ctx.x_shape, dtype=grad.dtype) if need_x else None

            def backward_chunk(rows):
                n = len(range(*rows.indices(ctx.x_shape[0])))
                V = winograd_input_tiles(x[rows], ctx.padding, ctx.m) if need_w else None
                dx_rows, dw_rows = winograd_conv2d_backward(
                    grad[rows], U, V, (n, *ctx.x_shape[1:]), ctx.padding, ctx.m, need_x, need_w
                )
                if need_x:
                    dx[rows] = dx_rows
                return dw_rows

            dw = 0 if need_w else None
            for dw_rows in for_each_chunk(backward_chunk, ctx.chunks, grad):  # in chunk order
                if need_w:
                    dw = dw + dw_rows
        db = grad.sum(axis=(0, 2, 3)) if need_b else None
        return dx, dw, db


def _out_size(x_shape, padding):
    top, bottom, left, right = padding
    return x_shape[2] + top + bottom - 2, x_shape[3] + left + right - 2


def _image_chunks(x, O, padding, m):
    """Slices of the batch whose transformed tiles (V, and M or dM, α²·max(C, O)·T values per image)
    fit ``backend.conv_chunk_bytes``: at least one image each."""
    Ho, Wo = _out_size(x.shape, padding)
    tiles = -(-Ho // m) * -(-Wo // m)
    bytes_per_image = (m + 2) ** 2 * max(x.shape[1], O) * tiles * x.dtype.itemsize
    step = max(1, conv_chunk_bytes(x) // bytes_per_image)
    return [slice(start, min(x.shape[0], start + step)) for start in range(0, x.shape[0], step)]


def winograd_conv2d(input, weight, bias, padding, m=None):
    """Apply the op; ``padding`` is (top, bottom, left, right). Checks are ``conv2d``'s."""
    m = output_tile(input.dtype) if m is None else m
    return WinogradConv2dFn.apply(input, weight, bias, padding=tuple(padding), m=m)

__all__ = ["WinogradConv2dFn", "winograd_applies", "winograd_conv2d", "winograd_pays"]
