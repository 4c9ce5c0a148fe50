"""Gathering and slicing: take, take_along_axis, getitem, flip, pad, tile and repeat.

A slice's vjp is a scatter into zeros and a gather's a scatter-add, and back, so gradients
of gradients work. Composites (flip, tile, repeat, the non-constant pad modes) carry no
gradient code. Dims unknown while tracing (None) are carried through; ops that cannot
express a result with several unknown dims raise a clear ValueError.
"""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec, SymbolicTensor, Tensor
from ..variables import Variable
from . import gather_rows
from .base import Op, TensorTypes, apply, broadcast_shapes, convert, normalize_axis
from .shape import (
    _BROADCAST_TO,
    _as_reshape_target,
    _one_axis,
    concatenate,
    expand_dims,
    ravel,
    reshape,
    transpose,
)

__all__ = ["flip", "getitem", "pad", "repeat", "take", "take_along_axis", "tile"]


# ---- gather (take, take_along_axis) and their scatter-add vjps --------------------------


def _check_indices(op_name: str, indices: Spec) -> None:
    if not dt.is_int(indices.dtype):
        raise TypeError(f"{op_name}: indices must be integers. Received: dtype={indices.dtype}")


class TakeOp(Op):
    name = "take"

    def infer(self, x, indices, *, axis):
        _check_indices("take", indices)
        return Spec(x.shape[:axis] + indices.shape + x.shape[axis + 1 :], x.dtype)

    def forward(self, ctx, x, indices, *, axis):
        if axis == 0 and gather_rows.fits_kernels(x, indices):
            out = np.empty(indices.shape + x.shape[1:], x.dtype)
            if gather_rows.take_rows_into(x, indices, out):
                return out
        try:
            return np.take(x, indices, axis=axis)
        except IndexError as err:
            raise IndexError(f"take: {err} (tensor shape {x.shape})") from None

    def forward_into(self, x, indices, out, *, axis):
        # In a Plan: rows straight into the output buffer (an embedding lookup).
        if axis != 0 or not gather_rows.take_rows_into(x, indices, out):
            np.copyto(out, self.forward(None, x, indices, axis=axis))

    def vjp(self, ctx, grads, needed):
        x, indices = ctx.inputs
        return [apply(_SCATTER_ADD, (grads[0], indices, x), {"axis": ctx.attrs["axis"]}), None]


class ScatterAddOp(Op):
    """Zeros shaped like `like`, with the slices of `updates` added at `indices` along
    `axis` (repeated indices accumulate): the vjp of `take`, and `take` is its vjp."""

    name = "scatter_add"

    def infer(self, updates, indices, like, *, axis):
        _check_indices("scatter_add", indices)
        expected = like.shape[:axis] + indices.shape + like.shape[axis + 1 :]
        broadcast_shapes("scatter_add", updates.shape, expected)
        return Spec(tuple(like.shape), updates.dtype)

    def forward(self, ctx, updates, indices, like, *, axis):
        if axis == 0 and gather_rows.fits_kernels(updates, indices):
            out = np.empty(like.shape, dtype=updates.dtype)
            if gather_rows.scatter_add_rows_into(updates, indices, out):
                return out
        out = np.zeros(like.shape, dtype=updates.dtype)
        nidx = indices.ndim
        # updates: pre + idx + post -> idx + pre + post, scattered into out moved to axis 0.
        perm = (*range(axis, axis + nidx), *range(axis), *range(axis + nidx, updates.ndim))
        np.add.at(np.moveaxis(out, axis, 0), indices, np.transpose(updates, perm))
        return out

    def forward_into(self, updates, indices, like, out, *, axis):
        # In a Plan: an embedding's gradient zeroed and scatter-added in its own buffer.
        if axis != 0 or not gather_rows.scatter_add_rows_into(updates, indices, out):
            np.copyto(out, self.forward(None, updates, indices, like, axis=axis))

    def vjp(self, ctx, grads, needed):
        indices = ctx.inputs[1]
        return [take(grads[0], indices, axis=ctx.attrs["axis"]), None, None]


_TAKE = TakeOp()
_SCATTER_ADD = ScatterAddOp()


def _as_indices(op_name: str, indices):
    indices = convert(indices)
    if not dt.is_int(indices.dtype):
        raise TypeError(f"{op_name}: indices must be integers. Received: dtype={indices.dtype}")
    return indices


def take(x, indices, axis=None):
    """Gathers the slices of `x` at integer `indices` (negative ones count from the end)
    along `axis`; from the flattened `x` when `axis` is None.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.take(keras.ops.arange(5) * 10, [0, -1]).numpy().tolist()
        [0, 40]
    """
    x = convert(x)
    indices = _as_indices("take", indices)
    if axis is None:
        x, axis = ravel(x), 0
    axis = _one_axis(axis, len(x.shape), "take")
    return apply(_TAKE, (x, indices), {"axis": axis})


def _take_along_shapes(op_name: str, x: Spec, indices: Spec, axis: int):
    if len(x.shape) != len(indices.shape):
        raise ValueError(
            f"{op_name}: x and indices must have the same rank. Received: x.shape={x.shape}, "
            f"indices.shape={indices.shape}"
        )
    rest = broadcast_shapes(
        op_name,
        x.shape[:axis] + (1,) + x.shape[axis + 1 :],
        indices.shape[:axis] + (1,) + indices.shape[axis + 1 :],
    )
    return rest[:axis] + (indices.shape[axis],) + rest[axis + 1 :]


def _along_axis_index(indices: np.ndarray, shape: tuple, axis: int) -> tuple:
    """A fancy index selecting `indices` along `axis` of an array of `shape`."""
    index = list(np.indices(shape, sparse=True))
    index[axis] = np.broadcast_to(indices, shape)
    return tuple(index)


class TakeAlongAxisOp(Op):
    name = "take_along_axis"

    def infer(self, x, indices, *, axis):
        _check_indices("take_along_axis", indices)
        return Spec(_take_along_shapes("take_along_axis", x, indices, axis), x.dtype)

    def forward(self, ctx, x, indices, *, axis):
        rest = np.broadcast_shapes(
            x.shape[:axis] + (1,) + x.shape[axis + 1 :],
            indices.shape[:axis] + (1,) + indices.shape[axis + 1 :],
        )
        x = np.broadcast_to(x, rest[:axis] + (x.shape[axis],) + rest[axis + 1 :])
        indices = np.broadcast_to(indices, rest[:axis] + (indices.shape[axis],) + rest[axis + 1 :])
        try:
            return np.take_along_axis(x, indices, axis=axis)
        except IndexError as err:
            raise IndexError(f"take_along_axis: {err} (tensor shape {x.shape})") from None

    def vjp(self, ctx, grads, needed):
        x, indices = ctx.inputs
        op_inputs = (grads[0], indices, x)
        return [apply(_SCATTER_ALONG_AXIS, op_inputs, {"axis": ctx.attrs["axis"]}), None]


class ScatterAlongAxisAddOp(Op):
    """The vjp of `take_along_axis`: zeros shaped like `updates` but with `like`'s size on
    `axis`, with `updates` added at `indices` along `axis`. Its vjp is `take_along_axis`."""

    name = "scatter_along_axis_add"

    def infer(self, updates, indices, like, *, axis):
        _check_indices("scatter_along_axis_add", indices)
        shape = updates.shape
        return Spec(shape[:axis] + (like.shape[axis],) + shape[axis + 1 :], updates.dtype)

    def forward(self, ctx, updates, indices, like, *, axis):
        shape = updates.shape
        out = np.zeros(shape[:axis] + (like.shape[axis],) + shape[axis + 1 :], updates.dtype)
        np.add.at(out, _along_axis_index(indices, shape, axis), updates)
        return out

    def vjp(self, ctx, grads, needed):
        indices = ctx.inputs[1]
        return [take_along_axis(grads[0], indices, axis=ctx.attrs["axis"]), None, None]


_TAKE_ALONG_AXIS = TakeAlongAxisOp()
_SCATTER_ALONG_AXIS = ScatterAlongAxisAddOp()


def take_along_axis(x, indices, axis=None):
    """Picks from `x`, at each position, the element along `axis` named by `indices` (same
    rank as `x`; the other dims broadcast). With `axis=None`, `x` is flattened and
    `indices` must be 1-D."""
    x = convert(x)
    indices = _as_indices("take_along_axis", indices)
    if axis is None:
        if len(indices.shape) != 1:
            raise ValueError(
                "take_along_axis: with axis=None, indices must be 1-D. Received: "
                f"indices.shape={tuple(indices.shape)}"
            )
        x, axis = ravel(x), 0
    axis = _one_axis(axis, len(x.shape), "take_along_axis")
    return apply(_TAKE_ALONG_AXIS, (x, indices), {"axis": axis})


# ---- getitem and its scatter vjp ----------------------------------------------------------


class GetItemOp(Op):
    """Basic indexing. `key` is a normalized tuple over the input's leading dims: an int
    (an index), a `(start, stop, step)` tuple (a slice) or None (a new axis)."""

    name = "getitem"

    def infer(self, x, *, key):
        out, axis = [], 0
        for k in key:
            if k is None:
                out.append(1)
                continue
            d = x.shape[axis]
            if isinstance(k, int):
                if d is not None and not -d <= k < d:
                    raise IndexError(
                        f"getitem: index {k} is out of bounds for axis {axis} with size {d} "
                        f"(tensor shape {x.shape})."
                    )
            else:
                out.append(None if d is None else len(range(d)[slice(*k)]))
            axis += 1
        return Spec(tuple(out) + tuple(x.shape[axis:]), x.dtype)

    def forward(self, ctx, x, *, key):
        return x[_numpy_key(key)]

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        return [apply(_GETITEM_GRAD, (grads[0], x), {"key": ctx.attrs["key"]})]


class GetItemGradOp(Op):
    """Zeros shaped like `like` with `updates` written at the basic index `key`: the vjp of
    getitem, whose own vjp is getitem again."""

    name = "getitem_grad"

    def infer(self, updates, like, *, key):
        return Spec(tuple(like.shape), updates.dtype)

    def forward(self, ctx, updates, like, *, key):
        out = np.zeros(like.shape, dtype=updates.dtype)
        out[_numpy_key(key)] = updates
        return out

    def vjp(self, ctx, grads, needed):
        return [apply(_GETITEM, (grads[0],), {"key": ctx.attrs["key"]}), None]


_GETITEM = GetItemOp()
_GETITEM_GRAD = GetItemGradOp()


def _numpy_key(key: tuple) -> tuple:
    return tuple(slice(*k) if isinstance(k, tuple) else k for k in key)


def _index_or_none(value, key):
    if value is None:
        return None
    if isinstance(value, SymbolicTensor):
        raise TypeError(
            f"getitem: slice bounds must be known ints, not symbolic tensors. Received: key={key}"
        )
    return operator.index(value)


def _parse_key(key, shape: tuple):
    """Splits an indexing `key` into a normalized basic key (for GetItemOp) and at most one
    integer-array index: returns `(basic, indices, position, to_front)`, where `indices` are
    gathered at `position` of the basic result and moved to the front when `to_front`
    (numpy's rule when the array and int indices are not adjacent)."""
    original = key
    if not isinstance(key, tuple):
        key = (key,)
    entries = []  # (kind, value), kind in "new", "ellipsis", "int", "slice", "array"
    for k in key:
        if k is None:
            entries.append(("new", None))
        elif k is Ellipsis:
            entries.append(("ellipsis", None))
        elif isinstance(k, slice):
            bounds = tuple(_index_or_none(v, original) for v in (k.start, k.stop, k.step))
            if bounds[2] == 0:
                raise ValueError(f"getitem: slice step cannot be zero. Received: key={original}")
            entries.append(("slice", bounds if bounds[2] != 1 else bounds[:2] + (None,)))
        elif isinstance(k, (bool, np.bool_)):
            raise TypeError(
                f"getitem: bool scalars are not valid indices. Received: key={original}"
            )
        elif isinstance(k, (int, np.integer)):
            entries.append(("int", int(k)))
        elif isinstance(k, (*TensorTypes, np.ndarray, list)):
            if isinstance(k, (Tensor, Variable)) and not k.shape and dt.is_int(k.dtype):
                entries.append(("int", int(k._value)))
                continue
            if isinstance(k, list) and not k:
                k = np.zeros(0, "int32")  # numpy's dtype for [] would be float
            k = convert(k)
            if k.dtype == "bool":
                if isinstance(k, SymbolicTensor) or len(k.shape) != 1:
                    raise ValueError(
                        "getitem: boolean masks are supported only as 1-D eager tensors on "
                        f"one axis (the result's shape depends on the values). Received: "
                        f"mask of shape {tuple(k.shape)}"
                    )
                k = convert(np.nonzero(k._value)[0].astype("int32"))
            if not dt.is_int(k.dtype):
                raise TypeError(
                    f"getitem: array indices must be integers. Received: dtype={k.dtype}"
                )
            entries.append(("array", k))
        else:
            raise TypeError(
                "getitem: indices must be ints, slices, None, Ellipsis or integer tensors. "
                f"Received: {type(k).__name__} in key={original!r}"
            )

    ndim = len(shape)
    consumed = builtins.sum(1 for kind, _ in entries if kind in ("int", "slice", "array"))
    n_ellipsis = builtins.sum(1 for kind, _ in entries if kind == "ellipsis")
    if n_ellipsis > 1:
        raise IndexError(f"getitem: an index can only have one Ellipsis. Received: key={original}")
    if consumed > ndim:
        raise IndexError(
            f"getitem: too many indices for a tensor of rank {ndim} ({consumed} given). "
            f"Received: key={original}"
        )
    full = [("slice", (None, None, None))] * (ndim - consumed)
    if n_ellipsis:
        at = [kind for kind, _ in entries].index("ellipsis")
        entries = entries[:at] + full + entries[at + 1 :]
    else:
        entries = entries + full
    arrays = [i for i, (kind, _) in enumerate(entries) if kind == "array"]
    if len(arrays) > 1:
        raise ValueError(
            f"getitem: at most one integer-array index is supported. Received: key={original}"
        )

    basic, indices, position, to_front = [], None, 0, False
    axis = 0
    for kind, value in entries:
        if kind == "new":
            basic.append(None)
            continue
        d = shape[axis]
        if kind == "int":
            basic.append(value + d if d is not None and -d <= value < 0 else value)
        elif kind == "slice":
            basic.append(value)
        else:
            indices = value
            position = builtins.sum(1 for k in basic if not isinstance(k, int))
            basic.append((None, None, None))
        axis += 1
    if arrays:
        advanced = [i for i, (kind, _) in enumerate(entries) if kind in ("int", "array")]
        to_front = advanced[-1] - advanced[0] + 1 != len(advanced)
    while basic and basic[-1] == (None, None, None):
        basic.pop()
    return tuple(basic), indices, position, to_front


def getitem(x, key):
    """`x[key]`: basic indexing (ints, slices with any step, None, Ellipsis) plus at most
    one integer-array index (a gather), with numpy's semantics.

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.reshape(keras.ops.arange(12), (3, 4))
        >>> x[1:, ::-2].numpy().tolist(), x[..., [0, -1]].shape
        ([[7, 5], [11, 9]], (3, 2))
    """
    x = convert(x)
    basic, indices, position, to_front = _parse_key(key, tuple(x.shape))
    y = apply(_GETITEM, (x,), {"key": basic}) if basic else x
    if indices is not None:
        y = take(y, indices, axis=position)
        n = len(indices.shape)
        if to_front and position > 0:
            rank = len(y.shape)
            perm = [*range(position, position + n), *range(position), *range(position + n, rank)]
            y = transpose(y, perm)
    return y


def flip(x, axis=None):
    """Reverses the order of elements along `axis` (all axes when None)."""
    x = convert(x)
    axes = normalize_axis(axis, len(x.shape), "flip")
    if not axes:
        return x
    return getitem(
        x,
        tuple(
            slice(None, None, -1) if i in axes else slice(None)
            for i in range(builtins.max(axes) + 1)
        ),
    )


# ---- pad, tile, repeat ------------------------------------------------------------------


class PadOp(Op):
    name = "pad"

    def infer(self, x, *, pad_width, constant_value):
        shape = tuple(
            None if d is None else d + a + b for d, (a, b) in zip(x.shape, pad_width, strict=True)
        )
        return Spec(shape, x.dtype)

    def forward(self, ctx, x, *, pad_width, constant_value):
        return np.pad(x, pad_width, mode="constant", constant_values=constant_value)

    def forward_into(self, x, out, *, pad_width, constant_value):
        # In a Plan: the borders of its buffer filled, x copied into the middle.
        inner = []
        for axis, ((before, after), size) in enumerate(zip(pad_width, x.shape, strict=True)):
            lead = (slice(None),) * axis
            out[(*lead, slice(0, before))] = constant_value
            out[(*lead, slice(before + size, before + size + after))] = constant_value
            inner.append(slice(before, before + size))
        np.copyto(out[tuple(inner)], x)

    def vjp(self, ctx, grads, needed):
        key = tuple((a, -b if b else None, None) for a, b in ctx.attrs["pad_width"])
        return [apply(_GETITEM, (grads[0],), {"key": key})]


_PAD = PadOp()

# For each mode, the indices gathered before and after an axis of size n (negative indices
# count from the end, so they also work when n is unknown while tracing), and the largest
# width it allows given n.
_PAD_MODES = {
    "reflect": (lambda a: range(a, 0, -1), lambda b: range(-2, -b - 2, -1), lambda n: n - 1),
    "symmetric": (lambda a: range(a - 1, -1, -1), lambda b: range(-1, -b - 1, -1), lambda n: n),
    "wrap": (lambda a: range(-a, 0), lambda b: range(b), lambda n: n),
    "edge": (lambda a: [0] * a, lambda b: [-1] * b, lambda n: math.inf if n else 0),
}


def _pad_widths(pad_width, ndim: int) -> tuple:
    try:
        widths = np.asarray(
            pad_width._value if isinstance(pad_width, (Tensor, Variable)) else pad_width
        )
        if widths.dtype.kind not in "iu":
            raise ValueError
        widths = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width must be an int, a (before, after) pair, or one pair per each "
            f"of the {ndim} dims. Received: pad_width={pad_width}"
        ) from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad widths must be >= 0. Received: pad_width={pad_width}")
    return tuple((int(a), int(b)) for a, b in widths)


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pads `x` with `pad_width` (numpy's forms: an int, a pair, or a pair per dim).

    Modes: "constant" (with `constant_values`, default 0), "reflect", "symmetric", "wrap"
    and "edge", as numpy.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.pad(keras.ops.ones((2, 2)), ((1, 0), (0, 2))).shape
        (3, 4)
    """
    x = convert(x)
    widths = _pad_widths(pad_width, len(x.shape))
    if mode != "constant" and mode not in _PAD_MODES:
        raise ValueError(
            f"pad: unsupported mode; expected one of {['constant', *_PAD_MODES]}. "
            f"Received: mode={mode!r}"
        )
    if mode != "constant" and constant_values is not None:
        raise ValueError(
            f"pad: constant_values can only be given with mode='constant'. Received: "
            f"mode={mode!r}, constant_values={constant_values}"
        )
    if all(w == (0, 0) for w in widths):
        return x
    if mode == "constant":
        value = np.asarray(0 if constant_values is None else constant_values)
        if value.ndim != 0:
            raise ValueError(
                f"pad: constant_values must be a scalar. Received: constant_values={value}"
            )
        value = value.astype(x.dtype).item()
        return apply(_PAD, (x,), {"pad_width": widths, "constant_value": value})
    before, after, limit = _PAD_MODES[mode]
    for axis, (a, b) in enumerate(widths):
        if a == 0 and b == 0:
            continue
        n = x.shape[axis]
        if n is not None and builtins.max(a, b) > limit(n):
            raise ValueError(
                f"pad: mode {mode!r} cannot pad axis {axis} of size {n} by {(a, b)}. "
                f"Received: pad_width={pad_width}"
            )
        parts = [x]
        if a:
            parts.insert(0, take(x, np.asarray(before(a), "int32"), axis=axis))
        if b:
            parts.append(take(x, np.asarray(after(b), "int32"), axis=axis))
        x = concatenate(parts, axis=axis)
    return x


def _int_sequence(op_name: str, name: str, value) -> np.ndarray:
    if isinstance(value, SymbolicTensor):
        raise TypeError(f"{op_name}: {name} must be known (not symbolic). Received: {value!r}")
    array = np.asarray(value._value if isinstance(value, (Tensor, Variable)) else value)
    if array.dtype.kind not in "iu" or (array < 0).any():
        raise ValueError(f"{op_name}: {name} must be ints >= 0. Received: {name}={value}")
    return array


def tile(x, repeats):
    """`x` repeated `repeats[i]` times along each dim `i` (numpy's `tile`)."""
    x = convert(x)
    reps = tuple(int(r) for r in _int_sequence("tile", "repeats", repeats).reshape(-1))
    ndim = builtins.max(len(x.shape), len(reps))
    reps = (1,) * (ndim - len(reps)) + reps
    if len(x.shape) < ndim:
        x = expand_dims(x, tuple(range(ndim - len(x.shape))))
    axes = [i for i, r in enumerate(reps) if r != 1]
    if not axes:
        return x
    # (d0, d1) -> (1, d0, 1, d1) -> (r0, d0, r1, d1) -> (r0 * d0, r1 * d1)
    y = expand_dims(x, tuple(i + j for j, i in enumerate(axes)))
    target = list(y.shape)
    for j, i in enumerate(axes):
        target[i + j] = reps[i]
    y = apply(_BROADCAST_TO, (y,), {"shape": tuple(target)})
    out = tuple(
        0 if r == 0 else None if d is None else d * r for d, r in zip(x.shape, reps, strict=True)
    )
    return reshape(y, _as_reshape_target("tile", tuple(x.shape), out))


def repeat(x, repeats, axis=None):
    """Repeats each element of `x` `repeats` times along `axis` (of the flattened `x` when
    None); `repeats` is an int or one count per element along `axis`."""
    x = convert(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = _one_axis(axis, len(x.shape), "repeat")
    reps = _int_sequence("repeat", "repeats", repeats)
    if reps.size == 1:
        r = int(reps.reshape(()))
        y = expand_dims(x, axis + 1)
        target = list(y.shape)
        target[axis + 1] = r
        y = apply(_BROADCAST_TO, (y,), {"shape": tuple(target)})
        out = list(x.shape)
        out[axis] = 0 if r == 0 else None if out[axis] is None else out[axis] * r
        return reshape(y, _as_reshape_target("repeat", tuple(x.shape), tuple(out)))
    n = x.shape[axis]
    if reps.ndim != 1 or n is None or reps.shape[0] != n:
        raise ValueError(
            f"repeat: repeats must be an int or have one entry per element of axis {axis} "
            f"(size {n}). Received: repeats of shape {reps.shape}"
        )
    return take(x, np.repeat(np.arange(n), reps).astype("int32"), axis=axis)
