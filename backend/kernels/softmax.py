"""Softmax over the last axis of (rows, n) arrays, and its gradient.

- `softmax_rows(x, out)`: `out = exp(x - m) / sum(exp(x - m))` per row, `m` the row's max,
  in one pass per row (the row stays in L1 between its max, its exponentials and its scaling).
- `softmax_grad_rows(y, g, out)`: `out = y * (g - sum(g * y))` per row: the vjp of softmax
  from its output `y` and the output's gradient `g`.

Numba has no vectorized `exp` here (no SVML): a scalar `np.exp` per element is slower than
numpy's own loop. So float32 rows use a polynomial exp (in `_softmax_range`) written for the
shifted inputs (all <= 0) that LLVM vectorizes: within 1.35 ulp of the exact value over
[-87.3, 0] (numpy's float32 exp is within 3.4 ulp there), 0 below (where exp is under
float32's smallest normal number), NaN for NaN. float64 rows (gradient checks) use `np.exp`.

Row maxima and sums use eight accumulators (fastmath is off, so LLVM keeps a single sum in
order and does not vectorize it); the order is fixed by the row length alone, so results are
the same with any thread count. A row whose max is infinite is shifted by 0 instead, as the
composite `max_shift` does: +inf entries then give NaN, the others 0.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import as_rows, check, check_ndim, float_dtype

_EXP_COST = 8  # work per element relative to an add, for the serial-or-threaded choice

# float32 constants of the polynomial exp (a Python float would make the arithmetic float64).
_LOG2E = np.float32(1.4426950408889634)
_LN2_HIGH = np.float32(0.693359375)  # ln 2 split in two: k * _LN2_HIGH is exact
_LN2_LOW = np.float32(-2.12194440e-4)
_Q5 = np.float32(1.9875691500e-4)  # exp(r) ~ 1 + r + r^2 * q(r) on |r| <= ln(2) / 2
_Q4 = np.float32(1.3981999507e-3)
_Q3 = np.float32(8.3334519073e-3)
_Q2 = np.float32(4.1665795894e-2)
_Q1 = np.float32(1.6666665459e-1)
_Q0 = np.float32(5.0000001201e-1)
_LOWEST = np.float32(-87.3)  # exp(-87.3) is about float32's smallest normal number
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)


@kernel
def _softmax_range(start, stop, x, exact, out):
    """Rows start..stop of softmax, each shifted by its max: `exp(x - m)` by numpy's scalar
    exp when `exact` (float64), else by a polynomial written for arguments <= 0 that LLVM
    vectorizes (float32: the module docstring; branch-free, 0 below -87.3, NaN for NaN). A
    row whose max is infinite or NaN is shifted by 0 instead and takes numpy's exp (as the
    composite `max_shift`: +inf entries give NaN, the others 0). The row's max and its sum
    run over eight interleaved lanes, combined in a fixed order. One function, no helpers:
    each function Numba compiles costs a fixed round of typing, lowering and LLVM on a cold
    start."""
    n = x.shape[1]
    for i in range(start, stop):
        m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = x[i, 0]
        j = 0
        while j + 8 <= n:
            m0 = max(m0, x[i, j])
            m1 = max(m1, x[i, j + 1])
            m2 = max(m2, x[i, j + 2])
            m3 = max(m3, x[i, j + 3])
            m4 = max(m4, x[i, j + 4])
            m5 = max(m5, x[i, j + 5])
            m6 = max(m6, x[i, j + 6])
            m7 = max(m7, x[i, j + 7])
            j += 8
        while j < n:
            m0 = max(m0, x[i, j])
            j += 1
        # The max, or NaN when the row holds one, or a value of the row (a skipped NaN
        # reaches the output through its own exp).
        m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
        row, dest = x[i], out[i]
        if m - m != 0:  # exp(x - m) would leave the polynomial's range
            for j in range(row.shape[0]):
                dest[j] = np.exp(row[j])
        elif exact:
            for j in range(row.shape[0]):
                dest[j] = np.exp(row[j] - m)
        else:
            for j in range(row.shape[0]):  # exp(t), t = k ln 2 + r: 2^k * exp(r)
                t = row[j] - m
                c = t if t > _LOWEST else _LOWEST  # NaN and -inf too: k stays in range
                k = np.floor(c * _LOG2E + _HALF)
                r = c - k * _LN2_HIGH - k * _LN2_LOW
                q = ((((_Q5 * r + _Q4) * r + _Q3) * r + _Q2) * r + _Q1) * r + _Q0
                p = q * (r * r) + r + _ONE
                two_k = np.int32((np.int32(k) + np.int32(127)) << np.int32(23)).view(np.float32)
                e = p * two_k
                e = _ZERO if t < _LOWEST else e
                dest[j] = t if t != t else e
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = out.dtype.type(0)
        j = 0
        while j + 8 <= n:
            s0 += out[i, j]
            s1 += out[i, j + 1]
            s2 += out[i, j + 2]
            s3 += out[i, j + 3]
            s4 += out[i, j + 4]
            s5 += out[i, j + 5]
            s6 += out[i, j + 6]
            s7 += out[i, j + 7]
            j += 8
        while j < n:
            s0 += out[i, j]
            j += 1
        total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        inverse = out.dtype.type(1) / total
        for j in range(dest.shape[0]):
            dest[j] *= inverse


@kernel
def _softmax_grad_range(start, stop, y, g, out):
    """out[i] = y[i] * (g[i] - sum(g[i] * y[i])) for rows start..stop, the sum over eight
    interleaved lanes added in a fixed order (as `_softmax_range`'s row sums)."""
    n = y.shape[1]
    for i in range(start, stop):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = y.dtype.type(0)
        j = 0
        while j + 8 <= n:
            s0 += g[i, j] * y[i, j]
            s1 += g[i, j + 1] * y[i, j + 1]
            s2 += g[i, j + 2] * y[i, j + 2]
            s3 += g[i, j + 3] * y[i, j + 3]
            s4 += g[i, j + 4] * y[i, j + 4]
            s5 += g[i, j + 5] * y[i, j + 5]
            s6 += g[i, j + 6] * y[i, j + 6]
            s7 += g[i, j + 7] * y[i, j + 7]
            j += 8
        while j < n:
            s0 += g[i, j] * y[i, j]
            j += 1
        total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        yi, gi, dest = y[i], g[i], out[i]
        for j in range(yi.shape[0]):
            dest[j] = yi[j] * (gi[j] - total)


def _check_rows(name: str, x: np.ndarray, arg: str) -> np.dtype:
    dtype = float_dtype(name, arg, x)
    check_ndim(name, arg, x, 1)
    check(name, arg, x, dtype=dtype)
    if x.shape[-1] == 0:
        raise ValueError(
            f"{name}: the last axis of {arg} must not be empty. Received: {arg}.shape={x.shape}"
        )
    return dtype


def softmax_rows(x: np.ndarray, out: np.ndarray) -> None:
    """`out = softmax(x, axis=-1)`, each row shifted by its max. `out` may be `x` itself.

    Example:
        >>> out = np.empty((1, 3), np.float32)
        >>> softmax_rows(np.array([[0.0, 0.0, -1e4]], np.float32), out)
        >>> out
        array([[0.5, 0.5, 0. ]], dtype=float32)
    """
    name = "softmax_rows"
    dtype = _check_rows(name, x, "x")
    check(name, "out", out, dtype=dtype, shape=x.shape, out=True)
    x2 = as_rows(x)
    launch(_softmax_range, x.size * _EXP_COST, len(x2), x2, dtype != np.float32, as_rows(out))


def softmax_grad_rows(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    """`out = y * (g - sum(g * y, axis=-1, keepdims=True))`: the gradient of softmax's input
    from its output `y` and that output's gradient `g`. `out` may be `y` or `g`.

    Example:
        >>> out = np.empty((1, 2), np.float32)
        >>> y = np.array([[0.5, 0.5]], np.float32)
        >>> softmax_grad_rows(y, np.array([[1.0, 0.0]], np.float32), out)
        >>> out
        array([[ 0.25, -0.25]], dtype=float32)
    """
    name = "softmax_grad_rows"
    dtype = _check_rows(name, y, "y")
    check(name, "g", g, dtype=dtype, shape=y.shape)
    check(name, "out", out, dtype=dtype, shape=y.shape, out=True)
    y2 = as_rows(y)
    launch(_softmax_grad_range, y.size * 2, len(y2), y2, as_rows(g), as_rows(out))
