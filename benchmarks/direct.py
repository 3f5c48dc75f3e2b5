"""``python -m benchmarks.direct [--threads 1] [--repeat 7]``: where the direct conv loops and the
batch-last columns pay, against im2col.

The three algorithms are ours and run in one process, alternated call by call (the same thread
pools serve all, so an in-process comparison is fair here). For each stride-1 layer shape it prints
the images a 2 MiB chunk of columns holds and the median time of im2col, of the direct loops
(``kernels/direct.py``) and of the batch-last columns (``kernels/batch_last.py``), float32, forward +
backward, once as a first layer (the input needs no gradient, as LeNet's first conv) and once with
the input's gradient, with the ratios im2col / other. ``conv2d``'s rules (``pays`` in
``functional/conv/fast/direct.py`` and ``functional/conv/fast/batch_last.py``) are read off this table. Times are CPU seconds of the process (``time.process_time``) with
``--threads 1``, which a busy machine disturbs less than wall time; with more threads, wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from .harness import set_threads_before_import

# (N, C, O, H, k, padding): LeNet's two convs, first layers of RGB nets, and shapes around the crossover
SHAPES = [
    (256, 1, 6, 28, 5, 2),
    (256, 6, 16, 14, 5, 0),
    (256, 1, 16, 28, 5, 2),
    (256, 1, 32, 28, 5, 2),
    (256, 1, 6, 28, 3, 1),
    (64, 3, 16, 32, 3, 1),
    (64, 3, 32, 32, 3, 1),
    (64, 3, 64, 32, 3, 1),
    (64, 3, 8, 32, 5, 2),
    (64, 4, 16, 32, 3, 1),
    (64, 8, 16, 32, 3, 1),
    (64, 16, 16, 32, 3, 1),
    (256, 16, 32, 10, 5, 0),
    (256, 6, 16, 14, 3, 0),
    (256, 4, 8, 10, 5, 2),
    (256, 16, 32, 6, 3, 1),
    (256, 8, 16, 8, 3, 1),
    (128, 8, 16, 16, 3, 1),
    (128, 16, 32, 14, 3, 1),
    (64, 16, 16, 16, 3, 1),
    (64, 32, 32, 16, 3, 1),
]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.direct", description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="one tiny shape (a smoke test of this script)")
    args = p.parse_args(argv)
    shapes = [(4, 1, 6, 12, 5, 2)] if args.quick else SHAPES
    set_threads_before_import(args.threads)

    import numpy as np

    import minitorch_cnn as mt
    from minitorch_cnn.functional import conv2d

    def step(algorithm, x, w, g, padding):
        with mt.conv_algorithm(algorithm):
            conv2d(x, w, padding=padding).backward(g)

    clock = time.process_time if args.threads == 1 else time.perf_counter
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, median of {args.repeat}, float32 fwd+bwd, ms ({clock.__name__})")
    names = ("im2col", "direct", "batch_last")
    head = f"{'im2col':>7} {'direct':>7} {'ratio':>5} {'b-last':>7} {'ratio':>5}"
    print(f"{'N':>3} {'C':>3} {'O':>3} {'H':>3} {'k':>2} {'img/chunk':>9} | first layer: {head} | with dx: {head}")
    for N, C, O, H, k, pad in shapes:
        w = mt.tensor((rng.standard_normal((O, C, k, k)) / np.sqrt(k * k * C)).astype(np.float32), requires_grad=True)
        Ho = H + 2 * pad - k + 1
        g = mt.tensor(rng.standard_normal((N, O, Ho, Ho)).astype(np.float32))
        per_chunk = (2 * 2**20) // (C * k * k * Ho * Ho * 4)
        line = f"{N:>3} {C:>3} {O:>3} {H:>3} {k:>2} {per_chunk:>9} |"
        for needs_dx in (False, True):
            x = mt.tensor(rng.standard_normal((N, C, H, H)).astype(np.float32), requires_grad=needs_dx)
            times = {name: [] for name in names}
            for name in times:
                step(name, x, w, g, pad)  # compile, warm the caches
            for _ in range(args.repeat):
                for name in times:
                    x.grad = w.grad = None
                    start = clock()
                    step(name, x, w, g, pad)
                    times[name].append(1000 * (clock() - start))
            a, b, c = (statistics.median(times[name]) for name in names)
            line += f" {'first layer:' if not needs_dx else 'with dx:'} {a:7.1f} {b:7.1f} {a / b:5.2f} {c:7.1f} {a / c:5.2f} |"
        print(line.rstrip(" |"))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
