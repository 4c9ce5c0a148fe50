"""backend.kernels.gather: row gather, row scatter-add and the index check against plain
numpy (fancy indexing, np.add.at), float32 and float64, int32 and int64 indices, serial and
threaded with the same bits."""

import doctest

import numpy as np
import pytest

from backend.kernels import gather
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(7)
# (rows N, width D, indices M): tiny, repeated indices, more indices than rows, one row.
CASES = [(5, 3, 7), (20, 8, 300), (1, 4, 6), (50, 1, 12)]


def _indices(n, m, dtype, negative=True):
    low = -n if negative else 0
    return rng.integers(low, n, m).astype(dtype)


# The dtype pairs in use: float32 tables with the int32 indices of an Embedding, or a user's
# int64 ones; float64 in gradient checks. (Each pair is one more compiled signature.)
DTYPES = [(np.float32, np.int32), (np.float32, np.int64), (np.float64, np.int64)]


@pytest.mark.parametrize("n, d, m", CASES)
@pytest.mark.parametrize("dtype, index_dtype", DTYPES)
def test_gather_rows_is_fancy_indexing(n, d, m, index_dtype, dtype):
    table = rng.standard_normal((n, d)).astype(dtype)
    idx = _indices(n, m, index_dtype)

    def call():
        out = np.full((m, d), np.nan, dtype)
        gather.gather_rows(table, idx, out)
        return out

    np.testing.assert_array_equal(same_bits_any_threads(call), table[idx])


@pytest.mark.parametrize("n, d, m", CASES)
@pytest.mark.parametrize("dtype, index_dtype", DTYPES)
def test_scatter_add_rows_is_add_at(n, d, m, index_dtype, dtype):
    updates = rng.standard_normal((m, d)).astype(dtype)
    idx = _indices(n, m, index_dtype)

    def call():
        out = np.full((n, d), np.nan, dtype)  # the kernel zeroes it first
        gather.scatter_add_rows(updates, idx, out)
        return out

    expected = np.zeros((n, d), dtype)
    np.add.at(expected, idx, updates)  # adds in index order, as the kernel does
    np.testing.assert_array_equal(same_bits_any_threads(call), expected)


def test_scatter_add_sums_a_repeated_row_in_index_order():
    # float32: (1 + 1e8) - 1e8 is 0 (1e8 + 1 rounds to 1e8), while (-1e8 + 1e8) + 1 is 1.
    updates = np.array([[1.0], [1e8], [-1e8]], np.float32)
    out = np.empty((2, 1), np.float32)
    gather.scatter_add_rows(updates, np.array([1, 1, 1]), out)
    assert out.tolist() == [[0.0], [0.0]]


def test_indices_of_any_shape_and_empty_ones():
    table = rng.standard_normal((6, 2)).astype(np.float32)
    idx = rng.integers(0, 6, (3, 4))
    out = np.empty((12, 2), np.float32)
    gather.gather_rows(table, idx, out)
    np.testing.assert_array_equal(out, table[idx.ravel()])
    grad = np.full((6, 2), 5.0, np.float32)
    gather.scatter_add_rows(np.zeros((0, 2), np.float32), np.zeros(0, np.int32), grad)
    np.testing.assert_array_equal(grad, 0.0)


@pytest.mark.parametrize("bad", [6, -7, 100])
def test_out_of_range_indices_raise_and_write_nothing(bad):
    table = np.ones((6, 2), np.float32)
    idx = np.array([0, bad, 1])
    with pytest.raises(IndexError, match=f"index {bad} is out of bounds for a table of 6 rows"):
        gather.gather_rows(table, idx, np.empty((3, 2), np.float32))
    out = np.full((6, 2), 9.0, np.float32)
    with pytest.raises(IndexError, match=f"index {bad} is out of bounds"):
        gather.scatter_add_rows(np.ones((3, 2), np.float32), idx, out)
    assert (out == 9.0).all()


def test_wrappers_reject_bad_arguments():
    table = np.ones((4, 3), np.float32)
    with pytest.raises(TypeError, match="indices must be int32 or int64"):
        gather.gather_rows(table, np.array([0.0]), np.empty((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"out must have shape \(2, 3\)"):
        gather.gather_rows(table, np.array([0, 1]), np.empty((2, 4), np.float32))
    with pytest.raises(TypeError, match="out must be float32"):
        gather.gather_rows(table, np.array([0]), np.empty((1, 3), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        gather.gather_rows(np.ones((3, 4), np.float32).T, np.array([0]), np.empty((1, 3)))
    with pytest.raises(ValueError, match="updates must be"):
        gather.scatter_add_rows(np.ones((3, 3), np.float32), np.array([0, 1]), table)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_to_checked_int32_accepts_whole_numbers_in_range(dtype):
    x = rng.integers(0, 9, (4, 5)).astype(dtype)
    out = np.empty((4, 5), np.int32)
    assert gather.to_checked_int32(x, 9, out) == -1
    np.testing.assert_array_equal(out, x.astype(np.int32))


@pytest.mark.parametrize(
    "value, position",
    [(9.0, 2), (-1.0, 1), (2.5, 3), (np.nan, 0), (-0.5, 2), (np.inf, 1), (1e10, 3)],
)
def test_to_checked_int32_reports_the_first_bad_position(value, position):
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    x[position] = value
    assert gather.to_checked_int32(x, 9, np.empty(4, np.int32)) == position
    if np.isfinite(value) and value == int(value):  # whole numbers: the int paths agree
        assert gather.to_checked_int32(x.astype(np.int64), 9, np.empty(4, np.int32)) == position


def test_doc_examples():
    result = doctest.testmod(gather, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
