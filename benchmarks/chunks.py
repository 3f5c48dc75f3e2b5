"""``python -m benchmarks.chunks [--threads 1] [--repeat 7]``: conv2d's im2col path against its chunk size.

``conv2d`` builds the column matrix of a chunk of images at a time; on the CPU a chunk holds at
most ``policy.CPU_CONV_TILE_BYTES`` of columns (``minitorch_cnn/functional/conv/policy.py``). This sweeps that
size, from one chunk for the whole batch (up to the 256 MiB memory budget) down to 1 MiB, on
LeNet's, ResNet-18's and VGG's layer shapes, float32 forward + backward, all sizes alternated call
by call in one process (ours against ours). Times are CPU seconds of the process
(``time.process_time``, page faults included) with ``--threads 1``, wall time with more threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from .harness import set_threads_before_import

# (N, C, O, H, k, padding)
SHAPES = [
    (256, 6, 16, 14, 5, 0),  # LeNet's second conv
    (64, 64, 64, 32, 3, 1),  # the conv layer of the alone case
    (32, 3, 64, 96, 7, 3),  # ResNet-18's stem at 96x96 (its input has 1 channel; 3 here, RGB)
    (32, 64, 64, 24, 3, 1),  # ResNet-18's first stage
    (32, 128, 128, 12, 3, 1),
    (32, 256, 256, 6, 3, 1),
]
SIZES = [256 * 2**20, 16 * 2**20, 4 * 2**20, 2 * 2**20, 2**20]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.chunks", description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="one tiny shape (a smoke test of this script)")
    args = p.parse_args(argv)
    shapes = [(4, 3, 4, 10, 3, 1)] if args.quick else SHAPES
    set_threads_before_import(args.threads)

    import numpy as np

    import minitorch_cnn as mt
    from minitorch_cnn.functional import conv2d
    from minitorch_cnn.functional.conv import policy

    def step(size, x, w, g, padding):
        policy.CPU_CONV_TILE_BYTES = size
        with mt.conv_algorithm("im2col"):
            conv2d(x, w, padding=padding).backward(g)

    clock = time.process_time if args.threads == 1 else time.perf_counter
    rng = np.random.default_rng(0)
    default = policy.CPU_CONV_TILE_BYTES
    print(f"threads {args.threads}, median of {args.repeat}, float32 im2col fwd+bwd, ms ({clock.__name__}); "
          f"columns per chunk (the default is {default >> 20} MiB):")
    print(f"{'N':>3} {'C':>3} {'O':>3} {'H':>3} {'k':>2} | " + " ".join(f"{s >> 20:>6}M" for s in SIZES))
    try:
        for N, C, O, H, k, pad in shapes:
            x = mt.tensor(rng.standard_normal((N, C, H, H)).astype(np.float32), requires_grad=True)
            w = mt.tensor((rng.standard_normal((O, C, k, k)) / np.sqrt(k * k * C)).astype(np.float32), requires_grad=True)
            Ho = H + 2 * pad - k + 1
            g = mt.tensor(rng.standard_normal((N, O, Ho, Ho)).astype(np.float32))
            times = {size: [] for size in SIZES}
            for size in SIZES:
                step(size, x, w, g, pad)
            for _ in range(args.repeat):
                for size in SIZES:
                    x.grad = w.grad = None
                    start = clock()
                    step(size, x, w, g, pad)
                    times[size].append(1000 * (clock() - start))
            cells = " ".join(f"{statistics.median(times[s]):7.1f}" for s in SIZES)
            print(f"{N:>3} {C:>3} {O:>3} {H:>3} {k:>2} | {cells}")
            sys.stdout.flush()
    finally:
        policy.CPU_CONV_TILE_BYTES = default


if __name__ == "__main__":
    main()
