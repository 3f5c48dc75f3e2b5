"""The chunk pool (functional/conv/fast/_chunks.py): the caller and helper threads take a chunk each
at a time, the results come back in chunk order, the caller's np.errstate holds in the helpers, and
numba's workqueue pool keeps the chunks on the calling thread. (That the numbers are the same bits
on one thread and on every thread is checked for every algorithm by the conformance suite.)"""

from __future__ import annotations

import threading
import warnings

import numba
import numpy as np
import pytest

import minitorch_cnn as mt
from minitorch_cnn.functional import conv2d
from minitorch_cnn.functional.conv import policy
from minitorch_cnn.functional.conv.fast import _chunks


@pytest.fixture
def two_threads():
    """numba (and so the chunk pool) at 2 threads, or all there are; restored afterwards."""
    previous = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    yield
    numba.set_num_threads(previous)


def test_chunks_on_other_threads_keep_the_callers_errstate(two_threads):
    """np.errstate set by the caller (the CLI silences overflow while it detects a NaN loss) holds
    in the threads that run the chunks."""
    x = np.full((8, 2, 10, 10), 1e30, dtype=np.float32)
    w = np.full((4, 2, 3, 3), 1e30, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore", invalid="ignore"), mt.conv_algorithm("im2col"), policy.conv_memory_budget(2 * 2 * 9 * 64 * 4):
            y = conv2d(mt.tensor(x, requires_grad=True), mt.tensor(w, requires_grad=True))
    assert len(y.grad_fn.chunks) == 4 and np.isinf(y.numpy()).all()


def test_chunks_stay_on_the_calling_thread_with_numbas_workqueue_pool(monkeypatch, two_threads):
    """numba's workqueue pool aborts the process when kernels start from two threads at once: with
    it (chosen by the user, or where OpenMP and TBB do not load) the chunks run one after another."""
    seen = set()

    def work(rows):
        seen.add(threading.current_thread())
        return rows

    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    assert not _chunks._pool_takes_threads()
    chunks = [slice(0, 1), slice(1, 2), slice(2, 3)]
    assert _chunks.for_each_chunk(work, chunks, np.zeros(3)) == chunks
    assert seen == {threading.current_thread()}


def test_chunks_are_taken_by_the_caller_and_a_helper(monkeypatch):
    """On OpenMP with 2 threads the caller and one helper thread take the chunks; the results come
    back in chunk order, the caller's thread count is restored, and an error in a chunk reaches
    the caller."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: the chunks stay on the calling thread")
    first_two = threading.Barrier(2, timeout=30)  # each of the two threads must take one of the first two chunks
    seen = []

    def work(rows):
        seen.append(threading.current_thread())
        if rows.start < 2:
            first_two.wait()
        if rows.start == 4 and fail:
            raise ZeroDivisionError("chunk 4")
        return rows

    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
        chunks = [slice(k, k + 1) for k in range(6)]
        fail = False
        assert _chunks.for_each_chunk(work, chunks, np.zeros(6)) == chunks
        assert len(set(seen[:2])) == 2 and threading.current_thread() in seen[:2]
        assert numba.get_num_threads() == 2
        fail, seen[:] = True, []
        first_two.reset()
        with pytest.raises(ZeroDivisionError, match="chunk 4"):
            _chunks.for_each_chunk(work, chunks, np.zeros(6))
        assert numba.get_num_threads() == 2
    finally:
        numba.set_num_threads(previous)


def test_one_chunk_or_one_thread_runs_on_the_caller(monkeypatch):
    """A single chunk, one thread, or a GPU array: no helper thread is used."""
    seen = set()

    def work(rows):
        seen.add(threading.current_thread())
        return rows.start

    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert _chunks.for_each_chunk(work, [slice(0, 1), slice(1, 2)], np.zeros(2)) == [0, 1]
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        assert _chunks.for_each_chunk(work, [slice(0, 2)], np.zeros(2)) == [0]
        # a GPU array (a stand-in class the backend takes for CuPy's): its chunks run on the GPU's streams
        from minitorch_cnn import backend

        class FakeCupyArray:
            pass

        monkeypatch.setattr(backend, "cupy_ndarray", FakeCupyArray)
        monkeypatch.setattr(_chunks, "_executor", lambda threads: pytest.fail("a GPU array's chunks took helper threads"))
        assert _chunks.for_each_chunk(work, [slice(0, 1), slice(1, 2)], FakeCupyArray()) == [0, 1]
    finally:
        numba.set_num_threads(previous)
    assert seen == {threading.current_thread()}
