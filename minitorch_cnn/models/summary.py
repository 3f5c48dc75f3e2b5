"""``summarize(net, input_shape)``: each top-level layer's name, class, output shape and parameter count.

The seeds' per-layer loop (``for layer in net: X = layer(X); print(...)``), made to work for any
module: forward hooks on the top-level children record the output of each, in call order, while
the whole net runs once on a random input (eval mode, no graph; the net's mode is restored).
"""

from __future__ import annotations

from .. import creation
from ..autograd import no_grad
from ..tensor import Tensor


def parse_shape(text: str) -> tuple:
    """``"1x1x28x28"`` (or ``"1,1,28,28"``) -> ``(1, 1, 28, 28)``: a batch of images, N x C x H x W."""
    try:
        shape = tuple(int(part) for part in text.replace(",", "x").lower().split("x") if part)
    except ValueError:
        raise ValueError(f"input shape: expected N x C x H x W, integers joined by 'x' such as 1x1x28x28, "
                         f"got {text!r}") from None
    if len(shape) != 4:
        raise ValueError(f"input shape: expected N x C x H x W (four sizes, such as 1x1x28x28), got {text!r} "
                         f"({len(shape)} size{'' if len(shape) == 1 else 's'})")
    if min(shape) < 1:
        raise ValueError(f"input shape: expected N x C x H x W, positive sizes such as 1x1x28x28, got {text!r}")
    return shape


def _shape_text(output) -> str:
    if isinstance(output, Tensor):
        return "x".join(str(s) for s in output.shape)
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_text(o) for o in output)
    return type(output).__name__


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def summarize(net, input_shape) -> str:
    """A table of the top-level layers of ``net`` run on a random input of ``input_shape``.

    ``input_shape`` is a tuple such as ``(1, 1, 28, 28)`` or a string ``"1x1x28x28"``. Rows are in
    call order (a child called twice gets two rows); the last line is the total parameter count.
    """
    shape = parse_shape(input_shape) if isinstance(input_shape, str) else tuple(int(s) for s in input_shape)
    dtype = next((p.dtype for p in net.parameters()), None)
    device = next((p.device for p in net.parameters()), "cpu")
    x = creation.rand(shape, dtype=dtype, device=device)
    rows, handles = [], []
    for name, child in net.named_children():
        handles.append(
            child.register_forward_hook(
                lambda m, inputs, output, name=name: rows.append(
                    (name, type(m).__name__, _shape_text(output), _count(m))
                )
            )
        )
    was_training = [m.training for m in net.modules()]
    try:
        net.eval()
        with no_grad():
            out = net(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in zip(net.modules(), was_training):
            object.__setattr__(module, "training", mode)
    header = ("layer", "type", "output shape", "params")
    table = [header, *((n, t, s, f"{c:,}") for n, t, s, c in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = [f"{type(net).__name__}: input {'x'.join(map(str, shape))} -> output {_shape_text(out)}"]
    for row in table:
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}"
        )
    lines.append(f"total parameters: {_count(net):,}")
    return "\n".join(lines)


__all__ = ["parse_shape", "summarize"]
