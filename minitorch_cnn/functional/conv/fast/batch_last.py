"""The column matrix with the batch as its last axis: stride-1 layers on small images (LeNet's second).

The same products as the chunked column matrix (``im2col.py``) with the columns in another order,
``(C, kh, kw, Ho, Wo, n)`` (``kernels/batch_last.py``: the layout and why its copies are faster):
each copy into them is one contiguous run of Wo·n values instead of Wo, which pays where a
cache-sized chunk holds many images. NumPy arrays on the numba path only.
"""

from __future__ import annotations

import numpy as np  # NumPy on purpose: this op applies to NumPy arrays only (numba path)

from minitorch_cnn.kernels.batch_last import batch_last_col2im, batch_last_columns, to_batch_last

from ....autograd import Function
from ._chunks import for_each_chunk
from ._common import forward_in_chunks, kept_for_backward

NAME = "batch_last"
MIN_RUN_IMAGES = 32  # images per cache-sized chunk from which the batch-last copies pay


def applies(spec) -> bool:
    """Stride 1, dilation 1, no groups, NumPy arrays on the numba path."""
    return spec.numba and spec.is_plain


def pays(spec) -> bool:
    """Where a cache-sized chunk (``spec.chunk_bytes``) holds at least ``MIN_RUN_IMAGES`` images, so
    that each copy is a run of at least 32·Wo values (``python -m benchmarks.direct``)."""
    per_chunk = spec.chunk_bytes // max(1, spec.image_cols_bytes)
    return min(spec.input_shape[0], per_chunk) >= MIN_RUN_IMAGES


class BatchLastConv2dFn(Function):
    """Y = conv2d(X, W) + b, stride 1, with the columns in batch-last order (kernels/batch_last.py).

    Per chunk of n images, K = C·kh·kw, as matrices (O, Ho·Wo·n)::

        cols  = batch_last_columns(to_batch_last(x))   (C, kh, kw, Ho, Wo, n)
        y     = w_mat @ cols                          -> (O, Ho, Wo, n) -> (n, O, Ho, Wo) + b
        dw   += g @ colsᵀ                             g as (O, Ho, Wo, n)
        dx    = batch_last_col2im(w_matᵀ @ g)         -> (C, Hp, Wp, n) -> unpadded (n, C, H, W)

    and db = Σ g over N·Ho·Wo (per chunk, as a row sum of g's matrix): the reference op's equations
    with the columns reordered. The columns are kept for dW when small (``spec.keep_cols_bytes``),
    else built again per chunk; dW adds the chunks in order.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, spec):
        window = spec.window
        N, O = x.shape[0], weight.shape[0]
        w_mat = weight.reshape(O, -1)  # (O, K)
        chunks = spec.batch_chunks(spec.image_cols_bytes)  # cache-sized, as the column matrix's
        keep_cols = ctx.needs_input_grad[1] and N * spec.image_cols_bytes <= spec.keep_cols_bytes
        y = np.empty((N, O, *window.out), dtype=x.dtype)

        def forward_chunk(rows):
            cols = batch_last_columns(to_batch_last(x[rows], *window.padding), window.kernel)  # (C, kh, kw, Ho, Wo, n)
            y_mat = w_mat @ cols.reshape(w_mat.shape[1], -1)  # (O, Ho·Wo·n)
            y_t = y_mat.reshape(O, *window.out, -1).transpose(3, 0, 1, 2)  # (n, O, Ho, Wo), a view
            if bias is None:
                y[rows] = y_t
            else:  # (O,) -> (O, 1, 1), added during the copy
                np.add(y_t, bias.reshape(O, 1, 1), out=y[rows])
            return cols if keep_cols else None

        return forward_in_chunks(ctx, spec, x, weight, forward_chunk, chunks, keep_cols, y)

    @staticmethod
    def backward(ctx, g):
        (x, cols, weight), (need_x, need_w, need_b), window = kept_for_backward(ctx)
        N, C, H, W = ctx.x_shape
        O = g.shape[1]
        (ph, pw), (kh, kw) = window.padding, window.kernel
        w_mat = weight.reshape(O, -1) if need_x else None  # (O, K)
        dx = np.empty(ctx.x_shape, dtype=g.dtype) if need_x else None

        def backward_chunk(k, rows):
            g_mat = np.ascontiguousarray(g[rows].transpose(1, 2, 3, 0)).reshape(O, -1)  # (O, Ho·Wo·n)
            dw_chunk = None
            db_chunk = g_mat.sum(axis=1) if need_b else None  # (O,): this chunk's part of db
            if need_w:
                chunk_cols = cols[k] if cols is not None else batch_last_columns(to_batch_last(x[rows], ph, pw), (kh, kw))
                cols_mat = chunk_cols.reshape(-1, g_mat.shape[1])  # (K, Ho·Wo·n)
                dw_chunk = (cols_mat @ g_mat.T).T  # g @ colsᵀ, long operand on the left (see im2col.py)
            if need_x:
                n = rows.stop - rows.start
                dcols = (w_mat.T @ g_mat).reshape(C, kh, kw, *window.out, n)  # (C, kh, kw, Ho, Wo, n)
                dxb = batch_last_col2im(dcols, (C, H + 2 * ph, W + 2 * pw, n))
                dx[rows] = dxb[:, ph : ph + H, pw : pw + W].transpose(3, 0, 1, 2)  # (n, C, H, W)
            return dw_chunk, db_chunk

        dw_mat = dbias = 0
        for dw_chunk, db_chunk in for_each_chunk(lambda k_rows: backward_chunk(*k_rows), list(enumerate(ctx.chunks)), g):
            if need_w:
                dw_mat += dw_chunk  # added in chunk order, whatever the thread count
            if need_b:
                dbias += db_chunk
        dweight = dw_mat.reshape(O, C, kh, kw) if need_w else None
        return dx, dweight, dbias if need_b else None


FUNCTION = BatchLastConv2dFn

__all__ = ["FUNCTION", "MIN_RUN_IMAGES", "NAME", "BatchLastConv2dFn", "applies", "pays"]
