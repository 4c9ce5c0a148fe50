"""An optimizer's flat buffers: its update as one pass over a few long arrays.

The first time a compiled step applies an optimizer of the catalogue, the float32 Variables
it updates are placed as views into one flat float32 buffer (`backend.flat`), and so is
each list of slots made by `add_optimizer_variables` (Adam's momentums, its velocities).
The optimizer's own `update_step` then runs once, on the buffers' Variables, with the
gradients packed into one flat array: the elementwise update fuses into one kernel over the
whole buffer, and scalar terms (`beta_1**t`, the learning rate) are computed once a step.
The numbers are the per-variable update's, element for element.

A step takes the per-variable path (the optimizer's code as written, one update per
Variable, still compiled) for the Variables not placed (not float32, or placed by another
optimizer first, as a layer shared by a GAN's two optimizers), and entirely when the flat
update would not be the same update: eagerly, for an optimizer whose `update_step` is not
known to be elementwise (a user subclass), with a gradient missing for a placed Variable,
with some placed Variables excluded from weight decay, or after the traced code assigned a
placed Variable on its own.
"""

from __future__ import annotations

from contextlib import contextmanager

from backend.flat import FlatBuffer, flat_pack, placeable
from backend.tensor import current_trace

# Slot lists the base updates itself, per Variable, outside `update_step`.
_BASE_SLOT_LISTS = ("_averages", "_accumulated_gradients")


def elementwise_update(optimizer) -> bool:
    """Whether `update_step` (and `update_variables`) of `optimizer`'s class come from a class
    of the catalogue, which update each element from the same element of the slots and the
    gradient (so one call over flat buffers equals one call per Variable)."""
    cls = type(optimizer)
    for name in ("update_step", "update_variables"):
        owner = next(c for c in cls.__mro__ if name in c.__dict__)
        if not owner.__dict__.get("_elementwise_update", False):
            return False
    return True


class FlatState:
    """The flat buffers of one optimizer: `params` for the Variables it places, and one per
    slot list, keyed by the list's id."""

    def __init__(self, optimizer, placed: list):
        name = optimizer.name
        self.params = FlatBuffer(placed, f"{name}/flat_variables", owner=optimizer)
        self.placed_ids = {id(v) for v in placed}
        index = optimizer._index
        self.slot_buffers = {}
        for k, (attr, slots) in enumerate(_slot_lists(optimizer)):
            members = [slots[index[id(v)]] for v in placed]
            self.slot_buffers[id(slots)] = (
                attr,
                FlatBuffer(members, f"{name}/flat_{attr.strip('_')}_{k}", owner=optimizer),
            )
        # Index of the flat Variable in every (extended) slot list.
        self.flat_index = len(optimizer._trainable_variables)
        index[id(self.params.variable)] = self.flat_index

    def buffers(self) -> list:
        return [self.params] + [buffer for _, buffer in self.slot_buffers.values()]

    @contextmanager
    def slots_with_flat(self, optimizer):
        """Within it, each slot list attribute ends with its flat buffer's Variable, at
        `flat_index`, so `update_step(grad, params.variable, lr)` finds its slots."""
        saved = {}
        for list_id, (attr, buffer) in self.slot_buffers.items():
            current = optimizer.__dict__.get(attr)
            if current is not None and id(current) == list_id:
                saved[attr] = current
                optimizer.__dict__[attr] = [*current, buffer.variable]
        try:
            yield
        finally:
            optimizer.__dict__.update(saved)


def _slot_lists(optimizer) -> list:
    """(attribute, list) for each slot list the subclass keeps from `add_optimizer_variables`
    (the base's own EMA and accumulation lists excluded)."""
    made = {id(slots) for slots in optimizer._made_slot_lists}
    return [
        (attr, value)
        for attr, value in vars(optimizer).items()
        if isinstance(value, list) and id(value) in made and attr not in _BASE_SLOT_LISTS
    ]


def split_for_flat(optimizer, grads: list, variables: list):
    """`(flat_state, flat_grad, other_grads, other_variables)` for this traced update: the
    flat buffers and the packed gradient of the Variables placed in them, and the rest to
    update one by one; `flat_state` is None when this update runs per Variable entirely."""
    trace = current_trace()
    if trace is None or not elementwise_update(optimizer):
        return None, None, grads, variables
    if optimizer._slots_outside_lists:
        return None, None, grads, variables  # slots the flat buffers would not hold
    state = optimizer._flat_state
    if state is None:
        placed = [v for v in optimizer._trainable_variables if placeable(v)]
        if not placed or not _decay_uniform(optimizer, placed):
            return None, None, grads, variables
        state = optimizer._flat_state = FlatState(optimizer, placed)
    if not _decay_uniform(optimizer, state.params.variables):
        return None, None, grads, variables
    if not all(trace.flat_is_current(buffer) for buffer in state.buffers()):
        return None, None, grads, variables
    by_id = {id(v): g for g, v in zip(grads, variables, strict=True)}
    if not all(id(v) in by_id for v in state.params.variables):
        return None, None, grads, variables  # the flat update would move every Variable
    flat_grad = flat_pack([by_id[id(v)] for v in state.params.variables])
    rest = [(g, v) for g, v in zip(grads, variables, strict=True) if id(v) not in state.placed_ids]
    return state, flat_grad, [g for g, _ in rest], [v for _, v in rest]


def _decay_uniform(optimizer, variables) -> bool:
    """Whether weight decay treats all `variables` alike (none, or on every one)."""
    if not optimizer.weight_decay:
        return True
    return all(optimizer._use_weight_decay(v) for v in variables)
