"""Epilogues of a dense layer's GEMM: numpy's BLAS computes `h = x @ w` (`np.matmul(x, w,
out=h)`), then one pass over `h` adds the bias and applies the activation in place; and the
activation's gradient for the backward pass.

Activations are passed to the kernels as a small int code (`ACTIVATIONS`), tested once per
chunk, so one compiled kernel per dtype serves them all and the inner loops stay branch-free.
Sigmoid and tanh epilogues run as numpy ufuncs in place instead: Numba (without Intel's SVML,
which pip's llvmlite lacks) calls the scalar libm `exp`/`tanh` per element, 5 to 25 times
slower than numpy's SIMD loops, so the one-pass kernel would lose to two passes of numpy.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import as_rows, check, check_ndim, float_dtype

LINEAR, RELU, SIGMOID, TANH = 0, 1, 2, 3

#: Activation name -> the code the kernels take.
ACTIVATIONS = {"linear": LINEAR, "relu": RELU, "sigmoid": SIGMOID, "tanh": TANH}


@kernel
def _bias_activation_rows(start, stop, bias, code, h):
    """h[i, j] = act(h[i, j] + bias[j]) for rows start <= i < stop; act by `code`:
    relu: max(z, 0) (NaN stays NaN); anything else: z (linear)."""
    rows = h[start:stop]  # a view indexed from 0, so the loops vectorize
    zero = h.dtype.type(0)
    if code == RELU:
        for i in range(rows.shape[0]):
            for j in range(rows.shape[1]):
                z = rows[i, j] + bias[j]
                rows[i, j] = zero if z < zero else z
    else:
        for i in range(rows.shape[0]):
            for j in range(rows.shape[1]):
                rows[i, j] += bias[j]


@kernel
def _activation_grad_range(start, stop, dy, y, code, out):
    """out = dL/dz from dy = dL/dy and the activation's output y, for start <= k < stop:
    linear: dy; relu: dy * (y > 0); sigmoid: dy * y * (1 - y); tanh: dy * (1 - y * y)."""
    dy, y, out = dy[start:stop], y[start:stop], out[start:stop]  # indexed from 0: vectorizes
    zero = out.dtype.type(0)
    one = out.dtype.type(1)
    if code == RELU:
        for k in range(out.shape[0]):
            out[k] = dy[k] if y[k] > zero else zero
    elif code == SIGMOID:
        for k in range(out.shape[0]):
            out[k] = dy[k] * y[k] * (one - y[k])
    elif code == TANH:
        for k in range(out.shape[0]):
            out[k] = dy[k] * (one - y[k] * y[k])
    else:
        for k in range(out.shape[0]):
            out[k] = dy[k]


def _activation_code(kernel_name: str, activation) -> int:
    if activation is None:
        return LINEAR
    code = ACTIVATIONS.get(activation) if isinstance(activation, str) else None
    if code is None:
        raise ValueError(
            f"{kernel_name}: activation must be one of {sorted(ACTIVATIONS)}. "
            f"Received: activation={activation!r}"
        )
    return code


def bias_activation(h: np.ndarray, bias: np.ndarray, activation: str | None = "linear") -> None:
    """In place, `h = activation(h + bias)` over the last axis of `h` (..., units).

    `activation` is one of `"linear"` (or None), `"relu"`, `"sigmoid"`, `"tanh"`.

    Example:
        >>> h = np.array([[-1.0, 2.0]], np.float32)
        >>> bias_activation(h, np.array([0.5, 0.5], np.float32), "relu")
        >>> h
        array([[0. , 2.5]], dtype=float32)
    """
    name = "bias_activation"
    dtype = float_dtype(name, "h", h)
    check_ndim(name, "h", h, 1)
    units = h.shape[-1]
    check(name, "h", h, dtype=dtype, out=True)
    check(name, "bias", bias, dtype=dtype, shape=(units,))
    code = _activation_code(name, activation)
    if code == SIGMOID:  # numpy's SIMD ufuncs, in place (see the module docstring)
        np.add(h, bias, out=h)
        np.multiply(h, 0.5, out=h)  # sigmoid(z) = (1 + tanh(z / 2)) / 2 never overflows
        np.tanh(h, out=h)
        np.add(h, 1.0, out=h)
        np.multiply(h, 0.5, out=h)
    elif code == TANH:
        np.add(h, bias, out=h)
        np.tanh(h, out=h)
    else:
        rows = as_rows(h)  # a view of h
        launch(_bias_activation_rows, h.size, len(rows), bias, code, rows)


def activation_grad(dy: np.ndarray, y: np.ndarray, activation: str | None, out: np.ndarray) -> None:
    """`out = dL/dz` for `y = activation(z)`, from `dy = dL/dy` and the OUTPUT `y`.

    relu: `dy * (y > 0)`; sigmoid: `dy * y * (1 - y)`; tanh: `dy * (1 - y**2)`; linear: `dy`.
    All three arrays have one shape and dtype; `out` may be `dy` itself.

    Example:
        >>> y = np.array([0.0, 3.0], np.float32)
        >>> out = np.empty_like(y)
        >>> activation_grad(np.ones_like(y), y, "relu", out)
        >>> out
        array([0., 1.], dtype=float32)
    """
    name = "activation_grad"
    dtype = float_dtype(name, "dy", dy)
    check(name, "dy", dy, dtype=dtype)
    check(name, "y", y, dtype=dtype, shape=dy.shape)
    check(name, "out", out, dtype=dtype, shape=dy.shape, out=True)
    code = _activation_code(name, activation)
    flat = (dy.reshape(-1), y.reshape(-1), code, out.reshape(-1))
    launch(_activation_grad_range, dy.size, dy.size, *flat)  # arithmetic, whatever the code
