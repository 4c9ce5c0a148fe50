"""Batch normalization over a 3-D view (A, C, B) of the input: C channels on the normalized
axis, A = the product of the dims before it, B = of the dims after it (1 for channels_last).

- `batch_norm_train`: the per-channel batch mean and biased variance (one pass of sums of
  x - x[0] and its square, in float64) and
  `y = x * inv + (beta - mean * inv)`, `inv = gamma / sqrt(var + epsilon)`, as Keras writes
  `batch_normalization`.
- `batch_norm_train_grad`: dx, dgamma and dbeta from the gradients of y, mean and variance.

Sums run in float64 over a fixed number of row chunks (set by the shape alone) whose
partials are added in chunk order, so results are the same run to run and with any thread
count; the elementwise passes give each chunk of rows to one thread. Channels last (B = 1),
each pass loops over a row's contiguous channels, which LLVM vectorizes (over the (A, C, 1)
view's strided rows it ran a scalar loop, 6-9x slower than a memory-bound pass).
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
def _sums_chunks(start, stop, x, chunks, partial):
    """partial[0, c, k] = the sum over chunk c's rows and all b of d = x[a, k, b] - x[0, k, 0],
    partial[1, c, k] of d * d, in float64, for the chunks start <= c < stop: one pass (the
    shift by a value of the channel keeps the variance from the two sums exact to float64
    rounding, whatever the mean)."""
    rows, channels, inner = x.shape
    first_row = x.reshape(rows, channels * inner)[0]
    for c in range(start, stop):
        first, last = c * rows // chunks, (c + 1) * rows // chunks
        p1, p2 = partial[0, c], partial[1, c]
        for k in range(channels):
            p1[k] = 0.0
            p2[k] = 0.0
        if inner == 1:  # channels last: contiguous rows, a loop over the channels vectorizes
            x2 = x.reshape(rows, channels)
            for a in range(first, last):
                row = x2[a]
                for k in range(channels):
                    d = np.float64(row[k]) - np.float64(first_row[k])
                    p1[k] += d
                    p2[k] += d * d
        else:
            for a in range(first, last):
                for k in range(channels):
                    shift = np.float64(first_row[k * inner])
                    t1 = 0.0
                    t2 = 0.0
                    for b in range(inner):
                        d = np.float64(x[a, k, b]) - shift
                        t1 += d
                        t2 += d * d
                    p1[k] += t1
                    p2[k] += t2


@kernel
def _normalize_chunks(start, stop, x, chunks, scale, offset, relu, y):
    """y[a, k, b] = x[a, k, b] * scale[k] + offset[k] for the rows of chunks [start, stop),
    then relu(y) when `relu` (as the fused relu writes it: v when above 0 or NaN, else +0)."""
    rows, channels, inner = x.shape
    first, last = start * rows // chunks, stop * rows // chunks
    zero = y.dtype.type(0)
    if inner == 1:
        x2, y2 = x.reshape(rows, channels), y.reshape(rows, channels)
        for a in range(first, last):
            row, out = x2[a], y2[a]
            if relu:
                for k in range(channels):
                    v = row[k] * scale[k] + offset[k]
                    out[k] = v if (v > zero or v != v) else zero
            else:
                for k in range(channels):
                    out[k] = row[k] * scale[k] + offset[k]
    else:
        for a in range(first, last):
            for k in range(channels):
                s, o = scale[k], offset[k]
                for b in range(inner):
                    v = x[a, k, b] * s + o
                    y[a, k, b] = v if (not relu or v > zero or v != v) else zero


@kernel
def _train_statistics(partial, count, x, gamma, beta, epsilon, mean, var, scale, offset):
    """mean and var from the chunks' shifted sums (added in chunk order; the shift is
    x[0, k, 0]), and the normalization's per-channel scale and offset."""
    channels, inner = x.shape[1], x.shape[2]
    first_row = x.reshape(x.shape[0], channels * inner)[0]
    for k in range(channels):
        s1 = 0.0
        s2 = 0.0
        for c in range(partial.shape[1]):
            s1 += partial[0, c, k]
            s2 += partial[1, c, k]
        shifted_mean = s1 / count
        mean[k] = np.float64(first_row[k * inner]) + shifted_mean
        var[k] = max(0.0, s2 / count - shifted_mean * shifted_mean)
        # In x's dtype, as Keras: inv = gamma * rsqrt(var + eps); offset = beta - mean * inv.
        inv = scale.dtype.type(1) / np.sqrt(var[k] + scale.dtype.type(epsilon)) * gamma[k]
        scale[k] = inv
        offset[k] = beta[k] - mean[k] * inv


@kernel
def _grad_sums_chunks(start, stop, x, gy, chunks, mean, sums):
    """sums[0, c, k] = sum gy, sums[1, c, k] = sum gy * (x - mean) over chunk c's rows
    (float64), for the chunks start <= c < stop."""
    rows, channels, inner = x.shape
    for c in range(start, stop):
        first, last = c * rows // chunks, (c + 1) * rows // chunks
        s1, s2 = sums[0, c], sums[1, c]
        for k in range(channels):
            s1[k] = 0.0
            s2[k] = 0.0
        if inner == 1:
            x2, g2 = x.reshape(rows, channels), gy.reshape(rows, channels)
            for a in range(first, last):
                row, grow = x2[a], g2[a]
                for k in range(channels):
                    g = np.float64(grow[k])
                    s1[k] += g
                    s2[k] += g * (np.float64(row[k]) - np.float64(mean[k]))
        else:
            for a in range(first, last):
                for k in range(channels):
                    t1 = 0.0
                    t2 = 0.0
                    for b in range(inner):
                        g = np.float64(gy[a, k, b])
                        t1 += g
                        t2 += g * (np.float64(x[a, k, b]) - mean[k])
                    s1[k] += t1
                    s2[k] += t2


@kernel
def _grad_coefficients(sums, count, mean, var, gamma, gmean, gvar, epsilon, dgamma, dbeta,
                       coefficients):  # fmt: skip
    """dgamma, dbeta and coefficients (3, C) = (a_gy, a_x, a_0) of dx = gy * a_gy + x * a_x +
    a_0, from the chunks' partial sums added in chunk order."""
    for k in range(mean.shape[0]):
        s1 = 0.0
        s2 = 0.0
        for c in range(sums.shape[1]):
            s1 += sums[0, c, k]
            s2 += sums[1, c, k]
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
    rows, channels, inner = x.shape
    first, last = start * rows // chunks, stop * rows // chunks
    a_gy, a_x, a_0 = coefficients[0], coefficients[1], coefficients[2]
    if inner == 1:
        x2, g2 = x.reshape(rows, channels), gy.reshape(rows, channels)
        d2 = dx.reshape(rows, channels)
        for a in range(first, last):
            row, grow, out = x2[a], g2[a], d2[a]
            for k in range(channels):
                out[k] = grow[k] * a_gy[k] + row[k] * a_x[k] + a_0[k]
    else:
        for a in range(first, last):
            for k in range(channels):
                p, q, r = a_gy[k], a_x[k], a_0[k]
                for b in range(inner):
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
    relu: bool = False,
) -> None:
    """Training-mode batch norm of `x` over every axis but `axis` (non-negative): writes
    `y` (x's shape) and the per-channel batch `mean` and biased `var`. With `relu`, `y` is
    relu of the normalized x instead (as the fused relu: NaN stays NaN, anything not above 0
    gives +0).

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
    partial = np.empty((2, chunks, channels), np.float64)
    scale_offset = np.empty((2, channels), dtype)
    launch(_sums_chunks, x.size, chunks, x3, chunks, partial)
    _train_statistics(partial, count, x3, gamma, beta, float(epsilon), mean, var,
                      scale_offset[0], scale_offset[1])  # fmt: skip
    launch(_normalize_chunks, x.size, chunks, x3, chunks, scale_offset[0], scale_offset[1],
           bool(relu), y.reshape(shape3))  # fmt: skip


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
    launch(_grad_sums_chunks, x.size, chunks, x3, gy3, chunks, mean, sums)
    _grad_coefficients(sums, count, mean, var, gamma, gmean, gvar, float(epsilon),
                       dgamma, dbeta, coefficients)  # fmt: skip
    launch(_grad_apply_chunks, x.size, chunks, x3, gy3, chunks, coefficients, dx.reshape(shape3))
