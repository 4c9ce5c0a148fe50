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
from concurrent.futures import ThreadPoolExecutor

from . import blas, config

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()


def _mark_worker() -> None:
    _local.busy = True


def in_share() -> bool:
    """Whether this thread is running a share of a `split` (its nested calls run serially)."""
    return getattr(_local, "busy", False)


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(
                max_workers=size, thread_name_prefix="kerasish-worker", initializer=_mark_worker
            )
            _pool_size = size
        return _pool


def split(work, count: int) -> None:
    """Runs `work(worker, start, stop)` over `range(count)` cut into one contiguous share per
    worker thread (`config.get_num_threads()` of them, the caller being one), and waits for
    all; the first exception raised by a share is raised here. With one thread, one item, or
    when called from inside a share, it is a plain call `work(0, 0, count)`.

    Example:
        >>> seen = []
        >>> split(lambda w, a, b: seen.extend(range(a, b)), 10)
        >>> sorted(seen) == list(range(10))
        True
    """
    workers = min(config.get_num_threads(), count)
    if workers <= 1 or in_share():
        work(0, 0, count)
        return
    bounds = [count * i // workers for i in range(workers + 1)]
    pool = _executor(workers - 1)
    blas_threads = blas.limit_to_one_thread()
    try:
        futures = [pool.submit(work, i, bounds[i], bounds[i + 1]) for i in range(1, workers)]
        _local.busy = True
        try:
            work(0, bounds[0], bounds[1])
        finally:
            _local.busy = False
            errors = [f.exception() for f in futures]  # waits for every share
    finally:
        blas.restore_threads(blas_threads)
    for error in errors:
        if error is not None:
            raise error
