"""``python -m benchmarks.winograd [--threads 1] [--repeat 5]``: where Winograd pays, against im2col.

Both algorithms are ours and run in one process, alternated call by call (the same thread pools
serve both, so an in-process comparison is fair here). For each 3×3, stride-1, padding-1 layer
shape it prints the median forward+backward time of im2col and of Winograd F(2×2) and F(4×4), in
float32, with the ratio. ``conv2d``'s ``"auto"`` rule (``functional/conv/fast/winograd.py``,
``f4_pays`` and ``f2_pays``) is read off this table. Times are CPU seconds of the process
(``time.process_time``) with ``--threads 1``, which a busy machine disturbs less than wall time;
with more threads, wall time is used.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

from .harness import set_threads_before_import

# (N, C, O, H): small-channel layers around the crossover, the conv benchmark's layer, then the 3×3
# stride-1 layers of VGG-11-small (batch 16, 224×224), ResNet-18, GoogLeNet and DenseNet (batch 32,
# 96×96) at the sizes they see in the standalone benchmark
SHAPES = [
    (64, 8, 8, 32),
    (64, 16, 16, 32),
    (64, 32, 32, 32),
    (32, 32, 32, 8),
    (64, 64, 64, 32),
    (16, 16, 32, 112),
    (16, 32, 64, 56),
    (16, 64, 64, 56),
    (16, 64, 128, 28),
    (16, 128, 128, 28),
    (16, 128, 128, 14),
    (32, 64, 64, 24),
    (32, 128, 128, 12),
    (32, 256, 256, 6),
    (32, 512, 512, 3),
    (32, 64, 192, 24),
    (32, 96, 128, 12),
    (32, 160, 320, 6),
    (32, 192, 384, 3),
    (32, 128, 32, 24),
    (32, 160, 32, 12),
    (32, 176, 32, 6),
    (32, 184, 32, 3),
]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.winograd", description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    set_threads_before_import(args.threads)

    import numpy as np

    import minitorch_cnn as mt
    from minitorch_cnn.functional import conv2d
    from minitorch_cnn.functional.conv.fast import winograd

    def im2col_step(x, w, g):
        with mt.conv_algorithm("im2col"):
            conv2d(x, w, padding=1).backward(g)

    def winograd_step(x, w, g, m):
        chosen = winograd.output_tile
        winograd.output_tile = lambda spec: m  # this tile size on every layer, to time both
        try:
            with mt.conv_algorithm("winograd"):
                conv2d(x, w, padding=1).backward(g)
        finally:
            winograd.output_tile = chosen

    clock = time.process_time if args.threads == 1 else time.perf_counter
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, median of {args.repeat}, float32 fwd+bwd, ms ({clock.__name__})")
    print(f"{'N':>3} {'C':>4} {'O':>4} {'H':>3} | {'im2col':>8} {'F(2x2)':>8} {'F(4x4)':>8} | im2col/F(4x4)")
    for N, C, O, H in SHAPES:
        x = mt.tensor(rng.standard_normal((N, C, H, H)).astype(np.float32), requires_grad=True)
        w = mt.tensor((rng.standard_normal((O, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32), requires_grad=True)
        g = mt.tensor(rng.standard_normal((N, O, H, H)).astype(np.float32))

        runs = {
            "im2col": functools.partial(im2col_step, x, w, g),
            "F(2x2)": functools.partial(winograd_step, x, w, g, 2),
            "F(4x4)": functools.partial(winograd_step, x, w, g, 4),
        }
        times = {name: [] for name in runs}
        for fn in runs.values():
            fn()
        for _ in range(args.repeat):
            for name, fn in runs.items():
                x.grad = w.grad = None
                start = clock()
                fn()
                times[name].append(1000 * (clock() - start))
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"{N:>3} {C:>4} {O:>4} {H:>3} | {med['im2col']:8.1f} {med['F(2x2)']:8.1f} {med['F(4x4)']:8.1f} |"
              f" {med['im2col'] / med['F(4x4)']:.2f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
