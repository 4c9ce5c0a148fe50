"""Small matrix products on one BLAS thread (backend.blas) and the Plan's matmul steps that
use it."""

import functools
import threading

import numpy as np
import pytest

from backend import blas, config
from backend.compiler import lowering

rng = np.random.default_rng(0)


def _threads():
    controls = config.openblas_thread_controls()
    return None if controls is None else controls[0]()


def _needs_openblas():
    if config.openblas_thread_controls() is None:
        pytest.skip("numpy's BLAS is not OpenBLAS")


@pytest.mark.parametrize("shape", [(128, 512, 10), (1, 784, 512), (32, 784, 512), (3, 5, 7)])
def test_a_product_on_one_thread_is_numpys_product(shape):
    m, k, n = shape
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = np.empty((m, n), np.float32)
    blas.on_one_thread(functools.partial(np.matmul, a, b, out=out))
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_the_product_runs_on_one_thread_and_the_count_is_put_back_even_when_it_fails():
    _needs_openblas()
    before = _threads()
    seen = []
    blas.on_one_thread(lambda: seen.append(_threads()))
    assert seen == [1] and _threads() == before
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError):
        blas.on_one_thread(functools.partial(np.matmul, a, b, out=np.empty((5, 5), np.float32)))
    assert _threads() == before


def test_threads_calling_at_once_leave_the_count_as_it_was():
    # Each call puts back the count it read; one that finds another's 1 leaves it alone.
    _needs_openblas()
    before = _threads()
    a, b = np.ones((32, 64), np.float32), np.ones((64, 16), np.float32)

    def loop():
        out = np.empty((32, 16), np.float32)
        for _ in range(300):
            blas.on_one_thread(functools.partial(np.dot, a, b, out))
            assert out[0, 0] == 64

    threads = [threading.Thread(target=loop) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _threads() == before


def test_a_plan_runs_small_products_on_one_thread_and_large_ones_as_numpy_does():
    small = [np.ones(s, np.float32) for s in ((32, 784), (784, 512), (32, 512))]
    large = [np.ones(s, np.float32) for s in ((128, 784), (784, 512), (128, 512))]
    assert blas.is_small(32, 512, 784) and not blas.is_small(128, 512, 784)
    bound = lowering._bind_matmul(*small)
    assert bound.func is blas.on_one_thread and bound.args[0].func is np.dot
    assert lowering._bind_matmul(*large).func is np.dot
    # A 3-D input is one GEMM over all its rows: (4, 8, 784) is 32 rows, small.
    stacked = lowering._bind_matmul(np.ones((4, 8, 784), np.float32), small[1],
                                    np.empty((4, 8, 512), np.float32))  # fmt: skip
    assert stacked.func is blas.on_one_thread
    out = np.empty((32, 512), np.float32)
    lowering._matmul(small[0], small[1], out)
    np.testing.assert_array_equal(out, np.full((32, 512), 784, np.float32))


def test_a_small_products_bits_do_not_depend_on_the_blas_thread_count():
    # OpenBLAS on two threads may sum a product in another order than on one (this one
    # differs in the last bits); a small product runs on one thread whatever the count.
    _needs_openblas()
    get, set_ = config.openblas_thread_controls()
    before = get()
    a = rng.standard_normal((32, 784)).astype(np.float32)
    b = rng.standard_normal((784, 512)).astype(np.float32)
    results = []
    try:
        for threads in (1, 2):
            set_(threads)
            out = np.empty((32, 512), np.float32)
            lowering._bind_matmul(a, b, out)()
            results.append(out)
    finally:
        set_(before)
    np.testing.assert_array_equal(results[0], results[1])
