"""CUDA kernels for CuPy arrays: im2col, col2im, max pooling and sum pooling, forward and backward.

These serve CuPy arrays on the kernel path ``"numba"`` (the default; ``backend.use_cuda_kernels``);
the path ``"generic"`` sends CuPy arrays through the ``xp``-only code of ``im2col.py`` and
``pooling.py`` instead. The contract of each function is the one of its generic twin: same
arguments, same shapes, same results (bit for bit where the summation order is the same, see
below). Only float32 and float64 are compiled (``DTYPES``); any other dtype is refused with a
``TypeError`` naming it.

``dispatch.pick`` imports this module on the first CuPy array it meets.

One C source, compiled per dtype: ``source(dtype)`` puts ``typedef float T;`` (or ``double``)
before ``SOURCE`` and CuPy compiles it with NVRTC on first use (``cupy.RawModule``, cached per
dtype). Each kernel gives one output element to each thread, in a grid-stride loop with a 64-bit
flat index, so any size runs with any grid. The arrays are C-contiguous; a flat index is split
into coordinates by ``%`` and ``/``, last axis first.

The index math (the same as the numba loops; ``t`` is ``n·C + c``, one (image, channel) plane;
``dil_h, dil_w`` the dilation; ``cols`` in the column layout ``(C, kh, kw, N, Ho, Wo)`` of
``im2col.py``)
-------------------------------------------------------------------------------------------------
``im2col_kernel``, one thread per column entry ``(c, i, j, n, oh, ow)``::

    h = oh*sh - ph + i*dil_h,  w = ow*sw - pw + j*dil_w
    cols[c, i, j, n, oh, ow] = x[n, c, h, w] if 0 <= h < H and 0 <= w < W else pad_value

``col2im_gather_kernel``, one thread per input pixel ``(n, c, h, w)``: a **gather**. The pixel
received a copy in window (oh, ow) at tap (i, j) exactly when ``h = oh*sh - ph + i*dil_h`` and
``w = ow*sw - pw + j*dil_w``; solved for the window::

    ah = h + ph - i*dil_h,  aw = w + pw - j*dil_w
    tap (i, j) touched the pixel  <=>  ah >= 0, ah % sh == 0, oh = ah / sh < Ho  (same for aw, ow)
    dx[n, c, h, w] = Σ_{i, j ascending, touched} cols[c, i, j, n, oh, ow]

Each thread writes only its own pixel, so no two threads add into one address: no atomics, and
the sum is deterministic. Taps are added in ascending (i, j), the order in which the numba and
generic ``col2im`` add into a pixel, so the three agree bit for bit.

``max_pool_forward_kernel``, one thread per window ``(n, c, oh, ow)``: the numba loop verbatim
(start from ``lowest`` = -inf at the first in-bounds tap, strictly greater wins, so the first of
equal values is kept; the last NaN beats numbers; padding taps are skipped), writing ``y`` and
``argmax = i*kw + j``.

``max_pool_backward_gather_kernel``, one thread per input pixel: for every tap (i, j) that
touched the pixel (as in col2im), add ``g[n, c, oh, ow]`` if that window's argmax is the tap,
``i*kw + j``. Taps are visited in *descending* (i, j), which visits the windows in ascending
(oh, ow), the order in which the numba loop adds, so the results agree bit for bit.

``sum_pool_forward_kernel`` adds a window's in-bounds taps in ascending (i, j) into a double
accumulator (as the numba loop does), or, where the windows tile the input, sums each column of
the window and then the columns, in x's dtype (as the numba tiles loop does), ``sum_pool_backward_gather_kernel`` is the max-pool gather
without the argmax test (every touched tap adds its window's gradient).

Verification without a GPU (``tests/test_gpu.py``): ``nvcc -ptx`` compiles ``source`` for both
dtypes when nvcc is installed; the same source is compiled for the host with a C++ compiler
(``__global__`` defined away, a one-thread grid) and run against the numba kernels.
"""

from __future__ import annotations

import numpy as np

from minitorch_cnn.backend import xp_of

from .window import Window

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

KERNEL_NAMES = (
    "im2col_kernel",
    "col2im_gather_kernel",
    "max_pool_forward_kernel",
    "max_pool_backward_gather_kernel",
    "sum_pool_forward_kernel",
    "sum_pool_backward_gather_kernel",
)

SOURCE = r"""
// T (float or double) is typedef'd before this source. Every array is C-contiguous.
// One thread per output element, in a grid-stride loop over a 64-bit flat index. Every kernel
// takes the same geometry after its arrays and total: N, C, H, W, kh, kw, Ho, Wo, sh, sw, ph, pw,
// dil_h, dil_w (the pooling kernels do not need N and C: their t = n*C + c stays whole).
#define GRID_STRIDE_LOOP(idx, total) \
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < (total); \
         idx += (long long)blockDim.x * gridDim.x)

// cols (C, kh, kw, N, Ho, Wo) from x (N, C, H, W); taps in the padding read pad_value.
extern "C" __global__ void im2col_kernel(
        const T* x, T* cols, long long total, int N, int C, int H, int W, int kh, int kw, int Ho, int Wo,
        int sh, int sw, int ph, int pw, int dil_h, int dil_w, T pad_value) {
    GRID_STRIDE_LOOP(idx, total) {
        long long t = idx;
        const int ow = t % Wo; t /= Wo;
        const int oh = t % Ho; t /= Ho;
        const int n = t % N; t /= N;
        const int j = t % kw; t /= kw;
        const int i = t % kh; t /= kh;  // t = c
        const int h = oh * sh - ph + i * dil_h;
        const int w = ow * sw - pw + j * dil_w;
        cols[idx] = (0 <= h && h < H && 0 <= w && w < W) ? x[(((long long)n * C + t) * H + h) * W + w] : pad_value;
    }
}

// dx (N, C, H, W) = the adjoint of im2col, as a gather from cols (C, kh, kw, N, Ho, Wo): each
// pixel sums the column entries copied from it, taps in ascending (i, j). No atomics: a thread
// writes only its own pixel.
extern "C" __global__ void col2im_gather_kernel(
        const T* cols, T* dx, long long total, int N, int C, int H, int W, int kh, int kw, int Ho, int Wo,
        int sh, int sw, int ph, int pw, int dil_h, int dil_w) {
    GRID_STRIDE_LOOP(idx, total) {
        long long t = idx;
        const int w = t % W; t /= W;
        const int h = t % H; t /= H;
        const int c = t % C;
        const int n = t / C;
        T acc = 0;
        for (int i = 0; i < kh; ++i) {
            const int ah = h + ph - i * dil_h;  // = oh*sh when tap i of window row oh reads row h
            if (ah < 0) break;               // ah only decreases with i
            if (ah % sh != 0) continue;
            const int oh = ah / sh;
            if (oh >= Ho) continue;
            for (int j = 0; j < kw; ++j) {
                const int aw = w + pw - j * dil_w;
                if (aw < 0) break;
                if (aw % sw != 0) continue;
                const int ow = aw / sw;
                if (ow >= Wo) continue;
                acc += cols[(((((long long)c * kh + i) * kw + j) * N + n) * Ho + oh) * Wo + ow];
            }
        }
        dx[idx] = acc;
    }
}

// y and argmax (N, C, Ho, Wo): the first maximum of each window in row-major tap order;
// the last NaN beats numbers (PyTorch's CPU rule), padding taps are skipped; lowest = -inf.
extern "C" __global__ void max_pool_forward_kernel(
        const T* x, T* y, long long* argmax, long long total, int N, int C, int H, int W, int kh, int kw,
        int Ho, int Wo, int sh, int sw, int ph, int pw, int dil_h, int dil_w, T lowest) {
    GRID_STRIDE_LOOP(idx, total) {
        long long t = idx;
        const int ow = t % Wo; t /= Wo;
        const int oh = t % Ho; t /= Ho;  // t = n*C + c
        const T* plane = x + t * H * W;
        T best = lowest;
        int i0 = 0, j0 = 0;  // the first in-bounds tap: the index of a window of -inf
        while (i0 < kh - 1 && oh * sh - ph + i0 * dil_h < 0) ++i0;
        while (j0 < kw - 1 && ow * sw - pw + j0 * dil_w < 0) ++j0;
        long long best_k = i0 * kw + j0;
        for (int i = 0; i < kh; ++i) {
            const int h = oh * sh - ph + i * dil_h;
            if (h < 0 || h >= H) continue;
            for (int j = 0; j < kw; ++j) {
                const int w = ow * sw - pw + j * dil_w;
                if (w < 0 || w >= W) continue;
                const T v = plane[h * W + w];
                if (v > best || v != v) {  // greater wins, ties keep the first; the last NaN wins
                    best = v;
                    best_k = i * kw + j;
                }
            }
        }
        y[idx] = best;
        argmax[idx] = best_k;
    }
}

// dx (N, C, H, W): each pixel gathers the gradients of the windows whose argmax it is.
// Taps in descending (i, j) visit the windows in ascending (oh, ow), the numba loop's order.
extern "C" __global__ void max_pool_backward_gather_kernel(
        const T* g, const long long* argmax, T* dx, long long total, int N, int C, int H, int W, int kh,
        int kw, int Ho, int Wo, int sh, int sw, int ph, int pw, int dil_h, int dil_w) {
    GRID_STRIDE_LOOP(idx, total) {
        long long t = idx;
        const int w = t % W; t /= W;
        const int h = t % H; t /= H;  // t = n*C + c
        const T* g_plane = g + t * Ho * Wo;
        const long long* am = argmax + t * Ho * Wo;
        T acc = 0;
        for (int i = kh - 1; i >= 0; --i) {
            const int ah = h + ph - i * dil_h;
            if (ah < 0 || ah % sh != 0) continue;
            const int oh = ah / sh;
            if (oh >= Ho) continue;
            for (int j = kw - 1; j >= 0; --j) {
                const int aw = w + pw - j * dil_w;
                if (aw < 0 || aw % sw != 0) continue;
                const int ow = aw / sw;
                if (ow >= Wo) continue;
                if (am[oh * Wo + ow] == i * kw + j) acc += g_plane[oh * Wo + ow];
            }
        }
        dx[idx] = acc;
    }
}

// y (N, C, Ho, Wo): window sums, padding taps add nothing; a double accumulator. Where the
// windows tile x (tiles = 1), the numba loop's order and type instead: column sums over i in T,
// then those added over j in T.
extern "C" __global__ void sum_pool_forward_kernel(
        const T* x, T* y, long long total, int N, int C, int H, int W, int kh, int kw, int Ho, int Wo,
        int sh, int sw, int ph, int pw, int dil_h, int dil_w, int tiles) {
    GRID_STRIDE_LOOP(idx, total) {
        long long t = idx;
        const int ow = t % Wo; t /= Wo;
        const int oh = t % Ho; t /= Ho;  // t = n*C + c
        const T* plane = x + t * H * W;
        if (tiles) {
            const T* corner = plane + (long long)(oh * kh) * W + ow * kw;
            T sum = 0;
            for (int j = 0; j < kw; ++j) {
                T column = corner[j];
                for (int i = 1; i < kh; ++i) column += corner[(long long)i * W + j];
                sum = j == 0 ? column + (T)0 : sum + column;  // + 0: a window of -0 sums to +0
            }
            y[idx] = sum;
            continue;
        }
        double acc = 0;
        for (int i = 0; i < kh; ++i) {
            const int h = oh * sh - ph + i * dil_h;
            if (h < 0 || h >= H) continue;
            for (int j = 0; j < kw; ++j) {
                const int w = ow * sw - pw + j * dil_w;
                if (0 <= w && w < W) acc += plane[h * W + w];
            }
        }
        y[idx] = (T)acc;
    }
}

// dx (N, C, H, W): each pixel gathers the gradients of every window that contains it,
// windows in ascending (oh, ow) as in the numba loop.
extern "C" __global__ void sum_pool_backward_gather_kernel(
        const T* g, T* dx, long long total, int N, int C, int H, int W, int kh, int kw, int Ho, int Wo,
        int sh, int sw, int ph, int pw, int dil_h, int dil_w) {
    GRID_STRIDE_LOOP(idx, total) {
        long long t = idx;
        const int w = t % W; t /= W;
        const int h = t % H; t /= H;  // t = n*C + c
        const T* g_plane = g + t * Ho * Wo;
        T acc = 0;
        for (int i = kh - 1; i >= 0; --i) {
            const int ah = h + ph - i * dil_h;
            if (ah < 0 || ah % sh != 0) continue;
            const int oh = ah / sh;
            if (oh >= Ho) continue;
            for (int j = kw - 1; j >= 0; --j) {
                const int aw = w + pw - j * dil_w;
                if (aw < 0 || aw % sw != 0) continue;
                const int ow = aw / sw;
                if (ow < Wo) acc += g_plane[oh * Wo + ow];
            }
        }
        dx[idx] = acc;
    }
}
"""

_BLOCK = 256  # threads per block
_MAX_GRID = 1 << 16  # blocks; the grid-stride loop covers any size beyond _BLOCK·_MAX_GRID
_modules: dict = {}  # dtype -> cupy.RawModule, compiled on first use


def source(dtype) -> str:
    """The CUDA C source of every kernel for ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype not in _C_TYPES:
        raise TypeError(f"kernels.cuda: compiled for float32 and float64 only, got {dtype}")
    return f"typedef {_C_TYPES[dtype]} T;\n{SOURCE}"


def _kernel(cp, name: str, dtype):
    """The compiled kernel ``name`` for ``dtype`` (NVRTC compiles each dtype's module once)."""
    dtype = np.dtype(dtype)
    module = _modules.get(dtype)
    if module is None:
        module = _modules[dtype] = cp.RawModule(code=source(dtype))
    return module.get_function(name)


def _launch(cp, name, dtype, total, args):
    if total == 0:
        return
    grid = min((total + _BLOCK - 1) // _BLOCK, _MAX_GRID)
    _kernel(cp, name, dtype)((grid,), (_BLOCK,), args)


def _window_args(N, C, H, W, window: Window):
    """The int32 geometry every kernel takes after its arrays and total:
    ``N, C, H, W, kh, kw, Ho, Wo, sh, sw, ph, pw, dil_h, dil_w``."""
    (kh, kw), stride, padding, dilation, (Ho, Wo) = window
    return tuple(np.int32(v) for v in (N, C, H, W, kh, kw, Ho, Wo, *stride, *padding, *dilation))


# ---------------------------------------------------------------- im2col / col2im
def im2col_cuda(x, window: Window, pad_value=0.0):
    """Same contract as ``im2col_generic``, for CuPy arrays, with ``im2col_kernel``."""
    cp = xp_of(x)
    N, C, H, W = x.shape
    x = cp.ascontiguousarray(x)
    cols = cp.empty((C, *window.kernel, N, *window.out), dtype=x.dtype)
    args = (x, cols, np.int64(cols.size), *_window_args(N, C, H, W, window), x.dtype.type(pad_value))
    _launch(cp, "im2col_kernel", x.dtype, cols.size, args)
    return cols


def col2im_cuda(cols, x_shape, window: Window):
    """Same contract as ``col2im_generic``, for CuPy arrays, with the gather ``col2im_gather_kernel``."""
    cp = xp_of(cols)
    cols = cp.ascontiguousarray(cols)
    dx = cp.empty(tuple(x_shape), dtype=cols.dtype)
    args = (cols, dx, np.int64(dx.size), *_window_args(*x_shape, window))
    _launch(cp, "col2im_gather_kernel", cols.dtype, dx.size, args)
    return dx


# ---------------------------------------------------------------- pooling
def max_pool2d_forward_cuda(x, window: Window):
    """Same contract as ``max_pool2d_forward_generic``: ``(y, argmax)``, argmax int64."""
    cp = xp_of(x)
    x = cp.ascontiguousarray(x)
    y = cp.empty((*x.shape[:2], *window.out), dtype=x.dtype)
    argmax = cp.empty(y.shape, dtype=np.int64)
    lowest = x.dtype.type(-np.inf)
    args = (x, y, argmax, np.int64(y.size), *_window_args(*x.shape, window), lowest)
    _launch(cp, "max_pool_forward_kernel", x.dtype, y.size, args)
    return y, argmax


def max_pool2d_backward_cuda(g, argmax, x_shape, window: Window):
    """Same contract as ``max_pool2d_backward_generic``, as a gather (no atomics)."""
    cp = xp_of(g)
    g = cp.ascontiguousarray(g)
    argmax = cp.ascontiguousarray(argmax, dtype=np.int64)
    dx = cp.empty(tuple(x_shape), dtype=g.dtype)
    args = (g, argmax, dx, np.int64(dx.size), *_window_args(*x_shape, window))
    _launch(cp, "max_pool_backward_gather_kernel", g.dtype, dx.size, args)
    return dx


def sum_pool2d_forward_cuda(x, window: Window):
    """Same contract as ``sum_pool2d_forward_generic``: window sums, padding reads 0."""
    cp = xp_of(x)
    x = cp.ascontiguousarray(x)
    y = cp.empty((*x.shape[:2], *window.out), dtype=x.dtype)
    args = (x, y, np.int64(y.size), *_window_args(*x.shape, window), np.int32(window.tiles(x.shape[2:])))
    _launch(cp, "sum_pool_forward_kernel", x.dtype, y.size, args)
    return y


def sum_pool2d_backward_cuda(g, x_shape, window: Window):
    """Same contract as ``sum_pool2d_backward_generic``, as a gather (no atomics)."""
    cp = xp_of(g)
    g = cp.ascontiguousarray(g)
    dx = cp.empty(tuple(x_shape), dtype=g.dtype)
    args = (g, dx, np.int64(dx.size), *_window_args(*x_shape, window))
    _launch(cp, "sum_pool_backward_gather_kernel", g.dtype, dx.size, args)
    return dx
