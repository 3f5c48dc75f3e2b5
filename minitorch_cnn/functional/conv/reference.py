"""The reference convolution: ``docs/conv_backprop.md`` line for line, on the whole batch at once.

This is the op to read. It uses the page's names (``x``, ``weight``, ``bias``, ``w_mat``, ``cols`` and
its matrices ``cols_mat``, ``y``, ``g`` = dL/dy and its matrices ``g_mat``, ``dw_mat``, ``db``,
``dcols``, ``dx``, ``dweight``) and nothing but the autograd core and the im2col kernel: no chunks,
threads, memory budgets or algorithm choice. ``mt.set_conv_algorithm("reference")`` runs it on every
convolution of a net; the fast algorithms (``functional/conv/fast/``) compute the same numbers
faster and are proven equal to this op by the conformance suite (``tests/functional/conv/``).

Vocabulary of the shape comments: N batch, C input channels, H, W input size, O output channels,
kh, kw kernel size, Ho, Wo output size, L = Ho·Wo the windows of one image, ``groups`` the channel
groups, Cg = C/groups and Og = O/groups the channels of one group, K = Cg·kh·kw the taps of one
window of one group. The column layout ``(C, kh, kw, N, Ho, Wo)`` is documented in ``kernels/im2col.py``.
"""

from __future__ import annotations

from minitorch_cnn.kernels.im2col import col2im, im2col

from ...autograd import Function


class Conv2dFn(Function):
    """y = conv2d(x, weight) + bias with x (N, C, H, W), weight (O, Cg, kh, kw), bias (O,), y (N, O, Ho, Wo).

    Forward, every product batched over the groups (one matrix product per group)::

        w_mat    = weight as matrices     (O, Cg, kh, kw) -> (groups, Og, K)
        cols     = im2col(x)              (C, kh, kw, N, Ho, Wo)
        cols_mat = cols as matrices       (groups, K, N·L)
        y        = w_mat @ cols_mat       (groups, Og, K) @ (groups, K, N·L) -> (groups, Og, N·L) = (O, N, Ho, Wo)
        y        = y as (N, O, Ho, Wo) + bias

    Backward, with g = dL/dy (N, O, Ho, Wo). Every output entry is the dot product of one row of
    w_mat with one column of cols_mat, so the product rule of ``A @ B`` gives::

        g_mat    = g as matrices          (N, O, Ho, Wo) -> (groups, Og, N·L), like the product y
        dw_mat   = g_mat @ cols_matᵀ      (groups, Og, N·L) @ (groups, N·L, K) -> (groups, Og, K)
        db       = Σ g over N, Ho, Wo     the bias was added to every window of every image
        dcols    = w_matᵀ @ g_mat         (groups, K, Og) @ (groups, Og, N·L) -> (groups, K, N·L)
        dx       = col2im(dcols)          (C, kh, kw, N, Ho, Wo) -> (N, C, H, W)
        dweight  = dw_mat as the weight   (groups, Og, K) -> (O, Cg, kh, kw)

    Why col2im *adds*: im2col copied each input pixel into every window that covers it, so the
    pixel's gradient is the sum of the gradients of all its copies (overlapping windows share
    pixels); copies that came from the zero padding are dropped.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, spec):
        window, groups = spec.window, spec.groups
        N, O = x.shape[0], weight.shape[0]
        cols = im2col(x, window)  # (C, kh, kw, N, Ho, Wo)
        cols_mat = cols.reshape(groups, weight.size // O, N * window.out[0] * window.out[1])  # (groups, K, N·L)
        w_mat = weight.reshape(groups, O // groups, weight.size // O)  # (O, Cg, kh, kw) -> (groups, Og, K)
        y = w_mat @ cols_mat  # (groups, Og, N·L)
        y = y.reshape(O, N, *window.out).transpose(1, 0, 2, 3).copy()  # (O, N, Ho, Wo) -> (N, O, Ho, Wo)
        if bias is not None:
            y += bias.reshape(1, O, 1, 1)  # the same bias[o] on every window of channel o
        ctx.save_for_backward(cols_mat, w_mat)
        ctx.spec, ctx.x_shape, ctx.w_shape = spec, x.shape, weight.shape
        return y

    @staticmethod
    def backward(ctx, g):
        cols_mat, w_mat = ctx.saved_tensors
        window, groups = ctx.spec.window, ctx.spec.groups
        N, O = g.shape[0], g.shape[1]
        g_mat = g.transpose(1, 0, 2, 3).reshape(groups, O // groups, g.size // O)  # (N, O, Ho, Wo) -> (groups, Og, N·L)
        dw_mat = g_mat @ cols_mat.swapaxes(-1, -2)  # g_mat @ cols_matᵀ: (groups, Og, K)
        db = g.sum(axis=(0, 2, 3))  # Σ over N, Ho, Wo: (O,)
        dcols = w_mat.swapaxes(-1, -2) @ g_mat  # w_matᵀ @ g_mat: (groups, K, N·L)
        dcols = dcols.reshape(ctx.x_shape[1], *window.kernel, N, *window.out)  # (C, kh, kw, N, Ho, Wo)
        dx = col2im(dcols, ctx.x_shape, window)  # (N, C, H, W)
        dweight = dw_mat.reshape(ctx.w_shape)  # (groups, Og, K) -> (O, Cg, kh, kw)
        return dx, dweight, db


__all__ = ["Conv2dFn"]
