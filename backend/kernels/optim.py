"""Optimizer updates over flat (1-D) parameter buffers, in place, with Keras 3's formulas.

A model's parameters (and their gradients and slots) can live in one flat buffer each, so a
whole update is one call. The loops are elementwise, so any split gives the same bits.
Hyperparameters are cast to the parameters' dtype by the wrappers, so float32 buffers are
updated in float32 arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernel, launch
from ._checks import check, float_dtype

_ADAM_COST = 8  # a sqrt and a division per element


@kernel
def _sgd_range(start, stop, grad, lr, param):
    """param -= lr * grad."""
    grad, param = grad[start:stop], param[start:stop]  # views indexed from 0: vectorizes
    for k in range(param.shape[0]):
        param[k] -= lr * grad[k]


@kernel
def _momentum_range(start, stop, grad, lr, momentum, nesterov, param, velocity):
    """v = momentum * v - lr * g; then param += v, or with nesterov
    param += momentum * v - lr * g (with the new v)."""
    grad, param, velocity = grad[start:stop], param[start:stop], velocity[start:stop]
    if nesterov:
        for k in range(param.shape[0]):
            step = -grad[k] * lr
            v = step + velocity[k] * momentum
            velocity[k] = v
            param[k] += step + v * momentum
    else:
        for k in range(param.shape[0]):
            v = -grad[k] * lr + velocity[k] * momentum
            velocity[k] = v
            param[k] += v


@kernel
def _adam_range(start, stop, grad, alpha, one_minus_beta_1, one_minus_beta_2, epsilon, param, m, v):
    """m += (g - m) * (1 - beta_1); v += (g * g - v) * (1 - beta_2);
    param -= (m * alpha) / (sqrt(v) + epsilon)."""
    grad, param, m, v = grad[start:stop], param[start:stop], m[start:stop], v[start:stop]
    for k in range(param.shape[0]):
        g = grad[k]
        m_k = m[k] + (g - m[k]) * one_minus_beta_1
        v_k = v[k] + (g * g - v[k]) * one_minus_beta_2
        m[k] = m_k
        v[k] = v_k
        param[k] -= (m_k * alpha) / (np.sqrt(v_k) + epsilon)


def _check_flat(name: str, param, **slots) -> np.dtype:
    dtype = float_dtype(name, "param", param)
    if param.ndim != 1:
        raise ValueError(
            f"{name}: param must be 1-D (a flat buffer). Received: param.shape={param.shape}"
        )
    check(name, "param", param, dtype=dtype, out=True)
    for slot, array in slots.items():
        check(name, slot, array, dtype=dtype, shape=param.shape, out=slot != "grad")
    return dtype


def _scalar(name: str, arg: str, value, dtype: np.dtype):
    """`value` as a scalar of `dtype`, so the kernel's arithmetic stays in that dtype."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {arg} must be a number. Received: {arg}={value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: {arg} must be finite. Received: {arg}={value!r}")
    return dtype.type(number)


def sgd(param: np.ndarray, grad: np.ndarray, lr: float) -> None:
    """In place, `param -= lr * grad`.

    Example:
        >>> p = np.ones(3, np.float32)
        >>> sgd(p, np.ones(3, np.float32), 0.5)
        >>> p
        array([0.5, 0.5, 0.5], dtype=float32)
    """
    name = "sgd"
    dtype = _check_flat(name, param, grad=grad)
    launch(_sgd_range, param.size, param.size, grad, _scalar(name, "lr", lr, dtype), param)


def sgd_momentum(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray,
    lr: float,
    momentum: float,
    nesterov: bool = False,
) -> None:
    """In place, Keras' SGD with momentum: `velocity = momentum * velocity - lr * grad`, then
    `param += velocity`, or with `nesterov`, `param += momentum * velocity - lr * grad`.

    Example:
        >>> p, v = np.ones(2, np.float32), np.zeros(2, np.float32)
        >>> sgd_momentum(p, np.ones(2, np.float32), v, lr=0.1, momentum=0.9)
        >>> p, v
        (array([0.9, 0.9], dtype=float32), array([-0.1, -0.1], dtype=float32))
    """
    name = "sgd_momentum"
    dtype = _check_flat(name, param, grad=grad, velocity=velocity)
    scalars = (_scalar(name, "lr", lr, dtype), _scalar(name, "momentum", momentum, dtype))
    launch(_momentum_range, param.size, param.size, grad, *scalars, bool(nesterov), param,
           velocity)  # fmt: skip


def adam(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
) -> None:
    """In place, Keras 3's Adam update number `step` (1-based):
    `alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)`,
    `m += (grad - m) * (1 - beta_1)`, `v += (grad**2 - v) * (1 - beta_2)`,
    `param -= alpha * m / (sqrt(v) + epsilon)`. `alpha` is computed in float64.

    Example:
        >>> p, m, v = np.ones(1, np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32)
        >>> adam(p, np.ones(1, np.float32), m, v, 0.1, 0.9, 0.999, 1e-7, step=1)
        >>> p.round(5)  # the first step moves by about lr
        array([0.9], dtype=float32)
    """
    name = "adam"
    dtype = _check_flat(name, param, grad=grad, m=m, v=v)
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"{name}: step must be an int >= 1 (1-based). Received: step={step!r}")
    beta_1, beta_2 = float(beta_1), float(beta_2)
    alpha = float(lr) * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
    scalars = (
        _scalar(name, "alpha", alpha, dtype),
        _scalar(name, "beta_1", 1.0 - beta_1, dtype),
        _scalar(name, "beta_2", 1.0 - beta_2, dtype),
        _scalar(name, "epsilon", epsilon, dtype),
    )
    launch(_adam_range, param.size * _ADAM_COST, param.size, grad, *scalars, param, m, v)
