"""2-D convolution (cross-correlation, as in PyTorch) by im2col and one matrix product.

Vocabulary of the shape comments: N batch, C input channels, H, W input size, O output channels,
kh, kw kernel size, Ho, Wo output size, s stride, p padding, d dilation, G groups,
Cg = C/G and Og = O/G the channels of one group, K = Cg·kh·kw the rows of the column matrix,
L = Ho·Wo the output positions of one image.

Forward: gather every window of every image into the column matrix ``cols (K, N·L)``
(``im2col``), then one product ``Y = W_mat (O, K) @ cols (K, N·L) + b``; with groups, each group
multiplies its own Og rows of W_mat by its own Cg channels' rows of cols.

Backward: see ``Conv2d.backward``; a worked 3×3 example with every number is in
``docs/conv_backprop.md``.

Memory: the column tensor has kh·kw times the elements of the input. When it would exceed the
budget (``set_conv_memory_budget``, 256 MiB by default), the batch is processed in chunks of
images whose columns fit; the results do not depend on the chunking.
"""

from __future__ import annotations

import contextlib

from minitorch_cnn.kernels import col2im, conv_out_size, im2col

from ..autograd import Function
from ..backend import xp_of
from ._util import check_float, check_ndim, check_tensor, pair
from .depthwise import DepthwiseConv2d

_memory_budget = 256 * 2**20  # bytes of column tensor per chunk


def get_conv_memory_budget() -> int:
    """The most bytes of column tensor ``conv2d`` builds at once (whole images, at least one)."""
    return _memory_budget


def set_conv_memory_budget(nbytes: int) -> int:
    """Set the column-tensor budget of ``conv2d`` in bytes; returns the previous budget."""
    global _memory_budget
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 1:
        raise ValueError(f"set_conv_memory_budget: expected a positive number of bytes, got {nbytes!r}")
    previous, _memory_budget = _memory_budget, nbytes
    return previous


@contextlib.contextmanager
def conv_memory_budget(nbytes: int):
    """``with conv_memory_budget(2**20): ...`` runs the block under a temporary budget."""
    previous = set_conv_memory_budget(nbytes)
    try:
        yield
    finally:
        set_conv_memory_budget(previous)


def _batch_chunks(N: int, bytes_per_image: int):
    """Slices of the batch whose column tensors fit the memory budget (at least one image each)."""
    step = max(1, _memory_budget // max(1, bytes_per_image))
    return [slice(start, min(N, start + step)) for start in range(0, N, step)]


class Conv2d(Function):
    """Y = conv2d(X, W) + b with X (N, C, H, W), W (O, Cg, kh, kw), b (O,), Y (N, O, Ho, Wo).

    The column matrix holds the whole batch: ``cols`` is laid out (C, kh, kw, N, Ho, Wo), i.e. per
    group g a matrix ``cols[g]`` (K, N·L) with one column per output position of every image, so
    each product below is one large BLAS call (per group) instead of one small call per image::

        cols = im2col(X)                        (C, kh, kw, N, Ho, Wo) -> (G, K, N·L)
        Y_t[g] = W_mat[g] @ cols[g]             (Og, K) @ (K, N·L) -> (Og, N·L)
        Y = Y_t as (N, O, Ho, Wo) + b           one transposing copy, the bias added on the way

    Backward. Write G_t for dL/dY transposed to (O, N, Ho, Wo), as matrices ``G_t[g]`` (Og, N·L)
    (one copy of the gradient, small beside the products). Every output entry is a dot product of
    one row of W_mat with one column of cols, so the product rule of ``A @ B`` gives::

        dW_mat[g] = G_t[g] @ cols[g]ᵀ            (Og, N·L) @ (N·L, K) -> (Og, K), the sum over images
        db        = Σ over N·L of G_t            (O, N·L) -> (O,), rows of a contiguous array
        dcols[g]  = W_mat[g]ᵀ @ G_t[g]           (K, Og) @ (Og, N·L) -> (K, N·L)
        dX = col2im(dcols)                       (C, kh, kw, N, Ho, Wo) -> (N, C, H, W)

    (dW_mat is computed as ``(cols @ G_tᵀ)ᵀ``: the same numbers, but OpenBLAS runs the long
    contraction 3-4× faster with the long operand on the left.)

    Why col2im *adds*: im2col copied each input pixel into every window that covers it, so the
    pixel's gradient is the sum of the gradients of all its copies (overlapping windows share
    pixels); copies that came from the zero padding are dropped.

    ``padding`` is (top, bottom, left, right) so that ``padding="same"`` with an even kernel can
    pad one more row/column at the bottom/right, as PyTorch does.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, stride, padding, dilation, groups):
        xp = xp_of(x)
        (sh, sw), (dh, dw), G = stride, dilation, groups
        top, bottom, left, right = padding
        x_shape = x.shape
        if bottom != top or right != left:  # asymmetric ("same" with an even kernel): pad the rest now
            x = xp.pad(x, ((0, 0), (0, 0), (0, bottom - top), (0, right - left)))
        N, C, H, W = x.shape
        O, Cg, kh, kw = weight.shape
        Og, K = O // G, Cg * kh * kw
        Ho, Wo = conv_out_size(H, kh, sh, top, dh), conv_out_size(W, kw, sw, left, dw)
        geometry = (kh, kw, sh, sw, top, left, dh, dw)
        w_mat = weight.reshape(G, Og, K)  # (O, Cg, kh, kw) -> (G, Og, K)

        y = xp.empty((N, O, Ho, Wo), dtype=x.dtype)
        chunks = _batch_chunks(N, C * kh * kw * Ho * Wo * x.dtype.itemsize)
        for rows in chunks:
            n = rows.stop - rows.start
            cols = _unfold(x[rows], geometry, Ho, Wo)  # (C, kh, kw, n, Ho, Wo)
            y_t = w_mat @ cols.reshape(G, K, n * Ho * Wo)  # (G, Og, K) @ (G, K, n·L) -> (G, Og, n·L)
            y_t = y_t.reshape(O, n, Ho, Wo).transpose(1, 0, 2, 3)  # (n, O, Ho, Wo), a view
            if bias is None:
                y[rows] = y_t
            else:  # (O,) -> (O, 1, 1), broadcast over Ho, Wo, added during the copy
                xp.add(y_t, bias.reshape(O, 1, 1), out=y[rows])

        # dW needs the columns: keep them when they were built in one piece, else rebuild per chunk
        keep_cols = ctx.needs_input_grad[1] and len(chunks) == 1
        ctx.save_for_backward(
            x if ctx.needs_input_grad[1] and not keep_cols else None,
            cols if keep_cols else None,
            weight if ctx.needs_input_grad[0] else None,
        )
        ctx.geometry, ctx.groups, ctx.chunks = geometry, G, chunks
        ctx.x_shape, ctx.padded_shape = x_shape, x.shape
        return y

    @staticmethod
    def backward(ctx, grad):
        x, cols, weight = ctx.saved_tensors
        xp = xp_of(grad)
        kh, kw = ctx.geometry[:2]
        G = ctx.groups
        N, O, Ho, Wo = grad.shape
        C = ctx.padded_shape[1]
        Og, Cg = O // G, C // G
        K = Cg * kh * kw
        need_x, need_w, need_b = ctx.needs_input_grad
        g_t = xp.ascontiguousarray(grad.transpose(1, 0, 2, 3))  # (N, O, Ho, Wo) -> (O, N, Ho, Wo)

        dx = dw_t = db = None
        if need_x:
            dx = xp.empty(ctx.padded_shape, dtype=grad.dtype)
            w_mat_t = xp.swapaxes(weight.reshape(G, Og, K), -1, -2)  # (G, Og, K) -> (G, K, Og)
        if need_w:
            dw_t = xp.zeros((G, K, Og), dtype=grad.dtype)
        for rows in ctx.chunks:
            n = rows.stop - rows.start
            g_rows = g_t[:, rows].reshape(G, Og, n * Ho * Wo)  # (G, Og, n·L); a copy only when chunked
            if need_w:
                c = cols if cols is not None else _unfold(x[rows], ctx.geometry, Ho, Wo)  # (C, kh, kw, n, Ho, Wo)
                # dW_matᵀ: (G, K, n·L) @ (G, n·L, Og) -> (G, K, Og), summed over the chunk's images
                dw_t += c.reshape(G, K, n * Ho * Wo) @ xp.swapaxes(g_rows, -1, -2)
            if need_x:
                dcols = w_mat_t @ g_rows  # (G, K, Og) @ (G, Og, n·L) -> (G, K, n·L)
                dcols = dcols.reshape(C, kh, kw, n, Ho, Wo)
                dx[rows] = _fold(dcols, (n, *ctx.padded_shape[1:]), ctx.geometry)  # (n, C, H, W)
        if need_x and ctx.padded_shape != ctx.x_shape:
            dx = dx[:, :, : ctx.x_shape[2], : ctx.x_shape[3]]  # drop the extra bottom/right padding
        dw = None
        if need_w:
            dw = xp.swapaxes(dw_t, -1, -2).reshape(O, Cg, kh, kw)  # (G, K, Og) -> (G, Og, K) -> (O, Cg, kh, kw)
        if need_b:
            db = g_t.reshape(O, -1).sum(axis=1)  # (O, N·Ho·Wo) -> (O,)
        return dx, dw, db


def _is_pointwise(geometry) -> bool:
    kh, kw, sh, sw, ph, pw, _, _ = geometry
    return kh == kw == sh == sw == 1 and ph == pw == 0


def _unfold(x, geometry, Ho, Wo):
    """Columns of ``x (N, C, H, W)`` laid out ``(C, kh, kw, N, Ho, Wo)`` (see ``Conv2d``).

    im2col writes them through a transposed view; a 1×1 kernel with stride 1 and no padding needs
    no im2col: its columns are x itself, only transposed to (C, 1, 1, N, H, W).
    """
    xp = xp_of(x)
    N, C, H, W = x.shape
    kh, kw, sh, sw, ph, pw, dh, dw = geometry
    cols = xp.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    view = cols.transpose(3, 0, 1, 2, 4, 5)  # (N, C, kh, kw, Ho, Wo), im2col's index order
    if _is_pointwise(geometry):
        view[...] = x.reshape(N, C, 1, 1, H, W)
    else:
        im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, out=view)
    return cols


def _fold(dcols, x_shape, geometry):
    """col2im of ``dcols (C, kh, kw, N, Ho, Wo)``, the adjoint of ``_unfold``: (N, C, H, W)."""
    view = dcols.transpose(3, 0, 1, 2, 4, 5)  # (N, C, kh, kw, Ho, Wo)
    if _is_pointwise(geometry):
        return view.reshape(x_shape)  # (N, C, 1, 1, H, W) -> (N, C, H, W)
    _, _, sh, sw, ph, pw, dh, dw = geometry
    return col2im(view, x_shape, sh, sw, ph, pw, dh, dw)


def _positive_pair(op, value, name):
    v = pair(op, value, name)
    if v[0] < 1 or v[1] < 1:
        raise ValueError(f"{op}: expected a positive {name}, got {value!r}")
    return v


def _conv_padding(op, padding, kernel, dilation, stride):
    """``padding`` (int, pair, "valid" or "same") -> (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            total_h, total_w = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            # the odd row/column of padding goes to the bottom/right, as in PyTorch
            return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        raise ValueError(f"{op}: expected padding to be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(op, padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: expected a non-negative padding, got {padding!r}")
    return (ph, ph, pw, pw)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of ``input`` with ``weight``, as ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C, H, W) float tensor, or (C, H, W) for one image (the output is then 3-D too).
        weight: (O, C/groups, kh, kw) tensor of the same dtype and device.
        bias: optional (O,) tensor added to every output position of each channel.
        stride: int or (sh, sw), the step between windows.
        padding: int or (ph, pw) zeros on each side, or ``"valid"`` (no padding) or ``"same"``
            (output size = input size; stride must be 1; an odd total goes bottom/right).
        dilation: int or (dh, dw), the step between the taps of a window.
        groups: split C and O into this many groups; each output channel sees only its group's
            input channels (groups = C is a depthwise convolution).

    Returns:
        (N, O, Ho, Wo) with ``Ho = floor((H + 2ph - dh·(kh-1) - 1) / sh) + 1`` (same for Wo).

    >>> from minitorch_cnn.tensor import Tensor
    >>> import numpy as np
    >>> x = Tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    >>> k = Tensor(np.array([[[[0.0, 1.0], [2.0, 3.0]]]]))
    >>> conv2d(x, k).numpy()[0, 0]
    array([[19., 25.],
           [37., 43.]])
    """
    op = "conv2d"
    check_float(op, input)
    check_float(op, weight, "weight")
    check_ndim(op, input, (3, 4))
    if input.ndim == 3:  # one unbatched image (C, H, W), as PyTorch allows: a batch of one
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    check_ndim(op, weight, 4, "weight")
    if weight.dtype != input.dtype:
        raise TypeError(f"{op}: expected weight of the input's dtype {input.dtype}, got {weight.dtype}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: expected groups to be a positive int, got {groups!r}")
    N, C, H, W = input.shape
    O, Cg, kh, kw = weight.shape
    if C % groups or O % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide both the input channels and the output channels, "
            f"got {C} input and {O} output channels"
        )
    if Cg * groups != C:
        raise ValueError(
            f"{op}: weight of shape {weight.shape} expects {Cg * groups} input channels "
            f"(weight.shape[1]={Cg} × groups={groups}), got input of shape {input.shape} with {C} channels"
        )
    if min(weight.shape) < 1 or min(input.shape) < 1:
        raise ValueError(f"{op}: expected non-empty input and weight, got shapes {input.shape} and {weight.shape}")
    if bias is not None:
        check_tensor(op, bias, "bias")
        if bias.shape != (O,):
            raise ValueError(f"{op}: expected bias of shape ({O},) for {O} output channels, got {bias.shape}")
        if bias.dtype != input.dtype:
            raise TypeError(f"{op}: expected bias of the input's dtype {input.dtype}, got {bias.dtype}")
    stride = _positive_pair(op, stride, "stride")
    dilation = _positive_pair(op, dilation, "dilation")
    pads = _conv_padding(op, padding, (kh, kw), dilation, stride)
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if span_h > H + pads[0] + pads[1] or span_w > W + pads[2] + pads[3]:
        raise ValueError(
            f"{op}: kernel of size ({span_h}, {span_w}) (dilated) is larger than the padded input "
            f"({H + pads[0] + pads[1]}, {W + pads[2] + pads[3]}); input shape {input.shape}, padding {padding!r}"
        )
    if groups == C == O > 1 and pads[0] == pads[1] and pads[2] == pads[3]:  # depthwise: its own kernel
        return DepthwiseConv2d.apply(input, weight, bias, stride=stride, padding=pads[::2], dilation=dilation)
    return Conv2d.apply(input, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)


__all__ = ["Conv2d", "conv2d", "conv_memory_budget", "get_conv_memory_budget", "set_conv_memory_budget"]
