"""``python -m benchmarks [--only alone,conv,ops,...] [--repeat N] [--threads 2] [--json PATH] [--quick]``.

Cases (default: all but ``alone_epochs``, ``alone_nets`` and ``epochs``). The headline figures are ``alone`` and
``alone_epochs``: each engine alone in its own process. The other timing cases run both engines
in this process (their thread pools then meet: a secondary view, per op).

  alone      LeNet step, the conv layer, ResNet-18 step, each engine in its own processes, at 1
             thread and at every usable core (--alone-threads), in --pairs rounds of ours, torch at
             1 thread then ours, torch at n; speed-ups paired within each round
  alone_epochs  opt-in, slow: --epochs LeNet epochs end to end, `minitorch-cnn train lenet` vs a
             plain PyTorch loop (the book's recipe, loading and test evaluation included)
  alone_nets opt-in, slow: VGG-11-small (224×224, batch 16), GoogLeNet and DenseNet (96×96, batch 32)
             training steps, as alone (PyTorch's twins: tests/_torch_nets.py, the cross-check's nets)
  blas       NumPy sgemm on the conv's matrix sizes against torch.mm: the conv's lower bound here
  conv       conv2d N64 C64 32×32 k3 p1 O64 float32, forward + backward (and forward alone)
  depthwise  MobileNetV2's depthwise 3×3 convs (groups = C), direct kernel and im2col path, fwd + bwd
  ops        each op family forward + backward at LeNet / ResNet-18 sizes
  lenet      one LeNet training step, batch 256
  resnet     one ResNet-18 training step, 96×96, batch 32 (at most --model-repeat timed steps)
  scaling    conv time against batch size and image size, with FLOPs and GFLOP/s per row
  firststep  import + first LeNet step in a new process with a warm numba cache (subprocesses)
  memory     peak RSS of a LeNet loop and of VGG-11-small 224×224 b16 fwd+bwd (one subprocess each)
  epochs     opt-in, slow, in-process: --epochs N LeNet epochs on each side (below 10 extrapolated, labelled)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .harness import pin_threads

DEFAULT_CASES = ("alone", "blas", "conv", "depthwise", "ops", "lenet", "resnet", "scaling", "firststep", "memory")
ALL_CASES = DEFAULT_CASES + ("alone_epochs", "alone_nets", "epochs")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(DEFAULT_CASES),
                   help=f"comma-separated cases among {','.join(ALL_CASES)} (default: all but the epochs ones)")
    p.add_argument("--repeat", type=int, default=7, help="timed calls per side and case (median kept)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per side before timing")
    p.add_argument("--epochs", type=int, default=None,
                   help="LeNet epochs per side: alone_epochs (default 10), epochs (default 1, extrapolated to 10)")
    p.add_argument("--pairs", type=int, default=5,
                   help="process pairs (ours, torch) per figure and thread count in alone (rounds) and alone_epochs "
                        "(nets' steps: at most --net-pairs)")
    p.add_argument("--net-pairs", type=int, default=3,
                   help="most process pairs per net's step (ResNet-18 in alone; alone_nets): they take seconds each")
    p.add_argument("--alone-threads", default=None,
                   help="comma-separated thread counts of the alone cases (default: 1 and every usable core)")
    p.add_argument("--model-repeat", type=int, default=3, help="cap on timed steps of the ResNet-18 case")
    p.add_argument("--threads", type=int, default=None,
                   help="threads of BLAS, numba and torch (default 2; 1 with --quick, where spinning pools only waste time)")
    p.add_argument("--json", default=os.path.join("benchmarks", "results.json"), help="where to write the results")
    p.add_argument("--quick", action="store_true", help="tiny shapes, 1 repeat, no warm-up beyond 1: a smoke run")
    args = p.parse_args(argv)
    args.cases = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(ALL_CASES))
    if unknown:
        p.error(f"unknown case(s) {unknown}; choose among {','.join(ALL_CASES)}")
    if args.epochs is None:
        args.epochs = 10 if "alone_epochs" in args.cases else 1
    try:
        args.alone_threads = [int(t) for t in args.alone_threads.split(",")] if args.alone_threads else None
    except ValueError:
        p.error(f"--alone-threads: expected comma-separated integers, got {args.alone_threads!r}")
    if args.quick:
        args.repeat, args.warmup, args.model_repeat, args.pairs = 1, 1, 1, 1
        args.alone_threads = args.alone_threads or [1]
        args.epochs = 1
    if args.threads is None:
        args.threads = 1 if args.quick else 2
    if args.repeat < 1 or args.warmup < 0 or args.threads < 1 or args.epochs < 1 or args.pairs < 1:
        p.error("--repeat, --threads, --epochs and --pairs must be >= 1, --warmup >= 0")
    if args.alone_threads and min(args.alone_threads) < 1:
        p.error("--alone-threads: every count must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    pin_threads(args.threads)  # before NumPy, numba and torch load

    import torch  # noqa: F401  (benchmark dependency only)

    pin_threads(args.threads)  # torch's intra-op pool, numba's pool

    from . import harness

    if args.quick:
        harness.SETTLE_S = 0.0

    from .cases_models import case_epochs, case_lenet, case_resnet
    from .cases_ops import case_blas, case_conv, case_depthwise, case_ops, case_scaling
    from .cases_proc import case_alone, case_alone_epochs, case_alone_nets, case_firststep, case_memory
    from .harness import Skipped, machine_info, print_rows, write_json

    runners = {
        "alone": (case_alone, "each engine alone in its own processes, run alternately (medians)"),
        "alone_epochs": (case_alone_epochs, "LeNet epochs end to end, each engine alone (process wall time)"),
        "alone_nets": (case_alone_nets, "VGG-11-small, GoogLeNet, DenseNet steps, each engine alone (medians)"),
        "blas": (case_blas, "BLAS: NumPy sgemm vs torch.mm on the conv's matrices (ours = NumPy)"),
        "conv": (case_conv, "conv2d layer, float32"),
        "depthwise": (case_depthwise, "depthwise conv2d (groups = C), float32"),
        "ops": (case_ops, "op families, forward + backward"),
        "lenet": (case_lenet, "LeNet training step"),
        "resnet": (case_resnet, "ResNet-18 training step"),
        "scaling": (case_scaling, "conv fwd+bwd scaling (C64->O64 k3 p1)"),
        "firststep": (case_firststep, "first training step in a new process"),
        "memory": (case_memory, "peak memory (each in its own subprocess); values in MB"),
        "epochs": (case_epochs, "LeNet epochs, data loading included"),
    }
    import gc

    import minitorch_cnn  # noqa: F401  (loaded before the freeze below)

    gc.collect()
    gc.freeze()  # the modules' objects never become garbage: later collections skip them (torch has ~1e6)
    meta = machine_info(args.threads)
    meta.update({"command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
                 "repeat": args.repeat, "warmup": args.warmup, "quick": args.quick})
    print(f"# {meta['cpu']}, {meta['usable_cpus']} usable CPUs, {args.threads} threads; numpy {meta['numpy']} "
          f"({meta['numpy_blas']}), numba {meta['numba']} (tbb {meta.get('tbb')}), torch {meta['torch']}; load {meta.get('loadavg_start')}")
    print(f"# median of {args.repeat} after {args.warmup} warm-up call(s); ratio = ours / torch (lower is better)")
    rows, skipped = [], []
    for case in args.cases:
        fn, title = runners[case]
        t0 = time.perf_counter()
        try:
            new = fn(args)
        except Exception as exc:  # report and go on: one broken case must not hide the others
            skipped.append(Skipped(case, f"{type(exc).__name__}: {exc}"))
            print(f"\n== {title}\nFAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        print_rows(f"{title}  [{time.perf_counter() - t0:.1f} s]", new)
        rows.extend(new)
    write_json(args.json, meta, rows, skipped)
    print(f"\n# load at end {meta.get('loadavg_end')}; results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
