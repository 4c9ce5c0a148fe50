"""Spinners: while the engine works, the CPUs its threads use are kept busy at idle priority,
so that a thread woken there (an OpenBLAS worker at each GEMM, a `workers.split` share)
finds a CPU that is awake (Linux).

Why. On the 2-vCPU virtual machine the benchmarks run on, a process that had been idle for a
few hundred milliseconds and then started a run of GEMMs had, for its first few dozen calls,
OpenBLAS's worker thread woken onto the CPU its caller was running on while the other CPU sat
idle. The two then took turns on one CPU (each waiting 4 to 8 ms in the run queue, per
`/proc/self/task/*/schedstat`) until the kernel moved one: a (128, 784) @ (784, 512) product
of 0.3 ms took 4 to 20 ms, once or more in 27 of 30 rounds of 40 calls after a 0.3 s pause.
Threads that spin between calls instead of sleeping do not meet it: OpenBLAS's default
spin (about 0.1 s) gave no slow call in 30 rounds. But the engine shortens that spin
(`backend.OPENBLAS_IDLE_SPIN`), because a spinning OpenBLAS thread holds a core that the
engine's own threaded kernels need right after a GEMM. With a thread spinning at idle
priority on each CPU, the same rounds gave 0 to 2 slow calls in 30. A training epoch of the
784-512-512-10 MLP after a pause lost 10 to 43 ms to such calls (0.12 to 0.16 s in all), and
none with the spinners (0.120 to 0.123 s).

What. One daemon thread per CPU of this process, pinned to it, in SCHED_IDLE: the scheduler
runs it only when that CPU has nothing else to run, and any ordinary thread preempts it. It
spins while `touch()` (every run of a compiled step) was called within
`config.spin_seconds()`, then sleeps on a futex until the next `touch()`. The loop is native
code (`kernels.spin`) that never returns to Python, because a thread cannot leave SCHED_IDLE
without privileges and must not hold the GIL at that priority.

When. Only on Linux (x86-64, aarch64), with more than one thread configured and as many
threads as the CPUs this process may use (`config.get_num_threads()`, the default): with
fewer, which CPUs the engine's threads land on is not known. Not in a control group that
caps CPU time (a container's CPU limit), which counts idle-priority time too.
`set_spin_seconds(0)` turns it off; a system that refuses SCHED_IDLE gets no spinners.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import threading
import time

from . import config

# The state the main thread shares with the spinners (an int64 array; `kernels.spin` reads it):
STATE_LAST = 0  # CLOCK_MONOTONIC nanoseconds of the engine's last activity
STATE_SPIN_NS = 1  # how long after it to keep spinning (0: do not spin)
STATE_SLEEPING = 2  # how many spinners sleep on the gate
STATE_SIZE = 3

_monotonic_ns = time.monotonic_ns
_view = None  # the state array as a memoryview while spinning is on, else None
_decided = False  # whether `_view` reflects the current settings
_spin = None  # the kernels module, once loaded
_state = None
_gate = None
_futex_number = 0
_cpus: tuple = ()  # the CPUs the running spinners are pinned to
_threads: list = []
_refused = False  # SCHED_IDLE was refused: never try again
_lock = threading.Lock()


def touch() -> None:
    """Marks the engine active now: the spinners spin for `config.spin_seconds()` more.
    Costs well under a microsecond."""
    view = _view
    if view is None:
        if _decided:
            return
        _decide()
        view = _view
        if view is None:
            return
    view[STATE_LAST] = _monotonic_ns()
    if view[STATE_SLEEPING]:
        _spin.wake(_gate, _futex_number)


def running() -> tuple:
    """The CPUs spinners run on (empty when there are none)."""
    return _cpus if _view is not None else ()


def thread_ids() -> list:
    """The native ids of the spinner threads (for tests)."""
    return [thread.native_id for thread in _threads]


def _wanted_cpus() -> tuple:
    if not sys.platform.startswith("linux") or config.spin_seconds() <= 0:
        return ()
    cpus = tuple(sorted(os.sched_getaffinity(0)))
    threads = config.get_num_threads()
    if threads <= 1 or threads != len(cpus) or cpu_quota_set():
        return ()
    return cpus


def cpu_quota_set(read=None) -> bool:
    """Whether this process's control group, or one above it, caps its CPU time (cgroup v2
    `cpu.max`, v1 `cpu.cfs_quota_us`). Time spent at idle priority counts against such a
    cap, so spinners there would take it from the work. `read(path)` returns a file's text
    or None (for tests); files that cannot be read count as no cap."""
    read = read or _read_text
    groups = read("/proc/self/cgroup") or ""
    for line in groups.splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # cgroup v2: "max 100000" when uncapped
            files = [("/sys/fs/cgroup", "cpu.max", "max")]
        elif "cpu" in controllers.split(","):  # cgroup v1: -1 when uncapped
            roots = ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct")
            files = [(root, "cpu.cfs_quota_us", "-1") for root in roots]
        else:
            continue
        parts = [part for part in path.split("/") if part]
        for root, name, uncapped in files:
            for depth in range(len(parts), -1, -1):  # the group itself, then each parent
                words = (read("/".join([root, *parts[:depth], name])) or "").split()
                if words and words[0] != uncapped:
                    return True
    return False


def _read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _decide() -> None:
    """Starts the spinners, or sets them spinning again or idle, to match the settings."""
    global _view, _decided
    with _lock:
        _decided = True
        cpus = () if _refused else _wanted_cpus()
        spin_ns = int(config.spin_seconds() * 1e9)
        if _state is not None:
            _state[STATE_SPIN_NS] = spin_ns if cpus == _cpus else 0
        if not cpus or not _kernels_ready():
            _view = None
            return
        if not _threads:
            _state[STATE_LAST] = _monotonic_ns()
            _state[STATE_SPIN_NS] = spin_ns
            _start(cpus)
        _view = _state.data if cpus == _cpus else None


def _kernels_ready() -> bool:
    """`_load_kernels()`; False, and no spinners from then on, if that fails (a libc or
    a Numba without what the kernels declare): a spinner must never stop a step."""
    global _refused
    try:
        return _load_kernels()
    except Exception as error:  # noqa: BLE001 - any failure only means no spinners
        _refused = True
        logging.getLogger("kerasish").debug("no spinners: %r", error)
        return False


def _load_kernels() -> bool:
    global _spin, _state, _gate, _futex_number
    if _spin is not None:
        return True
    number = _futex_syscall()
    if number is None:
        return False
    import numpy as np

    from .kernels import spin

    _state = np.zeros(STATE_SIZE, np.int64)
    _gate = np.zeros(1, np.int32)
    _futex_number = number
    # Compiled (or loaded) here, not in a spinner thread while the caller runs its steps.
    spin.wake(_gate, number)
    spin.spin_forever.compile("(int64[::1], int32[::1], int64)")
    _spin = spin
    return True


def _futex_syscall() -> int | None:
    from .kernels.spin import FUTEX_SYSCALL

    return FUTEX_SYSCALL.get(platform.machine())


def _start(cpus: tuple) -> None:
    global _cpus
    _cpus = cpus
    for cpu in cpus:
        thread = threading.Thread(
            target=_run, args=(cpu,), name=f"kerasish-spinner-{cpu}", daemon=True
        )
        thread.start()
        _threads.append(thread)


def _run(cpu: int) -> None:
    global _refused, _view
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        pass
    if _spin.spin_forever(_state, _gate, _futex_number) == -1:  # SCHED_IDLE refused
        _refused = True
        _view = None


def _settings_changed() -> None:
    global _decided, _view
    _decided = False
    _view = None
    if _state is not None:
        _state[STATE_SPIN_NS] = 0  # no spinning until the next `touch` decides again


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: it starts its own at its first step."""
    global _cpus, _decided, _view
    _threads.clear()
    _cpus, _decided, _view = (), False, None
    if _state is not None:
        _state[:] = 0
        _gate[0] = 0


config._spin_hooks.append(_settings_changed)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
