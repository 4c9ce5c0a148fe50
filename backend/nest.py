"""Nested structures (lists, tuples, dicts of values) flattened and rebuilt, in one order."""

from __future__ import annotations


def flatten(structure) -> list:
    """The leaves of `structure` in order (dicts in insertion order)."""
    if isinstance(structure, dict):
        structure = list(structure.values())
    if isinstance(structure, (list, tuple)):
        flat = []
        for item in structure:
            flat.extend(flatten(item))
        return flat
    return [structure]


def pack(structure, leaves):
    """`structure` rebuilt with its leaves taken in order from the iterator `leaves`."""
    if isinstance(structure, dict):
        return {k: pack(v, leaves) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        packed = [pack(item, leaves) for item in structure]
        return tuple(packed) if isinstance(structure, tuple) else packed
    return next(leaves)


def structure_key(structure):
    """A hashable description of a nested structure's shape (not its values): a cache key
    for functions traced per input structure."""
    if isinstance(structure, dict):
        return ("dict", tuple((k, structure_key(v)) for k, v in structure.items()))
    if isinstance(structure, (list, tuple)):
        return (type(structure).__name__, tuple(structure_key(v) for v in structure))
    return "none" if structure is None else "leaf"
