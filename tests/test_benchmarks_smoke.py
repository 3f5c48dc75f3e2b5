"""Smoke test of the benchmark harness: tiny shapes, one repeat, no timing asserted.

It only checks that ``python -m benchmarks --quick`` runs every default case and produces an
ours/torch ratio for each row. Timing itself stays out of the unit tests.
"""

import json
import math
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_run_gives_a_ratio_for_every_case(tmp_path):
    from benchmarks.__main__ import DEFAULT_CASES

    # two harness runs side by side (in-process cases | subprocess cases) to stay well under 20 s
    groups = [[c for c in DEFAULT_CASES if c not in ("firststep", "memory", "alone")], ["firststep", "memory", "alone"]]
    procs = []
    for i, only in enumerate(groups):
        out = tmp_path / f"results{i}.json"
        cmd = [sys.executable, "-m", "benchmarks", "--quick", "--only", ",".join(only), "--json", str(out)]
        procs.append((out, subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    results, skipped, log = [], [], ""
    for out, proc in procs:
        stdout, _ = proc.communicate(timeout=300)
        log += stdout
        assert proc.returncode == 0, stdout[-3000:]
        data = json.loads(out.read_text())
        assert data["meta"]["cpu"] and data["meta"]["numpy"] and data["meta"]["torch"]
        results += data["results"]
        skipped += data["skipped"]
    assert not skipped, f"cases failed: {skipped}\n{log[-3000:]}"
    assert set(DEFAULT_CASES) <= {r["group"] for r in results}, log[-3000:]
    for r in results:
        if r["extra"].get("informational"):
            continue
        assert "FAILED" not in r["note"], r
        assert r["ratio"] is not None and math.isfinite(r["ratio"]) and r["ratio"] > 0, r


@pytest.mark.parametrize("module", ["benchmarks.direct", "benchmarks.chunks"])
def test_algorithm_tables_run(module):
    """The in-process tables behind conv2d's choices (direct loops, chunk size) run and print a row."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-m", module, "--quick", "--repeat", "1"], cwd=root, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line for line in out.stdout.splitlines() if line.strip().startswith("4 ")]
    assert len(rows) == 1 and "|" in rows[0], out.stdout


def test_quick_run_of_the_other_nets_starts_both_engines_from_the_same_weights(tmp_path):
    """alone_nets (opt-in): VGG-11-small, GoogLeNet and DenseNet on both engines from our weights, ours
    under the default algorithm and under "auto"; the nets without dropout give the same first loss on
    both sides (VGG's dropout masks differ)."""
    out = tmp_path / "nets.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--only", "alone_nets", "--alone-threads", "1",
           "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())["results"]
    assert [r["name"].split(" train step")[0] for r in rows] == [net for net in ("VGG-11-small", "GoogLeNet", "DenseNet")
                                                                  for _ in ("default", "auto")]
    assert ["'auto'" in r["name"] for r in rows] == [False, True] * 3
    for r in rows:
        assert r["ratio"] is not None and math.isfinite(r["ratio"]) and r["ratio"] > 0, r
        ours, theirs = r["extra"]["ours"][0]["first_loss"], r["extra"]["torch"][0]["first_loss"]
        if not r["name"].startswith("VGG"):
            assert abs(ours - theirs) < 1e-3 * abs(theirs), r


def test_alone_rounds_interleave_thread_counts_and_pair_the_speed_ups(monkeypatch):
    """Each round of ``alone`` runs ours and torch at 1 thread, then at n; the speed-up row is the
    median over rounds of each round's own time at 1 / time at n (fake workers, no timing)."""
    sys.path.insert(0, ROOT)
    from benchmarks import cases_proc

    calls = []
    # round r: ours 10·(r+1) ms at 1 thread and 5·(r+1) at 2 (speed-up 2 in every round); torch's
    # rounds give speed-ups 4, 1 and 0.5 (median 1), though its medians, 30 and 20, would say 1.5
    times = {("ours", 1): [10, 20, 30], ("ours", 2): [5, 10, 15], ("torch", 1): [40, 20, 30], ("torch", 2): [10, 20, 60]}

    def fake_worker(task, engine, args, *flags, threads=None, **kwargs):
        calls.append((engine, threads))
        k = sum(1 for c in calls if c == (engine, threads)) - 1
        return {"median_ms": times[engine, threads][k]}

    monkeypatch.setattr(cases_proc, "run_worker", fake_worker)
    args = type("Args", (), {"quick": False, "pairs": 3, "net_pairs": 3, "alone_threads": [1, 2]})()
    work = (("conv", "conv", (), 1, 0, False),)
    rows = cases_proc.case_alone(args, work)
    assert calls == [("ours", 1), ("torch", 1), ("ours", 2), ("torch", 2)] * 3
    by_name = {r.name: r for r in rows}
    assert (by_name["conv, 1 thread"].ours_ms, by_name["conv, 1 thread"].torch_ms) == (20, 30)
    assert (by_name["conv, 2 threads"].ours_ms, by_name["conv, 2 threads"].torch_ms) == (10, 20)
    speed_up = by_name["  speed-up 1 -> 2 threads: conv"]
    assert (speed_up.ours_ms, speed_up.torch_ms) == (2.0, 1.0)
    assert speed_up.extra["torch"] == [4.0, 1.0, 0.5]


@pytest.mark.parametrize("extra", [[], ["--scaling"]])
def test_profiling_runs_and_prints_every_section(extra):
    """``python -m benchmarks.profiling lenet --quick`` prints the bounds and the per-op table (or, with
    ``--scaling``, each op at 1 and 2 threads); no timing asserted."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.profiling", "lenet", "--quick", "--repeat", "1", *extra],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    if extra:
        assert "a parallel kernel's start" in out.stdout
        ops = [line for line in out.stdout.splitlines() if line.startswith(("BatchLastConv2dFn", "DirectConv2dFn", "SigmoidFn"))]
        assert ops and all(line.rstrip().endswith(tuple("0123456789")) for line in ops), out.stdout
        assert any(line.startswith("step ") for line in out.stdout.splitlines()), out.stdout
    else:
        assert "## 0. machine bounds" in out.stdout and "parallel kernel's start" in out.stdout
        assert "SigmoidFn.forward" in out.stdout and "## 4. cProfile" in out.stdout
