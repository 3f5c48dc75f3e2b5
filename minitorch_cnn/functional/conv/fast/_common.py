"""What every fast conv op keeps from its forward pass for its backward pass."""

from __future__ import annotations

from ._chunks import for_each_chunk


def keep_for_backward(ctx, spec, x, weight, kept=None):
    """Save only what the needed gradients use: the input ``x`` for dW, or instead ``kept`` (the
    op's columns or tiles of x, when it keeps them), and the ``weight`` for dx; and the call's spec
    and input shape. ``ctx.saved_tensors`` is then ``(x or None, kept, weight or None)``."""
    need_x, need_w, _ = ctx.needs_input_grad
    ctx.save_for_backward(x if need_w and kept is None else None, kept, weight if need_x else None)
    ctx.spec, ctx.x_shape = spec, x.shape


def kept_for_backward(ctx):
    """``((x, kept, weight), (need_x, need_w, need_b), window)``: what ``keep_for_backward`` saved,
    which gradients are needed, and the call's window."""
    return ctx.saved_tensors, ctx.needs_input_grad, ctx.spec.window


def forward_in_chunks(ctx, spec, x, weight, forward_chunk, chunks, keep, y):
    """Run ``forward_chunk(rows)`` on every chunk of the batch (in turn, or a chunk per core:
    ``_chunks.py``), each writing its rows of ``y`` and returning its columns when ``keep``; keep
    those for the backward pass (else the input, to build them again), and return ``y``."""
    kept = for_each_chunk(forward_chunk, chunks, x)
    keep_for_backward(ctx, spec, x, weight, kept=kept if keep else None)
    ctx.chunks = chunks
    return y
