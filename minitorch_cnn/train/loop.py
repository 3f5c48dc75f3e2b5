"""The book's loop: one training epoch and one evaluation pass (``train_epoch_ch3`` / ``evaluate_accuracy``).

Everything a training tool adds (progress, checkpoints, resume, Ctrl-C, output files) lives in
:mod:`.run`, around these two functions; here is only what the book's loop does.
"""

from __future__ import annotations

import math

from ..autograd import no_grad
from ..backend import xp_of
from ..functional import cross_entropy


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and step, the likely causes and the
    last good checkpoint. ``value`` and ``step`` say which loss, at which step of the epoch."""

    def __init__(self, message: str, value: float = math.nan, step: int = 0):
        super().__init__(message)
        self.value, self.step = value, step


def correct_count(logits, y) -> int:
    """How many rows of ``logits`` have their largest score at the label ``y``."""
    xp = xp_of(logits.array)
    return int((xp.argmax(logits.array, axis=1) == y.array).sum())


def train_epoch(net, loader, optimizer, loss_fn=cross_entropy, on_step=None) -> dict:
    """One pass over ``loader``: forward, loss, backward, step. Returns ``{"loss", "acc", "n"}``
    (mean loss per example, accuracy, examples seen; n = 0 when the loader yielded nothing).

    A NaN or infinite loss raises :class:`NonFiniteLossError` before that step changes anything.
    ``on_step(step, sums)`` is called after each step with ``sums = {"loss", "correct", "n"}`` so far.
    """
    net.train()
    loss_sum, correct, n = 0.0, 0, 0
    for step, (X, y) in enumerate(loader, 1):
        logits = net(X)
        loss = loss_fn(logits, y)
        value = float(loss.item())
        if not math.isfinite(value):
            raise NonFiniteLossError(f"the loss is {value} at step {step}", value, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += value * len(y)
        correct += correct_count(logits, y)
        n += len(y)
        if on_step is not None:
            on_step(step, {"loss": loss_sum, "correct": correct, "n": n})
    return {"loss": loss_sum / max(n, 1), "acc": correct / max(n, 1), "n": n}


def evaluate(net, loader, loss_fn=cross_entropy) -> dict:
    """Loss (mean per example) and accuracy of ``net`` over ``loader``, in eval mode and without a graph.

    Returns ``{"loss", "acc", "n"}``; the net's train/eval mode is restored afterwards."""
    was_training = net.training
    net.eval()
    total_loss, correct, n = 0.0, 0, 0
    try:
        with no_grad():
            for X, y in loader:
                logits = net(X)
                total_loss += float(loss_fn(logits, y).item()) * len(y)
                correct += correct_count(logits, y)
                n += len(y)
    finally:
        net.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no examples")
    return {"loss": total_loss / n, "acc": correct / n, "n": n}
