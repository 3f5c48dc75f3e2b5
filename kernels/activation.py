"""Backward passes of the activations, each one pass over memory.

NumPy writes ``g · out · (1 − out)`` as three passes over the arrays (and ``g · (out > 0)`` as two,
with a temporary boolean array); for LeNet's sigmoids over (256, 6, 28, 28) that is most of their
cost, since each element needs only a few arithmetic operations. The numba loops do the whole
expression per element in one pass, in the same order of operations as the generic path, so both
paths give the same bits, and every element is computed alone, so the result does not depend on
the number of threads either::

    sigmoid_backward:  da = ((1 − out) · out) · g          (σ' = σ · (1 − σ), out = σ(a))
    relu_backward:     da = g · [out > 0]                  (ReLU'(0) = 0, as PyTorch; NaN · 0 = NaN)

The forward passes stay in NumPy: its ``exp`` is vectorised (SIMD), numba's scalar ``exp`` is
about twice slower per element here, and ``maximum`` is already one pass.

Arrays of fewer than ``SMALL`` elements take the generic path too: starting numba's threads costs
more than the loop saves there.
"""

from __future__ import annotations

from numba import prange

from minitorch_cnn.backend import use_numba, xp_of

from ._jit import compile_loops

SMALL = 1 << 15  # elements; below this the generic (NumPy) path is used


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def sigmoid_backward_generic(g, out):
    da = 1 - out  # ((1 − out) · out) · g, in place after the first pass
    da *= out
    da *= g
    return da


def relu_backward_generic(g, out):
    return g * (out > 0)


# ---------------------------------------------------------------- numba path (NumPy, CPU)
# ``one`` is 1 in the arrays' dtype: a literal 1 would promote float32 arithmetic to float64.
def sigmoid_backward_loops(g, out, da, one):
    """``da = ((1 − out) · out) · g`` over flat arrays of one dtype."""
    for i in prange(da.size):
        o = out[i]
        da[i] = (one - o) * o * g[i]


def relu_backward_loops(g, out, da, one):
    """``da = g · [out > 0]`` over flat arrays of one dtype (a multiplication, so NaN in g stays NaN)."""
    zero = one - one
    for i in prange(da.size):
        da[i] = g[i] * (one if out[i] > 0 else zero)


_sigmoid_backward_jit = compile_loops(sigmoid_backward_loops)
_relu_backward_jit = compile_loops(relu_backward_loops)


def _fused(loops, generic, g, out):
    """Run ``loops`` on flat views when both arrays are C-contiguous NumPy arrays of one dtype and
    shape with at least ``SMALL`` elements, else ``generic``."""
    if (not use_numba(out) or out.size < SMALL or g.shape != out.shape or g.dtype != out.dtype
            or not (g.flags.c_contiguous and out.flags.c_contiguous)):
        return generic(g, out)
    da = xp_of(out).empty_like(out)
    loops(g.reshape(-1), out.reshape(-1), da.reshape(-1), out.dtype.type(1))
    return da


def sigmoid_backward(g, out):
    """dL/da of ``out = σ(a)`` given ``g = dL/dout``: ``g · out · (1 − out)``, a new array.

    >>> import numpy as np
    >>> sigmoid_backward(np.ones(2), np.array([0.5, 0.25]))
    array([0.25  , 0.1875])
    """
    return _fused(_sigmoid_backward_jit, sigmoid_backward_generic, g, out)


def relu_backward(g, out):
    """dL/da of ``out = max(a, 0)`` given ``g = dL/dout``: g where out > 0, else 0; a new array.

    >>> import numpy as np
    >>> relu_backward(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.5, 2.0]))
    array([0., 2., 3.])
    """
    return _fused(_relu_backward_jit, relu_backward_generic, g, out)
