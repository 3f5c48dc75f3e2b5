"""The engine's one memory-reuse setting (backend.py): glibc keeps freed large arrays mapped."""

import os
import platform
import subprocess
import sys

import pytest

from minitorch_cnn import backend


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting applies to glibc's malloc only")
def test_glibc_malloc_keeps_freed_memory_unless_told_not_to():
    assert backend.malloc_tuned is True
    code = "from minitorch_cnn import backend; print(backend.malloc_tuned)"
    env = dict(os.environ, MINITORCH_CNN_MALLOC="system")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
