"""Batch normalization.

- `batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3)`:
  keras.ops' inference normalization, a composite written as Keras writes it:
  `x * inv + (offset - mean * inv)` with `inv = scale / sqrt(variance + epsilon)`.
- `batch_norm_train(x, gamma, beta, axis=-1, epsilon=1e-3)`: the fused training primitive
  (Numba kernels in `backend.kernels.norm`). It returns `(y, batch_mean, batch_variance)`;
  the statistics are over every axis but `axis`, and the variance is the biased one (divided
  by the count, as `ops.moments`). Keras 3's BatchNormalization uses that same biased batch
  variance both to normalize and to update `moving_variance`
  (`moving = moving * momentum + batch * (1 - momentum)`); the layer does those updates with
  `Variable.assign` from these outputs. The vjp (for x, gamma and beta, including the
  gradients that reach the mean and variance outputs) is the fused primitive
  `batch_norm_train_grad`, in closed form; a gradient of that gradient is not supported.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, convert, normalize_axis, promote

__all__ = ["batch_norm_train", "batch_normalization"]


def _channel_spec(op_name: str, arg: str, x: Spec, spec: Spec, axis: int) -> None:
    c = x.shape[axis]
    if len(spec.shape) != 1 or (c is not None and spec.shape[0] not in (None, c)):
        raise ValueError(
            f"{op_name}: {arg} must have shape ({c},), the size of axis {axis} of x. Received: "
            f"{arg}.shape={spec.shape}, x.shape={x.shape}"
        )
    if spec.dtype != x.dtype:
        raise TypeError(
            f"{op_name}: {arg} must have x's dtype {x.dtype}. Received: {arg}.dtype={spec.dtype}"
        )


def _compute_dtype(x: np.ndarray):
    return x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _contiguous(a: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


class BatchNormTrainOp(Op):
    """(y, mean, variance) of training-mode batch normalization over all axes but `axis`."""

    name = "batch_norm_train"

    def infer(self, x, gamma, beta, *, axis, epsilon):
        if not dt.is_float(x.dtype):
            raise TypeError(f"{self.name} expects a float tensor. Received: dtype={x.dtype}")
        _channel_spec(self.name, "gamma", x, gamma, axis)
        _channel_spec(self.name, "beta", x, beta, axis)
        stat = Spec((x.shape[axis],), x.dtype)
        return Spec(x.shape, x.dtype), stat, stat

    def forward(self, ctx, x, gamma, beta, *, axis, epsilon):
        from ..kernels import norm

        dtype = _compute_dtype(x)
        xc = _contiguous(x, dtype)
        y = np.empty_like(xc)
        mean = np.empty(x.shape[axis], dtype)
        var = np.empty(x.shape[axis], dtype)
        g, b = _contiguous(gamma, dtype), _contiguous(beta, dtype)
        norm.batch_norm_train(xc, g, b, axis, epsilon, y, mean, var)
        mean, var = mean.astype(x.dtype), var.astype(x.dtype)
        if ctx is not None:  # eager: the vjp's statistics if those outputs are dropped
            ctx.saved = (mean, var)
        return y.astype(x.dtype, copy=False), mean, var

    def vjp(self, ctx, grads, needed):
        from ..tensor import Tensor
        from .creation import zeros_like

        x, gamma, _ = ctx.inputs
        _, mean, var = ctx.outputs
        if mean is None or var is None:
            # An eager output nothing uses is gone (nodes hold outputs weakly): read the
            # statistics forward kept.
            mean, var = (Tensor(a) for a in ctx.saved)
        gy, gmean, gvar = (
            convert(g) if g is not None else zeros_like(o)
            for g, o in zip(grads, (x, mean, var), strict=True)
        )
        dx, dgamma, dbeta = apply(
            _BATCH_NORM_TRAIN_GRAD, (x, gamma, mean, var, gy, gmean, gvar), ctx.attrs
        )
        return [
            dx if 0 in needed else None,
            dgamma if 1 in needed else None,
            dbeta if 2 in needed else None,
        ]


class BatchNormTrainGradOp(Op):
    """(dx, dgamma, dbeta) of `batch_norm_train` from the gradients of its three outputs,
    in closed form: with xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), M the count,
    dbeta = sum(gy), dgamma = sum(gy * xhat) and
    dx = gamma * rstd * (gy - dbeta / M - xhat * dgamma / M) + gmean / M
         + 2 * gvar * (x - mean) / M."""

    name = "batch_norm_train_grad"

    def infer(self, x, gamma, mean, var, gy, gmean, gvar, *, axis, epsilon):
        for arg, spec in (("gamma", gamma), ("mean", mean), ("var", var)):
            _channel_spec(self.name, arg, x, spec, axis)
        for arg, spec in (("grad of mean", gmean), ("grad of variance", gvar)):
            _channel_spec(self.name, arg, x, spec, axis)
        if len(gy.shape) != len(x.shape) or gy.dtype != x.dtype:
            raise ValueError(
                f"{self.name}: the gradient of y must match x. Received: {gy.shape} {gy.dtype} "
                f"for x {x.shape} {x.dtype}"
            )
        stat = Spec((x.shape[axis],), x.dtype)
        return Spec(x.shape, x.dtype), stat, stat

    def forward(self, ctx, x, gamma, mean, var, gy, gmean, gvar, *, axis, epsilon):
        from ..kernels import norm

        dtype = _compute_dtype(x)
        args = [_contiguous(a, dtype) for a in (x, gamma, mean, var, gy, gmean, gvar)]
        dx = np.empty_like(args[0])
        dgamma = np.empty(x.shape[axis], dtype)
        dbeta = np.empty(x.shape[axis], dtype)
        norm.batch_norm_train_grad(*args, axis, epsilon, dx, dgamma, dbeta)
        return dx.astype(x.dtype, copy=False), dgamma.astype(x.dtype), dbeta.astype(x.dtype)

    def vjp(self, ctx, grads, needed):
        raise NotImplementedError(
            "batch_norm_train: gradients of its gradient (second order) are not supported."
        )


_BATCH_NORM_TRAIN = BatchNormTrainOp()
_BATCH_NORM_TRAIN_GRAD = BatchNormTrainGradOp()


def batch_norm_train(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """Training-mode batch normalization, fused: returns `(y, batch_mean, batch_variance)`,
    the statistics taken over every axis but `axis` (shape `(x.shape[axis],)`), the variance
    biased (as `ops.moments`), `y = (x - mean) / sqrt(variance + epsilon) * gamma + beta`.
    `gamma` / `beta` None mean no scale / no offset. The moving-statistics update is the
    caller's (Keras: `moving_variance` is updated with this biased batch variance).

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.convert_to_tensor([[1.0], [3.0]])
        >>> y, m, v = keras.ops.batch_norm_train(x, epsilon=0.0)
        >>> y.numpy().ravel().tolist(), m.numpy().tolist(), v.numpy().tolist()
        ([-1.0, 1.0], [2.0], [1.0])
    """
    x = convert(x)
    if not dt.is_float(x.dtype):
        from .elementwise import cast

        x = cast(x, dt.config.floatx())
    (axis,) = normalize_axis(axis, len(x.shape), "batch_norm_train")
    c = x.shape[axis]
    if c is None and (gamma is None or beta is None):
        raise ValueError(
            f"batch_norm_train: axis {axis} of x must be known. Received: x.shape={x.shape}"
        )
    from .creation import ones, zeros

    gamma = ones((c,), x.dtype) if gamma is None else convert(gamma, x.dtype)
    beta = zeros((c,), x.dtype) if beta is None else convert(beta, x.dtype)
    attrs = {"axis": axis, "epsilon": float(epsilon)}
    return apply(_BATCH_NORM_TRAIN, (x, gamma, beta), attrs)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """Normalizes `x` with the given statistics (1-D, of the size of `axis`), as
    keras.ops: `(x - mean) / sqrt(variance + epsilon) * scale + offset`, computed as
    `x * inv + (offset - mean * inv)`, `inv = scale / sqrt(variance + epsilon)`. A composite.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.batch_normalization(
        ...     keras.ops.convert_to_tensor([[1.0, 4.0]]), keras.ops.convert_to_tensor([1.0, 2.0]),
        ...     keras.ops.convert_to_tensor([1.0, 4.0]), axis=-1, epsilon=0.0).numpy().tolist()
        [[0.0, 1.0]]
    """
    from .elementwise import add, divide, multiply, negative, sqrt
    from .shape import reshape

    x = convert(x)
    values = [x, mean, variance] + [v for v in (offset, scale) if v is not None]
    values = promote(*values, to_float=True)
    x, mean, variance = values[:3]
    rest = list(values[3:])
    offset = rest.pop(0) if offset is not None else None
    scale = rest.pop(0) if scale is not None else None
    (axis,) = normalize_axis(axis, len(x.shape), "batch_normalization")
    shape = [1] * len(x.shape)
    shape[axis] = -1

    def expand(v):
        return reshape(v, tuple(shape)) if len(v.shape) == 1 and len(x.shape) > 1 else v

    mean, variance = expand(mean), expand(variance)
    inv = divide(1.0, sqrt(add(variance, epsilon)))
    if scale is not None:
        inv = multiply(inv, expand(scale))
    res = negative(multiply(mean, inv))
    if offset is not None:
        res = add(res, expand(offset))
    return add(multiply(x, inv), res)
