"""Shared test settings: hypothesis profiles and the kernel-path / device fixtures.

The tests mirror the package (``functional/``, ``functional/conv/``, ``kernels/``, ``nn/``, ``models/``,
``data/``, ``train/``, ``compat/`` for the compatibility suites); the helpers they share
(``_conv_cases``, ``_op_oracles``, ``_torch_nets``) stay here in ``tests/``, which this file puts on
``sys.path`` so that every folder imports them by name. The folders have no ``__init__.py``: each
test file's basename is unique across the tree.
"""

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import minitorch_cnn as mt
from minitorch_cnn import backend

TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from _memory import release_freed_memory  # noqa: E402

settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(params=["numba", "generic"])
def kernel_path(request):
    """Run the test once on each kernel path; restores the previous path afterwards."""
    previous = backend.get_kernel_path()
    backend.set_kernel_path(request.param)
    yield request.param
    backend.set_kernel_path(previous)


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not backend.cuda_is_available(), reason=f"no CUDA device: {backend.cuda_unavailable_reason()}"
        ),
    ),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """Run the test on the CPU, and on the GPU when one is present (skipped with the reason otherwise)."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    mt.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _start_from_the_memory_in_use():
    """Each test starts without the memory earlier tests freed (see _memory.py)."""
    release_freed_memory()
