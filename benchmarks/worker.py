"""Work that must run in a fresh process: first-step latency and peak memory.

``python -m benchmarks.worker TASK --engine ours|torch [--threads N] [--quick]`` does one task
and prints one line ``RESULT {json}`` on stdout; ``cases_proc.py`` spawns it, one process per
(task, engine), so that imports, caches and memory peaks never mix between measurements.

Tasks:
  firststep   import the engine, build LeNet, one training step (batch 256), loss read back.
  mem_lenet   a LeNet training loop (batch 256) over Fashion-MNIST (or random data of its size):
              peak resident memory, and for ours the peak of NumPy's allocations (tracemalloc).
  mem_vgg     VGG-11-small at 224×224, batch 16: forward, loss, backward; peak resident memory.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # before any import below: "first step" includes importing the engine

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (Linux), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    """Current resident set size, in MiB."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    VmHWM, not ``getrusage().ru_maxrss``: Linux carries ru_maxrss across fork + exec, so a child
    would report its parent's peak when that was higher. Off Linux, fall back to ru_maxrss.
    """
    hwm = _status_mb("VmHWM")
    if hwm == hwm:  # not NaN
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class Engine:
    """The few calls a training step needs, on either side."""

    def __init__(self, name: str, threads: int):
        self.name = name
        if name == "torch":
            import torch

            torch.set_num_threads(threads)
            self.torch = torch
        else:
            import minitorch_cnn as mt
            from minitorch_cnn import functional as F

            self.mt, self.F = mt, F

    def model(self, name: str, **kwargs):
        from .nets import TORCH_NETS, ours

        if self.name == "torch":
            self.torch.manual_seed(0)
            return TORCH_NETS[name](**kwargs)
        self.mt.manual_seed(0)
        return ours(name, **kwargs)

    def sgd(self, model, lr):
        if self.name == "torch":
            return self.torch.optim.SGD(model.parameters(), lr=lr)
        from .nets import ours_sgd

        return ours_sgd(model.parameters(), lr)

    def tensors(self, x, y):
        if self.name == "torch":
            return self.torch.from_numpy(x), self.torch.from_numpy(y)
        return self.mt.Tensor(x), self.mt.Tensor(y)

    def loss(self, out, y):
        if self.name == "torch":
            return self.torch.nn.functional.cross_entropy(out, y)
        return self.F.cross_entropy(out, y)


def train_step(eng: Engine, model, opt, x, y) -> float:
    opt.zero_grad()
    xt, yt = eng.tensors(x, y)
    loss = eng.loss(model(xt), yt)
    loss.backward()
    opt.step()
    return loss.item()


def random_batch(n, c, h, w, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, c, h, w), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def fashion_mnist_images(quick: bool):
    """The training images as uint8 (N, 28, 28) and labels, or random ones of the same size."""
    import numpy as np

    if not quick:
        try:
            from minitorch_cnn.data import FashionMNIST

            ds = FashionMNIST(train=True, download=False)
            return np.asarray(ds.images), np.asarray(ds.targets, dtype=np.int64), "Fashion-MNIST"
        except Exception:  # not on disk: the same amount of random data
            pass
    n = 60000 if not quick else 512
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64),
            "random data of Fashion-MNIST's size" if not quick else "random data")


def task_firststep(eng: Engine, quick: bool) -> dict:
    x, y = random_batch(256 if not quick else 8, 1, 28, 28)
    model = eng.model("lenet")
    opt = eng.sgd(model, 0.9)
    loss = train_step(eng, model, opt, x, y)
    return {"seconds": time.perf_counter() - _T0, "loss": loss}


def task_mem_lenet(eng: Engine, quick: bool) -> dict:
    import numpy as np

    base = rss_mb()
    images, labels, source = fashion_mnist_images(quick)
    model = eng.model("lenet")
    opt = eng.sgd(model, 0.9)
    batch, steps = (256, 40) if not quick else (16, 2)
    order = np.random.default_rng(0).permutation(len(labels))

    def batches(k):
        for i in range(k):
            idx = order[(i * batch) % (len(order) - batch):][:batch]
            yield (images[idx].astype(np.float32) / np.float32(255))[:, None], labels[idx]

    t0 = time.perf_counter()
    for x, y in batches(steps):
        train_step(eng, model, opt, x, y)
    step_ms = 1e3 * (time.perf_counter() - t0) / steps
    out = {"peak_rss_mb": peak_rss_mb(), "base_rss_mb": base, "steps": steps, "batch": batch,
           "data": source, "step_ms": step_ms}
    if eng.name == "ours":  # NumPy reports its allocations to tracemalloc; torch's allocator does not
        import tracemalloc

        tracemalloc.start()
        for x, y in batches(3 if not quick else 1):
            train_step(eng, model, opt, x, y)
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def task_mem_vgg(eng: Engine, quick: bool) -> dict:
    base = rss_mb()
    model = eng.model("vgg11_small", **({} if not quick else {"ratio": 16}))  # quick: channels / 16
    n = 16 if not quick else 1
    x, y = random_batch(n, 1, 224, 224)
    opt = eng.sgd(model, 0.05)
    model_rss = rss_mb()
    times = []
    for _ in range(2 if not quick else 1):  # the second step sees the gradients of the first allocated
        t0 = time.perf_counter()
        train_step(eng, model, opt, x, y)
        times.append(time.perf_counter() - t0)
    return {"peak_rss_mb": peak_rss_mb(), "base_rss_mb": base, "model_rss_mb": model_rss, "batch": n,
            "step_ms": 1e3 * min(times)}


TASKS = {"firststep": task_firststep, "mem_lenet": task_mem_lenet, "mem_vgg": task_mem_vgg}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("--engine", choices=("ours", "torch"), required=True)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    eng = Engine(args.engine, args.threads)
    result = TASKS[args.task](eng, args.quick)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
