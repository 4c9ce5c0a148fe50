"""Common-subexpression elimination: a value computed twice in a traced graph is computed once.

Traced code repeats itself: an optimizer's per-Variable update recomputes `beta_1**t` and
the learning rate for every Variable, Nadam's momentum schedule is computed by
`update_variables` and again by `update_step`, `iterations + 1` by several terms. Two
nodes are the same computation when they apply the same op, with the same attributes, to
the same inputs, where a small constant (a Python scalar converted while tracing) is the
same input as another constant of the same dtype, shape and bytes. Random draws are never
merged (each draw is a new number), nor nodes whose attributes cannot be compared.

A pure node whose inputs are all small constants is computed here, once, and its outputs
become constants: a loss's `1 / batch` scale and its gradient's seed (`full_like`, a divide, a
broadcast) would otherwise be recomputed by a step of every run.
"""

from __future__ import annotations

import math

import numpy as np

from ..ops.base import Op
from ..tensor import SymbolicTensor, Tensor

#: Constants up to this many elements are compared by value.
SMALL_CONSTANT = 64
#: A node computed while building reads and writes at most this many elements per value.
FOLDED_SIZE = 4096


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
        if first is None and key is not None:
            folded = _fold(node)
            if folded is not None:
                for value, constant in zip(node.outputs, folded, strict=True):
                    canonical[id(value)] = constant
                continue
        if first is None:
            if key is not None:
                seen[key] = node
            kept.append(node)
            continue
        for dropped, kept_value in zip(node.outputs, first.outputs, strict=True):
            canonical[id(dropped)] = kept_value
    return kept, canonical


def _constant_value(x, shape_only: bool):
    """What a node computed while building reads for input `x`: a small constant's value,
    a stand-in of the right shape and dtype for an input read only for those; else None."""
    if type(x) is Tensor:
        return x._value if shape_only or x._value.size <= FOLDED_SIZE else None
    if shape_only and isinstance(x, SymbolicTensor) and None not in tuple(x.shape):
        return np.broadcast_to(np.zeros((), x.dtype), tuple(x.shape))
    return None


def _fold(node) -> tuple | None:
    """The node's outputs as constants, computed now, when it reads only small constants
    (and the shapes of other values, as `full_like` does); None otherwise, or when its
    `forward` raises (the step then raises when it runs)."""
    shape_only = node.op.shape_only
    values = [_constant_value(x, i in shape_only) for i, x in enumerate(node.inputs)]
    if not values or any(v is None for v in values):
        return None
    shapes = [tuple(o.shape) for o in node.outputs]
    if any(None in shape or math.prod(shape) > FOLDED_SIZE for shape in shapes):
        return None
    try:
        results = node.op.forward(node, *values, **node.attrs)
    except Exception:  # noqa: BLE001 - left to the step, which reports it as every run does
        return None
    if len(node.outputs) == 1:
        results = (results,)
    constants = []
    for result, out, shape in zip(results, node.outputs, shapes, strict=True):
        array = np.array(result, dtype=out.dtype)
        if array.shape != shape:
            return None
        constants.append(Tensor(array))
    return tuple(constants)


def resolve(value, canonical: dict):
    """`value`, or the value kept in its place."""
    return canonical.get(id(value), value) if isinstance(value, SymbolicTensor) else value
