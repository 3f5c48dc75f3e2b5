"""The column matrix in cache-sized chunks: the reference op's equations, fast, on any layer.

``Im2colConv2dFn`` runs the lines of the reference ``Conv2dFn`` (``functional/conv/reference.py``)
per chunk of images instead of on the whole batch. The column matrix has kh·kw times the elements
of the input; in chunks whose columns fit ``spec.chunk_bytes`` (a core's L2 cache on the CPU, the
memory budget on the GPU) each chunk's columns are written, multiplied and read back while still in
cache, and on the CPU the chunks run a chunk per core (``_chunks.py``). dW adds the chunks'
products in chunk order, so the results do not depend on the thread count.

The weight gradient needs the columns again: a small layer's (at most ``spec.keep_cols_bytes``) are
kept from the forward pass, a larger layer's are built again per chunk in the backward pass.
"""

from __future__ import annotations

from minitorch_cnn.kernels.im2col import col2im, im2col

from ....autograd import Function
from ....backend import xp_of
from ._chunks import for_each_chunk
from ._common import forward_in_chunks, kept_for_backward

NAME = "im2col"


def applies(spec) -> bool:
    """Every convolution."""
    return True


def pays(spec) -> bool:
    """The fallback: taken where no other algorithm applies and pays."""
    return True


class Im2colConv2dFn(Function):
    """y = conv2d(x, weight) + b by the reference op's equations, per chunk of n images::

        cols    = im2col(x[chunk])         as matrices (groups, K, n·L)
        y       = w_mat @ cols + b
        dw_mat += g @ colsᵀ                added in chunk order
        dx      = col2im(w_matᵀ @ g)
        db      = Σ g over N·L

    ``g @ colsᵀ`` is computed as ``(cols @ gᵀ)ᵀ`` where the contraction is the long axis
    (``_times_transposed``): the same numbers, a faster product in OpenBLAS.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, spec):
        xp = xp_of(x)
        window, groups = spec.window, spec.groups
        N, O = x.shape[0], weight.shape[0]
        w_mat = weight.reshape(groups, O // groups, -1)  # (O, Cg, kh, kw) -> (groups, Og, K)
        y = xp.empty((N, O, *window.out), dtype=x.dtype)
        chunks = _batch_chunks(spec, weight.nbytes)
        keep_cols = ctx.needs_input_grad[1] and N * spec.image_cols_bytes <= spec.keep_cols_bytes

        def forward_chunk(rows):
            cols = im2col(x[rows], window)  # (C, kh, kw, n, Ho, Wo)
            y_mat = w_mat @ _as_matrices(cols, groups)  # (groups, Og, n·L)
            _to_nchw(y_mat, bias, out=y[rows])  # (O, n, Ho, Wo) -> (n, O, Ho, Wo), + b
            return cols if keep_cols else None

        return forward_in_chunks(ctx, spec, x, weight, forward_chunk, chunks, keep_cols, y)

    @staticmethod
    def backward(ctx, g):
        (x, cols, weight), (need_x, need_w, need_b), window = kept_for_backward(ctx)
        xp = xp_of(g)
        groups = ctx.spec.groups
        O, C = g.shape[1], ctx.x_shape[1]
        w_mat = weight.reshape(groups, O // groups, -1) if need_x else None  # (groups, Og, K)
        g = xp.ascontiguousarray(g.transpose(1, 0, 2, 3))  # (N, O, Ho, Wo) -> (O, N, Ho, Wo), as y was made
        dx = xp.empty(ctx.x_shape, dtype=g.dtype) if need_x else None

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
        return dx, dweight, dbias


FUNCTION = Im2colConv2dFn


def _batch_chunks(spec, weight_bytes: int):
    """Slices of the batch whose column matrices fit ``spec.chunk_bytes`` (at least one image each).

    A layer whose whole column matrix is no larger than its weight (deep layers on small images,
    such as ResNet-18's 512-channel 3×3 layers) runs in one chunk, within the memory budget: there
    every chunk's products would read the whole weight again, and that traffic, not the columns',
    is what cache-sized chunks would multiply.
    """
    if spec.input_shape[0] * spec.image_cols_bytes <= min(weight_bytes, spec.memory_budget):
        return [slice(0, spec.input_shape[0])]
    return spec.batch_chunks(spec.image_cols_bytes)


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
    n·L > K: small layers over many windows), computed as ``(b @ aᵀ)ᵀ``, which OpenBLAS runs
    faster (same numbers). Elsewhere as written, so that the result is C-contiguous: a transposed
    one costs a strided copy later (the leaf gradient's)."""
    xp = xp_of(a)
    if b.shape[-1] > b.shape[-2]:
        return xp.swapaxes(b @ xp.swapaxes(a, -1, -2), -1, -2)
    return a @ xp.swapaxes(b, -1, -2)


__all__ = ["FUNCTION", "NAME", "Im2colConv2dFn", "applies", "pays"]
