"""``mt.cuda``: whether a GPU is there, as ``torch.cuda`` (the engine's GPU arrays come from CuPy)."""

from __future__ import annotations

from . import backend

__all__ = ["device_count", "is_available"]


def is_available() -> bool:
    """True when CuPy imports and at least one CUDA GPU answers (``backend.cuda_unavailable_reason()`` says why not)."""
    return backend.cuda_is_available()


def device_count() -> int:
    """The number of CUDA GPUs CuPy sees; 0 without CuPy or a GPU. The engine computes on GPU 0."""
    return backend.cuda_device_count()
