"""Winograd's minimal filtering: a 3×3, stride-1 convolution with fewer multiplications than im2col.

The idea in one dimension, F(2, 3): two outputs of a 3-tap correlation of d = (d0, d1, d2, d3)
with g = (g0, g1, g2) are ``y0 = d0 g0 + d1 g1 + d2 g2`` and ``y1 = d1 g0 + d2 g1 + d3 g2`` (six
multiplications). Winograd computes them with four::

    y = Aᵀ [ (G g) ⊙ (Bᵀ d) ]          ⊙ elementwise; G g depends on the kernel only

    Bᵀ = [[1,  0, -1,  0],            G = [[1,    0,   0  ],         Aᵀ = [[1, 1,  1,  0],
          [0,  1,  1,  0],                 [1/2,  1/2, 1/2],               [0, 1, -1, -1]]
          [0, -1,  1,  0],                 [1/2, -1/2, 1/2],
          [0,  1,  0, -1]]                 [0,    0,   1  ]]

(multiply it out: the four products (d0-d2)g0, (d1+d2)(g0+g1+g2)/2, (d2-d1)(g0-g1+g2)/2 and
(d1-d3)g2 recombine into y0 and y1.) In two dimensions the same matrices act on rows and columns:
one output tile ``Y (m, m)`` of a 3×3 kernel ``g`` over an input tile ``d (α, α)``, α = m + 2, is ::

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A                                    (1)

F(2×2, 3×3) (m = 2, 4×4 tiles) needs 16 multiplications for 4 outputs instead of 36 (2.25× fewer),
F(4×4, 3×3) (m = 4, 6×6 tiles) 36 for 16 instead of 144 (4× fewer), at some cost in float32
accuracy (its matrices hold larger numbers).

A convolution layer. Cut the padded input into overlapping α×α tiles at a step of m (tile (i, j)
starts at row m·i, column m·j; neighbouring tiles share 2 rows/columns, as neighbouring windows do).
Then (1) with channels is::

    U = G w Gᵀ         per (O, C) kernel:           (α, α, O, C)      the transformed kernel
    V = Bᵀ d B         per (C, image, tile):        (α, α, C, T)      T = N · tiles per image
    M[ξ, ν] = U[ξ, ν] @ V[ξ, ν]                     (O, C) @ (C, T) -> (O, T), for each of α² positions
    Y = Aᵀ M A         per (O, image, tile):        (m, m, O, T)      -> (N, O, Ho, Wo)

The sum over input channels happens in the α² matrix products: that is where the multiplications
are saved. The transforms do not shrink with the channels: on a 64-channel 32×32 layer at batch 64,
F(4×4)'s four tile transforms (V, y, dM, dx) took somewhat longer than its three sets of channel
products (``python -m benchmarks.profiling conv --threads 1 --algorithm auto``, its cProfile
section; the figures are in ``benchmarks/RESULTS.md``).

Backward. Every step above is linear, so the gradient runs through the transposes, in reverse
order. With ``dY`` = dL/dY cut into m×m tiles::

    dM = A dY Aᵀ                                    (α, α, O, T)      the transpose of Y = Aᵀ M A
    dU[ξ, ν] = dM[ξ, ν] @ V[ξ, ν]ᵀ                  (O, T) @ (T, C) -> (O, C), summed over tiles
    dw = Gᵀ dU G                                    (3, 3, O, C)      the transpose of U = G w Gᵀ
    dV[ξ, ν] = U[ξ, ν]ᵀ @ dM[ξ, ν]                  (C, O) @ (O, T) -> (C, T)
    dd = B dV Bᵀ                                    (α, α, C, T)      the transpose of V = Bᵀ d B
    dx = the tiles dd added back where they were cut (overlaps add, as in col2im)

Two tile operations do all the transforms, each the adjoint of the other:

* ``cut_tiles(x, T, step, top, left, tiles)``: cut ``x (N, C, H, W)`` (zeros outside it, ``top``
  rows and ``left`` columns of them before it) into k×k tiles at a step of ``step``, k = T's
  columns, and transform each as ``T d Tᵀ``: ``(a, a, C, N, T_h, T_w)``, a = T's rows. The input
  transform is ``cut_tiles(x, Bᵀ, m, top, left)``; the output gradient's is ``cut_tiles(dY, A, m, 0, 0)``.
* ``add_tiles(M, S, step, top, left, shape)``: transform each tile of ``M (a, a, O, N, T_h, T_w)``
  as ``S M Sᵀ`` and add it into a zero array of ``shape`` (N, O, H, W) at the same places
  (overlapping tiles add; what falls outside is dropped). The output transform is
  ``add_tiles(M, Aᵀ, m, 0, 0)``; the input gradient's is ``add_tiles(dV, B, m, top, left)``.

Each has two paths with one contract, as the other kernels: numba loops for NumPy arrays (per
channel, over every tile of every image of the chunk at once: that axis is long and contiguous, so
the compiler vectorises each pass; the channel's images are first copied into zero-padded planes,
so that an entry of every tile is one gather at fixed offsets, with no bounds to check) and an
array-generic path (α² strided copies and two small matrix products over the tile axes) that CuPy
runs. Per image plane instead, a 24×24 image's 36 tiles made each pass a loop of 36 values (6 per
tile row in the gathers), and the transforms took longer (both loops timed alternately in one
process, 1 thread; the figures are in ``benchmarks/RESULTS.md``).

The convolution is built from four steps that ``functional/winograd.py`` runs per chunk of images:
``winograd_weight_tiles`` (U, once), ``winograd_tiles_forward`` (V and y), ``winograd_tiles_backward``
(dU and dx) and ``winograd_weight_grad`` (dw, once, from the chunks' summed dU);
``winograd_conv2d_forward`` / ``_backward`` chain them over a whole batch.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minitorch_cnn.backend import use_numba, xp_of

from ._jit import compile_loops
from .window import conv_out_size

# The transform matrices of F(m×m, 3×3), exact fractions, for m = 2 and m = 4 (Lavin & Gray, 2016).
_MATRICES = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ],
        [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    ),
}


def winograd_matrices(m: int, xp=np, dtype=np.float64):
    """``(Bᵀ (α, α), G (α, 3), Aᵀ (m, α))`` of F(m×m, 3×3), α = m + 2, as arrays of ``xp``."""
    if m not in _MATRICES:
        raise ValueError(f"winograd: expected output tile size m = 2 or 4, got {m!r}")
    return tuple(xp.asarray(np.array(mat, dtype=np.float64), dtype=dtype) for mat in _MATRICES[m])



def tile_counts(Ho: int, Wo: int, m: int) -> tuple[int, int]:
    """Output tiles of size m per column and per row that cover Ho × Wo outputs (ceil)."""
    return -(-Ho // m), -(-Wo // m)


# --- the generic path ---------------------------------------------------------------------------


def _two_sided(T, X):
    """``T X Tᵀ`` over the two leading axes of ``X (k, k, ...)``: ``Y[i, j] = Σ T[i, p] T[j, q] X[p, q]``."""
    k, rest = X.shape[0], X.shape[2:]
    a = T.shape[0]
    Z = (T @ X.reshape(k, -1)).reshape(a, k, -1)  # Σ_p T[i, p] X[p, q, r]: one product
    Z = T @ Z  # Σ_q T[j, q] Z[i, q, r]: T broadcast over i
    return Z.reshape(a, a, *rest)


def cut_tiles_generic(x, T, step, top, left, tiles):
    xp = xp_of(x)
    N, C, H, W = x.shape
    T_h, T_w = tiles
    k = T.shape[1]
    Hp, Wp = step * (T_h - 1) + k, step * (T_w - 1) + k  # rows and columns the tiles span
    x_pad = xp.zeros((N, C, Hp, Wp), dtype=x.dtype)
    x_pad[:, :, top : top + H, left : left + W] = x[:, :, : Hp - top, : Wp - left]
    d = xp.empty((k, k, C, N, T_h, T_w), dtype=x.dtype)
    for p in range(k):  # d[p, q, c, n, i, j] = x_pad[n, c, step·i + p, step·j + q]
        for q in range(k):
            d[p, q] = x_pad[:, :, p : p + step * T_h : step, q : q + step * T_w : step].transpose(1, 0, 2, 3)
    return _two_sided(T, d)


def add_tiles_generic(M, S, step, top, left, shape):
    xp = xp_of(M)
    N, C, H, W = shape
    _, _, _, _, T_h, T_w = M.shape
    k = S.shape[0]
    Hp, Wp = max(step * (T_h - 1) + k, top + H), max(step * (T_w - 1) + k, left + W)
    d = _two_sided(S, M)  # (k, k, C, N, T_h, T_w)
    out = xp.zeros((N, C, Hp, Wp), dtype=M.dtype)
    for p in range(k):  # the adjoint of the cut: each tile entry goes back where it came from
        for q in range(k):
            out[:, :, p : p + step * T_h : step, q : q + step * T_w : step] += d[p, q].transpose(1, 0, 2, 3)
    return xp.ascontiguousarray(out[:, :, top : top + H, left : left + W])


# --- the numba path -----------------------------------------------------------------------------


def cut_tiles_loops(x, T, step, top, left, out):
    """out[a, b, c, n, i, j] = Σ_pq T[a, p] T[b, q] x_pad[n, c, step·i + p, step·j + q].

    Per channel, over all its images' tiles at once (t = (n, i, j), L = N·T_h·T_w of them: the
    inner axis of every pass, long and contiguous, so that the compiler vectorises it):

    * copy the channel's N images into zero-padded planes ``xp`` that the tiles span, laid end to
      end, so that entry (p, q) of tile t is ``xp[first[t] + p·Wp + q]``, with no bounds to check;
    * per entry (p, q), gather it from every tile, ``d[t]``, and add it into the row transform
      ``R[a, q, t] = Σ_p T[a, p] d[p, q, t]``;
    * transform the columns: ``out[a, b, t] = Σ_q T[b, q] R[a, q, t]``.
    """
    N, C, H, W = x.shape
    A, k = T.shape
    _, _, _, _, T_h, T_w = out.shape
    L = N * T_h * T_w
    Hp, Wp = step * (T_h - 1) + k, step * (T_w - 1) + k  # rows and columns the tiles span
    first = np.empty(L, dtype=np.int64)  # where tile t = (n, i, j) starts in the planes laid end to end
    for n in range(N):
        for i in range(T_h):
            for j in range(T_w):
                first[(n * T_h + i) * T_w + j] = (n * Hp + step * i) * Wp + step * j
    out_t = out.reshape((A, A, C, L))
    rows, columns = min(H, Hp - top), min(W, Wp - left)  # x's rows and columns inside the span
    for c in prange(C):  # channel c writes only out[:, :, c]: no races, any thread count
        xp = np.zeros(N * Hp * Wp, dtype=out.dtype)
        for n in range(N):
            for r in range(rows):
                for v in range(columns):
                    xp[(n * Hp + top + r) * Wp + left + v] = x[n, c, r, v]
        R = np.zeros((A, k, L), dtype=out.dtype)
        d = np.empty(L, dtype=out.dtype)
        for p in range(k):  # rows
            for q in range(k):
                shift = p * Wp + q
                for t in range(L):
                    d[t] = xp[first[t] + shift]
                for a in range(A):
                    coef = T[a, p]
                    if coef != 0.0:
                        for t in range(L):
                            R[a, q, t] += coef * d[t]
        row = np.empty(L, dtype=out.dtype)
        for a in range(A):  # columns, each summed in a small row before it is stored
            for b in range(A):
                row[:] = 0.0
                for q in range(k):
                    coef = T[b, q]
                    if coef != 0.0:
                        for t in range(L):
                            row[t] += coef * R[a, q, t]
                for t in range(L):
                    out_t[a, b, c, t] = row[t]


def add_tiles_loops(M, S, step, top, left, out):
    """out[n, c, r, col] = Σ over the tiles (i, j) and entries (p, q) that land on (r + top, col + left)
    = (step·i + p, step·j + q) of Σ_ab S[p, a] S[q, b] M[a, b, c, n, i, j].

    The adjoint of ``cut_tiles_loops``, its passes in reverse, per channel over all its tiles:
    transform the columns (``R[a, q, t] = Σ_b S[q, b] M[a, b, t]``); per entry (p, q), transform
    the rows (``D[t] = Σ_a S[p, a] R[a, q, t]``) and add D back where entry (p, q) of every tile was
    cut from, into zero-padded planes (overlapping tiles add up, p and q in increasing order); then
    copy the planes' inside to ``out``, dropping the padding.
    """
    N, C, H, W = out.shape
    k, A = S.shape
    _, _, _, _, T_h, T_w = M.shape
    L = N * T_h * T_w
    Hp, Wp = max(step * (T_h - 1) + k, top + H), max(step * (T_w - 1) + k, left + W)
    first = np.empty(L, dtype=np.int64)  # where tile t = (n, i, j) starts in the planes laid end to end
    for n in range(N):
        for i in range(T_h):
            for j in range(T_w):
                first[(n * T_h + i) * T_w + j] = (n * Hp + step * i) * Wp + step * j
    M_t = M.reshape((A, A, C, L))
    for c in prange(C):  # channel c writes only out[:, c]: no races, any thread count
        R = np.zeros((A, k, L), dtype=out.dtype)
        for a in range(A):  # columns
            for b in range(A):
                for q in range(k):
                    coef = S[q, b]
                    if coef != 0.0:
                        for t in range(L):
                            R[a, q, t] += coef * M_t[a, b, c, t]
        planes = np.zeros(N * Hp * Wp, dtype=out.dtype)
        D = np.empty(L, dtype=out.dtype)
        for p in range(k):  # rows, one entry (p, q) of every tile at a time
            for q in range(k):
                D[:] = 0.0
                for a in range(A):
                    coef = S[p, a]
                    if coef != 0.0:
                        for t in range(L):
                            D[t] += coef * R[a, q, t]
                shift = p * Wp + q
                for t in range(L):  # distinct pixels for one (p, q): tiles start step apart
                    planes[first[t] + shift] += D[t]
        for n in range(N):
            for r in range(H):
                for v in range(W):
                    out[n, c, r, v] = planes[(n * Hp + top + r) * Wp + left + v]


_cut_tiles_jit = compile_loops(cut_tiles_loops)
_add_tiles_jit = compile_loops(add_tiles_loops)


# --- dispatch -----------------------------------------------------------------------------------


def cut_tiles(x, T, step, top, left, tiles):
    """Tiles of ``x (N, C, H, W)`` transformed as ``T d Tᵀ``: ``(a, a, C, N, T_h, T_w)`` (see the module)."""
    if use_numba(x):
        T = np.ascontiguousarray(T, dtype=x.dtype)
        out = np.empty((T.shape[0], T.shape[0], x.shape[1], x.shape[0], *tiles), dtype=x.dtype)
        _cut_tiles_jit(np.ascontiguousarray(x), T, step, top, left, out)
        return out
    return cut_tiles_generic(x, T, step, top, left, tiles)


def add_tiles(M, S, step, top, left, shape, out=None):
    """Tiles of ``M`` transformed as ``S M Sᵀ`` and added into zeros of ``shape`` (see the module).

    Written into ``out`` (a C-contiguous array of ``shape``, such as a slice of the batch) when given."""
    if not use_numba(M):
        result = add_tiles_generic(M, S, step, top, left, shape)
        if out is None:
            return result
        out[...] = result
        return out
    out = np.empty(shape, dtype=M.dtype) if out is None else out  # a slice of the batch: C-contiguous
    _add_tiles_jit(np.ascontiguousarray(M), np.ascontiguousarray(S, dtype=M.dtype), step, top, left, out)
    return out


# --- the convolution ----------------------------------------------------------------------------


def winograd_weight_tiles(weight, m: int = 2):
    """``U = G w Gᵀ`` of every kernel of ``weight (O, C, 3, 3)``: ``(α, α, O, C)``."""
    G = winograd_matrices(m, xp_of(weight), weight.dtype)[1]
    return _two_sided(G, weight.transpose(2, 3, 0, 1))


def winograd_input_tiles(x, padding, m: int = 2):
    """``V = Bᵀ d B`` of every input tile d of ``x (N, C, H, W)``: ``(α, α, C, N·T_h·T_w)``."""
    N, C, H, W = x.shape
    top, bottom, left, right = padding
    tiles = tile_counts(conv_out_size(H + top + bottom, 3), conv_out_size(W + left + right, 3), m)
    BT = winograd_matrices(m, xp_of(x), x.dtype)[0]
    return cut_tiles(x, BT, m, top, left, tiles).reshape(m + 2, m + 2, C, -1)


def winograd_tiles_forward(x, U, padding, m, out):
    """``y = Aᵀ [U @ (Bᵀ d B)] A`` of ``x (N, C, H, W)`` written into ``out (N, O, Ho, Wo)``; returns V."""
    N, O, Ho, Wo = out.shape
    AT = winograd_matrices(m, xp_of(x), x.dtype)[2]
    V = winograd_input_tiles(x, padding, m)  # Bᵀ d B: (α, α, C, T)
    M = U @ V  # α² products (O, C) @ (C, T) -> (α, α, O, T)
    add_tiles(M.reshape(m + 2, m + 2, O, N, *tile_counts(Ho, Wo, m)), AT, m, 0, 0, out.shape, out)  # Aᵀ M A
    return V


def winograd_tiles_backward(grad, U, V, padding, m, dx_out=None):
    """The backward of ``winograd_tiles_forward`` for ``grad (N, O, Ho, Wo)``: ``dU = dM @ Vᵀ`` summed
    over the tiles (None when V is None), and ``dx`` written into ``dx_out`` (skipped when None)."""
    xp = xp_of(grad)
    N, O, Ho, Wo = grad.shape
    top, _, left, _ = padding
    BT, _, AT = winograd_matrices(m, xp, grad.dtype)
    alpha, tiles = m + 2, tile_counts(Ho, Wo, m)
    dM = cut_tiles(grad, AT.T, m, 0, 0, tiles).reshape(alpha, alpha, O, -1)  # A dY Aᵀ: (α, α, O, T)
    dU = None if V is None else dM @ xp.swapaxes(V, -1, -2)  # (α, α, O, T) @ (α, α, T, C) -> (α, α, O, C)
    if dx_out is not None:
        dV = xp.swapaxes(U, -1, -2) @ dM  # (α, α, C, O) @ (α, α, O, T) -> (α, α, C, T)
        C = dx_out.shape[1]
        add_tiles(dV.reshape(alpha, alpha, C, N, *tiles), BT.T, m, top, left, dx_out.shape, dx_out)  # B dV Bᵀ
    return dU


def winograd_weight_grad(dU, m: int = 2):
    """``dw = Gᵀ dU G``, the transpose of ``U = G w Gᵀ``: ``(α, α, O, C)`` -> ``(O, C, 3, 3)``."""
    xp = xp_of(dU)
    G = winograd_matrices(m, xp, dU.dtype)[1]
    return xp.ascontiguousarray(_two_sided(G.T, dU).transpose(2, 3, 0, 1))


def winograd_conv2d_forward(x, weight, padding, m: int = 2):
    """3×3, stride-1 cross-correlation of ``x (N, C, H, W)`` with ``weight (O, C, 3, 3)``.

    ``padding`` is (top, bottom, left, right) zeros. Returns ``(y, U, V)``: ``y (N, O, Ho, Wo)``,
    and the transformed kernel ``U (α, α, O, C)`` and input ``V (α, α, C, N·T_h·T_w)`` that the
    backward pass needs.
    """
    N, C, H, W = x.shape
    top, bottom, left, right = padding
    out = conv_out_size(H + top + bottom, 3), conv_out_size(W + left + right, 3)
    y = xp_of(x).empty((N, weight.shape[0], *out), dtype=x.dtype)
    U = winograd_weight_tiles(weight, m)  # G w Gᵀ: (3, 3, O, C) -> (α, α, O, C)
    V = winograd_tiles_forward(x, U, padding, m, y)
    return y, U, V


def winograd_conv2d_backward(grad, U, V, x_shape, padding, m: int = 2, need_x=True, need_w=True):
    """Gradients ``(dx (N, C, H, W), dw (O, C, 3, 3))`` of the forward above (None where not needed)."""
    dx = xp_of(grad).empty(x_shape, dtype=grad.dtype) if need_x else None
    dU = winograd_tiles_backward(grad, U, V if need_w else None, padding, m, dx)
    return dx, (winograd_weight_grad(dU, m) if need_w else None)
