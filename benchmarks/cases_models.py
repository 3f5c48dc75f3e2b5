"""In-process cases on whole nets: a LeNet step, a ResNet-18 step, and (opt-in) LeNet epochs."""

from __future__ import annotations

import time

import numpy as np

from .harness import Row, compare, median_ms
from .nets import TORCH_NETS, ours, ours_sgd, share_weights


def step_pair(name, lr, x, y, args, group, repeat):
    """Time one SGD training step of the same net on both sides, same weights, same batch.

    The step: zero the gradients, forward, cross-entropy, backward, SGD update, loss read back
    with ``.item()`` (which is where a lazy engine would have to finish its work).
    """
    import torch
    import torch.nn.functional as tF

    import minitorch_cnn as mt
    from minitorch_cnn import functional as F

    mt.manual_seed(0)
    torch.manual_seed(0)
    model = ours(name)
    tmodel = TORCH_NETS[name]()
    weights = share_weights(model, tmodel)
    model.train()
    tmodel.train()
    opt = ours_sgd(model.parameters(), lr)
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def run_ours():
        opt.zero_grad()
        loss = F.cross_entropy(model(mt.Tensor(x)), mt.Tensor(y))
        loss.backward()
        opt.step()
        return loss.item()

    def run_torch():
        topt.zero_grad()
        loss = tF.cross_entropy(tmodel(tx), ty)
        loss.backward()
        topt.step()
        return loss.item()

    loss_o, loss_t = run_ours(), run_torch()  # also the first warm-up call
    t_o, t_t = compare(run_ours, run_torch, repeat, max(0, args.warmup - 1))
    note = f"{weights}; first loss ours {loss_o:.4f} torch {loss_t:.4f}"
    return Row(group, f"{name} train step batch {len(x)} {'x'.join(map(str, x.shape[1:]))}",
               median_ms(t_o), median_ms(t_t), note=note,
               samples={"ours_s": t_o, "torch_s": t_t}, extra={"first_loss_ours": loss_o, "first_loss_torch": loss_t})


def case_lenet(args) -> list[Row]:
    rng = np.random.default_rng(0)
    n = 256 if not args.quick else 8
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    row = step_pair("lenet", 0.9, x, y, args, "lenet", args.repeat)
    row.note = "target ratio <= 1.0; " + row.note
    return [row]


def case_resnet(args) -> list[Row]:
    rng = np.random.default_rng(0)
    n, hw = (32, 96) if not args.quick else (2, 32)
    x = rng.random((n, 1, hw, hw), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    repeat = max(1, min(args.repeat, args.model_repeat))
    row = step_pair("resnet18", 0.05, x, y, args, "resnet", repeat)
    row.note = f"median of {repeat}; " + row.note
    return [row]


def case_epochs(args) -> list[Row]:
    """``--epochs N`` LeNet epochs on each side, data loading included; below 10, extrapolated to 10 (labelled).

    Ours: ``minitorch_cnn.data.DataLoader`` (shuffled batches of 256, uint8 -> float32 / 255).
    PyTorch: the same uint8 arrays as tensors, a shuffled permutation indexed per batch and
    converted the same way (the fast idiom; ``TensorDataset`` + ``DataLoader`` collates item by item
    and would only slow PyTorch down).
    """
    import torch
    import torch.nn.functional as tF

    import minitorch_cnn as mt
    from minitorch_cnn import functional as F
    from minitorch_cnn.data import ArrayDataset, DataLoader

    from .worker import fashion_mnist_images

    images, labels, source = fashion_mnist_images(args.quick)
    batch = 256 if not args.quick else 32
    mt.manual_seed(0)
    torch.manual_seed(0)
    model, tmodel = ours("lenet"), TORCH_NETS["lenet"]()
    weights = share_weights(model, tmodel)
    opt, topt = ours_sgd(model.parameters(), 0.9), torch.optim.SGD(tmodel.parameters(), lr=0.9)
    loader = DataLoader(ArrayDataset(images, labels), batch_size=batch, shuffle=True, seed=0)
    timg, tlab = torch.from_numpy(images), torch.from_numpy(labels)
    g = torch.Generator().manual_seed(0)

    def epoch_ours():
        for X, Y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(X), Y)
            loss.backward()
            opt.step()
        return loss.item()

    def epoch_torch():
        perm = torch.randperm(len(tlab), generator=g)
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            X = (timg[idx].float() / 255).unsqueeze(1)
            topt.zero_grad()
            loss = tF.cross_entropy(tmodel(X), tlab[idx])
            loss.backward()
            topt.step()
        return loss.item()

    # warm-up: one step each (numba cache load, allocator), outside the epoch timing
    x0 = (images[:batch].astype(np.float32) / 255)[:, None]
    y0 = labels[:batch]
    for m, o, xx, yy, f in ((model, opt, mt.Tensor(x0), mt.Tensor(y0), F),
                            (tmodel, topt, torch.from_numpy(x0), torch.from_numpy(y0), tF)):
        o.zero_grad()
        f.cross_entropy(m(xx), yy).backward()
    n = args.epochs
    t0 = time.perf_counter()
    for _ in range(n):
        loss_o = epoch_ours()
    t_o = (time.perf_counter() - t0) / n  # seconds per epoch
    t0 = time.perf_counter()
    for _ in range(n):
        loss_t = epoch_torch()
    t_t = (time.perf_counter() - t0) / n
    what = f"{len(labels)} images, batch {batch}"
    rows = [Row("epochs", f"LeNet 1 epoch, mean of {n} ({source}, {what})", 1e3 * t_o, 1e3 * t_t,
                note=f"measured; {weights}; last loss ours {loss_o:.3f} torch {loss_t:.3f}")]
    if n >= 10:
        rows.append(Row("epochs", f"LeNet {n} epochs end to end, measured", 1e3 * n * t_o, 1e3 * n * t_t,
                        note="target ratio <= 1.2 (for 10)"))
    else:
        rows.append(Row("epochs", f"LeNet 10 epochs EXTRAPOLATED (10 x the mean of {n})", 1e4 * t_o, 1e4 * t_t,
                        note="not measured: --epochs 10 measures them; target ratio <= 1.2"))
    return rows
