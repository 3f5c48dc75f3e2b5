"""OpenBLAS's idle workers sleep as soon as a product ends (minitorch_cnn/_openblas.py), in a fresh
interpreter each: whether NumPy or minitorch_cnn is imported first, unless the user chose.

The proof that they sleep: the CPU time the process burns while its main thread sleeps right after
a product. A spinning worker burns about 0.1 s of it (2**28 cycles); asleep, none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, resource, time
{imports}
import numpy as np
from threadpoolctl import threadpool_info
a = np.random.default_rng(0).standard_normal((400, 400))
product = a @ a
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
a @ a
before = cpu(); time.sleep(0.25); idle_cpu = cpu() - before
blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
print(json.dumps({{"status": getattr(__import__("sys").modules.get("minitorch_cnn._openblas"), "STATUS", None),
                  "timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "idle_cpu": idle_cpu,
                  "threads": blas[0]["num_threads"] if blas else 0,
                  "layer": blas[0].get("threading_layer") if blas else None,
                  "product_ok": bool(abs(product - np.einsum("ij,jk->ik", a, a)).max() < 1e-9)}}))
"""


def _probe(imports: str, **env_changes) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "MINITORCH_CNN_OPENBLAS")}
    env.update({"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", **env_changes})
    out = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def spinning():
    """NumPy alone, with OpenBLAS's default timeout: its workers spin after a product (the control)."""
    info = _probe("import numpy")
    if info["layer"] != "pthreads" or info["threads"] < 2:
        pytest.skip(f"needs NumPy's pthreads OpenBLAS on 2 threads, found {info['layer']} on {info['threads']}")
    return info


def test_the_control_spins(spinning):
    assert spinning["idle_cpu"] > 0.02 and spinning["status"] is None


def test_imported_before_numpy_the_variable_is_set(spinning):
    info = _probe("import minitorch_cnn")
    assert info["status"] == "environment" and info["timeout"] == "4"
    assert info["idle_cpu"] < 0.02 and info["product_ok"]


def test_imported_after_numpy_the_workers_are_restarted(spinning):
    info = _probe("import numpy\nimport minitorch_cnn")
    assert info["status"] == "restarted" and info["timeout"] == "4"
    assert info["idle_cpu"] < 0.02 and info["product_ok"] and info["threads"] == 2


def test_the_users_choice_is_kept(spinning):
    info = _probe("import numpy\nimport minitorch_cnn", OPENBLAS_THREAD_TIMEOUT="28")
    assert info["status"] == "user's setting" and info["timeout"] == "28"
    kept = _probe("import numpy\nimport minitorch_cnn", MINITORCH_CNN_OPENBLAS="keep")
    assert kept["status"] == "left alone" and kept["timeout"] is None and kept["idle_cpu"] > 0.02
