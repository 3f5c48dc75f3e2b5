"""The batch-last columns (kernels/batch_last.py): im2col's columns with the batch moved last, their
col2im the adjoint, and the loops run un-jitted as plain Python giving the compiled kernels' bits.
The op built on them is checked against every oracle by the conformance suite
(functional/conv/test_conformance.py)."""

from __future__ import annotations

import numpy as np
from minitorch_cnn.kernels import Window, im2col_numba
from minitorch_cnn.kernels import batch_last as bk


def test_columns_are_im2cols_with_the_batch_moved_last():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 6, 7))
    cols = bk.batch_last_columns(bk.to_batch_last(x, 1, 2), (3, 2))  # (C, kh, kw, Ho, Wo, n)
    reference = im2col_numba(x, Window.fit((6, 7), (3, 2), (1, 1), (1, 2), (1, 1)))  # (C, kh, kw, N, Ho, Wo)
    np.testing.assert_array_equal(cols, reference.transpose(0, 1, 2, 4, 5, 3))
    # col2im is the adjoint: <cols(x), c> = <x, col2im(c)> (padding dropped by the caller)
    c = rng.standard_normal(cols.shape)
    dxb = bk.batch_last_col2im(c, (2, 8, 11, 3))
    dx = dxb[:, 1:7, 2:9].transpose(3, 0, 1, 2)
    assert abs(np.vdot(cols, c) - np.vdot(x, dx)) < 1e-10 * (1 + abs(np.vdot(cols, c)))


def test_plain_loops_unjitted_give_the_compiled_numbers():
    """The ``*_loops`` functions are plain Python: run as written, they give the compiled kernels' bits."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4, 5))
    xb = np.empty((2, 6, 9, 3))
    bk.to_batch_last_loops(x, 1, 2, xb)
    np.testing.assert_array_equal(xb, bk.to_batch_last(x, 1, 2))
    cols = np.empty((2, 3, 2, 4, 8, 3))
    bk.batch_last_columns_loops(xb, cols)
    np.testing.assert_array_equal(cols, bk.batch_last_columns(xb, (3, 2)))
    c = rng.standard_normal(cols.shape)
    dxb = np.empty_like(xb)
    bk.batch_last_col2im_loops(c, dxb)
    np.testing.assert_array_equal(dxb, bk.batch_last_col2im(c, xb.shape))
