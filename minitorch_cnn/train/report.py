"""What a run reports: its history, the book's per-epoch line, ``metrics.csv`` / ``metrics.json`` and
``curves.png`` (in a Jupyter notebook also drawn under the running cell, :class:`InlineCurves`).

Every file is replaced atomically (:mod:`minitorch_cnn._fileio`): a reader, or a crash, sees the
previous version or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .._fileio import atomic_write_bytes


@dataclass
class History:
    """What :func:`fit` returns: one row per completed epoch (including those before a resume) and
    the throughput of the epochs this call trained."""

    rows: list = field(default_factory=list)
    examples_per_s: float | None = None  # training examples / training time (evaluation excluded), as the book
    train_time_s: float = 0.0
    wall_time_s: float = 0.0
    checkpoint: Path | None = None  # the last checkpoint written (None without ``out``)

    @property
    def last(self) -> dict | None:
        return self.rows[-1] if self.rows else None


METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "examples_per_s",
                  "train_time_s", "eval_time_s")


def write_metrics(out, rows, config=None, summary=None) -> None:
    """``metrics.csv`` and ``metrics.json`` in ``out``, each replaced atomically."""
    out = Path(out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "metrics.csv", buf.getvalue().encode())
    doc = {"config": config or {}, "epochs": rows, "summary": summary or {}}
    atomic_write_bytes(out / "metrics.json", (json.dumps(doc, indent=1) + "\n").encode())


def plot_curves(path, rows, epochs: int | None = None, title: str | None = None) -> None:
    """The book's animator picture: train loss, train acc and test acc against the epoch, as a PNG.

    Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch); written atomically."""
    atomic_write_bytes(path, curves_png(rows, epochs, title))


def curves_png(rows, epochs: int | None = None, title: str | None = None) -> bytes:
    """The bytes of :func:`plot_curves`'s PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - slow import, only when drawing
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    fig = Figure(figsize=(4.5, 3.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = [r["epoch"] for r in rows]
    for key, label, style in (("train_loss", "train loss", "-"), ("train_acc", "train acc", "m--"),
                              ("test_acc", "test acc", "g-.")):
        ax.plot(x, [r[key] for r in rows], style, label=label, marker="o", markersize=3)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(1, max(epochs or 1, x[-1] if x else 1, 2))
    ax.grid(True)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class InlineCurves:
    """In a Jupyter notebook, the curves under the running cell: one picture, redrawn after every epoch."""

    def __init__(self):
        self.handle = None

    @staticmethod
    def in_notebook() -> bool:
        if "ipykernel" not in sys.modules:  # never import IPython just to find out
            return False
        try:
            from IPython import get_ipython  # noqa: PLC0415
        except ImportError:
            return False
        return type(get_ipython()).__name__ == "ZMQInteractiveShell"

    def show(self, png: bytes) -> None:
        from IPython.display import Image, display  # noqa: PLC0415

        if self.handle is None:
            self.handle = display(Image(data=png, format="png"), display_id=True)
        else:
            self.handle.update(Image(data=png, format="png"))


def epoch_line(row: dict) -> str:
    return (f"epoch {row['epoch']}: loss {row['train_loss']:.3f}, train acc {row['train_acc']:.3f}, "
            f"test acc {row['test_acc']:.3f}  [{row['train_time_s']:.1f} s, {row['examples_per_s']:.0f} examples/s]")


def count(n: int, noun: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
