"""In-process cases on single ops: the conv layer, each op family, the scaling table, raw BLAS.

Every case draws its arrays once (float32, seeded), then times forward + backward with a given
upstream gradient on both sides. Each call wraps the same NumPy arrays afresh without copying
(``mt.Tensor(a)`` / ``torch.from_numpy(a)``), so gradients never accumulate across calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .harness import Row, compare, median_ms


def conv_flops(N, C, O, Ho, Wo, kh, kw, groups=1, backward=True) -> float:
    """Multiply-adds ×2 of the forward product; the backward does two products of the same size (dW, dX)."""
    fwd = 2.0 * N * O * Ho * Wo * (C // groups) * kh * kw
    return 3 * fwd if backward else fwd


def out_size(n, k, s=1, p=0):
    return (n + 2 * p - k) // s + 1


@dataclass
class OpCase:
    """One op timed forward + backward: ``inputs`` are (array, requires_grad) pairs.

    ``ours(F, *tensors)`` and ``theirs(tF, *tensors)`` build the output from the wrapped inputs;
    the upstream gradient is a fixed random array of the output's shape (none for a scalar loss).
    """

    name: str
    inputs: list
    ours: object
    theirs: object
    flops: float | None = None
    note: str = ""


def _rng():
    return np.random.default_rng(0)


def run_op_case(case: OpCase, group: str, repeat: int, warmup: int, backward: bool = True) -> Row:
    import torch
    import torch.nn.functional as tF

    import minitorch_cnn as mt
    from minitorch_cnn import functional as F

    arrays = [a for a, _ in case.inputs]
    needs = [r for _, r in case.inputs]
    with torch.no_grad():
        y0 = case.theirs(tF, *[torch.from_numpy(a) for a in arrays])
    grad = None if y0.dim() == 0 else _rng().standard_normal(tuple(y0.shape), dtype=np.float32)
    grad_t = None if grad is None else torch.from_numpy(grad)

    def run_ours():
        y = case.ours(F, *[mt.Tensor(a, requires_grad=r) for a, r in zip(arrays, needs)])
        if backward:
            y.backward(grad)

    def run_torch():
        y = case.theirs(tF, *[torch.from_numpy(a).requires_grad_(r) for a, r in zip(arrays, needs)])
        if backward:
            y.backward(grad_t)

    t_ours, t_torch = compare(run_ours, run_torch, repeat, warmup)
    return Row(group, case.name, median_ms(t_ours), median_ms(t_torch), flops=case.flops, note=case.note,
               samples={"ours_s": t_ours, "torch_s": t_torch})


def conv_case(N, C, H, W, O, k, s=1, p=0, label=None, backward=True, note="") -> OpCase:
    rng = _rng()
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = (rng.standard_normal((O, C, k, k), dtype=np.float32) / np.sqrt(C * k * k)).astype(np.float32)
    b = rng.standard_normal(O, dtype=np.float32) * np.float32(0.1)
    Ho, Wo = out_size(H, k, s, p), out_size(W, k, s, p)
    name = label or f"conv2d N{N} C{C} {H}x{W} k{k} s{s} p{p} O{O}"
    return OpCase(
        name + (" fwd+bwd" if backward else " fwd"),
        [(x, True), (w, True), (b, True)],
        lambda F, x, w, b: F.conv2d(x, w, b, stride=s, padding=p),
        lambda tF, x, w, b: tF.conv2d(x, w, b, stride=s, padding=p),
        flops=conv_flops(N, C, O, Ho, Wo, k, k, backward=backward),
        note=note,
    )


# --------------------------------------------------------------------------- cases
def case_conv(args) -> list[Row]:
    """The issue's headline layer: N64 C64 32×32 k3 p1 O64, float32, forward + backward."""
    N, C, H, O = (64, 64, 32, 64) if not args.quick else (2, 4, 8, 4)
    rows = []
    for backward in (True, False):
        case = conv_case(N, C, H, H, O, 3, 1, 1, backward=backward,
                         note="target ratio <= 0.8" if backward else "forward only, grad mode on")
        rows.append(run_op_case(case, "conv", args.repeat, args.warmup, backward=backward))
    # the same layer on the array-generic kernels (the path CuPy takes), forced on NumPy
    from minitorch_cnn import backend

    previous = backend.get_kernel_path()
    backend.set_kernel_path("generic")
    try:
        case = conv_case(N, C, H, H, O, 3, 1, 1, label=f"conv2d N{N} C{C} {H}x{H} k3 s1 p1 O{O} GENERIC path",
                         note="MINITORCH_CNN_KERNELS=generic")
        rows.append(run_op_case(case, "conv", args.repeat, args.warmup, backward=True))
    finally:
        backend.set_kernel_path(previous)
    return rows


def depthwise_case(N, C, H, s, label=None, note="") -> OpCase:
    """A 3×3 depthwise conv (groups = C = O, padding 1, bias-free as in MobileNetV2), forward + backward."""
    rng = _rng()
    x = rng.standard_normal((N, C, H, H), dtype=np.float32)
    w = (rng.standard_normal((C, 1, 3, 3), dtype=np.float32) / np.float32(3.0)).astype(np.float32)
    Ho = out_size(H, 3, s, 1)
    return OpCase(
        (label or f"depthwise N{N} C{C} {H}x{H} k3 s{s} p1") + " fwd+bwd",
        [(x, True), (w, True)],
        lambda F, x, w: F.conv2d(x, w, None, stride=s, padding=1, groups=C),
        lambda tF, x, w: tF.conv2d(x, w, None, stride=s, padding=1, groups=C),
        flops=conv_flops(N, C, C, Ho, Ho, 3, 3, groups=C),
        note=note,
    )


def case_depthwise(args) -> list[Row]:
    """MobileNetV2's depthwise 3×3 layers (groups = C): the direct kernel conv2d uses, against PyTorch,
    and the same layer through the im2col path (G products of a 1×9 row), which conv2d used before."""
    import minitorch_cnn as mt

    if args.quick:
        shapes = [(2, 8, 8, 1, None), (2, 8, 8, 2, None)]
    else:  # mobilenet_v2_small at 28x28, batch 32; mobilenet_v2 at 224, batch 8
        shapes = [(32, 144, 28, 1, "depthwise small-net N32 C144 28x28 s1"),
                  (32, 192, 14, 1, "depthwise small-net N32 C192 14x14 s1"),
                  (32, 576, 7, 1, "depthwise small-net N32 C576 7x7 s1"),
                  (8, 96, 112, 2, "depthwise 224-net N8 C96 112x112 s2"),
                  (8, 144, 56, 1, "depthwise 224-net N8 C144 56x56 s1")]  # fmt: skip
    rows = []
    for N, C, H, s, label in shapes:
        case = depthwise_case(N, C, H, s, label, note="direct kernel (kernels/depthwise.py)")
        rows.append(run_op_case(case, "depthwise", args.repeat, args.warmup))
        im2col = depthwise_case(N, C, H, s, (label or f"depthwise N{N} C{C} {H}x{H} k3 s{s} p1") + " IM2COL path",
                                note="Im2colConv2dFn: one 1x9 @ 9x(N*L) product per group")

        def through_im2col(F, x, w, C=C, s=s):
            with mt.conv_algorithm("im2col"):
                return F.conv2d(x, w, None, stride=s, padding=1, groups=C)

        im2col.ours = through_im2col
        rows.append(run_op_case(im2col, "depthwise", args.repeat, args.warmup))
    return rows


def op_cases(quick: bool) -> list[OpCase]:
    import torch

    rng = _rng()

    def randn(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    # batch sizes: LeNet's 256 (Fashion-MNIST 28×28) and ResNet-18's 32 (96×96 input, 24×24 after the stem)
    nL, nR, s = (256, 32, 1) if not quick else (4, 2, 4)  # quick: small batch, spatial sizes / 4
    cases = [
        conv_case(nL, 1, 28, 28, 6, 5, 1, 2, label=f"conv LeNet c1 N{nL} 1x28x28 k5 p2 O6") if not quick
        else conv_case(nL, 1, 8, 8, 2, 5, 1, 2),
        conv_case(nL, 6, 14 // s + 4, 14 // s + 4, 16, 5, label=f"conv LeNet c2 N{nL} 6x14x14 k5 O16" if not quick else None),
        conv_case(nR, 1, 96 // s, 96 // s, 64 // s, 7, 2, 3, label=None if quick else f"conv ResNet stem N{nR} 1x96x96 k7 s2 p3 O64"),
        conv_case(nR, 64 // s, 24 // s, 24 // s, 64 // s, 3, 1, 1, label=None if quick else f"conv ResNet b2 N{nR} 64x24x24 k3 p1 O64"),
        conv_case(nR, 64 // s, 24 // s, 24 // s, 128 // s, 1, 2, 0, label=None if quick else f"conv ResNet 1x1 N{nR} 64x24x24 s2 O128"),
    ]
    x_mp = randn(nR, 64 // s, 48 // s, 48 // s)
    cases.append(OpCase(f"max_pool2d k3 s2 p1 {x_mp.shape}", [(x_mp, True)],
                        lambda F, x: F.max_pool2d(x, 3, 2, 1), lambda tF, x: tF.max_pool2d(x, 3, 2, 1)))
    x_ap = randn(nL, 6, 28 // s, 28 // s)
    cases.append(OpCase(f"avg_pool2d k2 s2 {x_ap.shape}", [(x_ap, True)],
                        lambda F, x: F.avg_pool2d(x, 2, 2), lambda tF, x: tF.avg_pool2d(x, 2, 2)))
    x_ga = randn(nR, 512 // s, 3, 3)
    cases.append(OpCase(f"adaptive_avg_pool2d 1 {x_ga.shape}", [(x_ga, True)],
                        lambda F, x: F.adaptive_avg_pool2d(x, 1), lambda tF, x: tF.adaptive_avg_pool2d(x, 1)))
    x_bn = randn(nR, 64 // s, 48 // s, 48 // s)
    c_bn = x_bn.shape[1]
    gamma, beta = np.ones(c_bn, np.float32), np.zeros(c_bn, np.float32)
    rm_o, rv_o = np.zeros(c_bn, np.float32), np.ones(c_bn, np.float32)

    rm_t, rv_t = torch.zeros(c_bn), torch.ones(c_bn)
    cases.append(OpCase(f"batch_norm train {x_bn.shape}", [(x_bn, True), (gamma, True), (beta, True)],
                        lambda F, x, w, b: F.batch_norm(x, rm_o, rv_o, w, b, training=True),
                        lambda tF, x, w, b: tF.batch_norm(x, rm_t, rv_t, w, b, training=True)))
    x_fc, w_fc, b_fc = randn(nL, 400), randn(120, 400) * np.float32(0.05), randn(120)
    cases.append(OpCase(f"linear {x_fc.shape} -> 120", [(x_fc, True), (w_fc, True), (b_fc, True)],
                        lambda F, x, w, b: F.linear(x, w, b), lambda tF, x, w, b: tF.linear(x, w, b),
                        flops=3 * 2.0 * nL * 400 * 120))
    x_sg = randn(nL, 6, 28 // s, 28 // s)
    cases.append(OpCase(f"sigmoid {x_sg.shape}", [(x_sg, True)], lambda F, x: F.sigmoid(x), lambda tF, x: tF.sigmoid(x)))
    x_re = randn(nR, 64 // s, 24 // s, 24 // s)
    cases.append(OpCase(f"relu {x_re.shape}", [(x_re, True)], lambda F, x: F.relu(x), lambda tF, x: tF.relu(x)))
    logits, labels = randn(nL, 10), rng.integers(0, 10, nL).astype(np.int64)
    cases.append(OpCase(f"cross_entropy {logits.shape}", [(logits, True), (labels, False)],
                        lambda F, z, t: F.cross_entropy(z, t), lambda tF, z, t: tF.cross_entropy(z, t)))
    return cases


def case_ops(args) -> list[Row]:
    rows = []
    for case in op_cases(args.quick):
        try:
            rows.append(run_op_case(case, "ops", args.repeat, args.warmup))
        except Exception as exc:  # one op not landed (or broken) must not hide the others
            rows.append(Row("ops", case.name, None, None, note=f"FAILED: {type(exc).__name__}: {exc}"[:120]))
    return rows


def case_scaling(args) -> list[Row]:
    """Conv C64→O64 k3 p1 fwd+bwd against batch size (at 32×32) and image size (at batch 16).

    Time per GFLOP should stay flat if the work grows linearly; the GF/s columns show it.
    """
    if args.quick:
        batches, sizes, C, size0, batch0 = (1, 2), (4, 8), 4, 8, 2
    else:
        batches, sizes, C, size0, batch0 = (8, 16, 32, 64), (16, 32, 64), 64, 32, 16
    rows = []
    for n in batches:
        case = conv_case(n, C, size0, size0, C, 3, 1, 1, label=f"batch N{n} C{C} {size0}x{size0}")
        rows.append(run_op_case(case, "scaling", args.repeat, args.warmup))
    for hw in sizes:
        case = conv_case(batch0, C, hw, hw, C, 3, 1, 1, label=f"image N{batch0} C{C} {hw}x{hw}")
        rows.append(run_op_case(case, "scaling", args.repeat, args.warmup))
    for r in rows:
        ms_per_gflop = r.ours_ms / (r.flops / 1e9)
        r.note = f"ours {ms_per_gflop:.2f} ms/GFLOP, torch {r.torch_ms / (r.flops / 1e9):.2f} ms/GFLOP"
    return rows


def case_blas(args) -> list[Row]:
    """What sgemm reaches here on the conv's matrix sizes: NumPy (ours) against torch.mm.

    These set the lower bound of the conv: its 3 products at the best rate measured here.
    """
    import torch

    N, C, H, O, k = (64, 64, 32, 64, 3) if not args.quick else (2, 4, 8, 4, 3)
    K, L = C * k * k, H * H  # rows of the column matrix, output positions per image
    rng = _rng()
    w = rng.standard_normal((O, K), dtype=np.float32)
    cols = rng.standard_normal((K, N * L), dtype=np.float32)
    g = rng.standard_normal((O, N * L), dtype=np.float32)
    cols_b = cols.reshape(K, N, L).transpose(1, 0, 2).copy()  # (N, K, L): per image, as the column matrix's op multiplies
    g_b = g.reshape(O, N, L).transpose(1, 0, 2).copy()  # (N, O, L)
    flop = 2.0 * O * K * N * L
    specs = [
        (f"fwd  W({O},{K}) @ cols({K},{N * L})", lambda m: m(w, cols)),
        (f"dW   G({O},{N * L}) @ colsT({N * L},{K})", lambda m: m(g, cols.T)),
        (f"dX   WT({K},{O}) @ G({O},{N * L})", lambda m: m(w.T, g)),
    ]
    rows = []
    t = {name: (torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a)
         for name, a in {"w": w, "cols": cols, "g": g}.items()}
    torch_specs = [
        lambda: torch.mm(t["w"], t["cols"]),
        lambda: torch.mm(t["g"], t["cols"].T),
        lambda: torch.mm(t["w"].T, t["g"]),
    ]
    for (name, fn), tfn in zip(specs, torch_specs):
        t_np, t_t = compare(lambda fn=fn: fn(np.matmul), tfn, args.repeat, args.warmup)
        rows.append(Row("blas", "sgemm " + name, median_ms(t_np), median_ms(t_t), flops=flop,
                        note="ours = NumPy matmul, torch = torch.mm"))
    # the products as the column matrix's op issues them: one (O,K)@(K,L) per image, stacked by np.matmul
    tw, tc = torch.from_numpy(w), torch.from_numpy(cols_b)
    t_np, t_t = compare(lambda: np.matmul(w, cols_b), lambda: torch.matmul(tw, tc), args.repeat, args.warmup)
    rows.append(Row("blas", f"batched fwd ({O},{K}) @ {N}x({K},{L})", median_ms(t_np), median_ms(t_t), flops=flop,
                    note="per-image products, stacked matmul"))
    tg = torch.from_numpy(g_b)
    t_np, t_t = compare(lambda: np.matmul(g_b, cols_b.transpose(0, 2, 1)).sum(axis=0),
                        lambda: torch.matmul(tg, tc.transpose(1, 2)).sum(0), args.repeat, args.warmup)
    rows.append(Row("blas", f"batched dW {N}x({O},{L}) @ ({L},{K}), summed", median_ms(t_np), median_ms(t_t),
                    flops=flop, note="per-image dW then sum over images"))
    best = max(r.gflops(r.ours_ms) for r in rows)
    bound = conv_flops(N, C, O, H, H, k, k) / (best * 1e9) * 1e3
    rows.append(Row("blas", "conv fwd+bwd lower bound (3 products at best NumPy rate)", bound, None,
                    flops=conv_flops(N, C, O, H, H, k, k), note=f"best NumPy sgemm here {best:.0f} GFLOP/s",
                    extra={"informational": True}))
    return rows
