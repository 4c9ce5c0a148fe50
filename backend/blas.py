"""Small matrix products on one BLAS thread.

OpenBLAS splits a GEMM over its threads once it has about 262k multiply-adds (`m * n * k`),
and its threads sleep right after each call (the engine sets `OPENBLAS_THREAD_TIMEOUT=4`,
see `backend/__init__.py`), so a small product pays for waking a thread that has little to
do. Measured on the 2-core machine (one process, 1 and 2 threads alternating, 30 rounds, a
100 us pause before each product as in a step): 128 x 512 by 512 x 10 took 29.5 us on one
thread against 48.6 on two, 32 x 784 by 784 x 512 473 against 513, 64 x 784 by 784 x 512
675 against 682; from 128 x 784 by 784 x 512 (970 against 1277) two threads win. When other
processes keep the cores busy, the woken thread also waits for a time slice: `predict` on 32
rows of a 784-512-512-10 MLP beside two busy loops took up to 28 ms on two BLAS threads
against 5 ms on one; beside two processes compiling kernels, 1.5-56 ms against 0.7-1.0 ms,
and `train_on_batch` on 32 rows 30-104 ms against 3.5-6.3 ms.

So `on_one_thread` runs a product of fewer than `SMALL_GEMM_FLOPS` with OpenBLAS limited to
one thread for that call (its own getter and setter, about 0.5 us for the three calls) and
puts the count it found back; a product already on one thread, or a numpy whose BLAS is not
OpenBLAS, runs as it is. Threads that call it at once can only ever lower the count for the
length of a call: each puts back the count it read, which was above one. `limit_to_one_thread`
and `restore_threads` do the same around a longer stretch (`workers.split` runs its shares
so).
"""

from __future__ import annotations

from . import config

#: Products of fewer FLOPs (2 m n k) than this run on one BLAS thread.
SMALL_GEMM_FLOPS = 32_000_000


def is_small(m: int, n: int, k: int) -> bool:
    """Whether a product of (m, k) by (k, n) runs on one BLAS thread."""
    return 2 * m * n * k < SMALL_GEMM_FLOPS


def on_one_thread(product) -> None:
    """Calls `product()` (a matrix product into its output) with OpenBLAS on one thread, then
    puts the thread count back.

    Example:
        >>> import functools
        >>> import numpy as np
        >>> a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
        >>> out = np.empty((2, 4), np.float32)
        >>> on_one_thread(functools.partial(np.matmul, a, b, out=out))
        >>> float(out[0, 0])
        3.0
    """
    threads = limit_to_one_thread()
    try:
        product()
    finally:
        restore_threads(threads)


def limit_to_one_thread() -> int:
    """Limits OpenBLAS to one thread; returns the count to give `restore_threads` (0 when
    there is nothing to restore: no OpenBLAS found, or it already runs on one thread).
    Threads that do this at once can only ever lower the count for the length of their
    calls: each puts back the count it read, which was above one."""
    controls = config.openblas_thread_controls()
    if controls is None:
        return 0
    get, set_ = controls
    threads = get()
    if threads <= 1:
        return 0
    set_(1)
    return threads


def restore_threads(threads: int) -> None:
    """Puts back the count `limit_to_one_thread` returned (nothing when 0)."""
    if threads:
        config.openblas_thread_controls()[1](threads)
