"""Reductions over 2-D views: `sum_rows` (over all leading axes, e.g. a bias gradient),
`sum_last` and `max_last` (over the last axis).

Each output element is always summed in the same order, whatever the thread count:
`sum_last` and `max_last` give each row to one thread, and `sum_rows` splits the rows into a
number of chunks fixed by the shape alone and adds the chunks' partial sums in chunk order.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import as_rows, check, check_ndim, float_dtype

_MAX_CHUNKS = 64  # sum_rows: at most this many row chunks ...
_ROWS_PER_CHUNK = 16  # ... of at least this many rows (fewer rows: one chunk, no scratch)


@kernel
def _sum_row_range(start, stop, x, out):
    """out[j] = sum(x[i, j] for start <= i < stop), added in row order; 0 when empty."""
    x = x[start:stop]  # a view indexed from 0, so the loops vectorize
    for j in range(x.shape[1]):
        out[j] = 0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[j] += x[i, j]


@kernel
def _sum_chunks(start, stop, x, n_chunks, partial):
    """partial[c] = the sum of chunk c's rows (`_sum_row_range`) for start <= c < stop, the
    rows cut into n_chunks chunks fixed by the shape."""
    rows = x.shape[0]
    for c in range(start, stop):
        _sum_row_range(c * rows // n_chunks, (c + 1) * rows // n_chunks, x, partial[c])


@kernel
def _max_of_row(x, i):
    """max(x[i, :]) as numpy's: NaN if the row holds a NaN. The row must not be empty."""
    best = x[i, 0]
    for j in range(1, x.shape[1]):
        v = x[i, j]
        if v > best or v != v:
            best = v
        if best != best:
            break
    return best


@kernel
def _sum_last_range(start, stop, x, out):
    """out[i] = sum_j x[i, j] (added left to right) for start <= i < stop."""
    for i in range(start, stop):
        total = x.dtype.type(0)
        for j in range(x.shape[1]):
            total += x[i, j]
        out[i] = total


@kernel
def _max_last_range(start, stop, x, out):
    """out[i] = max_j x[i, j] for start <= i < stop."""
    for i in range(start, stop):
        out[i] = _max_of_row(x, i)


def _rows_view(name: str, x: np.ndarray, out: np.ndarray, *, empty_ok: bool):
    """Checks x (..., n) and out x.shape[:-1]; returns 2-D / 1-D views of them."""
    dtype = float_dtype(name, "x", x)
    check_ndim(name, "x", x, 1)
    check(name, "x", x, dtype=dtype)
    check(name, "out", out, dtype=dtype, shape=x.shape[:-1], out=True)
    if not empty_ok and x.shape[-1] == 0:
        raise ValueError(
            f"{name}: the last axis of x must not be empty. Received: x.shape={x.shape}"
        )
    return as_rows(x), out.reshape(-1)


def sum_rows_chunks(rows: int) -> int:
    """How many row chunks `sum_rows` adds up separately for `rows` rows: the rows of the
    scratch it needs (1: none)."""
    return min(_MAX_CHUNKS, max(1, rows // _ROWS_PER_CHUNK))


def sum_rows(x: np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None) -> None:
    """`out = x.sum(axis=all but the last)` for x (..., n): e.g. a bias gradient. The chunks'
    partial sums go into `scratch`, a (sum_rows_chunks(rows), n) array of x's dtype, when it
    is given (a compiled step passes the same one every run), else into a new array.

    Example:
        >>> out = np.empty(2, np.float32)
        >>> sum_rows(np.ones((3, 2), np.float32), out)
        >>> out
        array([3., 3.], dtype=float32)
    """
    name = "sum_rows"
    dtype = float_dtype(name, "x", x)
    check_ndim(name, "x", x, 1)
    check(name, "x", x, dtype=dtype)
    check(name, "out", out, dtype=dtype, shape=x.shape[-1:], out=True)
    x2 = as_rows(x)
    n_chunks = sum_rows_chunks(x2.shape[0])
    if n_chunks == 1:
        _sum_row_range(0, x2.shape[0], x2, out)
        return
    if scratch is None:
        scratch = np.empty((n_chunks, x2.shape[1]), dtype=x2.dtype)
    else:
        check(name, "scratch", scratch, dtype=dtype, shape=(n_chunks, x2.shape[1]), out=True)
    launch(_sum_chunks, x.size, n_chunks, x2, n_chunks, scratch)
    _sum_row_range(0, n_chunks, scratch, out)


def sum_last(x: np.ndarray, out: np.ndarray) -> None:
    """`out = x.sum(axis=-1)` for x (..., n).

    Example:
        >>> out = np.empty(1, np.float32)
        >>> sum_last(np.ones((1, 4), np.float32), out)
        >>> out
        array([4.], dtype=float32)
    """
    x2, out1 = _rows_view("sum_last", x, out, empty_ok=True)
    launch(_sum_last_range, x.size, x2.shape[0], x2, out1)


def max_last(x: np.ndarray, out: np.ndarray) -> None:
    """`out = x.max(axis=-1)` for x (..., n), n >= 1; a row holding NaN gives NaN, as numpy.

    Example:
        >>> out = np.empty(1, np.float32)
        >>> max_last(np.array([[1.0, 5.0, 2.0]], np.float32), out)
        >>> out
        array([5.], dtype=float32)
    """
    x2, out1 = _rows_view("max_last", x, out, empty_ok=False)
    launch(_max_last_range, x.size, x2.shape[0], x2, out1)
