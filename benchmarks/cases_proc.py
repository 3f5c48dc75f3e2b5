"""Cases that run in fresh subprocesses (``benchmarks.worker``), each engine alone in its process.

* ``alone``: the headline figures (LeNet step, the conv layer, ResNet-18 step), at 1 thread and at
  every usable core (``--alone-threads``), from ``--pairs`` rounds, each running ours and torch at
  every thread count in turn (ours, torch at 1 thread; ours, torch at n); each process reports the
  median of its steps, the row the median of the processes, the speed-up row the median of each
  round's own time at 1 / time at n.
* ``alone_epochs`` (opt-in, slow): 10 LeNet epochs end to end, our CLI against a plain PyTorch loop.
* ``firststep``: first-step latency; ``memory``: peak memory.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from .harness import Row, child_env


class WorkerFailed(RuntimeError):
    pass


def run_worker(task: str, engine: str, args, *extra: str, threads: int | None = None, timeout: float = 900.0) -> dict:
    """Spawn ``python -m benchmarks.worker``; return its RESULT dict plus the process's wall seconds."""
    threads = args.threads if threads is None else threads
    cmd = [sys.executable, "-m", "benchmarks.worker", task, "--engine", engine, "--threads", str(threads), *extra]
    if args.quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(threads), timeout=timeout)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["wall_s"] = wall
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    raise WorkerFailed(f"{task}/{engine} exited {proc.returncode}: {tail[0][:200]}")


def alternate(run, pairs: int) -> tuple[list, list]:
    """``run(engine)`` for ours, torch, ours, torch, ... (``pairs`` of each); the two lists of results."""
    ours, theirs = [], []
    for _ in range(pairs):
        ours.append(run("ours"))
        theirs.append(run("torch"))
    return ours, theirs


def _spread(values, fmt=".1f") -> str:
    return "/".join(format(v, fmt) for v in values)


# (label, worker task, worker flags, timed steps, warm-up steps, a net's step: at most --net-pairs pairs);
# quick runs shrink all
# (ours runs conv2d's default algorithm; the "auto" rows let it use Winograd where it pays)
ALONE_WORK = (
    ("LeNet train step, batch 256", "step", ("--net", "lenet"), 30, 3, False),
    ("conv2d N64 C64 32x32 k3 p1 O64 fwd+bwd", "conv", (), 7, 2, False),
    ("conv2d N64 C64 32x32 k3 p1 O64 fwd+bwd, ours 'auto' (Winograd)", "conv", ("--algorithm", "auto"), 7, 2, False),
    ("ResNet-18 train step, 96x96 batch 32", "step", ("--net", "resnet18"), 3, 1, True),
    ("ResNet-18 train step, 96x96 batch 32, ours 'auto' (Winograd)", "step", ("--net", "resnet18", "--algorithm", "auto"), 3, 1, True),
)

# the other nets of issue 14 (opt-in, slow): the book's input sizes, small batches
ALONE_NETS = (
    ("VGG-11-small train step, 224x224 batch 16", "step", ("--net", "vgg11_small"), 3, 1, True),
    ("VGG-11-small train step, 224x224 batch 16, ours 'auto' (Winograd)", "step", ("--net", "vgg11_small", "--algorithm", "auto"), 3, 1, True),
    ("GoogLeNet train step, 96x96 batch 32", "step", ("--net", "googlenet"), 3, 1, True),
    ("GoogLeNet train step, 96x96 batch 32, ours 'auto' (Winograd)", "step", ("--net", "googlenet", "--algorithm", "auto"), 3, 1, True),
    ("DenseNet train step, 96x96 batch 32", "step", ("--net", "densenet"), 3, 1, True),
    ("DenseNet train step, 96x96 batch 32, ours 'auto' (Winograd)", "step", ("--net", "densenet", "--algorithm", "auto"), 3, 1, True),
)


def alone_threads(args) -> list[int]:
    return sorted(set(args.alone_threads)) if args.alone_threads else [1, usable_cpus()]


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def case_alone(args, work=ALONE_WORK, group="alone") -> list[Row]:
    """The headline figures, each engine alone in its process (see the module doc).

    Each round runs ours and torch at every thread count, one after the other (ours at 1, torch at
    1, ours at n, torch at n), so that every engine's 1- and n-thread processes share a round's
    minutes: the speed-up row is the median over rounds of each engine's time at 1 thread / time
    at n within one round, which the machine's drift between rounds does not move."""
    rows = []
    counts = alone_threads(args)
    with tempfile.TemporaryDirectory() as tmp:
        for label, task, flags, steps, warmup, is_net in work:
            flags = list(flags)
            if "--net" in flags:  # both engines start from our seed-0 weights (the same for every algorithm)
                path = os.path.join(tmp, flags[1] + ".npz")
                if not os.path.exists(path):
                    run_worker("weights", "ours", args, *flags, "--weights", path, threads=1)
                flags += ["--weights", path]
            if args.quick:
                steps, warmup = 1, 1
            pairs = max(1, min(args.pairs, args.net_pairs) if is_net else args.pairs)
            flags += ["--steps", str(steps), "--warmup", str(warmup)]
            runs = {(eng, n): [] for n in counts for eng in ("ours", "torch")}  # per round, in round order
            for _ in range(pairs):
                for n in counts:
                    for eng in ("ours", "torch"):
                        runs[eng, n].append(run_worker(task, eng, args, *flags, threads=n))
            for n in counts:
                o, t = runs["ours", n], runs["torch", n]
                mo, mt = [r["median_ms"] for r in o], [r["median_ms"] for r in t]
                loss = f"; first loss ours {o[0]['first_loss']:.4f} torch {t[0]['first_loss']:.4f}" if "first_loss" in o[0] else ""
                rows.append(Row(
                    group, f"{label}, {n} thread{'s' * (n > 1)}", statistics.median(mo), statistics.median(mt),
                    note=f"median of {pairs} processes x {steps} steps; per process ours {_spread(mo)}, "
                         f"torch {_spread(mt)}{loss}",
                    extra={"threads": n, "ours": o, "torch": t},
                ))
            if len(counts) > 1:  # does the ratio hold as cores are added? speed-up = time at 1 / time at n
                lo, hi = counts[0], counts[-1]
                ups = {eng: [a["median_ms"] / b["median_ms"] for a, b in zip(runs[eng, lo], runs[eng, hi])]
                       for eng in ("ours", "torch")}
                rows.append(Row(group, f"  speed-up {lo} -> {hi} threads: {label}",
                                statistics.median(ups["ours"]), statistics.median(ups["torch"]), unit="x",
                                note=f"time at {lo} / time at {hi} within each round, median over rounds (higher is "
                                     f"better); per round ours {_spread(ups['ours'], '.2f')}, torch "
                                     f"{_spread(ups['torch'], '.2f')}; ratio ours/torch",
                                extra={"informational": True, "ours": ups["ours"], "torch": ups["torch"]}))
    return rows


def case_alone_nets(args) -> list[Row]:
    """VGG-11-small, GoogLeNet and DenseNet steps, each engine alone (as ``case_alone``; opt-in, slow)."""
    return case_alone(args, ALONE_NETS, "alone_nets")


def _dataset_dir() -> str:
    from minitorch_cnn.data import FashionMNIST

    return os.path.dirname(FashionMNIST(train=False, download=False).image_file)


def run_cli_epochs(args, threads: int, data_dir: str) -> dict:
    """``python -m minitorch_cnn train lenet --epochs N`` in a new process: wall seconds, last test accuracy."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "minitorch_cnn", "train", "lenet", "--epochs", str(args.epochs),
               "--out", out, "--data-dir", data_dir, "--no-progress"]
        if args.quick:
            cmd += ["--subset", "512"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(threads), timeout=3600)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WorkerFailed(f"minitorch_cnn train exited {proc.returncode}: {tail[0][:200]}")
    accs = re.findall(r"test acc ([0-9.]+)", proc.stdout)
    return {"wall_s": wall, "test_acc": float(accs[-1]) if accs else float("nan")}


def case_alone_epochs(args) -> list[Row]:
    """``--epochs`` LeNet epochs end to end, process wall time: ``minitorch-cnn train lenet`` vs a PyTorch loop.

    Both read Fashion-MNIST from the same IDX files and evaluate the test set after every epoch;
    ours also writes its checkpoints, metrics and curves (what the CLI does). Different initial
    weights (each side draws its own Xavier init), the same recipe.
    """
    data_dir = _dataset_dir()
    rows = []
    def run(eng, threads):
        if eng == "ours":
            return run_cli_epochs(args, threads, data_dir)
        r = run_worker("epochs", "torch", args, "--epochs", str(args.epochs), "--data-dir", data_dir,
                       threads=threads, timeout=3600)
        r["test_acc"] = r["rows"][-1]["test_acc"]
        return r

    for threads in alone_threads(args):
        o, t = alternate(lambda eng, n=threads: run(eng, n), args.pairs)
        wo, wt = [r["wall_s"] for r in o], [r["wall_s"] for r in t]
        rows.append(Row(
            "alone_epochs", f"LeNet {args.epochs} epochs end to end, {threads} thread{'s' * (threads > 1)}",
            1e3 * statistics.median(wo), 1e3 * statistics.median(wt),
            note=(f"process wall s, median of {args.pairs}: ours {_spread(wo)}, torch {_spread(wt)}; "
                  f"test acc ours {_spread([r['test_acc'] for r in o], '.3f')}, "
                  f"torch {_spread([r['test_acc'] for r in t], '.3f')}"),
            extra={"threads": threads, "ours": o, "torch": t},
        ))
    return rows


def run_workers(jobs, args) -> list[dict]:
    """Run ``(task, engine)`` jobs one after the other (``--quick``: side by side, timing is moot there)."""
    if not args.quick:
        return [run_worker(task, engine, args) for task, engine in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: run_worker(job[0], job[1], args), jobs))


def case_firststep(args) -> list[Row]:
    """Import + build LeNet + one step in a new process, after a first process warmed numba's cache.

    PyTorch has no such cache, but its second process is the one measured too (the OS file cache
    is warm for both). ``--quick`` runs PyTorch once, beside our cache-filling run.
    """
    if args.quick:
        cold, torch_warm = run_workers([("firststep", "ours"), ("firststep", "torch")], args)
    else:
        cold, _ = run_workers([("firststep", "ours"), ("firststep", "torch")], args)
        torch_warm = run_worker("firststep", "torch", args)
    warm = run_worker("firststep", "ours", args)
    return [Row(
        "firststep", "new process: import + LeNet build + first step (warm numba cache)",
        1e3 * warm["seconds"], 1e3 * torch_warm["seconds"],
        note=(f"target < 2000 ms; process wall ours {warm['wall_s']:.2f} s, torch {torch_warm['wall_s']:.2f} s; "
              f"first (cache-filling) run ours {cold['seconds']:.2f} s"),
        extra={"ours_cold_s": cold["seconds"], "ours_wall_s": warm["wall_s"], "torch_wall_s": torch_warm["wall_s"]},
    )]


def case_memory(args) -> list[Row]:
    rows = []
    try:
        o, t = run_workers([("mem_lenet", "ours"), ("mem_lenet", "torch")], args)
        what = f"LeNet train loop b{o['batch']} x{o['steps']} steps ({o['data']})"
        rows.append(Row("memory", f"{what}: peak RSS", o["peak_rss_mb"], t["peak_rss_mb"], unit="MB",
                        note="target < 1024 MB (ours)", extra={"ours": o, "torch": t}))
        rows.append(Row("memory", "  LeNet loop: peak RSS above process start", o["peak_rss_mb"] - o["base_rss_mb"],
                        t["peak_rss_mb"] - t["base_rss_mb"], unit="MB",
                        note=f"ours NumPy traced peak {o.get('traced_peak_mb', float('nan')):.1f} MB (tracemalloc)"))
        rows.append(Row("memory", "  LeNet loop: time per step (incl. batching)", o["step_ms"], t["step_ms"],
                        note="from the memory run, not a timing case"))
    except WorkerFailed as exc:
        rows.append(Row("memory", "LeNet train loop", None, None, unit="MB", note=f"FAILED: {exc}"[:160]))
    try:
        o, t = run_workers([("mem_vgg", "ours"), ("mem_vgg", "torch")], args)
        what = f"VGG-11-small 224x224 b{o['batch']} fwd+bwd" + (" (channels/16)" if args.quick else "")
        rows.append(Row("memory", f"{what}: peak RSS", o["peak_rss_mb"], t["peak_rss_mb"], unit="MB",
                        extra={"ours": o, "torch": t}))
        rows.append(Row("memory", "  VGG: peak RSS above model built", o["peak_rss_mb"] - o["model_rss_mb"],
                        t["peak_rss_mb"] - t["model_rss_mb"], unit="MB", note="activations + gradients + workspace"))
        rows.append(Row("memory", "  VGG: one training step (best of 2)", o["step_ms"], t["step_ms"],
                        note="from the memory run, not a timing case"))
    except WorkerFailed as exc:
        rows.append(Row("memory", "VGG-11-small", None, None, unit="MB", note=f"FAILED: {exc}"[:160]))
    return rows
