"""Tools to prove an op's gradient: ``gradcheck`` and hypothesis strategies for tensors.

``gradcheck(fn, inputs)`` compares the gradient that autograd computes with central finite
differences in float64::

    numeric ∂L/∂x_i ≈ (L(x + ε e_i) − L(x − ε e_i)) / 2ε,     L(x) = Σ fn(x) · R

where R is a fixed random upstream gradient (so every output element matters, not just their
sum). ``mode="full"`` perturbs every element of every input (2 evaluations per element);
``mode="directional"`` takes one random direction d per input and compares ⟨∇L, d⟩ with
(L(x + εd) − L(x − εd)) / 2ε — two evaluations in all, for inputs too large to sweep.

The strategies (``shapes``, ``arrays``, ``tensors``) need the ``hypothesis`` package, which the
``test`` extra installs; import this module only where hypothesis is available.
"""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .backend import to_device, to_numpy
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with finite differences; the message says where."""


def _as_float64_leaves(inputs):
    leaves = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            leaves.append(Tensor(to_numpy(x.array).astype(np.float64), requires_grad=x.requires_grad, device=x.device))
        else:
            leaves.append(x)
    return leaves


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-6, rtol=1e-4, mode="full", seed=0, raise_exception=True):
    """Check autograd's gradient of ``fn(*inputs)`` against float64 central differences.

    ``inputs``: tensors (those with ``requires_grad=True`` are checked; they are copied to
    float64) and any other arguments, passed through unchanged. ``fn`` returns a tensor.
    Returns True, or raises :class:`GradcheckError` naming the input, the worst element's index,
    the analytic and the numeric value (returns False instead when ``raise_exception=False``).
    """
    if mode not in ("full", "directional"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'directional', got {mode!r}")
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    inputs = _as_float64_leaves(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
    rng = np.random.default_rng(seed)

    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    upstream = rng.standard_normal(out.shape)

    def loss() -> float:
        with no_grad():
            return float(np.sum(to_numpy(fn(*inputs).array).astype(np.float64) * upstream))

    for i in checked:
        inputs[i].grad = None
    out.backward(to_device(upstream.astype(out.dtype), out.device))

    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else to_numpy(x.grad.array).astype(np.float64)
        host = to_numpy(x.array).copy()
        if mode == "full":
            numeric = np.zeros(x.shape)
            flat = numeric.reshape(-1)
            for j in range(host.size):
                flat[j] = _central_difference(x, host, np.eye(1, host.size, j).reshape(x.shape), eps, loss)
            bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
            if bad.any():
                err = np.abs(analytic - numeric) - rtol * np.abs(numeric)
                worst = np.unravel_index(int(np.argmax(err)), x.shape) if x.ndim else ()
                msg = (
                    f"gradcheck: gradient of input {i} (shape {tuple(x.shape)}) is wrong at index {tuple(map(int, worst))}: "
                    f"analytic {analytic[worst]:.10g}, numeric {numeric[worst]:.10g} "
                    f"({int(bad.sum())} of {bad.size} elements outside atol={atol}, rtol={rtol})"
                )
                return _fail(msg, raise_exception)
        else:
            direction = rng.standard_normal(x.shape)
            numeric = _central_difference(x, host, direction, eps, loss)
            projected = float(np.sum(analytic * direction))
            if abs(projected - numeric) > atol + rtol * abs(numeric):
                msg = (
                    f"gradcheck (directional): gradient of input {i} (shape {tuple(x.shape)}) is wrong: "
                    f"<analytic grad, d> = {projected:.10g}, numeric derivative along d = {numeric:.10g}"
                )
                return _fail(msg, raise_exception)
    return True


def _central_difference(x: Tensor, host: np.ndarray, direction: np.ndarray, eps: float, loss) -> float:
    x.array = to_device(host + eps * direction, x.device)
    plus = loss()
    x.array = to_device(host - eps * direction, x.device)
    minus = loss()
    x.array = to_device(host, x.device)
    return (plus - minus) / (2 * eps)


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


# ----------------------------------------------------------------- hypothesis strategies
try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # the strategies need the test extra; gradcheck does not
    st = None


def _need_hypothesis():
    if st is None:
        raise ImportError("minitorch_cnn.testing strategies need hypothesis: pip install 'minitorch_cnn[test]'")


def shapes(min_dims=1, max_dims=4, min_side=1, max_side=5):
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` elements."""
    _need_hypothesis()
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@(st.composite if st is not None else (lambda f: f))
def arrays(draw, shape=None, dtype=np.float64, low=-3.0, high=3.0, contiguous=None):
    """Float arrays of ``shape`` (drawn when None) with values in [low, high].

    ``contiguous=None`` sometimes returns a non-contiguous view (a transposed copy, or every
    other element of a larger array) with the same shape and values drawn the same way.
    """
    if shape is None:
        shape = draw(shapes())
    shape = tuple(shape)
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8)
    layout = draw(st.sampled_from(["c", "transposed", "strided"])) if contiguous is None else (
        "c" if contiguous else "strided"
    )
    if layout == "transposed" and len(shape) >= 2:
        base = draw(hnp.arrays(dtype, shape[::-1], elements=elements))
        return base.T  # same shape, reversed strides
    if layout == "strided" and len(shape) >= 1:
        base = draw(hnp.arrays(dtype, shape[:-1] + (2 * shape[-1],), elements=elements))
        return base[..., ::2]
    return draw(hnp.arrays(dtype, shape, elements=elements))


@(st.composite if st is not None else (lambda f: f))
def tensors(draw, shape=None, dtype=np.float64, low=-3.0, high=3.0, requires_grad=True, contiguous=None):
    """:class:`Tensor` leaves built on :func:`arrays` (sometimes non-contiguous)."""
    return Tensor(draw(arrays(shape, dtype, low, high, contiguous)), requires_grad=requires_grad)


@(st.composite if st is not None else (lambda f: f))
def broadcastable_shapes(draw, num_shapes=2, min_dims=1, max_dims=4, max_side=4):
    """Tuples of shapes that broadcast together (sizes of 1 and missing leading axes included)."""
    result = draw(hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                                    max_side=max_side))
    return result.input_shapes
