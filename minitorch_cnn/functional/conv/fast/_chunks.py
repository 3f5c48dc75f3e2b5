"""``for_each_chunk``: run the per-chunk work of a conv op on every core, one chunk per core at a time.

``conv2d`` cuts the batch into chunks whose work arrays fit a core's cache (``backend.conv_chunk_bytes``).
Run one after the other, each chunk's short kernels and products would each be split over all the
cores, and every split costs a hand-over: OpenBLAS's workers and the kernels' pool workers (TBB or
OpenMP, kernels/__init__.py) sleep between calls and must be woken, hundreds of times per layer.
Instead, with T threads, the calling thread and T − 1 helper threads take whole chunks, one at a
time from a shared counter, with OpenBLAS and the numba kernels on one thread inside
(threadpoolctl; numba's thread count is per calling thread): a chunk's im2col, products and
col2im run on one core, in its cache, with no hand-over. NumPy's products and the kernels (compiled with ``nogil``) release the GIL, so the
threads run at once. The caller works too rather than waiting for T helpers: one thread fewer to
wake and put to sleep per layer, which made a LeNet step at 2 threads on the OpenMP layer a little
faster (the figure is in ``benchmarks/RESULTS.md``).

The results do not depend on the thread count: each chunk is computed the same way on any thread,
whichever thread takes it, and the caller combines the chunks' results in chunk order.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

from ....backend import device_of

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


_blas = None  # threadpoolctl's view of the BLAS libraries loaded (found once: a scan of the process)


def _blas_on_one_thread():
    """A context manager holding OpenBLAS (or whatever BLAS NumPy loaded) at one thread."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas")
    return _blas.limit(limits=1)


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != threads:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(threads, thread_name_prefix="minitorch-chunk"), threads
        return _pool


def _on_one_core(work):
    """``work()`` as a helper thread runs it: its kernels on one thread, in the caller's context."""
    caller = contextvars.copy_context()  # the caller's settings that live in context variables,
    # such as NumPy's np.errstate, hold in the helper threads too

    def run():
        numba.set_num_threads(1)  # this helper thread's kernels: one thread
        return caller.copy().run(work)

    return run


def _pool_takes_threads() -> bool:
    """True when numba's thread pool runs kernels launched from several threads at once: OpenMP or
    TBB. Its ``workqueue`` pool (where neither loads, or when the user chose it) aborts the process
    then; before the first kernel has started a pool, the answer is not known yet: False."""
    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet
        return False


def for_each_chunk(work, chunks, array) -> list:
    """``[work(rows) for rows in chunks]``, in chunk order; on the CPU with several threads and
    chunks, the caller and helper threads take a chunk each at a time (see the module doc). ``array`` tells the device.
    NumPy's arrays only: CuPy runs its chunks one after another on the GPU's own streams."""
    threads = numba.get_num_threads()
    if len(chunks) == 1 or threads == 1 or device_of(array) != "cpu" or not _pool_takes_threads():
        return [work(rows) for rows in chunks]
    results = [None] * len(chunks)
    taken = itertools.count()  # the next chunk to take; next() on it is atomic under the GIL

    def take_chunks():
        while (k := next(taken)) < len(chunks):
            results[k] = work(chunks[k])

    with _blas_on_one_thread():
        pool = _executor(threads - 1)
        helpers = [pool.submit(_on_one_core(take_chunks)) for _ in range(threads - 1)]
        numba.set_num_threads(1)  # the caller takes chunks too, its kernels on one thread
        try:
            take_chunks()
        finally:
            numba.set_num_threads(threads)
            for helper in helpers:  # wait for the helpers' last chunks (and raise their errors)
                helper.result()
    return results
