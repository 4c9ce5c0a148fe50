"""The flat-gradient pack of a Plan: the gradients an optimizer updates, packed into one flat
buffer (`flat_pack`), each computed straight into its range of that buffer where a step of the
Plan makes it, so the pack copies only the rest (nothing, usually, and the step is dropped).
"""

from __future__ import annotations

import math

import numpy as np

#: View ops that keep a buffer's elements in order (a view through them is a reshape).
_RESHAPES = frozenset(("reshape", "squeeze", "expand_dims"))


def pack_in_place(slots, new_flat, step, producer_step, arrays, last_use, end) -> None:
    """A `flat_pack` step (gradients packed into one flat buffer for the optimizer) gets its
    own buffer (`new_flat`, the Plan's allocator), and each value it packs that a step of
    this Plan computes into a buffer of its own is computed straight into its range of the
    packed buffer instead; the step then copies only the others, and is dropped (its `run`
    None) when none is left. `slots`, `arrays` and `last_use` are the Plan builder's."""
    (out,) = step.outputs
    packed = new_flat(np.float32, math.prod(slots[out].shape), "packed")
    packed = packed.reshape(slots[out].shape)
    arrays[out] = packed
    last_use[out] = end  # its ranges are written before the pack step itself runs
    copies, offset = [], 0
    for pos, s in enumerate(step.inputs):
        size = math.prod(slots[s].shape)
        # A gradient that is a reshape of a step's buffer (a Conv1D kernel's, computed as
        # a 2-D convolution's) is packed by computing that buffer in place.
        target = reshaped_buffer(slots, s)
        if (
            target is not None
            and target in producer_step
            and arrays[target] is None
            and slots[target].dtype == "float32"
        ):
            arrays[target] = packed[offset : offset + size].reshape(slots[target].shape)
            last_use[target] = end  # never released, never handed over to another value
        else:
            copies.append((pos, offset, size))
        offset += size
    if not copies:
        step.run = None
        return

    def run(*arrays_):
        flat = arrays_[-1]
        for pos, start, size in copies:
            flat[start : start + size] = arrays_[pos].reshape(-1)

    step.run = run


def reshaped_buffer(slots, slot: int) -> int | None:
    """`slot` itself when it is a buffer, or the buffer it is a view of through reshapes
    only (`reshape`, `squeeze`, `expand_dims`: the same elements in the same order);
    else None."""
    s = slot
    while slots[s].kind == "view":
        if slots[s].view[0].name not in _RESHAPES:
            return None
        s = slots[s].base
    return s if slots[s].kind == "buffer" else None
