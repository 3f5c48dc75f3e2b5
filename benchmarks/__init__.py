"""Side-by-side timing of minitorch_cnn against PyTorch eager on the CPU, measured in one run.

Run ``python -m benchmarks --help``. Every case builds its inputs once as NumPy arrays, hands the
same arrays to both engines and times them in alternating blocks (ours, torch, ours, torch, with
a pause at each switch so that one engine's spinning threads do not slow the other), so a change
of load on a shared machine hits both sides; the printed figure is the median after warm-up and
the ratio is ours / torch (below 1 means we are faster).

PyTorch is a benchmark dependency only: the engine never imports it. This package keeps its own
imports light (nothing heavy at import time) so that ``__main__`` can pin the thread counts of
OpenBLAS, OpenMP and numba before NumPy or torch load.
"""
