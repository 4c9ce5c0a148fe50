"""`set_num_threads(n)` reaches every pool the engine computes on: the worker threads that run
threaded kernel calls, BLAS (through threadpoolctl, else OpenBLAS's own setter) and Numba's
pool when user code started it; and a kernel's result does not depend on the count."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from backend import config, kernels, workers


@pytest.fixture
def threads(monkeypatch):
    saved = config._num_threads
    monkeypatch.setattr(config, "_parallel_threshold", 0)  # every call may thread
    yield config.set_num_threads
    config.set_num_threads(saved or config._default_num_threads())
    config._num_threads = saved


def _recording():
    calls, lock = [], threading.Lock()

    def dispatcher(start, stop, tag):
        with lock:
            calls.append((start, stop, threading.get_ident(), tag))

    return calls, dispatcher


@pytest.mark.parametrize("n", [1, 2])
def test_launch_runs_on_exactly_n_threads(threads, n):
    if n > config._default_num_threads():
        pytest.skip("this machine lets the process use fewer CPUs")
    threads(n)
    calls, dispatcher = _recording()
    kernels.launch(dispatcher, 10**9, 10, "x")
    assert sorted((start, stop) for start, stop, _, _ in calls) == (
        [(0, 10)] if n == 1 else [(0, 5), (5, 10)]
    )
    assert len({ident for _, _, ident, _ in calls}) == n
    assert threading.get_ident() in {ident for _, _, ident, _ in calls}
    assert all(tag == "x" for *_, tag in calls)


def test_small_work_stays_on_the_calling_thread(threads, monkeypatch):
    threads(min(2, config._default_num_threads()))
    monkeypatch.setattr(config, "_parallel_threshold", 1000)
    calls, dispatcher = _recording()
    kernels.launch(dispatcher, 999, 10, "x")
    assert [(start, stop, ident) for start, stop, ident, _ in calls] == [
        (0, 10, threading.get_ident())
    ]


def test_a_launch_inside_a_share_runs_serially(threads):
    if config._default_num_threads() < 2:
        pytest.skip("needs two CPUs")
    threads(2)
    inner = []

    def share(worker, start, stop):
        calls, dispatcher = _recording()
        kernels.launch(dispatcher, 10**9, 6, "inner")
        inner.append([(s, e, i) for s, e, i, _ in calls])

    workers.split(share, 2)
    assert len(inner) == 2
    for calls in inner:  # one call over the whole range, on the share's own thread
        assert len(calls) == 1 and calls[0][:2] == (0, 6)


def test_blas_thread_count_follows_without_threadpoolctl(threads, monkeypatch):
    libraries = config.openblas_libraries()
    getters = [
        getattr(lib, name)
        for lib in libraries
        for name in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads",
            "openblas_get_num_threads",
        )  # fmt: skip
        if hasattr(lib, name)
    ]
    if not getters:
        pytest.skip("numpy here does not use a shared OpenBLAS")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # `import threadpoolctl` fails
    threads(1)
    assert [get() for get in getters] == [1] * len(getters)
    if config._default_num_threads() >= 2:
        threads(2)
        assert [get() for get in getters] == [2] * len(getters)


def test_results_do_not_depend_on_the_thread_count(threads):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((300, 37)).astype(np.float32)
    x = rng.standard_normal((1000, 33)).astype(np.float32)
    results = []
    for n in sorted({1, min(2, config._default_num_threads())}):
        threads(n)
        sums, out = np.empty(33, np.float32), np.empty_like(logits)
        kernels.reduce.sum_rows(x, sums)
        kernels.nn.log_softmax_last(logits, out)
        results.append((sums.tobytes(), out.tobytes()))
    assert all(r == results[0] for r in results)


def test_numba_pool_started_by_user_code_is_limited_too(tmp_path):
    code = textwrap.dedent(
        """
        import numba
        import numpy as np
        from numba import prange
        from backend import config, kernels

        @numba.njit(parallel=True)
        def total(x):
            s = 0.0
            for i in prange(x.shape[0]):
                s += x[i]
            return s

        total(np.ones(10))  # starts Numba's pool
        before = numba.get_num_threads()
        config.set_num_threads(1)
        print(before >= 1, numba.get_num_threads())
        """
    )
    env = dict(os.environ, KERASISH_CACHE_DIR=str(tmp_path), NUMBA_NUM_THREADS="2")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1"]


def test_shares_see_openblas_on_one_thread_and_the_count_comes_back(threads):
    # Every core runs a share: a share's GEMM must not wake OpenBLAS's own threads too.
    controls = config.openblas_thread_controls()
    if controls is None:
        pytest.skip("numpy here does not use a shared OpenBLAS")
    if config._default_num_threads() < 2:
        pytest.skip("needs two CPUs")
    threads(2)
    get = controls[0]
    assert get() == 2
    seen = []
    workers.split(lambda w, a, b: seen.append(get()), 2)
    assert seen == [1, 1] and get() == 2

    def failing(worker, start, stop):
        raise ValueError(f"share {worker}")

    with pytest.raises(ValueError, match="share"):
        workers.split(failing, 2)
    assert get() == 2
    threads(1)  # one thread: a plain call, BLAS left at the configured count
    workers.split(lambda w, a, b: seen.append(get()), 2)
    assert seen[-1] == 1 and get() == 1
