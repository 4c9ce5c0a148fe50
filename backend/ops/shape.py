"""Shape primitives: reshape, transpose, broadcasting, slicing, joining and gathering."""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Spec
from .base import Op, apply, broadcast_shapes, convert, normalize_axis

__all__ = ["broadcast_to", "expand_dims", "reshape"]


def _resolve_reshape(op_name: str, in_shape: tuple, new_shape: tuple) -> tuple:
    """`new_shape` with its -1 resolved when the input's size is known."""
    if sum(1 for d in new_shape if d == -1) > 1:
        raise ValueError(f"{op_name}: at most one -1 in the new shape. Received: {new_shape}")
    known_in = None if any(d is None for d in in_shape) else math.prod(in_shape)
    rest = math.prod(d for d in new_shape if d not in (-1, None))
    if -1 in new_shape:
        if known_in is None or None in new_shape:
            return tuple(None if d == -1 else d for d in new_shape)
        if rest == 0 or known_in % rest:
            raise ValueError(
                f"{op_name}: cannot reshape a tensor of shape {in_shape} into {new_shape}."
            )
        return tuple(known_in // rest if d == -1 else d for d in new_shape)
    if known_in is not None and None not in new_shape and known_in != rest:
        raise ValueError(f"{op_name}: cannot reshape a tensor of shape {in_shape} into {new_shape}.")
    return tuple(new_shape)


class ReshapeOp(Op):
    name = "reshape"

    def infer(self, x, *, shape):
        return Spec(_resolve_reshape("reshape", x.shape, shape), x.dtype)

    def forward(self, ctx, x, *, shape):
        return np.reshape(x, shape)

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        return [reshape(grads[0], _as_reshape_target("reshape", x.shape, x.shape))]


_RESHAPE = ReshapeOp()


def reshape(x, newshape):
    """Gives `x` a new shape with the same number of elements (one dim may be -1)."""
    x = convert(x)
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    newshape = tuple(int(d) for d in newshape)
    if tuple(x.shape) == newshape:
        return x
    return apply(_RESHAPE, (x,), {"shape": newshape})


def expand_dims(x, axis):
    """Inserts size-1 dims at `axis` (an int or a tuple, positions in the result)."""
    x = convert(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_rank = len(x.shape) + len(axes)
    axes = normalize_axis(axes, out_rank, "expand_dims")
    dims = iter(x.shape)
    new_shape = tuple(1 if i in axes else next(dims) for i in range(out_rank))
    return reshape(x, _as_reshape_target("expand_dims", x.shape, new_shape))


def _as_reshape_target(op_name: str, in_shape: tuple, new_shape: tuple) -> tuple:
    """`new_shape` for `reshape`, its one unknown (None) dim written as -1."""
    if new_shape.count(None) > 1:
        raise ValueError(
            f"{op_name}: cannot reshape a tensor with several unknown dims: {in_shape}"
        )
    return tuple(-1 if d is None else d for d in new_shape)


class BroadcastToOp(Op):
    name = "broadcast_to"

    def infer(self, x, *, shape):
        out = broadcast_shapes("broadcast_to", x.shape, shape)
        if len(x.shape) > len(shape) or any(
            o != s for o, s in zip(out, shape) if s is not None and o is not None
        ):
            raise ValueError(
                f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to {shape}."
            )
        return Spec(tuple(shape), x.dtype)

    def forward(self, ctx, x, *, shape):
        return np.ascontiguousarray(np.broadcast_to(x, shape))

    def vjp(self, ctx, grads, needed):
        return [grads[0]]  # autodiff sums it back to the input's shape


_BROADCAST_TO = BroadcastToOp()


def broadcast_to(x, shape):
    """Broadcasts `x` to `shape` (numpy rules)."""
    x = convert(x)
    shape = tuple(shape)
    if any(d is None for d in shape):
        raise ValueError(f"broadcast_to: the target shape must be fully known. Received: {shape}")
    if tuple(x.shape) == shape:
        return x
    return apply(_BROADCAST_TO, (x,), {"shape": shape})


class BroadcastLikeOp(Op):
    """Broadcasts its first input to the runtime shape of its second, which may have dims
    unknown while tracing (gradients of reductions use it). No gradient reaches `like`."""

    name = "broadcast_like"

    def infer(self, x, like):
        return BroadcastToOp.infer(self, x, shape=like.shape)

    def forward(self, ctx, x, like):
        return np.ascontiguousarray(np.broadcast_to(x, like.shape))

    def vjp(self, ctx, grads, needed):
        return [grads[0], None]


_BROADCAST_LIKE = BroadcastLikeOp()


def broadcast_like(x, like):
    """`x` broadcast to the shape of `like` (engine-internal; no gradient to `like`)."""
    x, like = convert(x), convert(like)
    if tuple(x.shape) == tuple(like.shape) and None not in tuple(x.shape):
        return x
    return apply(_BROADCAST_LIKE, (x, like))
