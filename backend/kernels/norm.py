"""Batch normalization over a 3-D view (A, C, B) of the input: C channels on the normalized
axis, A = the product of the dims before it, B = of the dims after it (1 for channels_last).

- `batch_norm_train`: the per-channel batch mean and biased variance (two passes) and
  `y = x * inv + (beta - mean * inv)`, `inv = gamma / sqrt(var + epsilon)`, as Keras writes
  `batch_normalization`.
- `batch_norm_train_grad`: dx, dgamma and dbeta from the gradients of y, mean and variance.

Sums run in float64 over a fixed number of row chunks (set by the shape alone) whose
partials are added in chunk order, so results are the same run to run and with any thread
count; the elementwise passes give each chunk of rows to one thread.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import check, float_dtype

_MAX_CHUNKS = 64  # at most this many chunks of rows (the A axis) ...
_ROWS_PER_CHUNK = 16  # ... of at least this many rows


def n_chunks(rows: int) -> int:
    return min(_MAX_CHUNKS, max(1, rows // _ROWS_PER_CHUNK))


@kernel
def _sums_chunks(start, stop, x, chunks, shift, squared, partial):
    """partial[c, k] = the sum over chunk c's rows and all b of (x[a, k, b] - shift[k]) ** 2
    when `squared`, else of x[a, k, b] (`shift` unread), in float64, for the chunks
    start <= c < stop of `chunks`."""
    rows = x.shape[0]
    for c in range(start, stop):
        first, last = c * rows // chunks, (c + 1) * rows // chunks
        for k in range(partial.shape[1]):
            partial[c, k] = 0.0
        if x.shape[2] == 1:
            for a in range(first, last):
                row = x[a, :, 0]
                for k in range(x.shape[1]):
                    v = np.float64(row[k])
                    if squared:
                        d = v - shift[k]
                        v = d * d
                    partial[c, k] += v
        else:
            for a in range(first, last):
                for k in range(x.shape[1]):
                    s = 0.0
                    for b in range(x.shape[2]):
                        v = np.float64(x[a, k, b])
                        if squared:
                            d = v - shift[k]
                            v = d * d
                        s += v
                    partial[c, k] += s


@kernel
def _normalize_chunks(start, stop, x, chunks, scale, offset, y):
    """y[a, k, b] = x[a, k, b] * scale[k] + offset[k] for the rows of chunks [start, stop)."""
    rows = x.shape[0]
    first, last = start * rows // chunks, stop * rows // chunks
    if x.shape[2] == 1:
        for a in range(first, last):
            row = x[a, :, 0]
            out = y[a, :, 0]
            for k in range(x.shape[1]):
                out[k] = row[k] * scale[k] + offset[k]
    else:
        for a in range(first, last):
            for k in range(x.shape[1]):
                s, o = scale[k], offset[k]
                for b in range(x.shape[2]):
                    y[a, k, b] = x[a, k, b] * s + o


@kernel
def _train_mean(partial, count, mean64):
    """mean64[k] = (the chunks' partial sums added in chunk order) / count."""
    for k in range(mean64.shape[0]):
        mean64[k] = 0.0
    for c in range(partial.shape[0]):
        for k in range(mean64.shape[0]):
            mean64[k] += partial[c, k]
    for k in range(mean64.shape[0]):
        mean64[k] /= count


@kernel
def _train_statistics(partial, count, mean64, gamma, beta, epsilon, mean, var, scale, offset):
    """mean, var (the squared deviations' partials added in chunk order / count), and the
    normalization's per-channel scale and offset."""
    for k in range(mean64.shape[0]):
        v = 0.0
        for c in range(partial.shape[0]):
            v += partial[c, k]
        mean[k] = mean64[k]
        var[k] = v / count
        # In x's dtype, as Keras: inv = gamma * rsqrt(var + eps); offset = beta - mean * inv.
        inv = scale.dtype.type(1) / np.sqrt(var[k] + scale.dtype.type(epsilon)) * gamma[k]
        scale[k] = inv
        offset[k] = beta[k] - mean[k] * inv


@kernel
def _grad_sums_chunks(start, stop, x, gy, chunks, mean, s1, s2):
    """s1[c, k] = sum gy, s2[c, k] = sum gy * (x - mean) over chunk c's rows (float64), for
    the chunks start <= c < stop."""
    rows = x.shape[0]
    for c in range(start, stop):
        first, last = c * rows // chunks, (c + 1) * rows // chunks
        for k in range(s1.shape[1]):
            s1[c, k] = 0.0
            s2[c, k] = 0.0
        if x.shape[2] == 1:
            for a in range(first, last):
                row = x[a, :, 0]
                grow = gy[a, :, 0]
                for k in range(x.shape[1]):
                    g = np.float64(grow[k])
                    s1[c, k] += g
                    s2[c, k] += g * (np.float64(row[k]) - mean[k])
        else:
            for a in range(first, last):
                for k in range(x.shape[1]):
                    t1 = 0.0
                    t2 = 0.0
                    for b in range(x.shape[2]):
                        g = np.float64(gy[a, k, b])
                        t1 += g
                        t2 += g * (np.float64(x[a, k, b]) - mean[k])
                    s1[c, k] += t1
                    s2[c, k] += t2


@kernel
def _grad_coefficients(p1, p2, count, mean, var, gamma, gmean, gvar, epsilon, dgamma, dbeta,
                       coefficients):  # fmt: skip
    """dgamma, dbeta and coefficients (3, C) = (a_gy, a_x, a_0) of dx = gy * a_gy + x * a_x +
    a_0, from the chunks' partial sums added in chunk order."""
    for k in range(mean.shape[0]):
        s1 = 0.0
        s2 = 0.0
        for c in range(p1.shape[0]):
            s1 += p1[c, k]
            s2 += p2[c, k]
        rstd = 1.0 / np.sqrt(np.float64(var[k]) + epsilon)
        g = np.float64(gamma[k])
        dbeta[k] = s1
        dgamma[k] = s2 * rstd
        # dx = gy * g * rstd + (x - mean) * coef + const
        coef = (-g * rstd * rstd * rstd * s2 + 2.0 * np.float64(gvar[k])) / count
        const = (-g * rstd * s1 + np.float64(gmean[k])) / count
        coefficients[0, k] = g * rstd
        coefficients[1, k] = coef
        coefficients[2, k] = const - coef * np.float64(mean[k])


@kernel
def _grad_apply_chunks(start, stop, x, gy, chunks, coefficients, dx):
    """dx = gy * a_gy[k] + x * a_x[k] + a_0[k] for the rows of chunks [start, stop)."""
    rows = x.shape[0]
    first, last = start * rows // chunks, stop * rows // chunks
    a_gy, a_x, a_0 = coefficients[0], coefficients[1], coefficients[2]
    if x.shape[2] == 1:
        for a in range(first, last):
            row = x[a, :, 0]
            grow = gy[a, :, 0]
            out = dx[a, :, 0]
            for k in range(x.shape[1]):
                out[k] = grow[k] * a_gy[k] + row[k] * a_x[k] + a_0[k]
    else:
        for a in range(first, last):
            for k in range(x.shape[1]):
                p, q, r = a_gy[k], a_x[k], a_0[k]
                for b in range(x.shape[2]):
                    dx[a, k, b] = gy[a, k, b] * p + x[a, k, b] * q + r


# ---- wrappers ----------------------------------------------------------------------------------


def _view(name: str, x: np.ndarray, axis: int) -> tuple:
    if not 0 <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for x.shape={x.shape}")
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis + 1 :], dtype=np.int64))
    return (rows, x.shape[axis], inner)


def _check_common(name, x, axis, per_channel: dict):
    dtype = float_dtype(name, "x", x)
    check(name, "x", x, dtype=dtype)
    shape3 = _view(name, x, axis)
    if shape3[0] * shape3[2] == 0:
        raise ValueError(
            f"{name}: cannot take batch statistics over no elements. Received: x.shape={x.shape}, "
            f"axis={axis}"
        )
    for arg, (a, out) in per_channel.items():
        check(name, arg, a, dtype=dtype, shape=(x.shape[axis],), out=out)
    return dtype, shape3


def batch_norm_train(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    axis: int,
    epsilon: float,
    y: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
) -> None:
    """Training-mode batch norm of `x` over every axis but `axis` (non-negative): writes
    `y` (x's shape) and the per-channel batch `mean` and biased `var`.

    Example:
        >>> x = np.array([[1.0], [3.0]], np.float32)
        >>> y, m, v = np.empty_like(x), np.empty(1, np.float32), np.empty(1, np.float32)
        >>> one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)
        >>> batch_norm_train(x, one, zero, 1, 0.0, y, m, v)
        >>> y.ravel(), m, v
        (array([-1.,  1.], dtype=float32), array([2.], dtype=float32), array([1.], dtype=float32))
    """
    name = "batch_norm_train"
    dtype, shape3 = _check_common(
        name,
        x,
        axis,
        {"gamma": (gamma, False), "beta": (beta, False), "mean": (mean, True), "var": (var, True)},
    )
    check(name, "y", y, dtype=dtype, shape=x.shape, out=True)
    chunks = n_chunks(shape3[0])
    x3, channels = x.reshape(shape3), shape3[1]
    count = float(shape3[0] * shape3[2])
    partial = np.empty((chunks, channels), np.float64)
    mean64 = np.empty(channels, np.float64)
    scale_offset = np.empty((2, channels), dtype)
    launch(_sums_chunks, x.size, chunks, x3, chunks, mean64, False, partial)  # mean64 unread
    _train_mean(partial, count, mean64)
    launch(_sums_chunks, x.size, chunks, x3, chunks, mean64, True, partial)
    _train_statistics(partial, count, mean64, gamma, beta, float(epsilon), mean, var,
                      scale_offset[0], scale_offset[1])  # fmt: skip
    launch(_normalize_chunks, x.size, chunks, x3, chunks, scale_offset[0], scale_offset[1],
           y.reshape(shape3))  # fmt: skip


def batch_norm_train_grad(
    x: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    gy: np.ndarray,
    gmean: np.ndarray,
    gvar: np.ndarray,
    axis: int,
    epsilon: float,
    dx: np.ndarray,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
) -> None:
    """The gradients of `batch_norm_train` for x, gamma and beta, given the gradients `gy`,
    `gmean` and `gvar` of its three outputs and the `mean` and `var` it computed."""
    name = "batch_norm_train_grad"
    dtype, shape3 = _check_common(
        name,
        x,
        axis,
        {
            "gamma": (gamma, False),
            "mean": (mean, False),
            "var": (var, False),
            "gmean": (gmean, False),
            "gvar": (gvar, False),
            "dgamma": (dgamma, True),
            "dbeta": (dbeta, True),
        },
    )
    check(name, "gy", gy, dtype=dtype, shape=x.shape)
    check(name, "dx", dx, dtype=dtype, shape=x.shape, out=True)
    chunks = n_chunks(shape3[0])
    x3, gy3, channels = x.reshape(shape3), gy.reshape(shape3), shape3[1]
    count = float(shape3[0] * shape3[2])
    sums = np.empty((2, chunks, channels), np.float64)
    coefficients = np.empty((3, channels), dtype)
    launch(_grad_sums_chunks, x.size, chunks, x3, gy3, chunks, mean, sums[0], sums[1])
    _grad_coefficients(sums[0], sums[1], count, mean, var, gamma, gmean, gvar, float(epsilon),
                       dgamma, dbeta, coefficients)  # fmt: skip
    launch(_grad_apply_chunks, x.size, chunks, x3, gy3, chunks, coefficients, dx.reshape(shape3))
