"""Run the PyTorch cells of *Dive into Deep Learning* chapters on the engine and on PyTorch; print where they differ.

Usage::

    python tests/compat/book_cells.py BOOK [CHAPTER ...] [--ref v1.0.3] [--batches 2] [--batch-size 16]

``BOOK`` is a checkout of the book's source (the ``d2l-en`` repository) or a bare git mirror of it
(then the files are read from ``--ref``, default ``v1.0.3``, the release the d2l 1.0.3 wheel belongs
to). A ``CHAPTER`` is a section file's name (``parameters``, ``lenet``), optionally with its folder
(``chapter_builders-guide/parameters``); without any, the builders' guide, CNN and modern-CNN sections
are run. The book's text is read at run time and never stored here.

What runs. A section's code cells are the ``{.python .input}`` blocks whose first line is ``%%tab``
with ``pytorch`` or ``all`` among its names (cells without ``%%tab`` belong to the book's default
framework, not PyTorch). Lines starting with ``%`` (IPython magics) are dropped; ``tab.selected(...)``
answers for ``pytorch``. The cells run in order in one namespace, as in a notebook: what a cell prints,
and then the value of its last line when that line is an expression (shown as IPython shows it, unless
the cell ends with ``;``), are the cell's output lines. A cell that raises leaves an ``!! Error: message``
line and the section goes on with the next cell.

Each engine runs in its own process: the engine with ``torch``, ``torch.nn``, ``torch.nn.functional``,
``torch.optim``, ``torch.utils(.data)`` bound to ``minitorch_cnn`` and the d2l library (the wheel's
``d2l/torch.py``) executed on it, exactly as ``test_d2l_library.py`` binds them (its helpers are
imported here); PyTorch with the same library source on real ``torch``. ``torchvision`` is not needed:
on both sides a stub module supplies ``transforms`` and ``datasets`` from ``minitorch_cnn.data`` (its
FashionMNIST reads the local files), PyTorch's ``ToTensor`` giving torch tensors as torchvision's does.
Each section starts with a fresh d2l module and namespace, and seeds ``torch``, ``random`` and NumPy.

Each engine's process runs in a fresh temporary folder (the cells write files such as ``x-file`` and
read ``../data``). Kept cheap: every ``DataLoader`` makes batches of at most ``--batch-size`` items and
yields at most ``--batches`` of them (its ``len`` says so too); ``d2l.Trainer.fit`` runs at most
``--epochs`` epochs. So a printed batch shape shows the capped size, on both engines. Plots are drawn
with matplotlib's Agg backend and not shown.

The comparison rule. PyTorch runs twice, with seeds 0 and 1. A line of PyTorch's output that is the
same under both seeds is *deterministic*: the engine's line (with ``minitorch_cnn.`` written
``torch.``) must equal it exactly. A line that changes with the seed depends on random draws; a line
showing a time the book measured (a number followed by ``sec``) depends on the clock. For those only
the structure is compared: each number in both lines masked as ``#`` (a number glued to a name, as in
``SumBackward0``, is kept), runs of spaces made one and a space after ``[`` or ``(`` dropped (PyTorch
pads a column holding a negative number). A cell whose two PyTorch outputs have different numbers of
lines is all random. The engine's output must have the same number of lines as PyTorch's; in a cell
with random lines, where only random lines differ (or the line counts do), the whole output masked and
joined into one line may match instead (a random tensor's repr wraps where its digits make it).

A cell is printed when a line differs, or when it raises on one engine only; cells that raise on both
are listed apart (they say something about this harness or the book, not the engine).
``minitorch_cnn.`` to ``torch.`` is the only rewrite (and, to match it, a displayed value on the engine
may run 8 characters past IPython's 79 per ``minitorch_cnn.`` it holds before its line breaks); nothing
else is forgiven. In the engine's
process PyTorch's own submodules are taken out of ``sys.modules`` (the library test imports PyTorch),
so that ``import torch.distributions`` fails there as it would for a learner.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CHAPTERS = [
    "chapter_builders-guide/" + s for s in
    ("model-construction", "parameters", "init-param", "lazy-init", "custom-layer", "read-write")
] + [
    "chapter_convolutional-neural-networks/" + s for s in
    ("conv-layer", "padding-and-strides", "channels", "pooling", "lenet")
] + [
    "chapter_convolutional-modern/" + s for s in
    ("alexnet", "vgg", "nin", "googlenet", "batch-norm", "resnet", "densenet")
]
CELL_START = re.compile(r"^```\{\.python \.input[^}]*\}\s*$")
TAB_LINE = re.compile(r"^%%tab\s+(.*)$")
CLOCK = re.compile(r"\d\s*sec\b")  # a time the book measures and prints, e.g. '0.00004 sec'
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


# ------------------------------------------------------------------ reading the book
def _is_git_dir(book: Path) -> bool:
    return (book / "HEAD").is_file() and (book / "objects").is_dir()


def list_sections(book: Path, ref: str) -> list[str]:
    """Every ``chapter_*/NAME`` (no ``.md``) of the book."""
    if _is_git_dir(book):
        out = subprocess.run(["git", "-C", str(book), "ls-tree", "-r", "--name-only", ref],
                             capture_output=True, text=True, check=True).stdout.split()
    else:
        out = [str(p.relative_to(book)) for p in book.glob("chapter_*/*.md")]
    return sorted(p[:-3] for p in out if p.startswith("chapter_") and p.endswith(".md"))


def resolve(book: Path, ref: str, names: list[str]) -> list[str]:
    sections = list_sections(book, ref)
    chosen = []
    for name in names:
        name = name.removesuffix(".md")
        hits = [s for s in sections if s == name or s.endswith("/" + name)]
        if len(hits) != 1:
            raise SystemExit(f"book_cells: chapter {name!r} matches {hits or 'no section'} of the book")
        chosen.append(hits[0])
    return chosen


def read_section(book: Path, ref: str, section: str) -> str:
    if _is_git_dir(book):
        return subprocess.run(["git", "-C", str(book), "show", f"{ref}:{section}.md"],
                              capture_output=True, text=True, check=True).stdout
    return (book / f"{section}.md").read_text(encoding="utf-8")


def pytorch_cells(markdown: str) -> list[tuple[int, str]]:
    """``(line of the cell in the .md, source)`` for each cell the PyTorch notebook runs, magics dropped."""
    cells, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        if CELL_START.match(lines[i]):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            tab = TAB_LINE.match(body[0].strip()) if body else None
            if tab and {t.strip() for t in tab.group(1).split(",")} & {"pytorch", "all"}:
                code = [line for line in body if not line.lstrip().startswith("%")]
                cells.append((start, "\n".join(code)))
        i += 1
    return cells


# ------------------------------------------------------------------ running one engine (in a child process)
class Tab:
    """The book's ``tab`` object in a PyTorch notebook."""

    def selected(self, *names):
        flat = [n for name in names for n in ([name] if isinstance(name, str) else name)]
        return "pytorch" in flat

    def interact_select(self, *args, **kwargs):
        pass


def _name_allowance(value, namespace: dict) -> int:
    """IPython breaks a value's lines at 79 characters; on the engine, each ``minitorch_cnn.`` in the
    value's repr is 8 characters longer than PyTorch's ``torch.``, so the engine's line gets those
    characters more before it breaks, and both engines break the same value at the same place."""
    torch = namespace.get("torch")
    if getattr(torch, "__name__", "") != "minitorch_cnn":
        return 0
    return repr(value).count("minitorch_cnn.") * (len("minitorch_cnn.") - len("torch."))


def _run_cell(source: str, namespace: dict, filename: str) -> list[str]:
    """The cell's printed lines, then its last expression's value as IPython shows it."""
    from IPython.lib.pretty import pretty

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            tree = ast.parse(source, filename)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, filename, "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
                if value is not None and not source.rstrip().endswith(";"):
                    print(pretty(value, max_width=79 + _name_allowance(value, namespace)))
        except Exception as exc:  # the cell's error is part of its output
            where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
            at = f" (cell line {where[-1].lineno})" if where else ""
            message = str(exc).strip().splitlines()
            print(f"!! {type(exc).__name__}: {message[0] if message else ''}{at}")
    return out.getvalue().splitlines()


def _limited(loader_class, limits):
    """``loader_class`` with batches of at most ``limits['batch_size']``, at most ``limits['batches']`` of them."""

    class Limited(loader_class):
        def __init__(self, dataset, batch_size=1, *args, **kwargs):
            batch_size = min(batch_size, limits["batch_size"])
            if "num_workers" in kwargs:  # PyTorch would start worker processes for a few batches
                kwargs["num_workers"] = 0
            super().__init__(dataset, batch_size, *args, **kwargs)

        def __iter__(self):
            return itertools.islice(super().__iter__(), limits["batches"])

        def __len__(self):
            return min(super().__len__(), limits["batches"])

    Limited.__name__ = Limited.__qualname__ = loader_class.__name__
    return Limited


def _bind(engine: str):
    """Put the book's modules for ``engine`` in sys.modules for good (this is a child process)."""
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    from _book_bindings import framework, load_d2l, modules_for

    bound = modules_for(engine)
    if engine == "minitorch_cnn":  # PyTorch itself was imported (by the library test): hide its submodules,
        for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:  # or `import
            del sys.modules[name]  # torch.distributions` would find PyTorch's and not fail as on the engine
    sys.modules.update(bound)
    torch_module = framework(engine)
    return load_d2l, torch_module.utils.data, torch_module


def run_engine(engine: str, book: Path, ref: str, sections: list[str], seed: int, limits: dict) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    load_d2l, data_module, torch_module = _bind(engine)
    data_module.DataLoader = _limited(data_module.DataLoader, limits)
    quiet = types.SimpleNamespace(display=lambda *a, **k: None, clear_output=lambda *a, **k: None)
    results = {}
    for section in sections:
        d2l = load_d2l(engine)
        d2l.display = quiet
        fit = d2l.Trainer.fit

        def cheap_fit(self, model, data, fit=fit):
            self.max_epochs = min(self.max_epochs, limits["epochs"])
            return fit(self, model, data)

        d2l.Trainer.fit = cheap_fit
        package = types.ModuleType("d2l")
        package.__path__, package.torch = [], d2l
        sys.modules.update({"d2l": package, "d2l.torch": d2l})
        torch_module.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        namespace = {"__name__": "__main__", "tab": Tab()}
        outputs = []
        for line, source in pytorch_cells(read_section(book, ref, section)):
            outputs.append({"line": line, "source": source,
                            "out": _run_cell(source, namespace, f"<{section}.md:{line}>")})
            plt.close("all")
        results[section] = outputs
    return results


# ------------------------------------------------------------------ comparing
def _ours(line: str) -> str:
    return line.replace("minitorch_cnn.", "torch.")


def _masked(text: str) -> str:
    return re.sub(r"([\[(]) ", r"\1", " ".join(NUMBER.sub("#", text).split()))


def compare_cell(ours: list[str], torch0: list[str], torch1: list[str]) -> list[str]:
    """The differing lines, as ``torch: ...`` / ``ours:  ...`` pairs; empty when the cell agrees."""
    ours = [_ours(line) for line in ours]
    random_lines = ([a != b or bool(CLOCK.search(a)) for a, b in zip(torch0, torch1)] if len(torch0) == len(torch1)
                    else [True] * len(torch0))
    same_structure = any(random_lines) and _masked(" ".join(ours)) == _masked(" ".join(torch0))
    if len(ours) != len(torch0):
        if same_structure:
            return []  # a random tensor wrapped at another place
        return [f"  {len(torch0)} lines from PyTorch, {len(ours)} from the engine:",
                *(f"  torch: {t}" for t in torch0), *(f"  ours:  {o}" for o in ours)]
    report, deterministic_ok = [], True
    for o, t, rand in zip(ours, torch0, random_lines):
        if (rand and _masked(o) != _masked(t)) or (not rand and o != t):
            deterministic_ok = deterministic_ok and rand
            report += [f"  torch{' (random-valued, compared with numbers masked)' if rand else ''}: {t}",
                       f"  ours:  {o}"]
    return [] if report and deterministic_ok and same_structure else report


def _raises(lines):
    return next((line for line in lines if line.startswith("!! ")), None)


def report(results: dict, sections: list[str]) -> int:
    differing = 0
    for section in sections:
        ours, t0, t1 = (results[k][section] for k in ("ours", "torch0", "torch1"))
        counts = {"same": 0, "differ": 0, "ours raises": 0, "torch raises": 0, "both raise": 0}
        print(f"=== {section}: {len(t0)} PyTorch cells")
        for number, (o, a, b) in enumerate(zip(ours, t0, t1), start=1):
            head = o["source"].strip().splitlines()[0] if o["source"].strip() else ""
            title = f"--- cell {number} (line {o['line']}): {head[:70]}"
            ro, rt = _raises(o["out"]), _raises(a["out"])
            if ro and rt:
                counts["both raise"] += 1
                print(f"{title}\n  raises on both engines: torch {rt[3:]} | ours {ro[3:]}")
                continue
            diff = compare_cell(o["out"], a["out"], b["out"])
            kind = "ours raises" if ro else "torch raises" if rt else "differ" if diff else "same"
            counts[kind] += 1
            if diff:
                print(f"{title}  [{kind}]")
                print("\n".join(diff))
        differing += counts["differ"] + counts["ours raises"] + counts["torch raises"]
        print("    " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return differing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("book", type=Path, help="a d2l-en checkout or a bare git mirror of it")
    parser.add_argument("chapters", nargs="*", help="section names (default: the builders' guide and CNNs)")
    parser.add_argument("--ref", default="v1.0.3", help="the git ref read from a mirror (default v1.0.3)")
    parser.add_argument("--batches", type=int, default=2, help="batches a DataLoader yields at most")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size at most of every DataLoader")
    parser.add_argument("--epochs", type=int, default=1, help="epochs at most inside Trainer.fit")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds for each engine's run")
    parser.add_argument("--child", choices=["ours", "torch0", "torch1"], help=argparse.SUPPRESS)
    parser.add_argument("--into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    book = args.book.expanduser().resolve()
    if not _is_git_dir(book) and not (book / ".git").exists() and not list(book.glob("chapter_*")):
        raise SystemExit(f"book_cells: {book} is neither a d2l-en checkout nor a git mirror of it")
    limits = {"batches": args.batches, "batch_size": args.batch_size, "epochs": args.epochs}
    sections = resolve(book, args.ref, args.chapters) if args.chapters else DEFAULT_CHAPTERS
    if args.child:
        engine, seed = ("minitorch_cnn", 0) if args.child == "ours" else ("torch", int(args.child[-1]))
        args.into.write_text(json.dumps(run_engine(engine, book, args.ref, sections, seed, limits)))
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        for child in ("torch0", "torch1", "ours"):
            into = Path(tmp) / f"{child}.json"
            work = Path(tmp) / child / "work"  # the cells write files here and read data from ../data
            work.mkdir(parents=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), str(book), *sections, "--ref", args.ref,
                   "--batches", str(args.batches), "--batch-size", str(args.batch_size),
                   "--epochs", str(args.epochs), "--child", child, "--into", str(into)]
            print(f"running the cells on {'the engine' if child == 'ours' else 'PyTorch, seed ' + child[-1]}...",
                  file=sys.stderr, flush=True)
            done = subprocess.run(cmd, env=env, cwd=work, timeout=args.timeout, capture_output=True, text=True)
            if done.returncode != 0 or not into.exists():
                sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
                raise SystemExit(f"book_cells: the {child} run failed (exit {done.returncode})")
            results[child] = json.loads(into.read_text())
    differing = report(results, sections)
    print(f"\n{differing} cell(s) differ or raise on one engine only")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
