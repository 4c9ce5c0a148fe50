"""Shape primitives: reshape, transpose, broadcasting, joining and splitting.

Primitives here move or copy elements; their vjps are other shape primitives, so gradients
of gradients work. Gathering, slicing, padding and tiling live in `indexing.py`.
Composites (stack, unstack, swapaxes, moveaxis, ravel) carry no gradient code.
Dims unknown while tracing (None) are carried through; the few ops that cannot express a
result with several unknown dims (a reshape needs them as one -1) raise a clear ValueError.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from ..tensor import Spec
from .base import Op, apply, broadcast_shapes, convert, normalize_axis, promote

__all__ = [
    "broadcast_to", "concatenate", "expand_dims", "moveaxis", "ravel", "reshape", "split",
    "squeeze", "stack", "stop_gradient", "swapaxes", "transpose", "unstack",
]  # fmt: skip


def _prod(dims):
    """The product of `dims`, or None when one of them is unknown."""
    return None if any(d is None for d in dims) else math.prod(dims)


def _one_axis(axis, ndim: int, op_name: str) -> int:
    return normalize_axis(axis, ndim, op_name)[0]


# ---- reshape ------------------------------------------------------------------------------


def _resolve_reshape(op_name: str, in_shape: tuple, new_shape: tuple) -> tuple:
    """`new_shape` with its -1 resolved when the input's size is known."""
    if builtins.sum(1 for d in new_shape if d == -1) > 1:
        raise ValueError(f"{op_name}: at most one -1 in the new shape. Received: {new_shape}")
    if any(d is not None and d < -1 for d in new_shape):
        raise ValueError(f"{op_name}: negative dim in the new shape. Received: {new_shape}")
    known_in = _prod(in_shape)
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
        raise ValueError(
            f"{op_name}: cannot reshape a tensor of shape {in_shape} into {new_shape}."
        )
    return tuple(new_shape)


class ReshapeOp(Op):
    name = "reshape"

    def infer(self, x, *, shape):
        return Spec(_resolve_reshape("reshape", x.shape, shape), x.dtype)

    def forward(self, ctx, x, *, shape):
        return np.reshape(x, shape)

    def vjp(self, ctx, grads, needed):
        return [_reshape_to(grads[0], ctx.inputs[0])]


_RESHAPE = ReshapeOp()


class ReshapeLikeOp(Op):
    """Reshapes its first input to the runtime shape of its second (which may have several
    dims unknown while tracing). No gradient reaches `like`."""

    name = "reshape_like"

    def infer(self, x, like):
        if _prod(x.shape) is not None and _prod(like.shape) not in (None, _prod(x.shape)):
            raise ValueError(f"reshape_like: cannot reshape {x.shape} into {like.shape}.")
        return Spec(tuple(like.shape), x.dtype)

    def forward(self, ctx, x, like):
        return np.reshape(x, like.shape)

    def vjp(self, ctx, grads, needed):
        return [_reshape_to(grads[0], ctx.inputs[0]), None]


_RESHAPE_LIKE = ReshapeLikeOp()


def _reshape_to(x, like):
    """`x` reshaped to the shape of `like`, statically when at most one dim is unknown."""
    if tuple(x.shape) == tuple(like.shape) and None not in tuple(x.shape):
        return x
    if list(like.shape).count(None) <= 1:
        return reshape(x, _as_reshape_target("reshape", like.shape, tuple(like.shape)))
    return apply(_RESHAPE_LIKE, (convert(x), like))


def reshape(x, newshape):
    """Gives `x` a new shape with the same number of elements (one dim may be -1).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.reshape(keras.ops.arange(6), (2, -1)).shape
        (2, 3)
    """
    x = convert(x)
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    newshape = tuple(int(d) for d in newshape)
    if tuple(x.shape) == newshape:
        return x
    return apply(_RESHAPE, (x,), {"shape": newshape})


def _as_reshape_target(op_name: str, in_shape: tuple, new_shape: tuple) -> tuple:
    """`new_shape` for `reshape`, its one unknown (None) dim written as -1."""
    if new_shape.count(None) > 1:
        raise ValueError(
            f"{op_name}: cannot reshape a tensor of shape {in_shape} into {new_shape}: "
            "a reshape can hold only one unknown dim."
        )
    return tuple(-1 if d is None else d for d in new_shape)


def ravel(x):
    """`x` flattened to one dim."""
    return reshape(x, (-1,))


# ---- expand_dims and squeeze --------------------------------------------------------------


class ExpandDimsOp(Op):
    """Inserts size-1 dims (a primitive, unlike a reshape it keeps every unknown dim)."""

    name = "expand_dims"

    def infer(self, x, *, axes):
        dims = iter(x.shape)
        out_rank = len(x.shape) + len(axes)
        return Spec(tuple(1 if i in axes else next(dims) for i in range(out_rank)), x.dtype)

    def forward(self, ctx, x, *, axes):
        return np.expand_dims(x, axes)

    def vjp(self, ctx, grads, needed):
        return [apply(_SQUEEZE, (grads[0],), {"axes": ctx.attrs["axes"]})]


class SqueezeOp(Op):
    name = "squeeze"

    def infer(self, x, *, axes):
        for a in axes:
            if x.shape[a] not in (1, None):
                raise ValueError(
                    f"squeeze: cannot squeeze axis {a} of a tensor of shape {x.shape}: its "
                    f"size is not 1. Received: axis={axes}"
                )
        return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)

    def forward(self, ctx, x, *, axes):
        return np.squeeze(x, axis=axes)

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        if any(x.shape[a] is None for a in ctx.attrs["axes"]):
            # expand_dims would infer 1 where the input's dim is unknown.
            return [apply(_RESHAPE_LIKE, (grads[0], x))]
        return [apply(_EXPAND_DIMS, (grads[0],), {"axes": ctx.attrs["axes"]})]


_EXPAND_DIMS = ExpandDimsOp()
_SQUEEZE = SqueezeOp()


def expand_dims(x, axis):
    """Inserts size-1 dims at `axis` (an int or a tuple, positions in the result)."""
    x = convert(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = normalize_axis(axes, len(x.shape) + len(axes), "expand_dims")
    return apply(_EXPAND_DIMS, (x,), {"axes": axes})


def squeeze(x, axis=None):
    """Removes size-1 dims: those at `axis`, or all of them (known to be 1) when None."""
    x = convert(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axis(axis, len(x.shape), "squeeze")
    if not axes:
        return x
    return apply(_SQUEEZE, (x,), {"axes": axes})


# ---- transpose -----------------------------------------------------------------------------


class TransposeOp(Op):
    name = "transpose"

    def infer(self, x, *, perm):
        return Spec(tuple(x.shape[p] for p in perm), x.dtype)

    def forward(self, ctx, x, *, perm):
        return np.transpose(x, perm)

    def vjp(self, ctx, grads, needed):
        inverse = tuple(int(i) for i in np.argsort(ctx.attrs["perm"]))
        return [apply(_TRANSPOSE, (grads[0],), {"perm": inverse})]


_TRANSPOSE = TransposeOp()


def transpose(x, axes=None):
    """Permutes the dims of `x` (reverses them when `axes` is None)."""
    x = convert(x)
    ndim = len(x.shape)
    if axes is None:
        perm = tuple(range(ndim))[::-1]
    else:
        axes = tuple(axes)
        if len(axes) != ndim or sorted(normalize_axis(axes, ndim, "transpose")) != list(
            range(ndim)
        ):
            raise ValueError(
                f"transpose: axes must be a permutation of the {ndim} dims of a tensor of "
                f"shape {tuple(x.shape)}. Received: axes={axes}"
            )
        perm = tuple(int(a) % ndim for a in axes)
    if perm == tuple(range(ndim)):
        return x
    return apply(_TRANSPOSE, (x,), {"perm": perm})


def swapaxes(x, axis1, axis2):
    """`x` with dims `axis1` and `axis2` exchanged."""
    x = convert(x)
    ndim = len(x.shape)
    a, b = _one_axis(axis1, ndim, "swapaxes"), _one_axis(axis2, ndim, "swapaxes")
    perm = list(range(ndim))
    perm[a], perm[b] = b, a
    return transpose(x, perm)


def moveaxis(x, source, destination):
    """`x` with dims `source` moved to positions `destination` (the others keep order)."""
    x = convert(x)
    ndim = len(x.shape)
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(
            "moveaxis: source and destination must have the same number of axes. "
            f"Received: source={source}, destination={destination}"
        )
    src = [_one_axis(a, ndim, "moveaxis") for a in src]
    dst = [_one_axis(a, ndim, "moveaxis") for a in dst]
    perm = [a for a in range(ndim) if a not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        perm.insert(d, s)
    return transpose(x, perm)


# ---- broadcasting -------------------------------------------------------------------------


class BroadcastToOp(Op):
    """Broadcasts to `shape`. A None in `shape` (engine-internal use only) keeps the input's
    dim there, so broadcasting can add dims next to unknown ones."""

    name = "broadcast_to"

    def infer(self, x, *, shape):
        lead = len(shape) - len(x.shape)
        error = ValueError(
            f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to {shape}."
        )
        if lead < 0:
            raise error
        out = []
        for i, s in enumerate(shape):
            d = x.shape[i - lead] if i >= lead else 1
            if s is None:
                out.append(d)
            elif d is not None and d != 1 and d != s:
                raise error
            else:
                out.append(s)
        return Spec(tuple(out), x.dtype)

    def forward(self, ctx, x, *, shape):
        lead = len(shape) - x.ndim
        target = tuple(x.shape[i - lead] if s is None else s for i, s in enumerate(shape))
        return np.ascontiguousarray(np.broadcast_to(x, target))

    def forward_into(self, x, out, *, shape):
        np.copyto(out, x)  # In a Plan: broadcast straight into the buffer (no copy made first)

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
    shape_only = (1,)

    def infer(self, x, like):
        out = broadcast_shapes("broadcast_like", x.shape, like.shape)
        if len(x.shape) > len(like.shape):
            raise ValueError(f"broadcast_like: cannot broadcast {x.shape} to {like.shape}.")
        return Spec(out, x.dtype)

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


# ---- stop_gradient ------------------------------------------------------------------------


class StopGradientOp(Op):
    name = "stop_gradient"
    differentiable = False

    def infer(self, x):
        return x

    def forward(self, ctx, x):
        return x

    def vjp(self, ctx, grads, needed):
        return [None]


_STOP_GRADIENT = StopGradientOp()


def stop_gradient(x):
    """`x` unchanged, as a value no gradient flows back through."""
    return apply(_STOP_GRADIENT, (convert(x),))


# ---- concatenate and split -----------------------------------------------------------------


class ConcatenateOp(Op):
    name = "concatenate"

    def infer(self, *xs, axis):
        first = xs[0]
        if not first.shape:
            raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated.")
        out = list(first.shape)
        for x in xs:
            if x.dtype != first.dtype:
                raise TypeError(
                    "concatenate: inputs must share a dtype (the public function promotes "
                    f"them). Received: {first.dtype} and {x.dtype}"
                )
            if len(x.shape) != len(first.shape):
                raise ValueError(
                    "concatenate: all inputs must have the same rank. Received shapes: "
                    f"{[s.shape for s in xs]}"
                )
            for i, d in enumerate(x.shape):
                if i == axis or d is None:
                    continue
                if out[i] is not None and out[i] != d:
                    raise ValueError(
                        f"concatenate: shapes must match except on axis {axis}. Received "
                        f"shapes: {[s.shape for s in xs]}"
                    )
                out[i] = d
        sizes = [x.shape[axis] for x in xs]
        out[axis] = None if None in sizes else builtins.sum(sizes)
        return Spec(tuple(out), first.dtype)

    def forward(self, ctx, *xs, axis):
        return np.concatenate(xs, axis=axis)

    def vjp(self, ctx, grads, needed):
        axis = ctx.attrs["axis"]
        sizes = [x.shape[axis] for x in ctx.inputs]
        if None in sizes:
            pieces = apply(_SPLIT, (grads[0], *ctx.inputs), {"axis": axis, "indices": None})
        else:
            indices = tuple(int(i) for i in np.cumsum(sizes)[:-1])
            pieces = apply(_SPLIT, (grads[0],), {"axis": axis, "indices": indices})
        return list(pieces) if isinstance(pieces, tuple) else [pieces]


_CONCATENATE = ConcatenateOp()


def concatenate(xs, axis=0):
    """Joins the tensors `xs` along an existing `axis` (flattened first when None).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.concatenate([keras.ops.ones((2, 1)), keras.ops.zeros((2, 3))], 1).shape
        (2, 4)
    """
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: needs at least one tensor. Received: xs=[]")
    xs = list(promote(*xs))
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    axis = _one_axis(axis, max(len(xs[0].shape), 1), "concatenate")
    if len(xs) == 1:
        if not xs[0].shape:
            raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated.")
        return xs[0]
    return apply(_CONCATENATE, tuple(xs), {"axis": axis})


def _piece_sizes(dim, indices: tuple) -> list:
    """Sizes of `x[a:b]` pieces along a dim of size `dim` (None when unknown), split at
    `indices` as `np.split` does."""
    bounds = [0, *indices, dim]
    if dim is not None:
        return [len(range(dim)[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    sizes = [builtins.max(b - a, 0) for a, b in zip(bounds[:-2], bounds[1:-1], strict=True)]
    return [*sizes, None]


class SplitOp(Op):
    """Splits along `axis` at static `indices`; or, with `indices=None`, into pieces the
    runtime sizes of its extra `like` inputs (the concatenate vjp, for unknown dims)."""

    name = "split"

    def infer(self, x, *likes, axis, indices):
        if indices is None:
            sizes = [like.shape[axis] for like in likes]
        else:
            sizes = _piece_sizes(x.shape[axis], indices)
        return tuple(Spec(x.shape[:axis] + (s,) + x.shape[axis + 1 :], x.dtype) for s in sizes)

    def forward(self, ctx, x, *likes, axis, indices):
        if indices is None:
            indices = np.cumsum([like.shape[axis] for like in likes])[:-1]
        return tuple(np.split(x, list(indices), axis=axis))

    def vjp(self, ctx, grads, needed):
        x, *likes = ctx.inputs
        axis, indices = ctx.attrs["axis"], ctx.attrs["indices"]
        if any(g is None for g in grads):
            # An eager output nobody kept alive has no gradient; its zeros have a shape known
            # from the (concrete) input.
            from .creation import zeros

            if indices is None:
                sizes = [like.shape[axis] for like in likes]
            else:
                sizes = _piece_sizes(x.shape[axis], indices)
            grads = [
                zeros(x.shape[:axis] + (s,) + x.shape[axis + 1 :], x.dtype) if g is None else g
                for g, s in zip(grads, sizes, strict=True)
            ]
        joined = grads[0] if len(grads) == 1 else concatenate(grads, axis=axis)
        return [joined] + [None] * len(likes)


_SPLIT = SplitOp()


def split(x, indices_or_sections, axis=0):
    """Splits `x` along `axis` into a list: `sections` equal pieces, or at `indices`."""
    x = convert(x)
    if not x.shape:
        raise ValueError("split: cannot split a zero-dimensional tensor.")
    axis = _one_axis(axis, len(x.shape), "split")
    dim = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if dim is None:
            raise ValueError(
                f"split: cannot split axis {axis} of unknown size into equal sections; give "
                f"split indices instead. Received: shape={tuple(x.shape)}"
            )
        if sections <= 0 or dim % sections:
            raise ValueError(
                f"split: axis {axis} of size {dim} cannot be split into {sections} equal "
                f"sections. Received: indices_or_sections={indices_or_sections}"
            )
        indices = tuple(range(dim // sections, dim, dim // sections))
    else:
        indices = tuple(int(i) for i in np.asarray(convert(indices_or_sections)).reshape(-1))
        if dim is None and any(i < 0 for i in indices):
            raise ValueError(
                f"split: negative indices need a known size of axis {axis}. Received: "
                f"indices_or_sections={indices_or_sections}"
            )
    pieces = apply(_SPLIT, (x,), {"axis": axis, "indices": indices})
    return list(pieces) if isinstance(pieces, tuple) else [pieces]


def stack(x, axis=0):
    """Joins the tensors `x`, all of one shape, along a new `axis`."""
    x = list(x)
    if not x:
        raise ValueError("stack: needs at least one tensor. Received: x=[]")
    x = [convert(t) for t in x]
    shapes = [tuple(t.shape) for t in x]
    if any(len(s) != len(shapes[0]) for s in shapes) or any(
        a is not None and b is not None and a != b
        for s in shapes
        for a, b in zip(s, shapes[0], strict=False)
    ):
        raise ValueError(f"stack: the tensors must all have one shape. Received shapes: {shapes}")
    axis = _one_axis(axis, len(x[0].shape) + 1, "stack")
    return concatenate([expand_dims(t, axis) for t in x], axis=axis)


def unstack(x, num=None, axis=0):
    """Splits `x` along `axis` into a list of tensors with that dim removed."""
    x = convert(x)
    axis = _one_axis(axis, len(x.shape), "unstack")
    num = x.shape[axis] if num is None else int(num)
    if num is None:
        raise ValueError(f"unstack: axis {axis} has unknown size; give `num`.")
    return [squeeze(p, axis) for p in split(x, num, axis=axis)]


class IdentityOp(Op):
    """The identity: a new value that is the same data. The API layer uses it so a layer
    that returns its input unchanged still produces a tensor of its own."""

    name = "identity"

    def infer(self, x):
        return x

    def forward(self, ctx, x):
        return x

    def vjp(self, ctx, grads, needed):
        return [grads[0]]


_IDENTITY = IdentityOp()


def identity(x):
    """`x` as a new tensor of the same value (engine-internal)."""
    return apply(_IDENTITY, (convert(x),))
