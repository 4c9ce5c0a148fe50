"""Batch, layer and L2 normalization.

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
- `layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, rms_scaling=False)`:
  keras.ops' layer normalization. Over trailing axes (the usual `axis=-1`) it is the fused
  primitive `layer_norm` (`backend.kernels.layer_norm`: one pass per row for the statistics
  and one for the output) with the fused gradient primitive `layer_norm_grad` (dx, dgamma,
  dbeta in one kernel; a gradient of that gradient is not supported); over other axes, and
  with `rms_scaling`, a composite of Keras' formula.
- `normalize(x, axis=-1, order=2, epsilon=None)`: keras.ops' L2 normalization, a composite.
"""

from __future__ import annotations

import math

import numpy as np

from .. import config
from .. import dtypes as dt
from ..memory import work_array
from ..tensor import Spec
from .base import Op, apply, convert, normalize_axis, promote

__all__ = ["batch_norm_train", "batch_normalization", "layer_normalization", "normalize"]


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

    def forward_into(self, x, gamma, beta, y, mean, var, *, axis, epsilon):
        """`forward` writing into a Plan's buffers (nothing allocated when they already have
        the compute dtype, as float32 ones do)."""
        _into(self.forward, (x, gamma, beta), (y, mean, var), axis, epsilon)

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

    def forward_into(self, x, gamma, mean, var, gy, gmean, gvar, dx, dgamma, dbeta, *, axis,
                     epsilon):  # fmt: skip
        """`forward` writing into a Plan's buffers (as `batch_norm_train`'s)."""
        _into(self.forward, (x, gamma, mean, var, gy, gmean, gvar), (dx, dgamma, dbeta), axis,
              epsilon)  # fmt: skip

    def vjp(self, ctx, grads, needed):
        raise NotImplementedError(
            "batch_norm_train: gradients of its gradient (second order) are not supported."
        )


def _into(forward, inputs, outs, axis, epsilon) -> None:
    """Runs a batch-norm kernel over `inputs` into `outs`, straight when every array already
    has the compute dtype and is C-contiguous, else through `forward` and a copy."""
    from ..kernels import norm

    dtype = _compute_dtype(inputs[0])
    arrays = (*inputs, *outs)
    if all(a.dtype == dtype and a.flags.c_contiguous for a in arrays):
        kernel = norm.batch_norm_train if len(inputs) == 3 else norm.batch_norm_train_grad
        kernel(*inputs, axis, epsilon, *outs)
        return
    for out, value in zip(outs, forward(None, *inputs, axis=axis, epsilon=epsilon), strict=True):
        np.copyto(out, value, casting="unsafe")


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


# ---- layer normalization -----------------------------------------------------------------


class LayerNormOp(Op):
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last axis of x."""

    name = "layer_norm"

    def infer(self, x, gamma, beta, *, epsilon):
        if not dt.is_float(x.dtype) or not x.shape:
            raise TypeError(
                f"{self.name} expects a float tensor of rank >= 1. Received: {x.dtype} {x.shape}"
            )
        _channel_spec(self.name, "gamma", x, gamma, len(x.shape) - 1)
        _channel_spec(self.name, "beta", x, beta, len(x.shape) - 1)
        return Spec(x.shape, x.dtype)

    def forward(self, ctx, x, gamma, beta, *, epsilon):
        out = np.empty(x.shape, x.dtype)
        self.forward_into(x, gamma, beta, out, epsilon=epsilon)
        return out

    def forward_into(self, x, gamma, beta, out, *, epsilon):
        from ..kernels import layer_norm

        dtype = _compute_dtype(x)
        args = [_contiguous(a, dtype) for a in (x, gamma, beta)]
        if out.size == 0:
            return
        if out.dtype == dtype and out.flags.c_contiguous:
            layer_norm.layer_norm_rows(*args, epsilon, out)
        else:
            result = np.empty(x.shape, dtype)
            layer_norm.layer_norm_rows(*args, epsilon, result)
            np.copyto(out, result, casting="unsafe")

    def vjp(self, ctx, grads, needed):
        x, gamma, _ = ctx.inputs
        dx, dgamma, dbeta = apply(_LAYER_NORM_GRAD, (x, gamma, convert(grads[0])), ctx.attrs)
        return [dx if 0 in needed else None, dgamma if 1 in needed else None,
                dbeta if 2 in needed else None]  # fmt: skip


class LayerNormGradOp(Op):
    """(dx, dgamma, dbeta) of `layer_norm` from the output's gradient `g`, in closed form:
    with xhat = (x - mean) * r, r = 1 / sqrt(var + epsilon) and a = g * gamma per row,
    dx = r * (a - mean(a) - xhat * mean(a * xhat)), dgamma = sum(g * xhat), dbeta = sum(g)
    (the sums over every row)."""

    name = "layer_norm_grad"

    def infer(self, x, gamma, g, *, epsilon):
        _channel_spec(self.name, "gamma", x, gamma, len(x.shape) - 1)
        if len(g.shape) != len(x.shape) or g.dtype != x.dtype:
            raise ValueError(
                f"{self.name}: the gradient must match x. Received: {g.shape} {g.dtype} for x "
                f"{x.shape} {x.dtype}"
            )
        param = Spec((x.shape[-1],), x.dtype)
        return Spec(x.shape, x.dtype), param, param

    def forward(self, ctx, x, gamma, g, *, epsilon):
        outs = (np.empty(x.shape, x.dtype), np.empty(gamma.shape, x.dtype),
                np.empty(gamma.shape, x.dtype))  # fmt: skip
        self.forward_into(x, gamma, g, *outs, epsilon=epsilon)
        return outs

    uses_scratch = True

    def forward_into(self, x, gamma, g, dx, dgamma, dbeta, *, epsilon, scratch=None):
        from ..kernels import layer_norm

        dtype = _compute_dtype(x)
        args = [_contiguous(a, dtype) for a in (x, gamma, g)]
        outs = [
            o if o.dtype == dtype and o.flags.c_contiguous else np.empty(o.shape, dtype)
            for o in (dx, dgamma, dbeta)
        ]
        n = x.shape[-1]
        if n == 0:
            return
        sums = work_array(scratch, "column_sums", (2, layer_norm.n_chunks(x.size // n), n), dtype)
        layer_norm.layer_norm_grad_rows(args[0], args[1], args[2], epsilon, *outs, sums)
        for target, result in zip((dx, dgamma, dbeta), outs, strict=True):
            if target is not result:
                np.copyto(target, result, casting="unsafe")

    def vjp(self, ctx, grads, needed):
        raise NotImplementedError(
            "layer_norm: gradients of its gradient (second order) are not supported."
        )


_LAYER_NORM = LayerNormOp()
_LAYER_NORM_GRAD = LayerNormGradOp()


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, rms_scaling=False):
    """Normalizes `x` over `axis` (an int or a list) to mean 0 and variance 1, then scales by
    `gamma` and shifts by `beta` (shaped as the normalized dims), as keras.ops:
    `(x - mean) / sqrt(var + epsilon) * gamma + beta`, the variance biased. `epsilon`
    defaults to `config.epsilon()`. float16 is computed in float32. With `rms_scaling`
    (deprecated in Keras, kept for its configs), `x / sqrt(var + epsilon) * gamma`: x is
    scaled by its variance, not centered, and `beta` is ignored.

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.convert_to_tensor([[1.0, 3.0], [2.0, 6.0]])
        >>> keras.ops.layer_normalization(x, epsilon=0.0).numpy().tolist()
        [[-1.0, 1.0], [-1.0, 1.0]]
    """
    from .creation import ones, zeros
    from .elementwise import add, cast, divide, multiply, negative, sqrt
    from .reduce import var as reduce_var
    from .shape import reshape

    x = convert(x)
    original = x.dtype
    if original not in ("float32", "float64"):
        x = cast(x, "float32")
    rank = len(x.shape)
    if rank == 0:
        raise ValueError("layer_normalization: x must have rank >= 1. Received: a scalar")
    axes = normalize_axis(axis, rank, "layer_normalization")
    epsilon = float(config.epsilon() if epsilon is None else epsilon)
    sizes = tuple(x.shape[a] for a in axes)
    gamma = None if gamma is None else convert(gamma, x.dtype)
    beta = None if beta is None else convert(beta, x.dtype)
    for arg, v in (("gamma", gamma), ("beta", beta)):
        if v is not None and math.prod(d or 1 for d in v.shape) != math.prod(d or 1 for d in sizes):
            raise ValueError(
                f"layer_normalization: {arg} must have the shape of the normalized dims "
                f"{sizes}. Received: {arg}.shape={v.shape}, x.shape={x.shape}, axis={axis}"
            )
    broadcast = tuple(x.shape[a] if a in axes else 1 for a in range(rank))

    def expand(v):
        return v if v is None or tuple(v.shape) == broadcast else reshape(v, broadcast)

    trailing = axes == tuple(range(rank - len(axes), rank)) and None not in sizes
    leading = x.shape[: rank - len(axes)]
    if rms_scaling:
        inverse = divide(1.0, sqrt(add(reduce_var(x, axis=axes, keepdims=True), epsilon)))
        out = multiply(x, inverse)
        if gamma is not None:
            out = multiply(out, expand(gamma))
    elif trailing and (len(axes) == 1 or list(leading).count(None) <= 1):
        n = math.prod(sizes)
        flat = x if len(axes) == 1 else reshape(x, (*(-1 if d is None else d for d in leading), n))
        gamma = ones((n,), x.dtype) if gamma is None else reshape(gamma, (n,))
        beta = zeros((n,), x.dtype) if beta is None else reshape(beta, (n,))
        out = apply(_LAYER_NORM, (flat, gamma, beta), {"epsilon": epsilon})
        if len(axes) > 1:
            out = reshape(out, tuple(-1 if d is None else d for d in x.shape))
    else:  # Keras' formula: x * inv + (beta - mean * inv), inv = gamma / sqrt(var + eps)
        from .nn import moments

        mean, variance = moments(x, axes, keepdims=True)
        inv = divide(1.0, sqrt(add(variance, epsilon)))
        if gamma is not None:
            inv = multiply(inv, expand(gamma))
        offset = negative(multiply(mean, inv))
        if beta is not None:
            offset = add(offset, expand(beta))
        out = add(multiply(x, inv), offset)
    return out if out.dtype == original else cast(out, original)


def normalize(x, axis=-1, order=2, epsilon=None):
    """`x / max(norm(x), epsilon)` over `axis`, as keras.ops. For `order=2`, as
    `x / sqrt(maximum(sum(x ** 2), epsilon ** 2))`: Keras' `x * minimum(rsqrt(sum(x ** 2)),
    1 / epsilon)` without its division by zero, so an all-zero slice gives 0s and a zero
    gradient (Keras' gives NaN). `epsilon` defaults to `config.epsilon()`.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.normalize([[3.0, 4.0]]).numpy().tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    from .elementwise import abs as absolute
    from .elementwise import divide, maximum, multiply, power, sqrt
    from .reduce import sum as reduce_sum

    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: `order` must be an int >= 1. Received: order={order!r}")
    x = convert(x)
    if not dt.is_float(x.dtype):
        from .elementwise import cast

        x = cast(x, dt.config.floatx())
    if not x.shape:
        from .shape import expand_dims

        x = expand_dims(x, 0)
    epsilon = float(config.epsilon() if epsilon is None else epsilon)
    axes = normalize_axis(axis, len(x.shape), "normalize")
    if order == 2:
        squares = reduce_sum(multiply(x, x), axis=axes, keepdims=True)
        return divide(x, sqrt(maximum(squares, epsilon * epsilon)))
    norm = power(reduce_sum(power(absolute(x), float(order)), axis=axes, keepdims=True),
                 1.0 / order)  # fmt: skip
    return divide(x, maximum(norm, epsilon))
