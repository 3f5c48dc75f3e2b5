"""``release_freed_memory``: hand the heap's freed memory back to the system between tests."""

import ctypes
import platform


def release_freed_memory():
    """glibc's ``malloc_trim`` (elsewhere nothing).

    The engine's malloc setting (``minitorch_cnn/_setup.py``) keeps freed arrays mapped for the next
    training step; in a test worker that runs many nets one after another, that memory would add up
    (the big nets need 1-2 GB each).
    """
    if platform.libc_ver()[0] == "glibc":
        ctypes.CDLL("libc.so.6").malloc_trim(0)
