"""Common-subexpression elimination: a value computed twice in a traced graph is computed once.

Traced code repeats itself: an optimizer's per-Variable update recomputes `beta_1**t` and
the learning rate for every Variable, Nadam's momentum schedule is computed by
`update_variables` and again by `update_step`, `iterations + 1` by several terms. Two
nodes are the same computation when they apply the same op, with the same attributes, to
the same inputs, where a small constant (a Python scalar converted while tracing) is the
same input as another constant of the same dtype, shape and bytes. Random draws are never
merged (each draw is a new number), nor nodes whose attributes cannot be compared.
"""

from __future__ import annotations

import numpy as np

from ..ops.base import Op
from ..tensor import SymbolicTensor, Tensor

#: Constants up to this many elements are compared by value.
SMALL_CONSTANT = 64


def _value_key(x, canonical: dict):
    if isinstance(x, SymbolicTensor):
        return ("v", id(canonical.get(id(x), x)))
    if isinstance(x, Tensor) and x._value.size <= SMALL_CONSTANT:
        array = np.ascontiguousarray(x._value)
        return ("c", array.dtype.str, array.shape, array.tobytes())
    return ("o", id(x))  # a Variable, or a large constant: itself


def _attrs_key(attrs: dict):
    try:
        key = tuple(sorted(attrs.items()))
        hash(key)
    except TypeError:
        return None
    return key


def _mergeable(op) -> bool:
    """Pure ops only: random draws bind a seed of their own while tracing."""
    return type(op).traced_attrs is Op.traced_attrs


def eliminate(nodes: list) -> tuple[list, dict]:
    """`(kept nodes, canonical)`: the nodes left after merging repeats, their inputs rewired
    to the kept values, and `canonical`, id of each dropped value -> the value kept for it
    (the caller maps the graph's outputs and assigned values through it)."""
    canonical: dict = {}
    seen: dict = {}
    kept = []
    for node in nodes:
        if any(id(x) in canonical for x in node.inputs):
            node.inputs = tuple(canonical.get(id(x), x) for x in node.inputs)
        key = None
        if _mergeable(node.op):
            attrs = _attrs_key(node.attrs)
            if attrs is not None:
                key = (id(node.op), attrs, tuple(_value_key(x, canonical) for x in node.inputs))
        first = seen.get(key) if key is not None else None
        if first is None:
            if key is not None:
                seen[key] = node
            kept.append(node)
            continue
        for dropped, kept_value in zip(node.outputs, first.outputs, strict=True):
            canonical[id(dropped)] = kept_value
    return kept, canonical


def resolve(value, canonical: dict):
    """`value`, or the value kept in its place."""
    return canonical.get(id(value), value) if isinstance(value, SymbolicTensor) else value
