"""Rows of a (N, D) table by integer indices: the gather `out[i] = table[indices[i]]`, its
adjoint the scatter-add `out[k] = sum of updates[i] where indices[i] == k`, and the index
check an embedding lookup runs first (whole numbers in `[0, N)`, as int32).

These are an embedding's forward and gradient: `take(table, indices, axis=0)` and the
`scatter_add` of its vjp. Indices are int32 or int64; negative ones count from the end, as
numpy's `take` (the gather and scatter wrappers raise IndexError outside `[-N, N)`, the index
check a ValueError outside `[0, N)`).

Threads: the gather is serial (a memory-bound copy: threads made it slower at every size we
measured). The scatter-add splits the *table's* rows into one range per thread: each thread
zeroes its range, then walks all the indices in order and adds only the rows that land in its
range. Every table row is summed by one thread, in index order, so the bits are the same with
any thread count (repeated indices never race); threads run only for very large tables.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import INT_DTYPES, check, float_dtype

# The scatter-add's work counts its entries / 64 against `config.parallel_threshold()`: it
# is memory-bound, and threads lost to one thread below tens of millions of entries here.
_SCATTER_WORK_SCALE = 64


# Helpers stay in the file of the kernels that call them: Numba's cache checks only the
# calling kernel's own source file for changes.
@kernel
def _first_outside(indices, low, high):
    """The position of the first index outside [low, high), or -1."""
    for i in range(indices.shape[0]):
        k = indices[i]
        if k < low or k >= high:
            return i
    return -1


@kernel
def _gather_rows(table, indices, out):
    """out[i, :] = table[indices[i], :] (a negative index + N)."""
    n = table.shape[0]
    for i in range(indices.shape[0]):
        k = indices[i]
        if k < 0:
            k += n
        source, target = table[k], out[i]
        for j in range(table.shape[1]):
            target[j] = source[j]


@kernel
def _scatter_add_range(low, high, updates, indices, out):
    """Zeroes out[low:high], then adds updates[i, :] into out[indices[i], :] for every i (in
    order) whose row lies in [low, high) (a negative index + N)."""
    n, d = out.shape[0], out.shape[1]
    for k in range(low, high):
        row = out[k]
        for j in range(d):
            row[j] = 0
    for i in range(indices.shape[0]):
        k = indices[i]
        if k < 0:
            k += n
        if k < low or k >= high:
            continue
        source, target = updates[i], out[k]
        for j in range(d):
            target[j] += source[j]


@kernel
def _to_checked_int32(x, upper, out):
    """out[i] = int32(x[i]) while x[i] is a whole number in [0, upper); returns the position
    of the first that is not (NaN included), or -1 when all are."""
    for i in range(x.shape[0]):
        v = x[i]
        if not (v >= 0 and v < upper):
            return i
        k = np.int32(v)
        if k != v:
            return i
        out[i] = k
    return -1


# ---- wrappers ---------------------------------------------------------------------------------


def _flat_indices(name: str, indices) -> np.ndarray:
    check(name, "indices", indices, dtype=INT_DTYPES)
    return indices.reshape(-1)


def _raise_outside(name: str, flat: np.ndarray, position: int, n: int) -> None:
    raise IndexError(
        f"{name}: index {int(flat[position])} is out of bounds for a table of {n} rows "
        f"(indices must be in [-{n}, {n}))."
    )


def gather_rows(table: np.ndarray, indices: np.ndarray, out: np.ndarray) -> None:
    """`out[i, :] = table[indices.flat[i], :]`: table (N, D) float, int32/int64 indices of
    any shape (M elements), out (M, D). Raises IndexError for an index outside `[-N, N)`.

    Example:
        >>> table = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> out = np.empty((2, 2), np.float32)
        >>> gather_rows(table, np.array([2, -3]), out)
        >>> out
        array([[4., 5.],
               [0., 1.]], dtype=float32)
    """
    name = "gather_rows"
    dtype = float_dtype(name, "table", table)
    check(name, "table", table, dtype=dtype)
    if table.ndim != 2:
        raise ValueError(f"{name}: table must be 2-D. Received: table.shape={table.shape}")
    flat = _flat_indices(name, indices)
    check(name, "out", out, dtype=dtype, shape=(flat.shape[0], table.shape[1]), out=True)
    n = table.shape[0]
    bad = _first_outside(flat, -n, n)
    if bad >= 0:
        _raise_outside(name, flat, bad, n)
    _gather_rows(table, flat, out)


def scatter_add_rows(updates: np.ndarray, indices: np.ndarray, out: np.ndarray) -> None:
    """`out = 0; out[indices.flat[i], :] += updates[i, :]` for every i: updates (M, D) float,
    int32/int64 indices of any shape (M elements), out (N, D). Repeated indices accumulate, in
    index order. Raises IndexError for an index outside `[-N, N)` (then `out` is unchanged).

    Example:
        >>> out = np.empty((3, 1), np.float32)
        >>> scatter_add_rows(np.ones((3, 1), np.float32), np.array([2, 0, 2]), out)
        >>> out.ravel()
        array([1., 0., 2.], dtype=float32)
    """
    name = "scatter_add_rows"
    dtype = float_dtype(name, "updates", updates)
    check(name, "updates", updates, dtype=dtype)
    flat = _flat_indices(name, indices)
    if updates.ndim != 2 or updates.shape[0] != flat.shape[0]:
        raise ValueError(
            f"{name}: updates must be (indices.size, D) = ({flat.shape[0]}, D). Received: "
            f"updates.shape={updates.shape}"
        )
    if out.ndim != 2:
        raise ValueError(f"{name}: out must be 2-D. Received: out.shape={out.shape}")
    check(name, "out", out, dtype=dtype, shape=(out.shape[0], updates.shape[1]), out=True)
    n = out.shape[0]
    bad = _first_outside(flat, -n, n)
    if bad >= 0:
        _raise_outside(name, flat, bad, n)
    work = (out.size + updates.size) // _SCATTER_WORK_SCALE
    launch(_scatter_add_range, work, n, updates, flat, out)  # one range of rows per thread


def to_checked_int32(x: np.ndarray, upper: int, out: np.ndarray) -> int:
    """`out = x` as int32 when every element of `x` (float32/64 or int32/64, any shape) is a
    whole number in `[0, upper)`; returns -1 then, else the flat position of the first that is
    not (`out` is then partly written). The caller words the error.

    Example:
        >>> out = np.empty(3, np.int32)
        >>> to_checked_int32(np.array([0.0, 2.0, 1.0], np.float32), 3, out), out
        (-1, array([0, 2, 1], dtype=int32))
        >>> to_checked_int32(np.array([0.0, 2.5, 1.0], np.float32), 3, out)
        1
    """
    name = "to_checked_int32"
    dtypes = (*INT_DTYPES, np.dtype(np.float32), np.dtype(np.float64))
    check(name, "x", x, dtype=dtypes)
    check(name, "out", out, dtype=np.dtype(np.int32), shape=x.shape, out=True)
    if not isinstance(upper, (int, np.integer)) or not 0 <= upper <= np.iinfo(np.int32).max:
        raise ValueError(f"{name}: upper must be an int in [0, 2**31). Received: upper={upper!r}")
    return int(_to_checked_int32(x.reshape(-1), np.int64(upper), out.reshape(-1)))
