"""Reductions over axes (`axis` None, an int or a tuple; `keepdims`) and scans."""

from __future__ import annotations

import numpy as np

from ..tensor import Spec
from .base import Op, apply, convert, normalize_axis

__all__ = ["sum"]


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


class SumOp(Op):
    name = "sum"

    def infer(self, x, *, axes, keepdims):
        return Spec(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def forward(self, ctx, x, *, axes, keepdims):
        return np.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype)

    def vjp(self, ctx, grads, needed):
        from .shape import broadcast_like, expand_dims

        x = ctx.inputs[0]
        g = grads[0]
        if not ctx.attrs["keepdims"] and ctx.attrs["axes"]:
            g = expand_dims(g, ctx.attrs["axes"])
        return [broadcast_like(g, x)]


_SUM = SumOp()


def sum(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Sum of elements over `axis` (all axes when None). Bool sums count as int32."""
    x = convert(x)
    if x.dtype == "bool":
        from .elementwise import cast

        x = cast(x, "int32")
    axes = normalize_axis(axis, len(x.shape), "sum")
    return apply(_SUM, (x,), {"axes": axes, "keepdims": bool(keepdims)})


