"""Python worker threads: how every threaded kernel call runs.

A threaded kernel is an ordinary serial Numba kernel over a range of independent rows (or a
fixed number of chunks), compiled `nogil`; `split` hands each of `config.get_num_threads()`
threads (the caller being one) its own contiguous share of the range, and the shares run at
once because the kernels release the GIL (numpy's matmul does too). Numba's own thread pool
(`parallel=True`, `prange`) is not used: a `prange` kernel compiled 2-8x slower than the same
loop serial (Numba outlines the loop into a gufunc and optimizes and emits it three more
times, docs/internals/kernels.md), and its `workqueue` layer aborts when two Python threads
enter it.

Nothing here nests: a share that launches another threaded call runs it in its own thread,
serially (`in_share()`), so the pool never waits on itself.

While the shares run, OpenBLAS is limited to one thread (`blas.limit_to_one_thread`): every core
already runs a share, and a share's GEMM (a Winograd chunk's, such as 252 x 32 by 32 x 64)
is above the size from which OpenBLAS splits a product over its own threads (about 262k
multiply-adds). Two shares' GEMMs then each woke OpenBLAS's threads onto cores that were
busy: on the CIFAR-shaped convnet, a training step's 16x16 convolution took 20 ms in the
step against 6.5 ms in a loop on the quiet 2-core machine, and with another process busy,
steps of 0.2 s took 0.8-2.6 s; with OpenBLAS on one thread for the shares, 0.16-0.23 s.
"""

from __future__ import annotations

import threading

from . import blas, config

_busy = threading.Lock()  # held by the thread whose split is using (or growing) the workers
_workers: list = []
_local = threading.local()


class _Worker:
    """A worker thread and its two locks, made once: `go` is released to hand it a share,
    `done` is released when the share has run. Handing a share over allocates nothing but
    the share's tuple, whatever the threads' timing (a `ThreadPoolExecutor` made a Future
    per share and, when the caller got there first, a lock and a deque to wait on it: a
    steady step's allocations then depended on which thread was faster)."""

    def __init__(self, index: int):
        self.go = threading.Lock()
        self.go.acquire()
        self.done = threading.Lock()
        self.done.acquire()
        self.share = None  # (work, worker, start, stop)
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._serve, name=f"kerasish-worker-{index}", daemon=True
        )
        self.thread.start()

    def _serve(self) -> None:
        _local.busy = True
        while True:
            self.go.acquire()
            work, worker, start, stop = self.share
            self.share = None
            try:
                work(worker, start, stop)
            except BaseException as error:  # noqa: BLE001 - raised again by the caller
                self.error = error
            finally:
                del work
                self.done.release()


def in_share() -> bool:
    """Whether this thread is running a share of a `split` (its nested calls run serially)."""
    return getattr(_local, "busy", False)


def _pool(size: int) -> list:
    """The workers, `size` of them at least (called holding `_busy`)."""
    while len(_workers) < size:
        _workers.append(_Worker(len(_workers) + 1))
    return _workers


def split(work, count: int) -> None:
    """Runs `work(worker, start, stop)` over `range(count)` cut into one contiguous share per
    worker thread (`config.get_num_threads()` of them, the caller being one), and waits for
    all; the first exception raised by a share is raised here. With one thread, one item,
    when called from inside a share, or while another thread's split holds the workers, it
    is a plain call `work(0, 0, count)`.

    Example:
        >>> seen = []
        >>> split(lambda w, a, b: seen.extend(range(a, b)), 10)
        >>> sorted(seen) == list(range(10))
        True
    """
    workers = min(config.get_num_threads(), count)
    if workers <= 1 or in_share() or not _busy.acquire(blocking=False):
        # One thread, one item, a share's own nested call, or another thread's split using
        # the workers now: the whole range here (the same bits: shares never change a result).
        work(0, 0, count)
        return
    try:
        pool = _pool(workers - 1)
        blas_threads = blas.limit_to_one_thread()
        try:
            for i in range(1, workers):
                helper = pool[i - 1]
                helper.share = (work, i, count * i // workers, count * (i + 1) // workers)
                helper.go.release()
            _local.busy = True
            try:
                work(0, 0, count // workers)
            finally:
                _local.busy = False
                errors = []
                for helper in pool[: workers - 1]:
                    helper.done.acquire()  # waits for every share
                    if helper.error is not None:
                        errors.append(helper.error)
                        helper.error = None
        finally:
            blas.restore_threads(blas_threads)
        if errors:  # the caller's own share raised nothing
            raise errors[0]
    finally:
        _busy.release()
