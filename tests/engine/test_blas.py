"""backend.blas: OpenBLAS limited to one thread for a stretch of work, and put back."""

import threading

import numpy as np
import pytest

from backend import blas, config


def _controls():
    controls = config.openblas_thread_controls()
    if controls is None:
        pytest.skip("numpy's BLAS is not a shared OpenBLAS")
    return controls


def test_the_count_is_one_inside_and_put_back_after():
    get, set_ = _controls()
    before = get()
    set_(2)
    try:
        threads = blas.limit_to_one_thread()
        assert threads == 2 and get() == 1
        a = np.ones((64, 300), np.float32)
        np.testing.assert_array_equal(a @ a.T, np.full((64, 64), 300, np.float32))
        blas.restore_threads(threads)
        assert get() == 2
        set_(1)  # already one thread: nothing to put back
        assert blas.limit_to_one_thread() == 0 and get() == 1
        blas.restore_threads(0)
        assert get() == 1
    finally:
        set_(before)


def test_threads_that_limit_at_once_leave_the_count_as_it_was():
    # Each puts back the count it read; one that read another's 1 puts back nothing.
    get, set_ = _controls()
    before = get()
    set_(2)

    def loop():
        for _ in range(300):
            blas.restore_threads(blas.limit_to_one_thread())

    try:
        threads = [threading.Thread(target=loop) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert get() == 2
    finally:
        set_(before)
