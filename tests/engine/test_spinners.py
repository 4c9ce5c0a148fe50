"""`backend.spinners`: idle-priority threads keep the engine's CPUs busy while it runs compiled
steps, and sleep when it stops; their native helpers (`kernels.spin`) read the clock, load
and add atomically, and wake sleepers."""

import os
import sys
import threading
import time
import types

import numpy as np
import pytest

import kerasish as keras
from backend import config, spinners
from backend.kernels import spin

LINUX = sys.platform.startswith("linux")
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
needs_spinners = pytest.mark.skipif(
    not LINUX or CPUS < 2 or spinners._futex_syscall() is None,
    reason="spinners run on Linux x86-64/aarch64 with 2 or more CPUs",
)


@pytest.fixture
def settings():
    threads, seconds = config.get_num_threads(), config.spin_seconds()
    yield
    config.set_num_threads(threads)
    config.set_spin_seconds(seconds)


def _cpu_ns(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0])


def _runnable_ns(tid: int) -> int:
    """Time on a CPU plus time waiting for one: a spinner is runnable the whole time it
    spins, whether or not other programs leave it the CPU."""
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        ran, waited = f.read().split()[:2]
    return int(ran) + int(waited)


def _wait_until(condition, timeout=5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_the_native_clock_is_pythons_monotonic_clock():
    before = time.monotonic_ns()
    now = spin.now_ns()
    after = time.monotonic_ns()
    assert before <= now <= after


def test_wake_bumps_the_gate_and_returns_when_nobody_sleeps():
    gate = np.zeros(1, np.int32)
    number = spinners._futex_syscall()
    if number is None:
        pytest.skip("no futex syscall number for this machine")
    spin.wake(gate, number)
    spin.wake(gate, number)
    assert gate[0] == 2


def test_a_sleeper_on_the_gate_wakes_and_spins_while_the_state_says_active():
    """One spinner on its own state: it sleeps while the state is old, and `wake` plus a
    fresh time make it leave the futex (the sleeping count goes back to 0)."""
    number = spinners._futex_syscall()
    if not LINUX or number is None:
        pytest.skip("futex spinners are Linux only")
    state = np.zeros(spin.STATE_SIZE, np.int64)
    gate = np.zeros(1, np.int32)
    state[spin.STATE_SPIN_NS] = 5_000_000
    thread = threading.Thread(target=spin.spin_forever, args=(state, gate, number), daemon=True)
    thread.start()
    assert _wait_until(lambda: state[spin.STATE_SLEEPING] == 1)
    tid = thread.native_id
    assert os.sched_getscheduler(tid) == os.SCHED_IDLE
    state[spin.STATE_LAST] = time.monotonic_ns() + 10**9  # active for a second from now
    spin.wake(gate, number)
    assert _wait_until(lambda: state[spin.STATE_SLEEPING] == 0)
    state[spin.STATE_LAST] = 0  # long ago: it goes back to sleep
    assert _wait_until(lambda: state[spin.STATE_SLEEPING] == 1)
    sleeping_cpu = _cpu_ns(tid)
    time.sleep(0.05)
    assert _cpu_ns(tid) - sleeping_cpu < 2_000_000  # asleep, not spinning


def _run_a_compiled_step():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.ones((2, 4), np.float32)
    model.predict_on_batch(x)
    return model, x


@needs_spinners
def test_compiled_steps_start_one_idle_spinner_per_cpu_that_spins_then_sleeps(settings):
    config.set_num_threads(CPUS)
    config.set_spin_seconds(0.05)
    model, x = _run_a_compiled_step()
    cpus = tuple(sorted(os.sched_getaffinity(0)))
    assert spinners.running() == cpus
    tids = spinners.thread_ids()
    assert len(tids) == len(cpus)
    for tid, cpu in zip(tids, cpus, strict=True):
        assert _wait_until(lambda tid=tid: os.sched_getscheduler(tid) == os.SCHED_IDLE)
        assert os.sched_getaffinity(tid) == {cpu}
    before = [_runnable_ns(tid) for tid in tids]
    end = time.monotonic() + 0.2
    while time.monotonic() < end:  # active: a step every 10 ms
        model.predict_on_batch(x)
        time.sleep(0.01)
    spun = [_runnable_ns(tid) - b for tid, b in zip(tids, before, strict=True)]
    assert min(spun) > 100_000_000, spun  # each spinning (not asleep) over half the 200 ms
    assert _wait_until(lambda: spinners._state[spin.STATE_SLEEPING] == len(tids))


@needs_spinners
def test_zero_seconds_or_one_thread_means_no_spinning(settings):
    config.set_num_threads(CPUS)
    config.set_spin_seconds(0.05)
    _run_a_compiled_step()
    assert spinners.running()
    config.set_spin_seconds(0)
    model, x = _run_a_compiled_step()
    assert spinners.running() == ()
    assert spinners._state[spin.STATE_SPIN_NS] == 0
    config.set_spin_seconds(0.05)
    config.set_num_threads(1)
    model.predict_on_batch(x)
    assert spinners.running() == ()
    config.set_num_threads(CPUS)
    model.predict_on_batch(x)
    assert spinners.running() == tuple(sorted(os.sched_getaffinity(0)))
    assert spinners._state[spin.STATE_SPIN_NS] == 50_000_000


def test_a_refused_idle_priority_leaves_no_spinner(monkeypatch):
    """When the system refuses SCHED_IDLE (the kernel returns -1 at once), the thread ends
    and no `touch` tries again."""
    fake = types.SimpleNamespace(spin_forever=lambda state, gate, number: -1)
    monkeypatch.setattr(spinners, "_spin", fake)
    monkeypatch.setattr(spinners, "_refused", False)
    monkeypatch.setattr(spinners, "_view", memoryview(np.zeros(3, np.int64)))
    cpu = sorted(os.sched_getaffinity(0))[0] if LINUX else 0
    thread = threading.Thread(target=spinners._run, args=(cpu,))  # it pins its own thread
    thread.start()
    thread.join()
    assert spinners._refused is True
    assert spinners._view is None


@pytest.mark.parametrize(
    ("value", "error"), [(-0.1, ValueError), (11, ValueError), ("1", TypeError), (True, TypeError)]
)
def test_set_spin_seconds_rejects_bad_values(settings, value, error):
    with pytest.raises(error, match="set_spin_seconds"):
        keras.config.set_spin_seconds(value)


@needs_spinners
def test_a_forked_child_starts_its_own_spinners(settings):
    config.set_num_threads(CPUS)
    config.set_spin_seconds(0.05)
    _run_a_compiled_step()
    parent_tids = spinners.thread_ids()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no spinner until its first step, then its own
        try:
            ok = spinners.thread_ids() == [] and spinners.running() == ()
            _run_a_compiled_step()
            ok = ok and len(spinners.thread_ids()) == CPUS
            ok = ok and not set(spinners.thread_ids()) & set(parent_tids)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"


@pytest.mark.parametrize(
    ("files", "capped"),
    [
        ({"/proc/self/cgroup": "0::/\n"}, False),  # no cpu.max at the root
        ({"/proc/self/cgroup": "0::/a/b\n", "/sys/fs/cgroup/a/b/cpu.max": "max 100000\n"}, False),
        ({"/proc/self/cgroup": "0::/a/b\n", "/sys/fs/cgroup/a/b/cpu.max": "50000 100000\n"}, True),
        ({"/proc/self/cgroup": "0::/a/b\n", "/sys/fs/cgroup/a/cpu.max": "200000 100000\n"}, True),
        ({"/proc/self/cgroup": "4:memory:/x\n1:cpu:/\n",
          "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n"}, False),
        ({"/proc/self/cgroup": "2:cpu,cpuacct:/d\n",
          "/sys/fs/cgroup/cpu,cpuacct/d/cpu.cfs_quota_us": "150000\n"}, True),
        ({}, False),  # nothing readable
    ],
)  # fmt: skip
def test_a_cpu_time_cap_in_any_control_group_above_means_no_spinners(files, capped):
    assert spinners.cpu_quota_set(read=files.get) is capped


@needs_spinners
def test_no_spinners_under_a_cpu_time_cap(settings, monkeypatch):
    config.set_num_threads(CPUS)
    monkeypatch.setattr(spinners, "cpu_quota_set", lambda: True)
    config.set_spin_seconds(0.05)  # the next step decides again
    _run_a_compiled_step()
    assert spinners.running() == ()


def test_kernels_that_fail_to_load_mean_no_spinners_not_a_failed_step(settings, monkeypatch):
    def broken():
        raise RuntimeError("no clock_gettime here")

    monkeypatch.setattr(spinners, "_load_kernels", broken)
    monkeypatch.setattr(spinners, "_refused", False)
    monkeypatch.setattr(spinners, "_threads", [])
    monkeypatch.setattr(spinners, "_state", None)
    monkeypatch.setattr(spinners, "_cpus", ())
    monkeypatch.setattr(spinners, "_decided", False)
    monkeypatch.setattr(spinners, "_view", None)
    if CPUS >= 2:
        config.set_num_threads(CPUS)
    model, x = _run_a_compiled_step()  # runs, with no spinner
    assert model.predict_on_batch(x).shape == (2, 3)
    assert spinners.running() == ()
    if LINUX and CPUS >= 2 and spinners._futex_syscall() is not None:
        assert spinners._refused is True
