"""OpenBLAS's threads: limited to one for a stretch of work (`workers.split` runs its shares
so), and their idle spin made short when numpy loaded OpenBLAS before the engine.

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

import os
import threading

from . import OPENBLAS_IDLE_SPIN, config


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


def quiet_idle_spin() -> bool:
    """Shortens the idle spin of the OpenBLAS libraries already loaded (numpy imported before
    the engine) to the engine's `OPENBLAS_THREAD_TIMEOUT` (`backend.OPENBLAS_IDLE_SPIN`), as
    the variable does when the engine comes first; whether any library changed.

    OpenBLAS reads the variable when it loads and its threads read the value when they
    start, so this sets the variable for the moment OpenBLAS re-reads its environment
    (`openblas_read_env`), puts the variable back as it was, and stops the threads
    (`blas_thread_shutdown_`); OpenBLAS starts new ones, with the short spin, at its next
    threaded call. Stopping them is safe only while no other thread can be inside a BLAS
    call, so nothing happens when this process runs other Python threads, when the user set
    `OPENBLAS_THREAD_TIMEOUT`, or for a library that does not run its own pthreads (an OpenMP
    or single-threaded build) or lacks the functions.
    """
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or threading.active_count() > 1:
        return False
    changed = False
    for library in config.openblas_libraries():
        functions = _spin_functions(library)
        if functions is None:
            continue
        read_env, shutdown = functions
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = OPENBLAS_IDLE_SPIN
        try:
            read_env()
        finally:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]
        shutdown()
        changed = True
    return changed


def _spin_functions(library):
    """(openblas_read_env, blas_thread_shutdown_) of a pthreads build of OpenBLAS, or None."""
    read_env = getattr(library, "openblas_read_env", None)
    shutdown = getattr(library, "blas_thread_shutdown_", None)
    if read_env is None or shutdown is None:
        return None
    for setter in config.OPENBLAS_SETTERS:
        parallel = getattr(library, setter.replace("_set_num_threads", "_get_parallel"), None)
        if parallel is not None:
            return (read_env, shutdown) if parallel() == 1 else None  # 1: its own pthreads
    return None
