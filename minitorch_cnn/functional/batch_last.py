"""im2col with the batch as the columns' last axis, as its own op: ``conv2d`` sends small layers here.

The im2col ``Conv2dFn`` (functional/conv.py) is the one to read; this op computes the same
products with the columns in another order (``kernels/batch_last.py``: the layout and why its
copies are faster), where a cache-sized chunk holds many images, as in LeNet's second layer. The
tests hold it equal to the im2col path in float64 to round-off, and check it against plain loops,
finite differences and PyTorch.
"""

from __future__ import annotations

import numpy as np  # NumPy on purpose: conv2d sends only NumPy arrays here (numba path; CuPy takes im2col)

from minitorch_cnn.kernels.batch_last import batch_last_col2im, batch_last_columns, to_batch_last

from .._chunks import for_each_chunk
from ..autograd import Function
from ..backend import CPU_CONV_TILE_BYTES, batch_chunks, keep_cols_bytes

MIN_RUN_IMAGES = 32  # images per cache-sized chunk from which the batch-last copies pay


def _image_cols_bytes(x_shape, weight_shape, padding, itemsize) -> int:
    """Bytes of one image's columns, C·kh·kw·Ho·Wo values (stride 1)."""
    (_, C, H, W), (_, _, kh, kw), (ph, pw) = x_shape, weight_shape, padding
    return C * kh * kw * (H + 2 * ph - kh + 1) * (W + 2 * pw - kw + 1) * itemsize


def batch_last_pays(x_shape, weight_shape, padding, itemsize) -> bool:
    """Where the batch-last columns were measured faster than im2col's, forward + backward at one
    thread (``python -m benchmarks.direct``, benchmarks/RESULTS.md): where a cache-sized chunk
    (``backend.CPU_CONV_TILE_BYTES``) holds at least ``MIN_RUN_IMAGES`` images, so each copy is a run
    of at least 32·Wo values. LeNet's second layer (60 KiB of columns per image, 34 per chunk) took
    13 ms instead of 19; a layer with 7 images per chunk took 28 instead of 22."""
    per_image = _image_cols_bytes(x_shape, weight_shape, padding, itemsize)
    return min(x_shape[0], CPU_CONV_TILE_BYTES // max(1, per_image)) >= MIN_RUN_IMAGES


class BatchLastConv2dFn(Function):
    """Y = conv2d(X, W) + b, stride 1, with the columns in batch-last order (kernels/batch_last.py).

    Per chunk of n images, K = C·kh·kw, as matrices (O, Ho·Wo·n)::

        cols  = batch_last_columns(to_batch_last(x))   (C, kh, kw, Ho, Wo, n)
        y     = w_mat @ cols                          -> (O, Ho, Wo, n) -> (n, O, Ho, Wo) + b
        dw   += g @ colsᵀ                             g as (O, Ho, Wo, n)
        dx    = batch_last_col2im(w_matᵀ @ g)         -> (C, Hp, Wp, n) -> unpadded (n, C, H, W)

    and db = Σ g over N·Ho·Wo (per chunk, as a row sum of g's matrix): the equations of ``Conv2dFn``
    with the columns reordered.
    ``padding`` is (ph, pw), the same on both sides. The columns are kept for dW when small
    (``backend.keep_cols_bytes``), else built again per chunk; dW adds the chunks in order.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, padding):
        N, C, H, W = x.shape
        O, _, kh, kw = weight.shape
        ph, pw = padding
        Ho, Wo = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
        w_mat = weight.reshape(O, -1)  # (O, K)
        per_image = _image_cols_bytes(x.shape, weight.shape, padding, x.dtype.itemsize)
        chunks = batch_chunks(x, per_image)  # cache-sized, as Conv2dFn's
        need_x, need_w, _ = ctx.needs_input_grad
        keep_cols = need_w and N * per_image <= keep_cols_bytes(x)
        y = np.empty((N, O, Ho, Wo), dtype=x.dtype)

        def forward_chunk(rows):
            cols = batch_last_columns(to_batch_last(x[rows], ph, pw), (kh, kw))  # (C, kh, kw, Ho, Wo, n)
            y_mat = w_mat @ cols.reshape(w_mat.shape[1], -1)  # (O, Ho·Wo·n)
            y_t = y_mat.reshape(O, Ho, Wo, -1).transpose(3, 0, 1, 2)  # (n, O, Ho, Wo), a view
            if bias is None:
                y[rows] = y_t
            else:  # (O,) -> (O, 1, 1), added during the copy
                np.add(y_t, bias.reshape(O, 1, 1), out=y[rows])
            return cols if keep_cols else None

        cols = for_each_chunk(forward_chunk, chunks, x)  # in turn, or a chunk per core (_chunks.py)
        ctx.save_for_backward(x if need_w and not keep_cols else None, cols if keep_cols else None,
                              weight if need_x else None)
        ctx.chunks, ctx.padding, ctx.x_shape, ctx.kernel = chunks, padding, x.shape, (kh, kw)
        return y

    @staticmethod
    def backward(ctx, g):
        x, cols, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        N, C, H, W = ctx.x_shape
        O = g.shape[1]
        (ph, pw), (kh, kw) = ctx.padding, ctx.kernel
        w_mat = weight.reshape(O, -1) if need_x else None  # (O, K)
        dx = np.empty(ctx.x_shape, dtype=g.dtype) if need_x else None

        def backward_chunk(k, rows):
            g_mat = np.ascontiguousarray(g[rows].transpose(1, 2, 3, 0)).reshape(O, -1)  # (O, Ho·Wo·n)
            dw_chunk = None
            db_chunk = g_mat.sum(axis=1) if need_b else None  # (O,): this chunk's part of db
            if need_w:
                chunk_cols = cols[k] if cols is not None else batch_last_columns(to_batch_last(x[rows], ph, pw), (kh, kw))
                cols_mat = chunk_cols.reshape(-1, g_mat.shape[1])  # (K, Ho·Wo·n)
                dw_chunk = (cols_mat @ g_mat.T).T  # g @ colsᵀ, long operand on the left (see Conv2dFn)
            if need_x:
                n = rows.stop - rows.start
                dcols = (w_mat.T @ g_mat).reshape(C, kh, kw, *g.shape[2:], n)  # (C, kh, kw, Ho, Wo, n)
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


__all__ = ["BatchLastConv2dFn", "batch_last_pays"]
