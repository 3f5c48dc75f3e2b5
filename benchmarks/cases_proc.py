"""Cases that run in fresh subprocesses (``benchmarks.worker``): first-step latency, peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .harness import Row, child_env
from .nets import Missing


class WorkerFailed(RuntimeError):
    pass


def run_worker(task: str, engine: str, args, timeout: float = 900.0) -> dict:
    """Spawn ``python -m benchmarks.worker``; return its RESULT dict plus the process's wall seconds."""
    cmd = [sys.executable, "-m", "benchmarks.worker", task, "--engine", engine, "--threads", str(args.threads)]
    if args.quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(args.threads), timeout=timeout)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["wall_s"] = wall
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    if tail[0].startswith("benchmarks.nets.Missing: "):  # the engine part has not landed: skip, not fail
        raise Missing(tail[0].split(": ", 1)[1])
    raise WorkerFailed(f"{task}/{engine} exited {proc.returncode}: {tail[0][:200]}")


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
