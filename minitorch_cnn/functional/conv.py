"""2-D convolution (cross-correlation, as in PyTorch) by im2col and one matrix product per chunk.

Read it beside ``docs/conv_backprop.md``: the page works one image through the same lines, with
the same names. Vocabulary of the shape comments: N batch, C input channels, H, W input size,
O output channels, kh, kw kernel size, Ho, Wo output size, L = Ho·Wo the windows of one image,
``groups`` the channel groups, Cg = C/groups and Og = O/groups the channels of one group,
K = Cg·kh·kw the taps of one window of one group. The window's geometry (kernel, stride, padding,
dilation, out) is a ``Window`` (kernels/window.py); the column layout is documented once, in
``kernels/im2col.py``.

Chunks: the column matrix has kh·kw times the elements of the input, so the batch is processed in
chunks of whole images whose columns fit ``backend.conv_chunk_bytes``: on the CPU 2 MiB (a core's
L2 cache), so that each chunk's columns are written, multiplied and read back while still in cache;
on the GPU the memory budget (``backend.set_conv_memory_budget``, 256 MiB by default), which also
caps the CPU's chunks. The results do not depend on the chunking beyond
round-off (dW adds the chunks' products). The weight gradient needs the columns again: a small
layer's (at most ``backend.keep_cols_bytes``, 16 MiB on the CPU: LeNet's second layer) are kept
from the forward pass, a larger layer's are built again per chunk in the backward pass.
"""

from __future__ import annotations

from minitorch_cnn.kernels import Window, col2im, im2col

from .._chunks import for_each_chunk
from ..autograd import Function
from ..backend import batch_chunks, get_conv_algorithm, get_conv_memory_budget, keep_cols_bytes, use_numba, xp_of
from ._util import check_float, check_ndim, check_tensor, pair
from .batch_last import BatchLastConv2dFn, batch_last_pays
from .depthwise import DepthwiseConv2dFn
from .direct import DirectConv2dFn, direct_applies, direct_pays
from .winograd import winograd_applies, winograd_conv2d, winograd_tile


class Conv2dFn(Function):
    """y = conv2d(x, weight) + b with x (N, C, H, W), weight (O, Cg, kh, kw), b (O,), y (N, O, Ho, Wo).

    The equations, per chunk of n images (the whole batch unless the memory budget splits it), every
    product batched over the groups (one BLAS call per group)::

        cols   = im2col(x)              (C, kh, kw, n, Ho, Wo), as matrices (groups, K, n·L)
        y      = w_mat @ cols           (groups, Og, K) @ (groups, K, n·L) -> (groups, Og, n·L) = (O, n, Ho, Wo)
        y      = y as (n, O, Ho, Wo) + b

    ``w_mat`` is the weight as matrices (groups, Og, K). Backward, with g = dL/dy, as matrices
    (groups, Og, n·L) like y. Every output entry is a dot product of one row of w_mat with one
    column of cols, so the product rule of ``A @ B`` gives, per chunk::

        dw_mat += g @ colsᵀ             (groups, Og, n·L) @ (groups, n·L, K) -> (groups, Og, K)
        dcols   = w_matᵀ @ g            (groups, K, Og) @ (groups, Og, n·L) -> (groups, K, n·L)
        dx      = col2im(dcols)         (C, kh, kw, n, Ho, Wo) -> (n, C, H, W)

    and once, the bias having been added to every window of every image: ``db = Σ g over N·L``.

    Why col2im *adds*: im2col copied each input pixel into every window that covers it, so the
    pixel's gradient is the sum of the gradients of all its copies (overlapping windows share
    pixels); copies that came from the zero padding are dropped.

    ``g @ colsᵀ`` is computed as ``(cols @ gᵀ)ᵀ`` (``_times_transposed``): the same numbers, but
    OpenBLAS runs this long contraction 3-4× faster with the long operand on the left.
    ``extra_padding`` (bottom, right) pads one more row/column where ``padding="same"`` with an even
    kernel needs it, as PyTorch does; ``window.padding`` is the padding on both sides.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, window, groups, extra_padding):
        xp = xp_of(x)
        x_shape = x.shape
        if extra_padding != (0, 0):  # pad the bottom/right rest now; im2col pads the rest
            x = xp.pad(x, ((0, 0), (0, 0), (0, extra_padding[0]), (0, extra_padding[1])))
        N, O = x.shape[0], weight.shape[0]
        w_mat = weight.reshape(groups, O // groups, -1)  # (O, Cg, kh, kw) -> (groups, Og, K)
        y = xp.empty((N, O, *window.out), dtype=x.dtype)
        chunks = _batch_chunks(x, weight.nbytes, window)
        # dW needs the columns: keep them when they are small (keep_cols_bytes), else rebuild per chunk
        need_x, need_w, _ = ctx.needs_input_grad
        keep_cols = need_w and N * _image_cols_bytes(x, window) <= keep_cols_bytes(x)

        def forward_chunk(rows):
            cols = im2col(x[rows], window)  # (C, kh, kw, n, Ho, Wo)
            y_mat = w_mat @ _as_matrices(cols, groups)  # (groups, Og, n·L)
            _to_nchw(y_mat, bias, out=y[rows])  # (O, n, Ho, Wo) -> (n, O, Ho, Wo), + b
            return cols if keep_cols else None

        cols = for_each_chunk(forward_chunk, chunks, x)  # in turn, or a chunk per core (_chunks.py)
        ctx.save_for_backward(x if need_w and not keep_cols else None, cols if keep_cols else None,
                              weight if need_x else None)
        ctx.window, ctx.groups, ctx.chunks, ctx.x_shape, ctx.padded_shape = window, groups, chunks, x_shape, x.shape
        return y

    @staticmethod
    def backward(ctx, g):
        x, cols, weight = ctx.saved_tensors
        xp = xp_of(g)
        need_x, need_w, need_b = ctx.needs_input_grad
        groups, window = ctx.groups, ctx.window
        O, C = g.shape[1], ctx.padded_shape[1]
        w_mat = weight.reshape(groups, O // groups, -1) if need_x else None  # (groups, Og, K), as in forward
        g = xp.ascontiguousarray(g.transpose(1, 0, 2, 3))  # (N, O, Ho, Wo) -> (O, N, Ho, Wo), as y was made
        dx = xp.empty(ctx.padded_shape, dtype=g.dtype) if need_x else None

        def backward_chunk(k, rows):
            g_mat = g[:, rows].reshape(groups, O // groups, -1)  # (groups, Og, n·L); a copy only when chunked
            dw_chunk = None
            if need_w:
                cols_mat = _as_matrices(cols[k] if cols is not None else im2col(x[rows], window), groups)
                dw_chunk = _times_transposed(g_mat, cols_mat)  # g @ colsᵀ: (groups, Og, K)
            if need_x:
                dcols = xp.swapaxes(w_mat, -1, -2) @ g_mat  # w_matᵀ @ g: (groups, K, n·L)
                dcols = dcols.reshape(C, *window.kernel, -1, *window.out)  # (C, kh, kw, n, Ho, Wo)
                dx[rows] = col2im(dcols, dx[rows].shape, window)  # (n, C, H, W)
            return dw_chunk

        dw_mat = 0
        for dw_chunk in for_each_chunk(lambda k_rows: backward_chunk(*k_rows), list(enumerate(ctx.chunks)), g):
            if need_w:
                dw_mat += dw_chunk  # added in chunk order, whatever the thread count
        dweight = dw_mat.reshape(O, -1, *window.kernel) if need_w else None  # (groups, Og, K) -> (O, Cg, kh, kw)
        dbias = g.reshape(O, -1).sum(axis=1) if need_b else None  # Σ over N·L: (O, N·L) -> (O,)
        if need_x and ctx.padded_shape != ctx.x_shape:
            dx = dx[:, :, : ctx.x_shape[2], : ctx.x_shape[3]]  # drop the extra bottom/right padding
        return dx, dweight, dbias


def _batch_chunks(x, weight_bytes: int, window: Window):
    """Slices of the batch whose column matrices fit the budget (at least one image each).

    On the CPU the chunks are cache-sized. One chunk of LeNet's second layer's columns, and all of
    ResNet-18's first layer's (37 MB, then 151 MB for a 64-channel 32×32 layer at batch 64), would
    each be written to memory and read back from it, twice per step; in 2 MiB tiles the same
    convolution forward + backward took 262 ms instead of 918 ms (CPU time, 1 thread, N64 C64
    32×32 3×3; python -m benchmarks.chunks, benchmarks/RESULTS.md).

    A layer whose whole column matrix is no larger than its weight (deep layers on small images:
    ResNet-18's 512-channel 3×3 layers) runs in one chunk, within the memory budget: there every
    chunk's products read the whole weight again, and that traffic, not the columns', is what
    cache-sized chunks would multiply (27 ms against 19 ms per forward + backward of that layer
    at 2 threads).
    """
    image_bytes = _image_cols_bytes(x, window)
    if x.shape[0] * image_bytes <= min(weight_bytes, get_conv_memory_budget()):
        return [slice(0, x.shape[0])]
    return batch_chunks(x, image_bytes)


def _image_cols_bytes(x, window: Window) -> int:
    """Bytes of one image's columns (C·kh·kw · Ho·Wo values)."""
    return x.shape[1] * window.kernel[0] * window.kernel[1] * window.out[0] * window.out[1] * x.dtype.itemsize


def _as_matrices(cols, groups):
    """``cols (C, kh, kw, n, Ho, Wo)`` as the matrices (groups, K, n·L) of each group, a view."""
    n_windows = cols.shape[3] * cols.shape[4] * cols.shape[5]
    return cols.reshape(groups, -1, n_windows)


def _to_nchw(y_mat, bias, out):
    """Write ``y_mat (groups, Og, n·L)``, i.e. (O, n, Ho, Wo), into ``out (n, O, Ho, Wo)``, adding the bias."""
    n, O = out.shape[:2]
    y_t = y_mat.reshape(O, n, *out.shape[2:]).transpose(1, 0, 2, 3)  # (n, O, Ho, Wo), a view
    if bias is None:
        out[...] = y_t
    else:  # (O,) -> (O, 1, 1), broadcast over Ho, Wo, added during the copy
        xp_of(out).add(y_t, bias.reshape(O, 1, 1), out=out)


def _times_transposed(a, b):
    """``a @ bᵀ`` over the last two axes. Where the contraction is b's long axis (b (K, n·L) with
    n·L > K: small layers over many windows), computed as ``(b @ aᵀ)ᵀ``: OpenBLAS runs that 3-4×
    faster (same numbers). Elsewhere as written, so that the result is C-contiguous: the
    transposed one costs a strided copy later (the leaf gradient's), and on ResNet-18's
    512-channel layers that copy took twice as long as the product (17 ms against 8.5 ms)."""
    xp = xp_of(a)
    if b.shape[-1] > b.shape[-2]:
        return xp.swapaxes(b @ xp.swapaxes(a, -1, -2), -1, -2)
    return a @ xp.swapaxes(b, -1, -2)


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
        dilation: int or (dil_h, dil_w), the step between the taps of a window.
        groups: split C and O into this many groups; each output channel sees only its group's
            input channels (groups = C is a depthwise convolution).

    Returns:
        (N, O, Ho, Wo) with ``Ho = floor((H + 2ph - dil_h·(kh-1) - 1) / sh) + 1`` (same for Wo).

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
        return DepthwiseConv2dFn.apply(input, weight, bias, stride=stride, padding=pads[::2], dilation=dilation)
    algorithm = get_conv_algorithm()  # backend.set_conv_algorithm: which algorithm for which layers
    if winograd_applies(weight.shape, stride, dilation, groups):  # 3×3 stride 1 (functional/winograd.py)
        m = winograd_tile(input.shape, weight.shape, pads, algorithm)
        if m is not None:
            return winograd_conv2d(input, weight, bias, pads, m=m)
    if algorithm in ("default", "auto", "direct", "batch_last") and use_numba(input.array) \
            and direct_applies(weight.shape, stride, dilation, groups, pads):  # stride 1, no groups
        if algorithm == "direct" or (algorithm != "batch_last" and direct_pays(weight.shape)):
            return DirectConv2dFn.apply(input, weight, bias, padding=pads[::2])  # few taps (functional/direct.py)
        if algorithm == "batch_last" or batch_last_pays(input.shape, weight.shape, pads[::2], input.dtype.itemsize):
            return BatchLastConv2dFn.apply(input, weight, bias, padding=pads[::2])  # small images (functional/batch_last.py)
    top, bottom, left, right = pads
    extra = (bottom - top, right - left)  # "same" with an even kernel: one more row/column bottom/right
    window = Window.fit((H + extra[0], W + extra[1]), (kh, kw), stride, (top, left), dilation)
    return Conv2dFn.apply(input, weight, bias, window=window, groups=groups, extra_padding=extra)


__all__ = ["Conv2dFn", "conv2d"]
