"""Log-softmax and softmax crossentropy over the last axis of (rows, classes) logits
(softmax itself: `softmax.py`).

The crossentropies take logits (`from_logits=True`); each row is shifted by its max before
`exp`, so no logit overflows. Sparse ones take int32 or int64 labels; their wrappers reject a
label outside `[0, classes)` with a ValueError naming it. `g` is the upstream gradient of each
row's loss (e.g. `1 / batch` for a mean); the fused kernel gives the loss and the gradient in
one pass over the logits.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import INT_DTYPES, as_rows, check, check_ndim, float_dtype

_EXP_COST = 24  # work per element relative to an add, for the serial-or-threaded choice


# Helpers stay in the file of the kernels that call them: Numba's cache checks only the
# calling kernel's own source file for changes.
@kernel
def _max_of_row(x, i):
    """max(x[i, :]), NaN if the row holds a NaN. The row must not be empty."""
    best = x[i, 0]
    for j in range(1, x.shape[1]):
        v = x[i, j]
        if v > best or v != v:
            best = v
        if best != best:
            break
    return best


@kernel
def _exp_shifted_row(x, i, shift, out):
    """out[i, j] = exp(x[i, j] - shift); returns their sum."""
    total = out.dtype.type(0)
    for j in range(x.shape[1]):
        e = np.exp(x[i, j] - shift)
        out[i, j] = e
        total += e
    return total


@kernel
def _sum_exp_shifted_row(x, i, shift):
    """sum_j exp(x[i, j] - shift)."""
    total = x.dtype.type(0)
    for j in range(x.shape[1]):
        total += np.exp(x[i, j] - shift)
    return total


@kernel
def _sparse_xent_grad_row(logits, labels, g, i, out):
    """out[i, :] = g[i] * (softmax(z_i) - onehot(label_i)); returns the row's loss."""
    m = _max_of_row(logits, i)
    total = _exp_shifted_row(logits, i, m, out)
    scale = g[i] / total
    for j in range(out.shape[1]):
        out[i, j] *= scale
    out[i, labels[i]] -= g[i]
    return np.log(total) - (logits[i, labels[i]] - m)


@kernel
def _sparse_xent_range(start, stop, logits, labels, loss):
    """loss[i] = log(sum_j exp(z_ij - m)) - (z_i,label - m), m = max_j z_ij."""
    for i in range(start, stop):
        m = _max_of_row(logits, i)
        loss[i] = np.log(_sum_exp_shifted_row(logits, i, m)) - (logits[i, labels[i]] - m)


@kernel
def _sparse_xent_grad_range(start, stop, logits, labels, g, out):
    """out[i, :] = g[i] * (softmax(z_i) - onehot(label_i))."""
    for i in range(start, stop):
        _sparse_xent_grad_row(logits, labels, g, i, out)


@kernel
def _sparse_xent_with_grad_range(start, stop, logits, labels, g, loss, grad):
    """Both of the above, one pass over each row."""
    for i in range(start, stop):
        loss[i] = _sparse_xent_grad_row(logits, labels, g, i, grad)


@kernel
def _xent_range(start, stop, logits, targets, loss):
    """loss[i] = sum_j t_ij * (lse_i - z_ij)
    = sum(t_i) * log(sum_j exp(z_ij - m)) - sum_j t_ij * (z_ij - m), m = max_j z_ij."""
    for i in range(start, stop):
        m = _max_of_row(logits, i)
        t_sum = logits.dtype.type(0)
        t_dot = logits.dtype.type(0)
        for j in range(logits.shape[1]):
            t_sum += targets[i, j]
            t_dot += targets[i, j] * (logits[i, j] - m)
        loss[i] = t_sum * np.log(_sum_exp_shifted_row(logits, i, m)) - t_dot


@kernel
def _xent_grad_range(start, stop, logits, targets, g, out):
    """out[i, :] = g[i] * (softmax(z_i) * sum(t_i) - t_i)."""
    for i in range(start, stop):
        total = _exp_shifted_row(logits, i, _max_of_row(logits, i), out)
        t_sum = logits.dtype.type(0)
        for j in range(logits.shape[1]):
            t_sum += targets[i, j]
        scale = t_sum / total
        for j in range(out.shape[1]):
            out[i, j] = g[i] * (out[i, j] * scale - targets[i, j])


@kernel
def _log_softmax_range(start, stop, x, out):
    """out[i, :] = (x_i - m) - log(sum_j exp(x_ij - m)), m = max_j x_ij."""
    for i in range(start, stop):
        m = _max_of_row(x, i)
        log_total = np.log(_sum_exp_shifted_row(x, i, m))
        for j in range(out.shape[1]):
            out[i, j] = (x[i, j] - m) - log_total


def _check_logits(name: str, logits: np.ndarray, arg: str = "logits") -> np.dtype:
    dtype = float_dtype(name, arg, logits)
    check_ndim(name, arg, logits, 1)
    check(name, arg, logits, dtype=dtype)
    if logits.shape[-1] == 0:
        raise ValueError(
            f"{name}: the last axis of {arg} must not be empty. "
            f"Received: {arg}.shape={logits.shape}"
        )
    return dtype


def _check_labels(name: str, labels, logits: np.ndarray) -> None:
    check(name, "labels", labels, dtype=INT_DTYPES, shape=logits.shape[:-1])
    classes = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        index = np.flatnonzero((labels < 0) | (labels >= classes))[0]
        position = np.unravel_index(index, labels.shape)
        raise ValueError(
            f"{name}: labels must be in [0, {classes}) for logits with {classes} classes. "
            f"Received: label {labels.flat[index]} at index {tuple(int(p) for p in position)}"
        )


def sparse_softmax_xent(logits: np.ndarray, labels: np.ndarray, loss_out: np.ndarray) -> None:
    """`loss_out = -log_softmax(logits)[label]` per row: logits (..., classes), int labels (...).

    Example:
        >>> loss = np.empty(1, np.float32)
        >>> sparse_softmax_xent(np.zeros((1, 4), np.float32), np.array([2]), loss)
        >>> loss  # log(4)
        array([1.3862944], dtype=float32)
    """
    name = "sparse_softmax_xent"
    dtype = _check_logits(name, logits)
    _check_labels(name, labels, logits)
    check(name, "loss_out", loss_out, dtype=dtype, shape=logits.shape[:-1], out=True)
    z = as_rows(logits)
    launch(_sparse_xent_range, logits.size * _EXP_COST, len(z), z, labels.reshape(-1),
           loss_out.reshape(-1))  # fmt: skip


def sparse_softmax_xent_grad(
    logits: np.ndarray, labels: np.ndarray, g: np.ndarray, out: np.ndarray
) -> None:
    """`out = g[..., None] * (softmax(logits) - one_hot(labels))`: the logits' gradient.

    Example:
        >>> out = np.empty((1, 2), np.float32)
        >>> sparse_softmax_xent_grad(
        ...     np.zeros((1, 2), np.float32), np.array([1]), np.ones(1, np.float32), out)
        >>> out
        array([[ 0.5, -0.5]], dtype=float32)
    """
    name = "sparse_softmax_xent_grad"
    dtype = _check_logits(name, logits)
    _check_labels(name, labels, logits)
    check(name, "g", g, dtype=dtype, shape=logits.shape[:-1])
    check(name, "out", out, dtype=dtype, shape=logits.shape, out=True)
    z = as_rows(logits)
    launch(_sparse_xent_grad_range, logits.size * _EXP_COST, len(z), z, labels.reshape(-1),
           g.reshape(-1), as_rows(out))  # fmt: skip


def sparse_softmax_xent_with_grad(
    logits: np.ndarray,
    labels: np.ndarray,
    g: np.ndarray,
    loss_out: np.ndarray,
    grad_out: np.ndarray,
) -> None:
    """`sparse_softmax_xent` and `sparse_softmax_xent_grad` in one pass over the logits.

    Example:
        >>> loss, grad = np.empty(1, np.float32), np.empty((1, 2), np.float32)
        >>> sparse_softmax_xent_with_grad(
        ...     np.zeros((1, 2), np.float32), np.array([0]), np.ones(1, np.float32), loss, grad)
        >>> loss, grad
        (array([0.6931472], dtype=float32), array([[-0.5,  0.5]], dtype=float32))
    """
    name = "sparse_softmax_xent_with_grad"
    dtype = _check_logits(name, logits)
    _check_labels(name, labels, logits)
    check(name, "g", g, dtype=dtype, shape=logits.shape[:-1])
    check(name, "loss_out", loss_out, dtype=dtype, shape=logits.shape[:-1], out=True)
    check(name, "grad_out", grad_out, dtype=dtype, shape=logits.shape, out=True)
    z = as_rows(logits)
    launch(_sparse_xent_with_grad_range, logits.size * _EXP_COST, len(z), z, labels.reshape(-1),
           g.reshape(-1), loss_out.reshape(-1), as_rows(grad_out))  # fmt: skip


def softmax_xent(logits: np.ndarray, targets: np.ndarray, loss_out: np.ndarray) -> None:
    """`loss_out = -sum(targets * log_softmax(logits), axis=-1)`; targets shaped as logits.

    Example:
        >>> loss = np.empty(1, np.float32)
        >>> softmax_xent(np.zeros((1, 2), np.float32), np.array([[0, 1]], np.float32), loss)
        >>> loss
        array([0.6931472], dtype=float32)
    """
    name = "softmax_xent"
    dtype = _check_logits(name, logits)
    check(name, "targets", targets, dtype=dtype, shape=logits.shape)
    check(name, "loss_out", loss_out, dtype=dtype, shape=logits.shape[:-1], out=True)
    z = as_rows(logits)
    launch(_xent_range, logits.size * _EXP_COST, len(z), z, as_rows(targets), loss_out.reshape(-1))


def softmax_xent_grad(
    logits: np.ndarray, targets: np.ndarray, g: np.ndarray, out: np.ndarray
) -> None:
    """`out = g[..., None] * (softmax(logits) * sum(targets, -1, keepdims) - targets)`.

    Example:
        >>> out = np.empty((1, 2), np.float32)
        >>> softmax_xent_grad(np.zeros((1, 2), np.float32), np.array([[0, 1]], np.float32),
        ...                   np.ones(1, np.float32), out)
        >>> out
        array([[ 0.5, -0.5]], dtype=float32)
    """
    name = "softmax_xent_grad"
    dtype = _check_logits(name, logits)
    check(name, "targets", targets, dtype=dtype, shape=logits.shape)
    check(name, "g", g, dtype=dtype, shape=logits.shape[:-1])
    check(name, "out", out, dtype=dtype, shape=logits.shape, out=True)
    z = as_rows(logits)
    launch(_xent_grad_range, logits.size * _EXP_COST, len(z), z, as_rows(targets), g.reshape(-1),
           as_rows(out))  # fmt: skip


def log_softmax_last(x: np.ndarray, out: np.ndarray) -> None:
    """`out = log_softmax(x, axis=-1) = (x - m) - log(sum(exp(x - m)))`, m the row max.

    Example:
        >>> out = np.empty((1, 2), np.float32)
        >>> log_softmax_last(np.array([[0.0, 0.0]], np.float32), out)
        >>> out
        array([[-0.6931472, -0.6931472]], dtype=float32)
    """
    name = "log_softmax_last"
    dtype = _check_logits(name, x, "x")
    check(name, "out", out, dtype=dtype, shape=x.shape, out=True)
    x2 = as_rows(x)
    launch(_log_softmax_range, x.size * _EXP_COST, len(x2), x2, as_rows(out))
