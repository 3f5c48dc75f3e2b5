"""Activation kernels, each one pass over memory: the sigmoid forward and the activations' backward.

NumPy writes ``g · out · (1 − out)`` as three passes over the arrays (and ``g · (out > 0)`` as two,
with a temporary boolean array); for LeNet's sigmoids over (256, 6, 28, 28) that is most of their
cost, since each element needs only a few arithmetic operations. The numba loops do the whole
expression per element in one pass, in the same order of operations as the generic path, so both
paths give the same bits, and every element is computed alone, so the result does not depend on
the number of threads either::

    sigmoid_backward:  da = ((1 − out) · out) · g          (σ' = σ · (1 − σ), out = σ(a))
    relu_backward:     da = 0 if out <= 0 else g           (ReLU'(0) = 0; NaN out passes g, as PyTorch)

The sigmoid forward, σ(a) = 1 / (1 + e^−a), is four passes in NumPy (negate, exp, add, divide).
For float32 arrays the numba loop does it in one, with its own e^t: numba's ``exp`` is a scalar
library call that does not vectorise, so the loop computes e^t from arithmetic that does::

    e^t = 2^k · e^r,   k = round(t / ln 2),   r = t − k·ln 2  ∈ [−ln 2 / 2, ln 2 / 2]
    e^r ≈ 1 + r + r² · P(r)          P: Cephes' degree-5 polynomial for expf (error below 1 ulp)
    2^k  = the float32 whose bits are (k + 127) << 23   (its exponent field, mantissa 0)

ln 2 is split into ``LN2_HI`` (few mantissa bits, so k·LN2_HI is exact) + ``LN2_LO``, which keeps r
accurate. t = −a is clamped to [−88, 88], where 2^k stays a normal float32: for a > 88, σ(a)
rounds to 1 anyway; for a < −88, σ(a) < 2e−38 is below the smallest normal float32 and the loop
returns 0 (NumPy's path returns 0 from a ≈ −88.7, where e^−a overflows). NaN stays NaN. The result
is within 3 ulp of the exact σ (2.3 measured over ±100, tested against float64; NumPy's four passes: 3.0);
it is not NumPy's bits, whose ``exp`` is
another approximation. float64 arrays take the NumPy path.

Arrays of fewer than ``SMALL`` elements take the generic path too: starting numba's threads costs
more than the loop saves there.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import use_numba, xp_of

from ._jit import compile_loops

SMALL = 1 << 15  # elements; below this the generic (NumPy) path is used


# ---------------------------------------------------------------- generic path (NumPy or CuPy)
def sigmoid_forward_generic(a):
    """σ(a) = 1 / (1 + e^−a) in four in-place passes (no temporaries), a new array.

    It keeps full relative precision on both tails: for a << 0, e^−a is large and 1 + e^−a ≈ e^−a,
    so σ ≈ e^a (1 + tanh(a/2) would cancel there). Where e^−a overflows (a < −88.7 in float32) it
    is inf and σ = 1/inf = 0, the limit (below the smallest normal float32).
    """
    xp = xp_of(a)
    out = xp.negative(a, out=xp.empty_like(a))  # an array even for 0-d a (NumPy returns scalars there)
    with np.errstate(over="ignore"):
        xp.exp(out, out=out)  # e^−a
    out += 1
    xp.reciprocal(out, out=out)  # 1 / (1 + e^−a)
    return out


def sigmoid_backward_generic(g, out):
    xp = xp_of(out)
    da = xp.subtract(1, out, out=xp.empty_like(out))  # ((1 − out) · out) · g, in place after the first pass
    da *= out
    da *= g
    return da


def relu_backward_generic(g, out):
    xp = xp_of(out)
    return xp.where(out <= 0, xp.zeros((), dtype=g.dtype), g)  # selected: inf or NaN g stays out of the zeros


# ---------------------------------------------------------------- numba path (NumPy, CPU)
_f32 = np.float32  # the constants below are float32, so the arithmetic stays float32
LOG2E, LN2_HI, LN2_LO = _f32(1.44269504088896341), _f32(0.693359375), _f32(-2.12194440e-4)
EXP_P = tuple(_f32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
T_MAX = _f32(88.0)  # |t| clamp: 2^k stays a normal float32


def sigmoid_forward_loops(a, out):
    """``out = σ(a) = 1 / (1 + e^−a)`` over flat float32 arrays, e^−a as in the module docstring."""
    p0, p1, p2, p3, p4, p5 = EXP_P
    one = _f32(1)
    for i in prange(a.size):
        x = a[i]
        t = min(max(-x, -T_MAX), T_MAX) if x == x else one  # t = −a, clamped (NaN: any number, see the end)
        k = np.floor(t * LOG2E + _f32(0.5))  # round(t / ln 2)
        r = t - k * LN2_HI - k * LN2_LO  # t − k·ln 2, in two steps
        e_r = ((((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * r * r + r) + one
        two_k = np.int32((np.int32(k) + 127) << 23).view(np.float32)  # 2^k from its exponent bits
        s = one / (one + e_r * two_k)
        if x < -T_MAX:
            s = _f32(0)  # below the smallest normal float32
        out[i] = s if x == x else x  # NaN stays NaN


# ``one`` is 1 in the arrays' dtype: a literal 1 would promote float32 arithmetic to float64.
def sigmoid_backward_loops(g, out, da, one):
    """``da = ((1 − out) · out) · g`` over flat arrays of one dtype."""
    for i in prange(da.size):
        o = out[i]
        da[i] = (one - o) * o * g[i]


def relu_backward_loops(g, out, da, one):
    """``da = 0 if out <= 0 else g`` over flat arrays of one dtype (selected, so NaN out passes g and an
    infinite g gives 0, not NaN, where out <= 0)."""
    zero = one - one
    for i in prange(da.size):
        da[i] = zero if out[i] <= 0 else g[i]


_sigmoid_forward_jit = compile_loops(sigmoid_forward_loops)
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


def sigmoid_forward(a):
    """σ(a) = 1 / (1 + e^−a), a new array: the one-pass loop for large C-contiguous float32 NumPy
    arrays, else the generic four passes.

    >>> import numpy as np
    >>> sigmoid_forward(np.array([0.0, np.log(3.0)]))
    array([0.5 , 0.75])
    """
    if not use_numba(a) or a.dtype != np.float32 or a.size < SMALL or not a.flags.c_contiguous:
        return sigmoid_forward_generic(a)
    out = np.empty_like(a)
    _sigmoid_forward_jit(a.reshape(-1), out.reshape(-1))
    return out


def sigmoid_backward(g, out):
    """dL/da of ``out = σ(a)`` given ``g = dL/dout``: ``g · out · (1 − out)``, a new array.

    >>> import numpy as np
    >>> sigmoid_backward(np.ones(2), np.array([0.5, 0.25]))
    array([0.25  , 0.1875])
    """
    return _fused(_sigmoid_backward_jit, sigmoid_backward_generic, g, out)


def relu_backward(g, out):
    """dL/da of ``out = max(a, 0)`` given ``g = dL/dout``: 0 where out <= 0, else g; a new array.

    >>> import numpy as np
    >>> relu_backward(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.5, 2.0]))
    array([0., 2., 3.])
    """
    return _fused(_relu_backward_jit, relu_backward_generic, g, out)
