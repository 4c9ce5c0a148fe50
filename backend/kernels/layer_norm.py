"""Layer normalization over the last axis of (rows, n) arrays, and its gradient.

- `layer_norm_rows(x, gamma, beta, epsilon, out)`: per row, `mean` and the biased `var` (two
  passes), then `out = (x - mean) * (gamma / sqrt(var + epsilon)) + beta`.
- `layer_norm_grad_rows(x, gamma, g, epsilon, dx, dgamma, dbeta)`: with `xhat = (x - mean) *
  r`, `r = 1 / sqrt(var + epsilon)` and `a = g * gamma` (per row, the statistics recomputed
  from x), `dx = r * (a - mean(a) - xhat * mean(a * xhat))`, `dgamma = sum over rows of
  g * xhat`, `dbeta = sum over rows of g`.

Row sums run over eight accumulators in a fixed order (fastmath is off, so a single sum would
be neither vectorized nor reordered). The rows are split into a number of chunks fixed by the
shape alone; `dgamma` and `dbeta` are summed per chunk into the caller's scratch rows and the
chunks added in order, so results are the same with any thread count.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import as_rows, check, check_ndim, float_dtype

_COST = 6  # work per element relative to an add, for the serial-or-threaded choice
_MAX_CHUNKS = 64  # at most this many chunks of rows ...
_ROWS_PER_CHUNK = 16  # ... of at least this many rows


def n_chunks(rows: int) -> int:
    """How many chunks of rows the gradient's column sums use (a function of the shape)."""
    return min(_MAX_CHUNKS, max(1, rows // _ROWS_PER_CHUNK))


# Helpers stay in the file of the kernels that call them: Numba's cache checks only the
# calling kernel's own source file for changes.
@kernel
def _row_mean(x, i):
    """mean(x[i, :]) summed over eight interleaved lanes."""
    n = x.shape[1]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = x.dtype.type(0)
    j = 0
    while j + 8 <= n:
        s0 += x[i, j]
        s1 += x[i, j + 1]
        s2 += x[i, j + 2]
        s3 += x[i, j + 3]
        s4 += x[i, j + 4]
        s5 += x[i, j + 5]
        s6 += x[i, j + 6]
        s7 += x[i, j + 7]
        j += 8
    while j < n:
        s0 += x[i, j]
        j += 1
    return (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / n


@kernel
def _row_inverse_std(x, i, mean, epsilon):
    """1 / sqrt(mean((x[i, :] - mean) ** 2) + epsilon), summed over eight lanes."""
    n = x.shape[1]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = x.dtype.type(0)
    j = 0
    while j + 8 <= n:
        d0, d1 = x[i, j] - mean, x[i, j + 1] - mean
        d2, d3 = x[i, j + 2] - mean, x[i, j + 3] - mean
        d4, d5 = x[i, j + 4] - mean, x[i, j + 5] - mean
        d6, d7 = x[i, j + 6] - mean, x[i, j + 7] - mean
        s0 += d0 * d0
        s1 += d1 * d1
        s2 += d2 * d2
        s3 += d3 * d3
        s4 += d4 * d4
        s5 += d5 * d5
        s6 += d6 * d6
        s7 += d7 * d7
        j += 8
    while j < n:
        d = x[i, j] - mean
        s0 += d * d
        j += 1
    var = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / n
    return x.dtype.type(1) / np.sqrt(var + epsilon)


@kernel
def _row_gradient_sums(x, gamma, g, i, mean, r):
    """(sum(a), sum(a * xhat)) over row i, a = g * gamma, xhat = (x - mean) * r; four lanes
    each."""
    n = x.shape[1]
    a0 = a1 = a2 = a3 = x.dtype.type(0)
    b0 = b1 = b2 = b3 = x.dtype.type(0)
    j = 0
    while j + 4 <= n:
        e0, e1 = g[i, j] * gamma[j], g[i, j + 1] * gamma[j + 1]
        e2, e3 = g[i, j + 2] * gamma[j + 2], g[i, j + 3] * gamma[j + 3]
        a0 += e0
        a1 += e1
        a2 += e2
        a3 += e3
        b0 += e0 * ((x[i, j] - mean) * r)
        b1 += e1 * ((x[i, j + 1] - mean) * r)
        b2 += e2 * ((x[i, j + 2] - mean) * r)
        b3 += e3 * ((x[i, j + 3] - mean) * r)
        j += 4
    while j < n:
        e = g[i, j] * gamma[j]
        a0 += e
        b0 += e * ((x[i, j] - mean) * r)
        j += 1
    return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)


@kernel
def _forward_range(start, stop, x, gamma, beta, epsilon, out):
    for i in range(start, stop):
        mean = _row_mean(x, i)
        r = _row_inverse_std(x, i, mean, epsilon)
        row, dest = x[i], out[i]
        for j in range(row.shape[0]):
            dest[j] = (row[j] - mean) * (gamma[j] * r) + beta[j]


@kernel
def _backward_range(start, stop, x, gamma, g, epsilon, dx, dgamma, dbeta):
    """dx for rows start..stop; their g * xhat and g summed into dgamma and dbeta (which
    start at 0: this chunk's scratch rows)."""
    n = x.shape[1]
    for j in range(n):
        dgamma[j] = 0
        dbeta[j] = 0
    for i in range(start, stop):
        mean = _row_mean(x, i)
        r = _row_inverse_std(x, i, mean, epsilon)
        sum_a, sum_axhat = _row_gradient_sums(x, gamma, g, i, mean, r)
        mean_a, mean_axhat = sum_a / n, sum_axhat / n
        row, grad, dest = x[i], g[i], dx[i]
        for j in range(n):
            xhat = (row[j] - mean) * r
            dest[j] = r * (grad[j] * gamma[j] - mean_a - xhat * mean_axhat)
            dgamma[j] += grad[j] * xhat
            dbeta[j] += grad[j]


@kernel
def _backward_chunks(start, stop, x, gamma, g, epsilon, dx, partial_gamma, partial_beta):
    """`_backward_range` for the chunks start <= c < stop of partial_gamma.shape[0], chunk c's
    sums into partial_gamma[c] and partial_beta[c]."""
    rows, chunks = x.shape[0], partial_gamma.shape[0]
    for c in range(start, stop):
        _backward_range(c * rows // chunks, (c + 1) * rows // chunks, x, gamma, g, epsilon, dx,
                        partial_gamma[c], partial_beta[c])  # fmt: skip


@kernel
def _merge_chunks(partial_gamma, partial_beta, dgamma, dbeta):
    """dgamma, dbeta = the chunks' partial sums, added in chunk order."""
    for j in range(dgamma.shape[0]):
        dgamma[j] = partial_gamma[0, j]
        dbeta[j] = partial_beta[0, j]
    for c in range(1, partial_gamma.shape[0]):
        for j in range(dgamma.shape[0]):
            dgamma[j] += partial_gamma[c, j]
            dbeta[j] += partial_beta[c, j]


def _check_x(name: str, x: np.ndarray) -> np.dtype:
    dtype = float_dtype(name, "x", x)
    check_ndim(name, "x", x, 1)
    check(name, "x", x, dtype=dtype)
    if x.shape[-1] == 0:
        raise ValueError(
            f"{name}: the last axis of x must not be empty. Received: x.shape={x.shape}"
        )
    return dtype


def layer_norm_rows(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float, out: np.ndarray
) -> None:
    """`out = (x - mean) / sqrt(var + epsilon) * gamma + beta` over the last axis of `x`.

    Example:
        >>> out = np.empty((1, 2), np.float32)
        >>> ones, zeros = np.ones(2, np.float32), np.zeros(2, np.float32)
        >>> layer_norm_rows(np.array([[1.0, 3.0]], np.float32), ones, zeros, 0.0, out)
        >>> out
        array([[-1.,  1.]], dtype=float32)
    """
    name = "layer_norm_rows"
    dtype = _check_x(name, x)
    n = x.shape[-1]
    check(name, "gamma", gamma, dtype=dtype, shape=(n,))
    check(name, "beta", beta, dtype=dtype, shape=(n,))
    check(name, "out", out, dtype=dtype, shape=x.shape, out=True)
    x2 = as_rows(x)
    launch(_forward_range, x.size * _COST, len(x2), x2, gamma, beta, dtype.type(epsilon),
           as_rows(out))  # fmt: skip


def layer_norm_grad_rows(
    x: np.ndarray,
    gamma: np.ndarray,
    g: np.ndarray,
    epsilon: float,
    dx: np.ndarray,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
    scratch: np.ndarray | None = None,
) -> None:
    """The gradients of `layer_norm_rows` from the output's gradient `g`: `dx` (x's shape),
    `dgamma` and `dbeta` (summed over all rows). `scratch`, when given, is a float array of
    shape `(2, n_chunks(rows), n)` for the per-chunk column sums (else one is made).

    Example:
        >>> x, g = np.array([[1.0, 3.0]], np.float32), np.array([[1.0, 0.0]], np.float32)
        >>> dx, dgamma, dbeta = np.empty((1, 2), np.float32), np.empty(2, np.float32), np.empty(
        ...     2, np.float32)
        >>> layer_norm_grad_rows(x, np.ones(2, np.float32), g, 0.0, dx, dgamma, dbeta)
        >>> dx
        array([[0., 0.]], dtype=float32)
        >>> dgamma, dbeta
        (array([-1.,  0.], dtype=float32), array([1., 0.], dtype=float32))
    """
    name = "layer_norm_grad_rows"
    dtype = _check_x(name, x)
    n = x.shape[-1]
    rows = x.size // n
    check(name, "gamma", gamma, dtype=dtype, shape=(n,))
    check(name, "g", g, dtype=dtype, shape=x.shape)
    check(name, "dx", dx, dtype=dtype, shape=x.shape, out=True)
    check(name, "dgamma", dgamma, dtype=dtype, shape=(n,), out=True)
    check(name, "dbeta", dbeta, dtype=dtype, shape=(n,), out=True)
    chunks = n_chunks(rows)
    if scratch is None:
        scratch = np.empty((2, chunks, n), dtype)
    check(name, "scratch", scratch, dtype=dtype, shape=(2, chunks, n), out=True)
    if rows == 0:
        dgamma[:] = 0
        dbeta[:] = 0
        return
    launch(_backward_chunks, x.size * _COST, chunks, as_rows(x), gamma, as_rows(g),
           dtype.type(epsilon), as_rows(dx), scratch[0], scratch[1])  # fmt: skip
    _merge_chunks(scratch[0], scratch[1], dgamma, dbeta)
