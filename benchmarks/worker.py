"""Work that must run in a fresh process: first-step latency and peak memory.

``python -m benchmarks.worker TASK --engine ours|torch [--threads N] [--quick]`` does one task
and prints one line ``RESULT {json}`` on stdout; ``cases_proc.py`` spawns it, one process per
(task, engine), so that imports, caches and memory peaks never mix between measurements.

Tasks:
  firststep   import the engine, build LeNet, one training step (batch 256), loss read back.
  mem_lenet   a LeNet training loop (batch 256) over Fashion-MNIST (or random data of its size):
              peak resident memory, and for ours the peak of NumPy's allocations (tracemalloc).
  mem_vgg     VGG-11-small at 224×224, batch 16: forward, loss, backward; peak resident memory.
  weights     (ours) write the seed-0 initial weights of ``--net`` to ``--weights`` (.npz), which
              the step tasks of both engines then load: both start from the same numbers.
  step        ``--steps`` SGD steps of ``--net`` (lenet: batch 256 28×28; resnet18: batch 32 96×96)
              after ``--warmup`` untimed ones; the seconds of each step. Same inputs on both sides.
  conv        conv2d N64 C64 32×32 k3 p1 O64 float32, forward + backward, ``--steps`` times.
  epochs      (torch) the book's LeNet recipe as a plain PyTorch loop: Xavier init, SGD lr 0.9,
              batch 256, shuffled, test accuracy after every epoch, IDX files read from
              ``--data-dir``. Our side of this comparison is the CLI (``cases_proc.case_alone_epochs``).

Alone: this process holds one engine, so its thread pools never meet the other's.
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


def task_firststep(eng: Engine, args) -> dict:
    quick = args.quick
    x, y = random_batch(256 if not quick else 8, 1, 28, 28)
    model = eng.model("lenet")
    opt = eng.sgd(model, 0.9)
    loss = train_step(eng, model, opt, x, y)
    return {"seconds": time.perf_counter() - _T0, "loss": loss}


def task_mem_lenet(eng: Engine, args) -> dict:
    quick = args.quick
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


def task_mem_vgg(eng: Engine, args) -> dict:
    quick = args.quick
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


STEP_SHAPES = {"lenet": (256, 28, 0.9), "resnet18": (32, 96, 0.05),  # net -> (batch, image size, lr)
               "vgg11_small": (16, 224, 0.05), "googlenet": (32, 96, 0.1), "densenet": (32, 96, 0.1)}


def load_weights(eng: Engine, model, path: str) -> None:
    """Load the ``.npz`` written by the ``weights`` task into ``model`` (either engine)."""
    import numpy as np

    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    if eng.name == "torch":
        own = model.state_dict()
        model.load_state_dict({k: eng.torch.from_numpy(a).to(own[k].dtype) for k, a in arrays.items()})
    else:
        model.load_state_dict(arrays)


def blas_info() -> list:
    """The BLAS/OpenMP pools loaded in this process (threadpoolctl), when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "num_threads", "version", "architecture", "threading_layer")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def timed_steps(fn, steps: int, warmup: int) -> dict:
    from .harness import median_ms, time_calls

    times = time_calls(fn, steps, warmup)
    return {"step_s": times, "median_ms": median_ms(times), "pools": blas_info()}


def task_weights(eng: Engine, args) -> dict:
    import numpy as np

    if eng.name != "ours":
        raise SystemExit("worker weights: our engine writes the shared weights (--engine ours)")
    model = eng.model(args.net)
    np.savez(args.weights, **{k: v.numpy() for k, v in model.state_dict().items()})
    return {"path": args.weights, "tensors": len(model.state_dict())}


def task_step(eng: Engine, args) -> dict:
    n, hw, lr = STEP_SHAPES[args.net]
    if args.quick:
        n, hw = {"lenet": (4, 28), "vgg11_small": (2, 224)}.get(args.net, (4, 32))  # VGG's classifier wants 224
    x, y = random_batch(n, 1, hw, hw)
    model = eng.model(args.net)
    if args.weights:
        load_weights(eng, model, args.weights)
    model.train()
    opt = eng.sgd(model, lr)
    first = train_step(eng, model, opt, x, y)
    out = timed_steps(lambda: train_step(eng, model, opt, x, y), args.steps, max(0, args.warmup - 1))
    out["first_loss"] = first
    return out


def task_conv(eng: Engine, args) -> dict:
    import numpy as np

    N, C, H, O = (64, 64, 32, 64) if not args.quick else (2, 4, 8, 4)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H), dtype=np.float32)
    w = rng.standard_normal((O, C, 3, 3), dtype=np.float32) * np.float32(0.05)
    b = rng.standard_normal(O, dtype=np.float32)
    g = rng.standard_normal((N, O, H, H), dtype=np.float32)
    if eng.name == "torch":
        torch = eng.torch
        tg = torch.from_numpy(g)

        def work():
            X, W, B = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
            torch.nn.functional.conv2d(X, W, B, padding=1).backward(tg)
    else:
        mt, F = eng.mt, eng.F

        def work():
            X, W, B = (mt.Tensor(a, requires_grad=True) for a in (x, w, b))
            F.conv2d(X, W, B, padding=1).backward(g)

    return timed_steps(work, args.steps, args.warmup)


def read_idx_gz(folder: str, stem: str):
    """One IDX file of the MNIST family (``stem`` or ``stem.gz`` in ``folder``) as a NumPy array."""
    import gzip

    import numpy as np

    path = os.path.join(folder, stem)
    raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz", "rb").read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def task_epochs(eng: Engine, args) -> dict:
    """The book's LeNet run as a PyTorch user writes it (Fashion-MNIST from its IDX files)."""
    if eng.name != "torch":
        raise SystemExit("worker epochs: our side is the CLI, minitorch-cnn train lenet")
    torch, nn = eng.torch, eng.torch.nn
    tF = nn.functional
    t_start = time.perf_counter()
    data = {name: torch.from_numpy(read_idx_gz(args.data_dir, name).copy()) for name in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    xtr, ytr = data["train-images-idx3-ubyte"], data["train-labels-idx1-ubyte"].long()
    xte, yte = data["t10k-images-idx3-ubyte"], data["t10k-labels-idx1-ubyte"].long()
    if args.quick:
        xtr, ytr, xte, yte = xtr[:512], ytr[:512], xte[:256], yte[:256]
    torch.manual_seed(0)
    net = eng.model("lenet")

    def init_weights(m):  # the book's Xavier-uniform on every Conv2d / Linear weight
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)

    net.apply(init_weights)
    opt = torch.optim.SGD(net.parameters(), lr=0.9)
    batch, rows = 256, []
    gen = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        net.train()
        t0 = time.perf_counter()
        total, correct, n = 0.0, 0, 0
        for idx in torch.randperm(len(ytr), generator=gen).split(batch):
            X, y = (xtr[idx].float() / 255).unsqueeze(1), ytr[idx]
            out = net(X)
            loss = tF.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            correct += int((out.argmax(1) == y).sum())
            n += len(y)
        train_s = time.perf_counter() - t0
        net.eval()
        hits = 0
        with torch.no_grad():
            for i in range(0, len(yte), batch):
                hits += int((net((xte[i:i + batch].float() / 255).unsqueeze(1)).argmax(1) == yte[i:i + batch]).sum())
        rows.append({"epoch": epoch + 1, "train_loss": total / n, "train_acc": correct / n,
                     "test_acc": hits / len(yte), "train_time_s": train_s})
        print(f"epoch {epoch + 1}: loss {total / n:.3f}, train acc {correct / n:.3f}, test acc {hits / len(yte):.3f}",
              flush=True)
    return {"rows": rows, "run_s": time.perf_counter() - t_start, "seconds": time.perf_counter() - _T0,
            "peak_rss_mb": peak_rss_mb()}


TASKS = {"firststep": task_firststep, "mem_lenet": task_mem_lenet, "mem_vgg": task_mem_vgg,
         "weights": task_weights, "step": task_step, "conv": task_conv, "epochs": task_epochs}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("--engine", choices=("ours", "torch"), required=True)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--net", choices=sorted(STEP_SHAPES), default="lenet")
    p.add_argument("--weights", default=None, help="an .npz of initial weights (written by the weights task)")
    p.add_argument("--steps", type=int, default=20, help="timed steps (step, conv)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (step, conv)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data-dir", default=None, help="folder of the Fashion-MNIST IDX files (epochs)")
    p.add_argument("--algorithm", default=None, help="ours: mt.set_conv_algorithm(ALGORITHM) first (torch: ignored)")
    p.add_argument("--numpy-first", action="store_true",
                   help="import NumPy before the engine, as a notebook with %%matplotlib inline does")
    args = p.parse_args(argv)
    if args.numpy_first:
        import numpy  # noqa: F401 - loads OpenBLAS before the engine can set its environment
    eng = Engine(args.engine, args.threads)
    if args.algorithm and args.engine == "ours":
        eng.mt.set_conv_algorithm(args.algorithm)
    result = TASKS[args.task](eng, args)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
