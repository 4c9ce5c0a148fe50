"""backend.kernels.reduce: sum over leading axes, sum and max over the last axis, against
numpy, float32 and float64, serial and threaded, bit-identical run to run."""

import numpy as np
import pytest

from backend import config
from backend.kernels import reduce
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(5)
DTYPES = [np.float32, np.float64]
# (rows, cols): one row, a few, more than one chunk (129 // 16 = 8), and the 64-chunk cap.
SHAPES = [(1, 5), (7, 3), (129, 7), (5000, 3), (3, 129)]
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


def _reduce(kernel, x, out_shape):
    def call():
        out = np.full(out_shape, np.nan, x.dtype)
        kernel(x, out)
        return out

    return same_bits_any_threads(call)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_rows_matches_numpy(dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(_reduce(reduce.sum_rows, x, shape[1:]), x.sum(0), **TOL[dtype])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_last_matches_numpy(dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(_reduce(reduce.sum_last, x, shape[:1]), x.sum(1), **TOL[dtype])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_last_matches_numpy(dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(_reduce(reduce.max_last, x, shape[:1]), x.max(1))


def test_leading_axes_and_empty_inputs():
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(_reduce(reduce.sum_rows, x, (4,)), x.sum((0, 1)), rtol=1e-6)
    np.testing.assert_allclose(_reduce(reduce.sum_last, x, (2, 3)), x.sum(-1), rtol=1e-6)
    np.testing.assert_array_equal(_reduce(reduce.max_last, x, (2, 3)), x.max(-1))
    empty = np.zeros((0, 4), np.float32)
    np.testing.assert_array_equal(_reduce(reduce.sum_rows, empty, (4,)), np.zeros(4))
    np.testing.assert_array_equal(_reduce(reduce.sum_last, np.zeros((3, 0)), (3,)), np.zeros(3))


def test_max_last_propagates_nan_like_numpy():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, 0.0, -1.0], [-np.inf, -5.0, 2.0]], np.float32)
    out = np.empty(3, np.float32)
    reduce.max_last(x, out)
    np.testing.assert_array_equal(out, x.max(1))


def test_sum_rows_is_accurate_over_many_rows():
    # Chunked partial sums keep float32 error far below a naive running sum's.
    x = np.full((100_000, 2), 0.1, np.float32)
    out = np.empty(2, np.float32)
    reduce.sum_rows(x, out)
    np.testing.assert_allclose(out, x.astype(np.float64).sum(0), rtol=1e-5)


def test_sum_rows_into_a_given_scratch_gives_the_same_bits():
    x = rng.standard_normal((200, 5)).astype(np.float32)
    scratch = np.full((reduce.sum_rows_chunks(200), 5), np.nan, np.float32)
    fresh, reused = np.empty(5, np.float32), np.empty(5, np.float32)
    reduce.sum_rows(x, fresh)
    reduce.sum_rows(x, reused, scratch)
    np.testing.assert_array_equal(reused, fresh)
    np.testing.assert_allclose(reused, x.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
    assert not np.isnan(scratch).any()  # the partial sums went there
    with pytest.raises(ValueError, match=r"sum_rows: scratch must have shape \(12, 5\)"):
        reduce.sum_rows(x, reused, np.empty((3, 5), np.float32))


def test_bad_arguments():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"sum_rows: out must have shape \(3,\)"):
        reduce.sum_rows(x, np.empty(4, np.float32))
    with pytest.raises(TypeError, match=r"sum_last: out must be float32. Received: out.dtype"):
        reduce.sum_last(x, np.empty(4))
    with pytest.raises(ValueError, match="max_last: the last axis of x must not be empty"):
        reduce.max_last(np.ones((2, 0), np.float32), np.empty(2, np.float32))
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        reduce.sum_last(x[:, ::2], np.empty(4, np.float32))
    with pytest.raises(TypeError, match="x must be a numpy array. Received: list"):
        reduce.sum_rows([[1.0]], np.empty(1, np.float32))


def test_docstring_examples():
    import doctest

    result = doctest.testmod(reduce, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("shape", [(20000, 32), (3000, 64), (40, 512)])
def test_sum_rows_bias_gradient_shapes_same_bits_for_any_thread_count(shape):
    # The chunks are fixed by the shape, not by the threads, and merged in chunk order.
    x = rng.standard_normal(shape).astype(np.float32)
    threads = config.get_num_threads()
    old = config.parallel_threshold()
    results = []
    try:
        config.set_parallel_threshold(0)
        for n in sorted({1, threads}):
            config.set_num_threads(n)
            out = np.empty(shape[1], np.float32)
            reduce.sum_rows(x, out)
            results.append(out)
    finally:
        config.set_num_threads(threads)
        config.set_parallel_threshold(old)
    assert all(r.tobytes() == results[0].tobytes() for r in results)
    serial = _reduce(reduce.sum_rows, x, shape[1:])
    assert serial.tobytes() == results[0].tobytes()
    np.testing.assert_allclose(serial, x.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
