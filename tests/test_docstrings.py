"""The library's prose holds no machine timings: a docstring says what and why, a figure lives beside
its command in ``benchmarks/RESULTS.md``.

Every comment and string literal (docstrings included) of the ``.py`` files under ``minitorch_cnn/``
and ``kernels/`` is searched for timing figures: a duration after a number ("55-83 µs", "24 ms",
"0.1 s"), a bandwidth or throughput ("GB/s", "GFLOP/s") and a speed factor ("3-4× faster", "1.5x
slower"). A failure names each offending file:line.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "minitorch_cnn").rglob("*.py")) + sorted((ROOT / "kernels").glob("*.py"))

_NUMBER = r"(?<![\w.])\d+(?:\.\d+)?(?:\s*[-–]\s*\d+(?:\.\d+)?)?"  # 24, 0.1, 55-83, 1.2-2.0
TIMING = re.compile(
    rf"{_NUMBER}\s*(?:ms|µs|μs|us|ns)\b"  # durations: 55-83 µs, 262 ms
    rf"|{_NUMBER}\s*s\b(?!['’])"  # seconds: 0.1 s (not "1990s'")
    r"|\b(?:[KMGT]i?B|G?FLOP|[MGT]FLOP)/s\b"  # bandwidth and throughput: 25.6 GB/s, GFLOP/s
    rf"|{_NUMBER}\s*[×x]\s+(?:faster|slower|longer|shorter|quicker|as\s+fast|as\s+long)\b"  # 3-4× faster
    rf"|\bspeed-?ups?\s+(?:of\s+)?{_NUMBER}\s*[×x]"  # a speed-up of 1.68x
    rf"|{_NUMBER}\s*%\s+(?:faster|slower)\b",  # 30 % faster
)


def prose_lines(source: str):
    """``(line number, text)`` of every line of a comment or a string literal in ``source``."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
        elif token.type == tokenize.STRING or token.type == getattr(tokenize, "FSTRING_MIDDLE", None):
            for offset, line in enumerate(token.string.splitlines()):
                yield token.start[0] + offset, line


def timing_figures(path: Path) -> list[str]:
    """``file:line: text`` for each prose line of ``path`` that holds a timing figure."""
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        match = TIMING.search(line)
        if match:
            found.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{number}: "
                         f"{match.group(0)!r} in {line.strip()!r}")
    return found


def test_the_library_prose_holds_no_timing_figures():
    found = [hit for path in FILES for hit in timing_figures(path)]
    assert not found, ("timing figures in the library's prose; move each to benchmarks/RESULTS.md beside "
                       "its command:\n" + "\n".join(found))


def test_the_check_reads_the_library():
    """Not vacuous: the walk finds the package and the kernels, and their prose."""
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"minitorch_cnn/__init__.py", "minitorch_cnn/_setup.py", "minitorch_cnn/autograd.py",
            "kernels/__init__.py", "kernels/im2col.py", "kernels/_jit.py"} <= names
    assert len(FILES) > 30
    lines = sum(1 for path in FILES for _ in prose_lines(path.read_text(encoding="utf-8")))
    assert lines > 1000


PLANTED = [
    "a tiny kernel started in 55-83 µs on OpenMP's workers",
    "and 10-14 us after 1 ms idle",
    "a LeNet step took 262 ms instead of 918 ms",
    "spinning for about 0.1 s after each product",
    "3-4× faster than the window loops",
    "the transforms took 1.2-8x longer",
    "a copy moves 25.6 GB/s on one thread",
    "the product runs at 40 GFLOP/s",
    "a speed-up of 1.68x from 1 to 2 threads",
    "15.6 ms per step",
]
NOT_TIMINGS = [
    "2.25× fewer multiplications for F(2×2)",
    "a 4096×6272 weight, 3×3 kernels, 1×1 shortcut",
    "10-30× further from the exact result",
    "the 1990s' nets; 9·s weights per output channel",
    "f\"{elapsed:.1f} s, {n / t:.0f} examples/s\"",
]


def test_planted_figures_match_and_plain_prose_does_not():
    for line in PLANTED:
        assert TIMING.search(line), line
    for line in NOT_TIMINGS:
        assert not TIMING.search(line), line


def test_a_planted_docstring_and_comment_are_reported_by_file_and_line(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('"""A module.\n\nIts loop took 24 ms on one thread.\n"""\n\nx = 1  # was 3-4× faster\n'
                       'y = "no figure here"\n', encoding="utf-8")
    found = timing_figures(planted)
    assert [hit.split(": ", 1)[0] for hit in found] == [f"{planted}:3", f"{planted}:6"]
