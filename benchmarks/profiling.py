"""Where our time goes: ``python -m benchmarks.profiling [conv|lenet|resnet|googlenet|densenet|vgg|products]
[--repeat N] [--threads 2] [--algorithm auto]`` (the nets at the sizes of ``python -m benchmarks --only alone,alone_nets``).

Run it alone (no other engine in the process): this is the standalone step, profiled.
Four views of the same work (conv: N64 C64 32×32 k3 p1 O64 fwd+bwd; lenet: one SGD step, batch 256):

0. the machine's bounds, measured here with the same thread count: memory bandwidth (a large
   copy, bytes read + written per second), the sgemm rate (NumPy's BLAS on a square product) and
   what starting a parallel kernel costs (a tiny ``prange`` loop: its workers woken and joined),
   called back to back and after 1 ms of idling: every op of a step that runs on several threads
   pays it once, whatever its size.
1. per op: every ``Function`` subclass's forward and backward wrapped with a timer, so the table
   shows milliseconds per op family, the number of calls, and any output or gradient that is not
   float32 (a hidden upcast); beside each, the bytes it must move at least (its array arguments,
   saved arrays and results, each once) and its FLOPs (the products of conv and linear layers),
   and the time those would take at the machine's bounds: ``bound`` = max(bytes / bandwidth,
   FLOPs / sgemm rate), ``x bound`` = measured / bound. What the ops do not account for is
   autograd bookkeeping, gradient accumulation, the optimizer and Python glue: printed as
   "outside the ops".
2. conv internals: ``im2col`` and ``col2im`` (as the column matrix's ops call them) wrapped with timers; the rest of
   the conv's time is its matrix products, the bias add and the bias-gradient sum.
3. the conv's products alone (conv case only), issued exactly as the chunked column matrix issues them, with their
   GFLOP/s, beside one contiguous 2-D ``np.dot`` of the same sizes, for LeNet's two convs at batch
   256, a 1x1 conv and the N64 C64 32x32 k3 layer: does each product reach BLAS;
   and the costs around them: fresh page-faulting buffers against a reused one, the handoff
   between numba's and OpenBLAS's thread pools, the bias-gradient reduction.
4. cProfile, top functions by own time (NumPy calls, numba dispatch, Python overhead).

``--scaling`` prints instead, per op, the time at 1 thread and at ``--threads``, the two counts
alternated in this one process (numba's count and threadpoolctl's BLAS limit switched between
rounds), so that the machine's drift between processes does not enter the per-op speed-ups; with
the bounds (bandwidth, kernel start) at both counts. It shows how the step's time splits, not
the step's speed-up: switching the counts costs the n-thread rounds (on TBB, a LeNet step there
took 13.8 ms against 10-11.5 in processes that stay at 2 threads); the headline speed-up comes
from ``python -m benchmarks --only alone``.

The wrappers are installed on the live classes of this process only; nothing is written back.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import statistics
import time
from collections import defaultdict

from .harness import median_ms, pin_threads, time_calls


def _nbytes(values) -> int:
    """Bytes of the distinct arrays among ``values`` (views of one buffer counted once)."""
    seen, total = set(), 0
    for v in values:
        nb = getattr(v, "nbytes", None)
        if nb is None or not hasattr(v, "dtype"):
            continue
        base = v.base if getattr(v, "base", None) is not None else v
        if id(base) not in seen:
            seen.add(id(base))
            total += nb
    return total


def op_flops(name: str, args, out) -> float:
    """FLOPs of the matrix products an op does (conv, linear, matmul); 0 for the others.

    A product (m, k) @ (k, n) counts 2·m·k·n. Conv2d forward: Y = W (O, Cg·kh·kw) @ cols, over
    N·Ho·Wo columns; its backward does the same count once per input gradient it returns (dX, dW).
    """
    outs = out if isinstance(out, tuple) else (out,)
    cls, _, method = name.partition(".")
    if cls.endswith("Conv2dFn"):  # im2col's, the direct loops', the batch-last columns', Winograd's (nominal)
        if method == "forward":
            w, y = args[2], outs[0]
            return 2.0 * y.size * w[0].size  # (N·O·Ho·Wo) outputs, each a dot of Cg·kh·kw
        ctx, g = args[0], args[1]
        w_shape = ctx.inputs[1].shape  # the weight tensor, an input of the node (saved arrays vary by op)
        per = 2.0 * g.size * math.prod(w_shape[1:])
        return per * sum(o is not None for o in outs[:2])
    if cls.startswith(("Linear", "MatMul")):
        if method == "forward":
            a = args[1]
            return 2.0 * outs[0].size * a.shape[-1]
        g = args[1]  # dx = g @ W and dW = gᵀ @ x: 2 · g.size · (the other side of each result) each
        return sum(2.0 * g.size * o.shape[-1] for o in outs[:2] if o is not None)
    return 0.0


class OpTimer:
    """Timers around every Function subclass's forward/backward (and conv's im2col/col2im)."""

    def __init__(self):
        self.ms = defaultdict(float)
        self.calls = defaultdict(int)
        self.bytes = defaultdict(float)
        self.flops = defaultdict(float)
        self.odd_dtypes = defaultdict(set)
        self._restore = []

    def _wrap(self, owner, attr, key, static=True, check=True):
        original = owner.__dict__[attr]
        fn = original.__func__ if isinstance(original, staticmethod) else original

        def timed(*a, **k):
            saved = getattr(a[0], "saved_tensors", ()) if attr == "backward" else ()
            arrays = a[1:] if static else a  # a Function's first argument is its ctx
            t0 = time.perf_counter()
            out = fn(*a, **k)
            self.ms[key] += 1e3 * (time.perf_counter() - t0)
            self.calls[key] += 1
            if check:
                outs = out if isinstance(out, tuple) else (out,)
                self.bytes[key] += _nbytes([*arrays, *k.values(), *saved, *outs])
                self.flops[key] += op_flops(key, a, out)
                for o in outs:
                    dt = getattr(o, "dtype", None)
                    if dt is not None and dt.kind == "f" and dt.itemsize != 4:
                        self.odd_dtypes[key].add(str(dt))
            return out

        setattr(owner, attr, staticmethod(timed) if static else timed)
        self._restore.append((owner, attr, original))

    def install(self):
        from minitorch_cnn.autograd import Function

        todo, seen = list(Function.__subclasses__()), set()
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            todo.extend(cls.__subclasses__())
            for attr in ("forward", "backward"):
                if attr in cls.__dict__:
                    self._wrap(cls, attr, f"{cls.__name__}.{attr}")
        from minitorch_cnn.functional.conv import reference
        from minitorch_cnn.functional.conv.fast import im2col as chunked

        for module in (chunked, reference):  # the column matrix's ops: chunked (fast) and whole-batch
            for attr, label in (("im2col", "conv: im2col"), ("col2im", "conv: col2im")):
                if attr in module.__dict__:
                    self._wrap(module, attr, label, static=False)
        return self

    def uninstall(self):
        for owner, attr, original in reversed(self._restore):
            setattr(owner, attr, original)
        self._restore.clear()

    def report(self, total_ms: float, steps: int, bounds: dict | None = None) -> str:
        bw, peak = (bounds or {}).get("bandwidth_gbs"), (bounds or {}).get("sgemm_gflops")
        lines = [f"{'op':<34} {'ms/step':>9} {'calls/step':>10} {'share':>6} {'MB':>8} {'MFLOP':>8} "
                 f"{'bound ms':>8} {'x bound':>7}  non-float32 outputs"]
        op_total = bound_total = 0.0
        for key in sorted(self.ms, key=self.ms.get, reverse=True):
            ms = self.ms[key] / steps
            mb, mflop = self.bytes[key] / steps / 1e6, self.flops[key] / steps / 1e6
            bound = max(mb / bw if bw else 0.0, mflop / peak if peak else 0.0)  # MB / (GB/s) = ms
            if not key.startswith("conv:"):
                op_total += ms
                bound_total += bound
            lines.append(f"{key:<34} {ms:9.2f} {self.calls[key] / steps:10.1f} {ms / total_ms:6.1%} {mb:8.1f} "
                         f"{mflop:8.1f} {bound:8.2f} {ms / bound if bound else float('nan'):7.1f}  "
                         f"{','.join(sorted(self.odd_dtypes[key])) or ''}")
        lines.append(f"{'sum of op forward/backward':<34} {op_total:9.2f} {'':>10} {'':>6} {'':>8} {'':>8} "
                     f"{bound_total:8.2f} {op_total / bound_total if bound_total else float('nan'):7.1f}")
        lines.append(f"{'outside the ops (autograd, optim, glue)':<34} {total_ms - op_total:9.2f} "
                     f"{'':>10} {(total_ms - op_total) / total_ms:6.1%}")
        lines.append(f"{'total per step (timed with the wrappers)':<34} {total_ms:9.2f}")
        return "\n".join(lines)


def make_work(name: str, quick: bool):
    """A zero-argument callable doing one unit of our work, and its label."""
    import numpy as np

    import minitorch_cnn as mt
    from minitorch_cnn import functional as F

    rng = np.random.default_rng(0)
    if name == "conv":
        N, C, H, O = (64, 64, 32, 64) if not quick else (2, 4, 8, 4)
        x = rng.standard_normal((N, C, H, H), dtype=np.float32)
        w = rng.standard_normal((O, C, 3, 3), dtype=np.float32) * np.float32(0.05)
        b = rng.standard_normal(O, dtype=np.float32)
        g = rng.standard_normal((N, O, H, H), dtype=np.float32)

        def work():
            X, W, B = (mt.Tensor(a, requires_grad=True) for a in (x, w, b))
            F.conv2d(X, W, B, padding=1).backward(g)

        return work, f"conv2d N{N} C{C} {H}x{H} k3 p1 O{O} fwd+bwd"
    from .nets import ours, ours_sgd

    model_name, n, hw, lr = {"lenet": ("lenet", 256, 28, 0.9), "resnet": ("resnet18", 32, 96, 0.05),
                             "googlenet": ("googlenet", 32, 96, 0.1), "densenet": ("densenet", 32, 96, 0.1),
                             "vgg": ("vgg11_small", 16, 224, 0.05)}[name]
    if quick:
        n, hw = {"lenet": (4, 28), "vgg": (2, 224)}.get(name, (4, 32))
    mt.manual_seed(0)
    model = ours(model_name)
    model.train()
    opt = ours_sgd(model.parameters(), lr)
    x = rng.random((n, 1, hw, hw), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)

    def work():
        opt.zero_grad()
        loss = F.cross_entropy(model(mt.Tensor(x)), mt.Tensor(y))
        loss.backward()
        opt.step()
        return loss.item()

    return work, f"{model_name} train step batch {n} {hw}x{hw}"


CONV_PRODUCT_SHAPES = {  # label: (N, C, O, Ho·Wo of the output, kh·kw)
    "LeNet conv1 N256 1->6 k5 28x28": (256, 1, 6, 28 * 28, 25),
    "LeNet conv2 N256 6->16 k5 10x10": (256, 6, 16, 10 * 10, 25),
    "1x1 N64 256->256 14x14": (64, 256, 256, 14 * 14, 1),
    "N64 C64 32x32 k3 (im2col)": (64, 64, 64, 32 * 32, 9),
}


def _product_calls(cols, w_mat, g_mat):
    """(name, the chunked op's call, 2-D reference calls...) for one layer's three products, groups = 1."""
    import numpy as np

    from minitorch_cnn.functional.conv.fast.im2col import _as_matrices, _times_transposed

    c2, w2, g2 = cols.reshape(w_mat.shape[2], -1), w_mat[0], g_mat[0]  # (K, n·L), (O, K), (O, n·L)
    return [
        ("fwd", lambda: w_mat @ _as_matrices(cols, 1), lambda: np.dot(w2, c2)),
        ("dW", lambda: _times_transposed(g_mat, _as_matrices(cols, 1)),
         lambda: np.dot(g2, c2.T), lambda: np.dot(c2, g2.T).T),
        ("dcols", lambda: np.swapaxes(w_mat, -1, -2) @ g_mat, lambda: np.dot(np.ascontiguousarray(w2.T), g2)),
    ]


def conv_products(quick: bool, repeat: int) -> str:
    """Im2colConv2dFn's three products issued exactly as fast/im2col.py issues them (its helpers, its 3-D
    (groups, ., .) views, groups = 1), beside the same product as one contiguous 2-D ``np.dot``
    (for dW the faster of ``g @ colsᵀ`` and ``(cols @ gᵀ)ᵀ``). A ratio near 1 means the product is
    a BLAS call; NumPy's non-BLAS matmul loop would show as 10× or more."""
    import numpy as np

    rng = np.random.default_rng(0)
    lines = [f"{'layer':<33} {'product':<7} {'op ms':>10} {'2-D dot ms':>10} {'ratio':>6} {'GFLOP/s':>8}"]
    for label, (N, C, O, L, taps) in CONV_PRODUCT_SHAPES.items():
        if quick:
            N = 2
        K, nL = C * taps, N * L
        cols = rng.standard_normal((C, taps, 1, N, L, 1), dtype=np.float32)  # (C, kh, kw, n, Ho, Wo) layout
        w_mat = rng.standard_normal((1, O, K), dtype=np.float32)  # (groups, Og, K)
        g_mat = rng.standard_normal((1, O, nL), dtype=np.float32)  # (groups, Og, n·L)
        flop = 2.0 * O * K * nL
        rows = _product_calls(cols, w_mat, g_mat)
        for name, ours, *refs in rows:
            ms = median_ms(time_calls(ours, repeat))
            ref = min(median_ms(time_calls(fn, repeat)) for fn in refs)
            lines.append(f"{label:<33} {name:<7} {ms:10.2f} {ref:10.2f} {ms / ref:6.2f} {flop / ms / 1e6:8.1f}")
    return "\n".join(lines)


def conv_overheads(quick: bool, repeat: int) -> str:
    """Costs around the products: fresh (page-faulting) buffers, the numba <-> BLAS thread handoff, db."""
    import numpy as np
    from minitorch_cnn.kernels import Window, col2im, im2col

    N, C, H, O = (64, 64, 32, 64) if not quick else (2, 4, 8, 4)
    K, L = C * 9, H * H
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H), dtype=np.float32)
    w_mat = rng.standard_normal((1, O, K), dtype=np.float32)
    window = Window.fit((H, H), (3, 3), (1, 1), (1, 1))
    cols = im2col(x, window)  # (C, 3, 3, N, H, H)
    g = rng.standard_normal((N, O, H, H), dtype=np.float32)
    buf = np.empty_like(cols)

    def med(fn):
        return median_ms(time_calls(fn, repeat))

    mat = lambda: np.matmul(w_mat, cols.reshape(1, K, N * L))
    t_im, t_mm = med(lambda: im2col(x, window)), med(mat)
    t_seq = med(lambda: (im2col(x, window), mat()))
    rows = [
        (f"fresh {cols.nbytes / 2**20:.0f} MiB buffer, filled (np.empty + copyto)", med(lambda: np.copyto(np.empty_like(cols), cols))),
        ("same, into a reused buffer", med(lambda: np.copyto(buf, cols))),
        ("im2col (numba, parallel)", t_im),
        ("col2im (numba, parallel)", med(lambda: col2im(cols, x.shape, window))),
        ("forward product alone", t_mm),
        (f"im2col then product (sum alone {t_im + t_mm:.1f}: handoff cost)", t_seq),
        ("db = grad.sum(axis=(0, 2, 3))", med(lambda: g.sum(axis=(0, 2, 3)))),
        ("db via grad.reshape(N, O, L).sum(2).sum(0)", med(lambda: g.reshape(N, O, L).sum(axis=2).sum(axis=0))),
    ]
    return "\n".join(f"{label:<62} {ms:8.2f} ms" for label, ms in rows)


def machine_bounds(repeat: int = 5) -> dict:
    """Memory bandwidth and sgemm rate of this machine, at the thread count set for this process.

    Bandwidth: ``np.copyto`` between two 256 MiB float32 arrays (bytes read + written per second;
    NumPy's copy runs on one thread) and the same copy split over numba's threads (a ``prange``
    loop, as the kernels run). sgemm: a 2048³ float32 product with NumPy's BLAS.
    """
    import numba
    import numpy as np

    n = 64 * 2**20
    a, b = np.ones(n, dtype=np.float32), np.empty(n, dtype=np.float32)
    bw1 = 2 * a.nbytes / 1e9 / (median_ms(time_calls(lambda: np.copyto(b, a), repeat)) / 1e3)

    @numba.njit(parallel=True)
    def par_copy(src, dst):
        for i in numba.prange(src.size):
            dst[i] = src[i]

    bwn = 2 * a.nbytes / 1e9 / (median_ms(time_calls(lambda: par_copy(a, b), repeat)) / 1e3)
    m = np.ones((2048, 2048), dtype=np.float32)
    gf = 2 * 2048**3 / 1e9 / (median_ms(time_calls(lambda: m @ m, repeat)) / 1e3)
    return {"bandwidth_1thread_gbs": bw1, "bandwidth_gbs": max(bw1, bwn), "numba_threads": numba.get_num_threads(),
            "sgemm_gflops": gf, **launch_us()}


def launch_us(calls: int = 200) -> dict:
    """Microseconds to run a parallel kernel of 64 additions on numba's threads (median of ``calls``):
    ``launch_us`` called back to back, ``launch_idle_us`` after 1 ms of idling (the workers of an
    OpenMP pool that sleeps at once, ``OMP_WAIT_POLICY=PASSIVE``, are then asleep)."""
    import time

    import numba
    import numpy as np

    @numba.njit(parallel=True)
    def tiny(a):
        for i in numba.prange(a.size):
            a[i] += 1.0

    a = np.zeros(64, dtype=np.float32)
    tiny(a)  # compile

    def median_us(pause_s):
        times = []
        for _ in range(calls):
            end = time.perf_counter() + pause_s
            while time.perf_counter() < end:  # busy idle: the caller keeps its core, the workers do not
                pass
            t0 = time.perf_counter()
            tiny(a)
            times.append(time.perf_counter() - t0)
        return 1e6 * float(np.median(times))

    return {"launch_us": median_us(0.0), "launch_idle_us": median_us(1e-3)}


def per_op_scaling(work, label: str, threads: int, rounds: int, calls: int = 10) -> str:
    """Per op, ms per step at 1 thread and at ``threads``, the counts alternated round by round in
    this process; ``lost`` = time at n − time at 1 / n, what the op gives up against a perfect split."""
    import numba
    from threadpoolctl import threadpool_limits

    counts = (1, threads)
    timer, per_op, steps, bounds = OpTimer(), {n: defaultdict(list) for n in counts}, {n: [] for n in counts}, {}
    for n in counts:  # warm-up at both counts (numba's cache, the allocator, both pools started)
        numba.set_num_threads(n)
        with threadpool_limits(limits=n, user_api="blas"):
            time_calls(work, 2)
            bounds[n] = machine_bounds()
    timer.install()
    try:
        for _ in range(rounds):
            for n in counts:
                numba.set_num_threads(n)
                with threadpool_limits(limits=n, user_api="blas"):
                    timer.ms.clear()
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        work()
                    steps[n].append(1e3 * (time.perf_counter() - t0) / calls)
                    for key, ms in timer.ms.items():
                        per_op[n][key].append(ms / calls)
    finally:
        timer.uninstall()
        numba.set_num_threads(threads)
    one, many = (statistics.median(steps[n]) for n in counts)
    lines = [f"# {label}: per op at 1 and {threads} threads, alternated in one process, median of {rounds} "
             f"rounds x {calls} calls (timers installed)"]
    for n in counts:
        b = bounds[n]
        lines.append(f"# {n} thread(s): copy bandwidth {b['bandwidth_gbs']:.1f} GB/s, a parallel kernel's start "
                     f"{b['launch_us']:.0f} us back to back, {b['launch_idle_us']:.0f} us after 1 ms idle")
    lines.append(f"{'op':<34} {'1 thread':>9} {f'{threads} threads':>10} {'speed-up':>9} {'lost ms':>8}")
    rows, op_totals = [], {n: 0.0 for n in counts}
    for key in per_op[1]:
        if key.startswith("conv:"):  # inside the conv ops' own times
            continue
        a, b = statistics.median(per_op[1][key]), statistics.median(per_op[threads].get(key, [float("nan")]))
        op_totals[1] += a
        op_totals[threads] += b
        rows.append((b - a / threads, key, a, b))
    for lost, key, a, b in sorted(rows, reverse=True):
        lines.append(f"{key:<34} {a:9.2f} {b:10.2f} {a / b:8.2f}x {lost:8.2f}")
    glue1, glue_n = one - op_totals[1], many - op_totals[threads]
    lines.append(f"{'outside the ops':<34} {glue1:9.2f} {glue_n:10.2f} {glue1 / glue_n:8.2f}x {glue_n - glue1 / threads:8.2f}")
    lines.append(f"{'step':<34} {one:9.2f} {many:10.2f} {one / many:8.2f}x {many - one / threads:8.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("work", choices=("conv", "lenet", "resnet", "googlenet", "densenet", "vgg", "products"), nargs="?",
                   default="conv")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--top", type=int, default=25, help="rows of the cProfile table")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--algorithm", default=None, help="mt.set_conv_algorithm(ALGORITHM) first, e.g. auto")
    p.add_argument("--scaling", action="store_true",
                   help="per op: 1 thread against --threads, alternated in this process (--repeat rounds)")
    args = p.parse_args(argv)
    pin_threads(args.threads)
    if args.algorithm:
        import minitorch_cnn as mt

        mt.set_conv_algorithm(args.algorithm)
    if args.work == "products":  # section 3 alone
        print(f"## 3. the conv's products alone ({args.threads} BLAS thread(s), median of {args.repeat})")
        print(conv_products(args.quick, args.repeat))
        return 0

    work, label = make_work(args.work, args.quick)
    if args.scaling:
        print(per_op_scaling(work, label, args.threads, args.repeat))
        return 0
    plain_ms = median_ms(time_calls(work, args.repeat, warmup=2))  # warm-up: numba cache load, allocator
    print(f"# {label}: median {plain_ms:.1f} ms over {args.repeat} (no instrumentation)\n")
    bounds = machine_bounds()
    print(f"## 0. machine bounds ({args.threads} BLAS thread(s), {bounds['numba_threads']} numba thread(s)): "
          f"copy bandwidth {bounds['bandwidth_1thread_gbs']:.1f} GB/s on one thread, {bounds['bandwidth_gbs']:.1f} GB/s "
          f"at best; sgemm 2048^3 {bounds['sgemm_gflops']:.0f} GFLOP/s; a parallel kernel's start "
          f"{bounds['launch_us']:.0f} us back to back, {bounds['launch_idle_us']:.0f} us after 1 ms idle\n")

    timer = OpTimer().install()
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        work()
    total_ms = 1e3 * (time.perf_counter() - t0) / args.repeat
    timer.uninstall()
    print("## 1-2. per op (forward/backward wrapped), conv's im2col/col2im inside its op time")
    print(timer.report(total_ms, args.repeat, bounds))

    if args.work == "conv":
        print("\n## 3. the conv's products alone (median of", args.repeat, ")")
        print(conv_products(args.quick, args.repeat))
        print("\n## 3b. around the products")
        print(conv_overheads(args.quick, args.repeat))

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.repeat):
        work()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
    print(f"\n## 4. cProfile over {args.repeat} calls, top {args.top} by own time")
    text = out.getvalue()
    print(text[text.find("   ncalls"):] if "   ncalls" in text else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
