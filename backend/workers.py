"""Python worker threads for work made of many small serial calls.

Some work is a loop of calls too small for their own threads: Winograd's chunks are a
serial transform, a batch of small GEMMs (OpenBLAS runs those on one thread) and a serial
transform, ~100 us each. Waking a thread pool per call costs about as much as the call, so
such a loop ran on one core. `split` instead hands each of `config.get_num_threads()`
workers its own share of the loop: the calls release the GIL (Numba kernels are compiled
`nogil`; numpy's matmul releases it), so the shares run at once.

Workers only ever call serial kernels: the Numba threading layer must not be entered from
two Python threads at once (`kernels.PARALLEL_LOCK`).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from . import config

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="kerasish-worker")
            _pool_size = size
        return _pool


def split(work, count: int) -> None:
    """Runs `work(worker, start, stop)` over `range(count)` cut into one contiguous share per
    worker thread (`config.get_num_threads()` of them, the caller being one), and waits for
    all; the first exception raised by a share is raised here. With one thread, or one item,
    it is a plain call `work(0, 0, count)`.

    Example:
        >>> seen = []
        >>> split(lambda w, a, b: seen.extend(range(a, b)), 10)
        >>> sorted(seen) == list(range(10))
        True
    """
    workers = min(config.get_num_threads(), count)
    if workers <= 1:
        work(0, 0, count)
        return
    bounds = [count * i // workers for i in range(workers + 1)]
    pool = _executor(workers - 1)
    futures = [pool.submit(work, i, bounds[i], bounds[i + 1]) for i in range(1, workers)]
    try:
        work(0, bounds[0], bounds[1])
    finally:
        errors = [f.exception() for f in futures]  # waits for every share
    for error in errors:
        if error is not None:
            raise error
