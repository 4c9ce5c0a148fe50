"""OpenBLAS limited to one thread for a stretch of work: `workers.split` runs its shares so.

While every core runs a share, a share's GEMM (a Winograd chunk's, such as 256 tiles by 32
by 64) is still above the size from which OpenBLAS splits a product over its own threads
(about 262k multiply-adds), and each share's GEMM then woke OpenBLAS threads onto cores
already busy. `limit_to_one_thread` sets OpenBLAS's count to one through its own setter
(`config.openblas_thread_controls`, found in `/proc/self/maps`) and returns the count to
give `restore_threads` afterwards.

Products outside a split keep OpenBLAS's own choice. Running the small ones (under 32
MFLOP) on one thread too was tried: beside busy processes it helped a lot (`predict` on 32
rows of the 784-512-512-10 MLP, 1.5-56 ms on two threads against 0.7-1.0 ms on one), but on
a quiet machine that `predict` took 0.88-1.05 ms against 0.74-0.78 ms, and the benchmark's
targets are quiet-machine figures.
"""

from __future__ import annotations

from . import config


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
