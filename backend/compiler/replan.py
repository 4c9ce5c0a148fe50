"""A new batch size without a new trace: re-planning a traced graph whose only dependence on
the batch size is in proportion to it.

A compiled function called with a new leading dimension (the last, short batch of an epoch)
would trace again. Instead, the graph traced at the first batch size B1 is kept with its
*fingerprint* (every node's op, attributes, output shapes and small constants). When a second
size B2 is traced, the two fingerprints are compared: if they are the same except for
integers that are `k * B` for a whole `k` (a batch dim, a flattened `B * 784`, the element
count a mean divides by, the batch size a loss tracker weighs by) in shapes, attributes and
constants, the graph is *batch-free*: for any later size B the first graph is re-planned
with each such integer set to `k * B` (shapes, attributes and constants alike), its shapes
checked again by every op's `infer`, and built into a Plan. Kernels are shape-generic, so
none is compiled again. Anything else that differs (`1 / B` computed in Python, a `B - 1`,
a different op) makes the graph batch-dependent and every new size is traced, as before.
No padding: each size runs on its true batch.
"""

from __future__ import annotations

import numpy as np

from ..tensor import SymbolicTensor, Tensor
from .trace import is_dynamic


def family_key(args: tuple, key: tuple):
    """`(signature with the batch dim taken out, batch size)`, when every array argument of
    rank >= 1 has the same leading dim; else None."""
    batch = None
    for arg in args:
        if not is_dynamic(arg):
            continue
        shape = np.shape(arg._value if isinstance(arg, Tensor) else arg)
        if not shape:
            continue
        if batch is None:
            batch = shape[0]
        elif shape[0] != batch:
            return None
    if not batch:
        return None
    family = []
    for item in key:
        if item and item[0] != "static" and isinstance(item[0], tuple) and item[0]:
            family.append(((None, *item[0][1:]), item[1]))
        else:
            family.append(item)
    return tuple(family), batch


class _Fingerprint:
    """A traced graph's nodes in topological order, with what may depend on the batch."""

    def __init__(self, traced):
        from .. import graph

        self.traced = traced
        roots = [o for o in traced.outputs if isinstance(o, SymbolicTensor)]
        roots += [v for _, v in traced.assignments if isinstance(v, SymbolicTensor)]
        self.nodes = graph.topological_nodes(roots)
        # Building a Plan rewires inputs (to the value kept for a repeated one, to a constant
        # computed while building): re-planning starts again from the traced inputs.
        self.inputs = [node.inputs for node in self.nodes]
        self.placeholders = list(traced.placeholders)
        position = {id(n): i for i, n in enumerate(self.nodes)}
        index_of_placeholder = {id(p): i for i, p in enumerate(self.placeholders)}
        self.records = []
        self.constants = []  # (node position, input position, Tensor)
        for i, node in enumerate(self.nodes):
            inputs = []
            for j, x in enumerate(node.inputs):
                if isinstance(x, SymbolicTensor):
                    if x._node is None:
                        inputs.append(("p", index_of_placeholder.get(id(x))))
                    else:
                        inputs.append(("v", position.get(id(x._node)), x._index))
                elif type(x) is Tensor:  # a constant: compared by value
                    inputs.append(("c", x._value.dtype.str, x._value.shape))
                    self.constants.append((i, j, x))
                else:
                    inputs.append(("o", id(x)))
            shapes = [tuple(o.shape) for o in node.outputs]
            self.records.append((id(node.op), tuple(inputs), dict(node.attrs), shapes))
        self.outputs = [self._where(o, position) for o in traced.outputs]
        self.assigned = [(id(var), self._where(v, position)) for var, v in traced.assignments]

    def _where(self, value, position):
        if isinstance(value, SymbolicTensor) and value._node is not None:
            return ("v", position.get(id(value._node)), value._index)
        return ("o", id(value))


def _law(a, b, b1: int, b2: int):
    """The template of a value seen as `a` at batch b1 and `b` at b2: the value itself when
    equal, a `Scaled(k)` for whole-number `k * batch`, recursively in tuples, lists and dicts;
    raises _Dependent otherwise."""
    if type(a) is not type(b) and not (_is_int(a) and _is_int(b)):
        raise _Dependent
    frame_a, frame_b = getattr(a, "frame", None), getattr(b, "frame", None)
    if frame_a is not None and frame_b is not None:  # a random draw's seed, bound per trace
        if frame_a.generator is not frame_b.generator or a.offset != b.offset:
            raise _Dependent
        return a
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            raise _Dependent
        return type(a)(_law(x, y, b1, b2) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if a.keys() != b.keys():
            raise _Dependent
        return {k: _law(a[k], b[k], b1, b2) for k in a}
    try:
        same = a == b
        same = bool(same) if not isinstance(same, np.ndarray) else bool(same.all())
    except (TypeError, ValueError):
        raise _Dependent from None
    if same:
        return a
    if _is_int(a) and a % b1 == 0 and a // b1 * b2 == b:
        return Scaled(a // b1, type(a))
    raise _Dependent


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


class Scaled:
    """`k * batch`, as the type of the value it stands for."""

    __slots__ = ("k", "kind")

    def __init__(self, k: int, kind=int):
        self.k, self.kind = int(k), kind

    def at(self, batch: int):
        return self.kind(self.k * batch)


def _evaluate(template, batch: int):
    if isinstance(template, Scaled):
        return template.at(batch)
    if isinstance(template, (tuple, list)):
        return type(template)(_evaluate(x, batch) for x in template)
    if isinstance(template, dict):
        return {k: _evaluate(v, batch) for k, v in template.items()}
    return template


class _Dependent(Exception):
    """The two traces differ in a way re-planning cannot reproduce."""


def _constant_law(a: np.ndarray, b: np.ndarray, b1: int, b2: int):
    """A constant seen as `a` at b1 and `b` at b2: None when equal, else the whole-number
    array `k` with `a == k * b1` and `b == k * b2` (raises _Dependent otherwise)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        raise _Dependent
    if np.array_equal(a, b):
        return None
    k = a.astype(np.float64) / b1
    if not (np.all(np.isfinite(k)) and np.array_equal(k, np.round(k))):
        raise _Dependent
    if not np.array_equal(np.asarray(k * b2).astype(b.dtype), b):
        raise _Dependent
    return k


class Family:
    """The first traced graph of a signature family and, once a second batch size was traced,
    whether (and how) it can be re-planned for any batch size."""

    def __init__(self, traced, batch: int):
        self.traced = traced
        self.batch = batch
        self.fingerprint = _Fingerprint(traced)
        self.templates = None  # once batch-free: what to set for a new batch size
        self.dependent = False

    @property
    def batch_free(self) -> bool:
        return self.templates is not None

    def compare(self, other_traced, other_batch: int) -> None:
        """Decides from a second trace whether the graph is batch-free."""
        if self.batch_free or self.dependent or other_batch == self.batch:
            return
        try:
            self.templates = self._templates(_Fingerprint(other_traced), other_batch)
        except _Dependent:
            self.dependent = True

    def _templates(self, other: _Fingerprint, b2: int) -> list:
        mine, b1 = self.fingerprint, self.batch
        if len(mine.records) != len(other.records) or mine.outputs != other.outputs:
            raise _Dependent
        if len(mine.assigned) != len(other.assigned):
            raise _Dependent
        for (var_a, where_a), (var_b, where_b) in zip(mine.assigned, other.assigned, strict=True):
            if var_a != var_b or where_a != where_b:
                raise _Dependent
        templates = []
        for node, a, b in zip(mine.nodes, mine.records, other.records, strict=True):
            op_a, inputs_a, attrs_a, shapes_a = a
            op_b, inputs_b, attrs_b, shapes_b = b
            if op_a != op_b or inputs_a != inputs_b:
                raise _Dependent
            attrs = _law(attrs_a, attrs_b, b1, b2)
            shapes = _law(shapes_a, shapes_b, b1, b2)
            templates.append(("node", node, attrs, shapes))
        for (i, j, tensor), (i2, j2, tensor2) in zip(mine.constants, other.constants, strict=True):
            if (i, j) != (i2, j2):
                raise _Dependent
            k = _constant_law(tensor._value, tensor2._value, b1, b2)
            if k is not None:
                templates.append(("const", tensor, k, tensor._value.dtype))
        for p, q in zip(mine.placeholders, other.traced.placeholders, strict=True):
            templates.append(("placeholder", p, _law(tuple(p.shape), tuple(q.shape), b1, b2)))
        return templates

    def retarget(self, batch: int):
        """The first traced graph, set to `batch` (shapes, attributes, constants), checked
        by every op's `infer`; None when a check fails (then the family is dependent)."""
        for node, inputs in zip(self.fingerprint.nodes, self.fingerprint.inputs, strict=True):
            node.inputs = inputs
        for entry in self.templates:
            kind = entry[0]
            if kind == "node":
                _, node, attrs, shapes = entry
                node.attrs = _evaluate(attrs, batch)  # a new dict: built Plans keep theirs
                for out, shape in zip(node.outputs, shapes, strict=True):
                    out.shape = _evaluate(shape, batch)
            elif kind == "const":
                _, tensor, k, dtype = entry
                tensor._value = np.asarray(k * batch).astype(dtype)
            else:
                _, placeholder, shape = entry
                placeholder.shape = _evaluate(shape, batch)
        if not self._consistent():
            self.templates, self.dependent = None, True
            return None
        return self.traced

    def _consistent(self) -> bool:
        from ..tensor import spec_of

        for node in self.fingerprint.nodes:
            try:
                specs = node.op.infer(*[spec_of(x) for x in node.inputs], **node.attrs)
            except Exception:  # noqa: BLE001 (any failure means: trace instead)
                return False
            specs = (specs,) if hasattr(specs, "shape") else tuple(specs)
            for spec, out in zip(specs, node.outputs, strict=True):
                if tuple(spec.shape) != tuple(out.shape) or spec.dtype != out.dtype:
                    return False
        return True
