"""Which algorithm computes each convolution, and how much memory the fast ones may use.

This module owns every conv setting and nothing else does: the algorithm setting
(``set_conv_algorithm``), the memory budget (``set_conv_memory_budget``), the cache-sized chunks
and the arrays kept between forward and backward. It writes them into the call's ``ConvSpec``
(``spec_for``), so the algorithms read no setting, and it picks the op (``choose``) from the
registry of fast algorithms (``fast/__init__.py``), in that registry's order of preference.

Settings of ``set_conv_algorithm``:

* ``"default"``: per layer, the first registered algorithm that applies and pays (was measured
  faster than the column matrix on such layers: ``benchmarks/RESULTS.md``), Winograd left out;
  the chunked column matrix (``fast/im2col.py``) where none does. All give PyTorch's numbers to
  float32 round-off.
* ``"auto"``: as ``"default"``, Winograd included where it pays. Winograd spreads one inf or NaN
  over its whole tile (``fast/winograd.py``), and rounds differently from PyTorch: F(4×4, 3×3) in float32 is 10-30× further from the exact result than the column matrix,
  and even F(2×2, 3×3), as exact per layer, can move a value across a ReLU's kink that PyTorch
  leaves on the other side (the d2l library's ResNet-18, ``tests/compat/test_d2l_library.py``).
* ``"reference"``: the reference op (``reference.py``, the docs page's code) on every layer,
  depthwise layers included.
* ``"im2col"``, ``"direct"``, ``"batch_last"``, ``"winograd"``, ``"depthwise"``: that algorithm on
  every layer it applies to, the chunked column matrix elsewhere.

An empty batch (N = 0) always takes the reference op, whatever the setting: there is nothing to
chunk or tile, and its output and gradients are empty or zero.
"""

from __future__ import annotations

import contextlib

from ...backend import device_of, use_numba
from . import fast
from .reference import Conv2dFn
from .spec import ConvSpec

CONV_ALGORITHMS = ("default", "auto", "reference", *fast.ALGORITHMS)
NOT_IN_DEFAULT = ("winograd",)  # its rounding, and its inf/NaN positions, differ from PyTorch's (module doc)
_conv_algorithm = "default"


def get_conv_algorithm() -> str:
    """How ``conv2d`` chooses its algorithm, one of ``CONV_ALGORITHMS`` (see the module doc)."""
    return _conv_algorithm


def set_conv_algorithm(algorithm: str) -> str:
    """Choose how ``conv2d`` computes each layer (see the module doc); returns the previous choice.

    PyTorch has no such switch; ``"default"`` gives its numbers to float32 round-off.
    """
    global _conv_algorithm
    if algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"set_conv_algorithm: expected one of {CONV_ALGORITHMS}, got {algorithm!r}")
    previous, _conv_algorithm = _conv_algorithm, algorithm
    return previous


def conv_algorithm(algorithm: str):
    """``with conv_algorithm("reference"): ...`` runs the block with that algorithm."""
    return _temporarily(set_conv_algorithm, algorithm)


def choose(spec: ConvSpec):
    """The Function that computes ``spec`` under the current setting."""
    setting = _conv_algorithm
    if setting == "reference" or spec.input_shape[0] == 0:  # an empty batch: nothing to chunk or tile
        return Conv2dFn
    if setting in fast.ALGORITHMS:
        chosen = fast.ALGORITHMS[setting]
        return chosen.FUNCTION if chosen.applies(spec) else fast.ALGORITHMS["im2col"].FUNCTION
    for name, algorithm in fast.ALGORITHMS.items():
        if setting == "default" and name in NOT_IN_DEFAULT:
            continue
        if algorithm.applies(spec) and algorithm.pays(spec):
            return algorithm.FUNCTION
    return fast.ALGORITHMS["im2col"].FUNCTION


# ---------------------------------------------------------------- memory
_conv_memory_budget = 256 * 2**20  # bytes of work arrays (columns, tiles) built at once

CPU_CONV_TILE_BYTES = 2 * 2**20  # one core's L2 cache: a chunk's columns are used while still in it
KEEP_COLS_BYTES = 16 * 2**20  # on the CPU; LeNet's second layer's columns are 15 MB at batch 256
KEEP_TILES_BYTES = 64 * 2**20  # on the CPU: Winograd's V is 2.25x the layer's input (F(4x4, 3x3))


def get_conv_memory_budget() -> int:
    """The most bytes of work arrays (column matrix, Winograd tiles) ``conv2d`` builds at once.

    The column matrix has kh·kw times the elements of the input; when a batch's would exceed the
    budget, the fast algorithms process the batch in chunks of whole images that fit (at least
    one). Results do not depend on it beyond round-off. The reference op ignores it.
    """
    return _conv_memory_budget


def set_conv_memory_budget(nbytes: int) -> int:
    """Set the work-array budget of ``conv2d`` in bytes; returns the previous budget."""
    global _conv_memory_budget
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 1:
        raise ValueError(f"set_conv_memory_budget: expected a positive number of bytes, got {nbytes!r}")
    previous, _conv_memory_budget = _conv_memory_budget, nbytes
    return previous


def conv_memory_budget(nbytes: int):
    """``with conv_memory_budget(2**20): ...`` runs the block under a temporary budget."""
    return _temporarily(set_conv_memory_budget, nbytes)


def spec_for(input, weight, *, stride, padding, dilation, groups) -> ConvSpec:
    """The ``ConvSpec`` of one call on arrays ``input`` and ``weight``, with this device's budgets.

    On the CPU the chunks are cache-sized (``CPU_CONV_TILE_BYTES``): each chunk's columns are
    written, multiplied and read back while still in the core's cache; on the GPU they are as
    large as the budget allows. Small column matrices (``KEEP_COLS_BYTES``) and Winograd transforms
    (``KEEP_TILES_BYTES``) are kept from forward for the weight gradient on the CPU; on the GPU
    only what was built in one chunk.
    """
    budget = _conv_memory_budget
    on_cpu = device_of(input) == "cpu"
    chunk = min(budget, CPU_CONV_TILE_BYTES) if on_cpu else budget
    return ConvSpec.of(
        input.shape, weight.shape, stride=stride, padding=padding, dilation=dilation, groups=groups,
        itemsize=input.dtype.itemsize, numba=use_numba(input),
        chunk_bytes=chunk, memory_budget=budget,
        keep_cols_bytes=min(budget, KEEP_COLS_BYTES) if on_cpu else chunk,
        keep_tiles_bytes=min(budget, KEEP_TILES_BYTES) if on_cpu else chunk,
    )


@contextlib.contextmanager
def _temporarily(set_value, value):
    """Run a block under ``set_value(value)``, then restore what it returned (the previous value)."""
    previous = set_value(value)
    try:
        yield
    finally:
        set_value(previous)
