"""Layers that hold parameters, built on the functional ops (``minitorch_cnn.nn``)."""

from .. import functional
