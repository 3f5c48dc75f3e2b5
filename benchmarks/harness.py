"""Timing, results and the printed tables; no engine code here.

``compare(ours, torch, repeat, warmup)`` calls both functions in alternating blocks, with a pause
at each switch, and keeps the median of each side. A ``Row`` is one line of a table: the two
medians, the ratio ours/torch and, where the work is countable, the FLOPs and the rate each side
reached.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

# numba's kernel threads follow OMP_NUM_THREADS by the engine's own default (see minitorch_cnn/_setup.py)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads_before_import(threads: int) -> None:
    """This process's BLAS, OpenMP and numba thread counts, before NumPy and the engine load
    (the in-process ours-vs-ours tables: direct, chunks, winograd)."""
    for var in (*THREAD_VARS, "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)


def pin_threads(threads: int) -> None:
    """Set the thread counts of the BLAS and OpenMP pools the two engines use.

    The environment variables only take effect before NumPy and torch are imported, which is why
    ``__main__`` calls this first; the runtime call below covers torch's intra-op pool when torch
    is already loaded. numba's kernel threads follow ``OMP_NUM_THREADS`` (the engine's default, see
    ``minitorch_cnn/_setup.py``).
    """
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def child_env(threads: int) -> dict:
    """The environment of a benchmark subprocess: same thread counts, the repository importable."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int) -> dict:
    """What the numbers depend on: CPU, cores, library versions, BLAS, threads, machine load."""
    import numba
    import numpy as np

    info = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(terse=True),
    }
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # the layout of show_config differs between NumPy versions
        info["numpy_blas"] = "unknown"
    try:  # numba's kernels run on TBB's pool where this package is installed (minitorch_cnn/_setup.py)
        import importlib.metadata

        info["tbb"] = importlib.metadata.version("tbb")
    except importlib.metadata.PackageNotFoundError:
        info["tbb"] = None
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    if hasattr(os, "getloadavg"):
        info["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def median_ms(samples_s) -> float:
    return 1e3 * statistics.median(samples_s)


def time_calls(fn, repeat: int, warmup: int = 1) -> list[float]:
    """The one timing loop of the benchmarks: ``warmup`` untimed calls, then seconds of each of ``repeat``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


SETTLE_S = 0.3  # pause when switching engines: lets the other's spinning BLAS/OpenMP threads go to sleep


def compare(ours, torch_fn, repeat: int, warmup: int = 1, blocks: int = 2, settle: float | None = None):
    """Time ``ours`` and ``torch_fn`` in alternating blocks; return their lists of seconds per call.

    Both engines live in this process, and each leaves its worker threads spinning for a while
    after a call (OpenBLAS's threads busy-wait about 0.1 s; torch's OpenMP pool too). On a small
    machine those spinning threads steal the cores from the other engine, so calls interleaved
    one by one would measure each engine slowed down by the other (20-80 % here). Instead each
    side runs ``repeat / blocks`` calls back to back, as in a training loop, after a pause of
    ``settle`` seconds; the blocks alternate (ours, torch, ours, torch) so that a change in the
    machine's load during the run hits both sides. Warm-up calls (numba compilation and cache
    load, allocator warm-up) come first and are not kept.
    """
    settle = SETTLE_S if settle is None else settle
    for fn in (ours, torch_fn):
        for _ in range(warmup):
            fn()
    blocks = max(1, min(blocks, repeat))
    sizes = [repeat // blocks + (1 if b < repeat % blocks else 0) for b in range(blocks)]
    t_ours, t_torch = [], []
    for size in sizes:
        for fn, out in ((ours, t_ours), (torch_fn, t_torch)):
            gc.collect()  # once per block: a full collection with torch loaded takes tens of ms
            time.sleep(settle)
            out.extend(time_calls(fn, size, warmup=0))
    return t_ours, t_torch


@dataclass
class Row:
    """One measured case. Times in milliseconds; ``ratio`` = ours / torch (lower is better for us)."""

    group: str
    name: str
    ours_ms: float | None
    torch_ms: float | None
    flops: float | None = None
    note: str = ""
    unit: str = "ms"  # "MB" for the memory rows: then ours_ms / torch_ms hold megabytes
    extra: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours_ms is None or self.torch_ms is None or self.torch_ms <= 0:
            return None
        return self.ours_ms / self.torch_ms

    def gflops(self, ms):
        if self.flops is None or ms is None or ms <= 0 or self.unit != "ms":
            return None
        return self.flops / (ms * 1e-3) / 1e9

    def to_json(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["ours_gflops"] = self.gflops(self.ours_ms)
        d["torch_gflops"] = self.gflops(self.torch_ms)
        return d


@dataclass
class Skipped:
    """A case that produced no rows, and why (its exception)."""

    group: str
    reason: str


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def print_rows(title: str, rows: list[Row], file=sys.stdout) -> None:
    """A fixed-width table: name, ours, torch, ratio, GFLOP, both rates, note."""
    if not rows:
        return
    width = max(28, *(len(r.name) for r in rows))
    print(f"\n== {title}", file=file)
    head = f"{'case':<{width}} {'ours':>10} {'torch':>10} {'ratio':>7} {'GFLOP':>8} {'ours GF/s':>10} {'torch GF/s':>10}  note"
    print(head, file=file)
    print("-" * len(head), file=file)
    for r in rows:
        unit = "" if r.unit == "ms" else f" {r.unit}"
        ours = _fmt(r.ours_ms, ".1f") + unit
        torch_ = _fmt(r.torch_ms, ".1f") + unit
        gflop = _fmt(None if r.flops is None else r.flops / 1e9, ".3f")
        print(
            f"{r.name:<{width}} {ours:>10} {torch_:>10} {_fmt(r.ratio, '.2f'):>7} {gflop:>8} "
            f"{_fmt(r.gflops(r.ours_ms), '.1f'):>10} {_fmt(r.gflops(r.torch_ms), '.1f'):>10}  {r.note}",
            file=file,
        )
    file.flush()


def write_json(path: str, meta: dict, rows: list[Row], skipped: list[Skipped]) -> None:
    if hasattr(os, "getloadavg"):
        meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data = {"meta": meta, "results": [r.to_json() for r in rows], "skipped": [asdict(s) for s in skipped]}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, default=float)
        f.write("\n")
    os.replace(tmp, path)
