"""Flat buffers: several Variables living as views into one 1-D array.

An optimizer places the float32 Variables it updates (and each kind of slot: Adam's `m`,
`v`, ...) into one flat buffer each the first time a compiled step applies it, so the whole
update is one elementwise pass over a few long arrays instead of one small pass per
variable, and the gradients are packed into one flat array the same way (the backward's
last steps write straight into its views, see `compiler/plan.py`).

Placing a Variable changes nothing a user can see: `variable._value` becomes a view of the
buffer holding the same numbers, and Variables keep their names, paths, order and eager
semantics. An eager `assign` still *replaces* the value (a Tensor read before keeps the old
one); the buffer notices (`dirty`) and, before the next compiled step that reads the buffer
as a whole, copies the new value in and points the Variable back at its view (`sync`).
Compiled steps update the buffer in place, as they update any Variable.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from .ops.base import Op, apply, convert
from .tensor import Spec
from .variables import Variable


class FlatBuffer:
    """One flat float32 array whose consecutive ranges are the values of `variables`.

    Args:
        variables: the Variables to place (float32, none placed in a live buffer already).
        name: the name of the Variable standing for the whole buffer (`variable`).
        owner: what the buffer belongs to (an optimizer), held weakly: once it is gone, the
            Variables may be placed again by a new owner.
    """

    def __init__(self, variables: list, name: str, owner=None):
        self.variables = list(variables)
        self.offsets = []
        total = 0
        for v in self.variables:
            self.offsets.append(total)
            total += math.prod(v.shape)
        self.array = np.empty(total, np.float32)
        self.views = []
        for v, offset in zip(self.variables, self.offsets, strict=True):
            view = self.array[offset : offset + v._value.size].reshape(v.shape)
            view[...] = v._value
            self.views.append(view)
            v._value = view
            v._flat = self
        self.dirty = False
        self._owner = None if owner is None else weakref.ref(owner)
        self.variable = FlatVariable(self, name)

    @property
    def size(self) -> int:
        return self.array.size

    def alive(self) -> bool:
        """Whether the owner still exists (a buffer without owner is always alive)."""
        return self._owner is None or self._owner() is not None

    def sync(self) -> None:
        """Copies values assigned eagerly since the last sync into the buffer, and points
        their Variables back at their views."""
        for v, view in zip(self.variables, self.views, strict=True):
            if v._value is not view:
                np.copyto(view, v._value)
                v._value = view
        self.dirty = False

    def read(self, flat_value, variable):
        """The symbolic value of `variable` inside `flat_value` (a value of the buffer)."""
        index = next(i for i, v in enumerate(self.variables) if v is variable)
        return flat_slice(flat_value, self.offsets[index], tuple(variable.shape))


class FlatVariable(Variable):
    """The Variable standing for a whole flat buffer in traced code (never tracked by an
    optimizer or a layer, so it appears in no list of variables or weights)."""

    def __init__(self, buffer: FlatBuffer, name: str):
        self.name = name
        self.path = name
        self.trainable = False
        self._node = None
        self._value = buffer.array
        self.buffer = buffer

    def assign(self, value):
        if not self._traced(value):  # eager: in place, so the placed Variables see it
            self.buffer.sync()
            np.copyto(self._value, self._checked(value, "assign"), casting="same_kind")
        return self


def placeable(variable) -> bool:
    """Whether `variable` may be placed into a new flat buffer: float32, and not a view of
    another live buffer (a layer shared by two optimizers, as in some GANs, stays where it
    was placed first; the second optimizer updates it on its own)."""
    if str(variable.dtype) != "float32" or isinstance(variable, FlatVariable):
        return False
    buffer = variable._flat
    return buffer is None or not buffer.alive()


def sync_all(buffers) -> None:
    for buffer in buffers:
        if buffer.dirty:
            buffer.sync()


# ---- the two ops that connect Variables and their flat buffer ---------------------------


class FlatPackOp(Op):
    """`flat_pack(xs)`: the float32 values `xs` raveled one after the other into one 1-D
    array (a flat gradient buffer). In a Plan, the steps computing `xs` write straight into
    the packed buffer's views, so packing costs nothing."""

    name = "flat_pack"
    differentiable = False

    def infer(self, *xs):
        return Spec((sum(math.prod(x.shape) for x in xs),), "float32")

    def forward(self, ctx, *xs):
        return np.concatenate([np.ravel(x) for x in xs]).astype(np.float32, copy=False)


class FlatSliceOp(Op):
    """`flat_slice(flat, offset, shape)`: the range of a 1-D array starting at `offset`,
    shaped `shape` (a Variable's value inside its flat buffer). A view."""

    name = "flat_slice"
    differentiable = False

    def infer(self, flat, offset, shape):
        return Spec(tuple(shape), flat.dtype)

    def forward(self, ctx, flat, offset, shape):
        return flat[offset : offset + math.prod(shape)].reshape(shape)


_FLAT_PACK = FlatPackOp()
_FLAT_SLICE = FlatSliceOp()


def flat_pack(values):
    """The values (cast to float32) raveled into one flat float32 array."""
    from .ops import cast

    converted = [convert(v) for v in values]
    converted = [v if v.dtype == "float32" else cast(v, "float32") for v in converted]
    return apply(_FLAT_PACK, tuple(converted))


def flat_slice(flat, offset: int, shape: tuple):
    return apply(_FLAT_SLICE, (convert(flat),), {"offset": int(offset), "shape": tuple(shape)})
