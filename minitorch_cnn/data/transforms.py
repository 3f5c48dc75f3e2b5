"""Image transforms on raw arrays (NumPy or CuPy) or tensors, batched: they act on the last two axes.

A dataset applies its transform to one image ``(1, H, W)``; the :class:`~.loader.DataLoader` applies
the same transform to a whole batch ``(B, 1, H, W)`` at once, on the batch's device, so resizing
60,000 images to 224×224 never happens up front and never in a Python loop over images.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..dtypes import numpy_dtype
from ..tensor import Tensor

__all__ = ["ToTensor", "Resize", "Compose", "to_float"]


def to_float(images, dtype=None):
    """Scale uint8 pixels to floats in [0, 1] (``x / 255``, as torchvision's ``ToTensor``); other
    dtypes are only cast. ``dtype`` defaults to the engine's default float dtype."""
    dtype = numpy_dtype(backend.get_default_dtype() if dtype is None else dtype)  # "float" is float32
    if dtype.kind != "f":
        raise TypeError(f"to_float: expected a floating dtype, got {dtype}")
    if images.dtype == np.uint8:
        return images.astype(dtype) / dtype.type(255)
    return images.astype(dtype, copy=False)


class ToTensor:
    """Raw pixels to a float tensor with a channel axis, as torchvision's ``ToTensor``: returns a Tensor.

    An integer (uint8) array without a channel axis, one image ``(H, W)`` or a batch ``(B, H, W)``,
    becomes floats in [0, 1] with one: ``(1, H, W)`` / ``(B, 1, H, W)``. Our datasets already hand
    out float images with their channel axis (``(1, H, W)``, batches ``(B, 1, H, W)``); a float
    array (or Tensor) is taken as converted and passed through (cast to ``dtype`` when given), so
    ``FashionMNIST(transform=ToTensor())`` yields ``(1, 28, 28)`` tensors and ``(B, 1, 28, 28)``
    batches, as torchvision's, and ``Compose([Resize(r), ToTensor()])`` works as there.
    """

    def __init__(self, dtype=None):
        self.dtype = dtype

    def __call__(self, images):
        if isinstance(images, Tensor):
            images = images.array
        if images.dtype.kind == "f":
            return Tensor(images if self.dtype is None else to_float(images, self.dtype))
        if images.ndim not in (2, 3):
            raise ValueError(f"ToTensor: expected raw pixels (H, W) or (B, H, W), got shape {images.shape}")
        return Tensor(to_float(images, self.dtype)[..., None, :, :])

    def __repr__(self):
        return "ToTensor()"


def _pair(size, name):
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name}: expected a positive int or an (height, width) pair, got {size!r}")
    return size


def _interp_matrix(n_out: int, n_in: int, xp, dtype):
    """The (n_out, n_in) matrix of 1-D linear interpolation with align_corners=False, PyTorch's rule:
    source coordinate ``(i + 0.5) * n_in / n_out - 0.5`` clamped below at 0, neighbours
    ``floor`` and ``min(floor + 1, n_in - 1)``, weights ``1 - frac`` and ``frac``."""
    # computed in the images' float dtype, the way PyTorch computes its weights (float32 stays float32)
    f = np.dtype(dtype).type
    scale = f(n_in) / f(n_out)
    src = np.maximum(scale * (np.arange(n_out).astype(dtype) + f(0.5)) - f(0.5), f(0))
    lo = np.minimum(src.astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo.astype(dtype)
    m = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    np.add.at(m, (rows, lo), f(1) - frac)
    np.add.at(m, (rows, hi), frac)
    return xp.asarray(m)


class Resize:
    """Bilinear resize of the last two axes to ``size`` (an int for a square, or (H, W)).

    Matches ``torch.nn.functional.interpolate(x, size, mode="bilinear", align_corners=False)``
    (torchvision's ``Resize`` on tensors with ``antialias=False``). Bilinear interpolation is
    separable, so the batch is resized by two matrix products, ``R_h @ (X @ R_wᵀ)``, where each row of
    ``R`` holds the two weights of one output pixel: BLAS (or cuBLAS) does the work for the whole
    batch at once. Float input stays in its dtype; integer input is computed in the default float
    dtype (no rounding back).
    """

    def __init__(self, size):
        self.size = _pair(size, "Resize")
        self._cache = {}

    def __call__(self, images):
        if isinstance(images, Tensor):  # a tensor in, a tensor out (its array resized)
            return Tensor(self(images.array))
        if images.ndim < 2:
            raise ValueError(f"Resize: expected an array with at least 2 axes (..., H, W), got {images.shape}")
        xp = backend.xp_of(images)
        if images.dtype.kind != "f":
            images = images.astype(backend.get_default_dtype())
        h_in, w_in = images.shape[-2:]
        h_out, w_out = self.size
        if (h_in, w_in) == (h_out, w_out):
            return images
        key = (h_in, w_in, images.dtype.str, backend.device_of(images))
        if key not in self._cache:
            self._cache[key] = (
                _interp_matrix(h_out, h_in, xp, images.dtype),
                _interp_matrix(w_out, w_in, xp, images.dtype).T.copy(),
            )
        rh, rwt = self._cache[key]
        lead = images.shape[:-2]
        # widths first as one 2-D GEMM over all rows of the batch, then heights (batched)
        z = xp.matmul(images.reshape(-1, w_in), rwt).reshape(*lead, h_in, w_out)
        return xp.matmul(rh, z)

    def __repr__(self):
        return f"Resize(size={self.size})"


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"
