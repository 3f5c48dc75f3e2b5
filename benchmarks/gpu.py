"""GPU benchmark: minitorch_cnn on CuPy beside PyTorch on the same GPU, in the same run.

``python -m benchmarks.gpu [--batch-size 256] [--steps 50] [--warmup 5] [--repeat 3] [--json PATH]``

Prints, with the GPU's name:

* LeNet training (the book's LeNet, SGD, float32): examples/s of ours on each kernel path
  (``numba`` = the CUDA kernels of ``kernels/cuda.py`` for CuPy arrays, ``generic`` = the
  ``xp``-only path) and of PyTorch, and the ratio. The batch lives on the GPU already (random
  28×28 images), so this times the step itself: forward, loss, backward, update, with
  the loss read back to the host each step as a training loop does.
* conv2d N64 C64 32×32 k3 p1 O64 float32, forward + backward: milliseconds and the ratio.

Timing: both engines start from the same weights; each measured block is bracketed by a device
synchronisation, and the median of ``--repeat`` blocks is reported. Exits with a message and
status 1 when no CUDA GPU (or no CuPy) is present; PyTorch's column says why when torch has no
CUDA.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def _fail(message: str) -> None:
    print(f"benchmarks.gpu: {message}", file=sys.stderr)
    sys.exit(1)


def _torch_cuda():
    """(torch, None) when PyTorch sees a CUDA GPU, else (None, why not)."""
    try:
        import torch
    except ImportError as exc:
        return None, f"PyTorch is not installed ({exc})"
    if not torch.cuda.is_available():
        return None, f"PyTorch {torch.__version__} sees no CUDA GPU"
    return torch, None


def _median_block_s(step, sync, steps: int, warmup: int, repeat: int) -> float:
    """Median over ``repeat`` blocks of the seconds per step, each block synchronised at both ends."""
    for _ in range(warmup):
        step()
    sync()
    blocks = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        blocks.append((time.perf_counter() - start) / steps)
    return statistics.median(blocks)


def lenet_ours(x_host, y_host, lr, kernel_path, args):
    import cupy

    import minitorch_cnn as mt
    from minitorch_cnn import backend, models, optim
    from minitorch_cnn import functional as F

    backend.set_kernel_path(kernel_path)
    mt.manual_seed(0)
    net = models.get_model("lenet").to("cuda")
    opt = optim.SGD(net.parameters(), lr=lr)
    x, y = mt.Tensor(cupy.asarray(x_host)), mt.Tensor(cupy.asarray(y_host))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    seconds = _median_block_s(step, cupy.cuda.Device().synchronize, args.steps, args.warmup, args.repeat)
    return seconds, net


def lenet_torch(torch, x_host, y_host, lr, our_net, args):
    from benchmarks.nets import share_weights, torch_lenet

    net = torch_lenet()
    note = share_weights(our_net.to("cpu"), net)
    net = net.cuda()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    x, y = torch.from_numpy(x_host).cuda(), torch.from_numpy(y_host).cuda()

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return _median_block_s(step, torch.cuda.synchronize, args.steps, args.warmup, args.repeat), note


def conv_ours(x_host, w_host, kernel_path, args):
    import cupy

    import minitorch_cnn as mt
    from minitorch_cnn import backend
    from minitorch_cnn import functional as F

    backend.set_kernel_path(kernel_path)
    x = mt.Tensor(cupy.asarray(x_host), requires_grad=True)
    w = mt.Tensor(cupy.asarray(w_host), requires_grad=True)
    g = mt.Tensor(cupy.ones((x_host.shape[0], w_host.shape[0], *x_host.shape[2:]), dtype=np.float32))

    def step():
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).backward(g)

    return _median_block_s(step, cupy.cuda.Device().synchronize, args.steps, args.warmup, args.repeat)


def conv_torch(torch, x_host, w_host, args):
    x = torch.from_numpy(x_host).cuda().requires_grad_()
    w = torch.from_numpy(w_host).cuda().requires_grad_()
    g = torch.ones((x_host.shape[0], w_host.shape[0], *x_host.shape[2:]), device="cuda")

    def step():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, padding=1).backward(g)

    return _median_block_s(step, torch.cuda.synchronize, args.steps, args.warmup, args.repeat)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per block")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="timed blocks; the median is reported")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from minitorch_cnn import backend

    if not backend.cuda_is_available():
        _fail(f"no GPU to benchmark: {backend.cuda_unavailable_reason()}")
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    gpu_name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    torch, torch_missing = _torch_cuda()
    print(f"GPU: {gpu_name}; CuPy {cupy.__version__}; "
          + (f"PyTorch {torch.__version__}" if torch else f"PyTorch: {torch_missing}"))

    rng = np.random.default_rng(0)
    B = args.batch_size
    x_host = rng.random((B, 1, 28, 28), dtype=np.float32)
    y_host = rng.integers(0, 10, B).astype(np.int64)
    results = {"gpu": gpu_name, "batch_size": B, "lenet_examples_per_s": {}, "conv_fwd_bwd_ms": {}}

    print(f"\nLeNet training step, batch {B}, float32 (median of {args.repeat} blocks of {args.steps} steps)")
    our_net = None
    for path in ("numba", "generic"):
        seconds, our_net = lenet_ours(x_host, y_host, 0.9, path, args)
        results["lenet_examples_per_s"][f"ours ({path})"] = B / seconds
        label = "CUDA kernels" if path == "numba" else "generic xp path"
        print(f"  ours, {label:<16} {B / seconds:12,.0f} examples/s   {seconds * 1e3:8.2f} ms/step")
    if torch:
        seconds, note = lenet_torch(torch, x_host, y_host, 0.9, our_net, args)
        results["lenet_examples_per_s"]["torch"] = B / seconds
        ours_best = results["lenet_examples_per_s"]["ours (numba)"]
        print(f"  PyTorch                 {B / seconds:12,.0f} examples/s   {seconds * 1e3:8.2f} ms/step  ({note})")
        print(f"  ours / PyTorch (CUDA kernels): {ours_best / (B / seconds):.2f}x the examples/s")

    x_conv = rng.standard_normal((64, 64, 32, 32)).astype(np.float32)
    w_conv = rng.standard_normal((64, 64, 3, 3)).astype(np.float32) * 0.05
    print("\nconv2d N64 C64 32x32 k3 p1 O64 float32, forward + backward")
    for path in ("numba", "generic"):
        seconds = conv_ours(x_conv, w_conv, path, args)
        results["conv_fwd_bwd_ms"][f"ours ({path})"] = seconds * 1e3
        print(f"  ours ({path:<7})         {seconds * 1e3:8.3f} ms")
    if torch:
        seconds = conv_torch(torch, x_conv, w_conv, args)
        results["conv_fwd_bwd_ms"]["torch"] = seconds * 1e3
        ratio = results["conv_fwd_bwd_ms"]["ours (numba)"] / (seconds * 1e3)
        print(f"  PyTorch                 {seconds * 1e3:8.3f} ms")
        print(f"  ours / PyTorch time (CUDA kernels): {ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
