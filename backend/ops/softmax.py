"""Softmax as a fused primitive, with a fused gradient primitive.

- `softmax(x, axis=-1)`: over one axis it is the primitive `softmax` (one kernel pass per
  row, `backend.kernels.softmax`); over several axes the composite moves them last, merges
  them into one and runs the primitive on that.
- The primitive's vjp is the primitive `softmax_grad(y, g) = y * (g - sum(g * y, axis))`,
  from the output `y` (the input is not kept). Its own vjp is written with ops (a
  `softmax_grad` again for `g`), so gradients of gradients work.

Both primitives write into their output buffers inside a compiled Plan (`forward_into`).
The last axis is the fast path; another axis is moved last (a copy) and back.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, convert, normalize_axis, require_float

__all__ = ["softmax"]


def _compute_dtype(dtype) -> np.dtype:
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _rows_last(a: np.ndarray, axis: int, dtype) -> np.ndarray:
    """`a` with `axis` moved last, C-contiguous, of `dtype` (a view when it already is)."""
    if axis != a.ndim - 1:
        a = np.moveaxis(a, axis, -1)
    return np.ascontiguousarray(a, dtype=dtype)


def _run_rows(kernel, arrays: list, out: np.ndarray, axis: int) -> None:
    """Runs a row kernel over `arrays` along `axis`, writing `out` (any layout, any float
    dtype): straight into `out` when it is already the kernel's layout, else through a copy."""
    dtype = _compute_dtype(out.dtype)
    rows = [_rows_last(a, axis, dtype) for a in arrays]
    if out.size == 0:
        return
    target = np.moveaxis(out, axis, -1) if axis != out.ndim - 1 else out
    if target.flags.c_contiguous and target.dtype == dtype:
        kernel(*rows, target)
    else:
        result = np.empty(rows[0].shape, dtype)
        kernel(*rows, result)
        np.copyto(target, result, casting="unsafe")


def _infer_rows(name: str, *specs: Spec) -> Spec:
    require_float(name, *specs)
    first = specs[0]
    for other in specs[1:]:
        if (
            len(other.shape) != len(first.shape)
            or other.dtype != first.dtype
            or any(
                a is not None and b is not None and a != b
                for a, b in zip(other.shape, first.shape, strict=True)
            )
        ):
            raise ValueError(
                f"{name}: the gradient must match the output. Received: {other.shape} "
                f"{other.dtype} for {first.shape} {first.dtype}"
            )
    return Spec(first.shape, first.dtype)


class SoftmaxOp(Op):
    """`exp(x - m) / sum(exp(x - m))` over one `axis`, `m` the max over it."""

    name = "softmax"

    def infer(self, x, *, axis):
        return _infer_rows(self.name, x)

    def forward(self, ctx, x, *, axis):
        out = np.empty(x.shape, x.dtype)
        self.forward_into(x, out, axis=axis)
        return out

    def forward_into(self, x, out, *, axis):
        from ..kernels import softmax as kernels

        _run_rows(kernels.softmax_rows, [x], out, axis)

    def vjp(self, ctx, grads, needed):
        (y,) = ctx.outputs
        return [apply(_SOFTMAX_GRAD, (y, convert(grads[0])), ctx.attrs)]


class SoftmaxGradOp(Op):
    """`y * (g - sum(g * y, axis))`: the input gradient of softmax from its output `y` and
    the output's gradient `g`. Its vjp, for the incoming gradient `G`:
    `dg = softmax_grad(y, G)` and `dy = G * (g - sum(g * y)) - g * sum(G * y)`."""

    name = "softmax_grad"

    def infer(self, y, g, *, axis):
        return _infer_rows(self.name, y, g)

    def forward(self, ctx, y, g, *, axis):
        out = np.empty(y.shape, y.dtype)
        self.forward_into(y, g, out, axis=axis)
        return out

    def forward_into(self, y, g, out, *, axis):
        from ..kernels import softmax as kernels

        _run_rows(kernels.softmax_grad_rows, [y, g], out, axis)

    def vjp(self, ctx, grads, needed):
        from .elementwise import multiply, subtract
        from .reduce import sum as reduce_sum

        y, g = ctx.inputs
        big_g = convert(grads[0])
        axis = ctx.attrs["axis"]
        dy = dg = None
        if 0 in needed:
            centered = subtract(g, reduce_sum(multiply(g, y), axis=axis, keepdims=True))
            dy = subtract(
                multiply(big_g, centered),
                multiply(g, reduce_sum(multiply(big_g, y), axis=axis, keepdims=True)),
            )
        if 1 in needed:
            dg = apply(_SOFTMAX_GRAD, (y, big_g), ctx.attrs)
        return [dy, dg]


_SOFTMAX = SoftmaxOp()
_SOFTMAX_GRAD = SoftmaxGradOp()


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x))` over `axis` (an int or a tuple), shifted by the max so it
    never overflows: inputs of +-1e4 give exact 0s and 1s, not NaN.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.softmax([0.0, 0.0]).numpy().tolist()
        [0.5, 0.5]
        >>> keras.ops.softmax([[1e4, 0.0], [-1e4, 0.0]]).numpy().tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    from .elementwise import cast
    from .shape import reshape, transpose

    x = convert(x)
    if not dt.is_float(x.dtype):
        x = cast(x, dt.config.floatx())
    rank = len(x.shape)
    if rank == 0:
        raise ValueError("softmax: x must have rank >= 1. Received: a scalar")
    axes = normalize_axis(axis, rank, "softmax")
    if len(axes) == 1:
        return apply(_SOFTMAX, (x,), {"axis": axes[0]})
    # Several axes: move them last, merge them into one, softmax over it, and undo both.
    kept = tuple(a for a in range(rank) if a not in axes)
    order = kept + axes
    moved = transpose(x, order) if order != tuple(range(rank)) else x
    kept_shape = tuple(x.shape[a] for a in kept)
    merged = [x.shape[a] for a in axes]
    if None in merged:
        raise ValueError(
            f"softmax: the axes {axes} must have known sizes. Received: x.shape={x.shape}"
        )
    if list(kept_shape).count(None) > 1:
        raise ValueError(
            f"softmax over several axes needs at most one unknown dim elsewhere. Received: "
            f"x.shape={x.shape}, axis={axis}"
        )
    flat_kept = tuple(-1 if d is None else d for d in kept_shape)
    flat = reshape(moved, (*flat_kept, math.prod(merged)))
    y = apply(_SOFTMAX, (flat,), {"axis": len(kept)})
    y = reshape(y, (*flat_kept, *merged))
    if order == tuple(range(rank)):
        return y
    return transpose(y, tuple(int(i) for i in np.argsort(order)))
