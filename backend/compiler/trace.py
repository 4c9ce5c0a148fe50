"""Tracing: running a Python function on symbolic inputs to record one graph.

Ops record nodes (`symbolic_scope`), `GradientTape` gradients become nodes of the same
graph, and Variable assignments are collected here in program order: a read of a Variable
after its assignment is the assigned value, so the graph's data flow keeps program order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import nest
from ..tensor import (
    Node,
    SymbolicTensor,
    Tensor,
    current_trace,
    set_current_trace,
    symbolic_scope,
)
from ..variables import Variable


class VariableRead(SymbolicTensor):
    """A read of a Variable after an assignment in traced code: its value is the assigned
    value, and, as an eager read, it is a fresh value of the Variable. Gradients taken with
    respect to the Variable reach it (`_variable`); none flows back through the assignment
    into what computed the new value (a GAN's generator step must not differentiate through
    the discriminator's optimizer update)."""

    __slots__ = ("_variable",)


class Trace:
    """What a traced function did to Variables: `assignments` in program order, and the
    current symbolic value of each assigned Variable."""

    def __init__(self):
        self.assignments: list = []  # (variable, value) in program order
        self._current: dict = {}  # id(variable) -> a read of its latest value
        # Random draws from each SeedGenerator, counted in program order (backend.random):
        # id(generator) -> its frame, which the Plan advances once per run.
        self.draw_frames: dict = {}
        self._assigned_alone: set = set()  # ids of Variables assigned, not as a flat buffer
        self.phase = "forward"  # what the traced code is doing (backend.profiling.phase)
        self.phase_of: dict = {}  # id(node) -> the phase it was recorded in
        # id(node) -> (node, the layer path it was recorded in), for messages about steps.
        self.origins: dict = {}

    def read(self, variable: Variable):
        return self._current.get(id(variable), variable)

    def assign(self, variable: Variable, value) -> None:
        from ..ops import cast
        from ..ops.base import convert

        value = convert(value)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"Variable '{variable.path}' has shape {variable.shape}; cannot assign a value "
                f"of shape {tuple(value.shape)}."
            )
        if value.dtype != variable.dtype:
            value = cast(value, variable.dtype)
        read = self._current[id(variable)] = _read_of(variable, value)
        self.assignments.append((variable, value))
        buffer = getattr(variable, "buffer", None)
        if buffer is not None:  # a whole flat buffer: its Variables are read from the new value
            for member in buffer.variables:
                self._assigned_alone.discard(id(member))
                self._current[id(member)] = _read_of(member, buffer.read(read, member))
        else:
            self._assigned_alone.add(id(variable))

    def flat_is_current(self, buffer) -> bool:
        """Whether reading `buffer`'s Variable gives the current values of all the Variables
        placed in it (none was assigned on its own earlier in the traced code)."""
        return not any(id(v) in self._assigned_alone for v in buffer.variables)

    def final_assignments(self) -> list:
        """The last assignment of each Variable, in program order of those last ones."""
        last = {id(v): i for i, (v, _) in enumerate(self.assignments)}
        return [a for i, a in enumerate(self.assignments) if last[id(a[0])] == i]


def _read_of(variable: Variable, value) -> VariableRead:
    from ..ops.shape import _STOP_GRADIENT

    node = Node(_STOP_GRADIENT, (value,), {})
    read = VariableRead(value.shape, value.dtype, node, 0)
    read._variable = variable
    node.set_outputs([read], weak=False)
    return read


@dataclass
class TracedGraph:
    """A traced function: placeholders for its array arguments, its flat outputs and their
    structure, and the Variables it assigns."""

    placeholders: list
    outputs: list
    structure: object
    assignments: list = field(default_factory=list)
    draw_frames: list = field(default_factory=list)  # begun at the start of every run
    phase_of: dict = field(default_factory=dict)  # id(node) -> "forward", "backward", ...
    origins: dict = field(default_factory=dict)  # id(node) -> (node, layer path or None)


def is_dynamic(arg) -> bool:
    """Arrays and Tensors are the traced function's data; everything else is static."""
    return isinstance(arg, (np.ndarray, Tensor, np.generic))


def signature(args: tuple) -> tuple:
    """The cache key of a call: shape and dtype of each array, value of everything else."""
    key = []
    for arg in args:
        if is_dynamic(arg):
            array = arg._value if isinstance(arg, Tensor) else np.asarray(arg)
            key.append((array.shape, array.dtype))  # np.dtype hashes fast; .name does not
        else:
            try:
                hash(arg)
            except TypeError:
                raise TypeError(
                    "A compiled function's arguments must be arrays, Tensors or hashable "
                    f"static values. Received: {type(arg).__name__}"
                ) from None
            key.append(("static", type(arg).__name__, arg))
    return tuple(key)


def trace(fn, args: tuple) -> TracedGraph:
    """Runs `fn` on symbolic stand-ins for the array arguments in `args`."""
    if current_trace() is not None:
        raise RuntimeError("Cannot trace a compiled function from inside another trace.")
    placeholders, call_args = [], []
    for i, arg in enumerate(args):
        if is_dynamic(arg):
            array = np.asarray(arg)
            p = SymbolicTensor(array.shape, array.dtype.name, name=f"arg{i}")
            placeholders.append(p)
            call_args.append(p)
        else:
            call_args.append(arg)
    recorded = Trace()
    set_current_trace(recorded)
    try:
        with symbolic_scope():
            result = fn(*call_args)
    finally:
        set_current_trace(None)
    outputs = nest.flatten(result)
    for out in outputs:
        if not isinstance(out, (SymbolicTensor, Tensor, Variable)) and out is not None:
            raise TypeError(
                "A compiled function must return tensors (or nested lists/tuples/dicts of "
                f"them). Received an output of type {type(out).__name__}"
            )
    return TracedGraph(
        placeholders,
        outputs,
        result,
        recorded.final_assignments(),
        list(recorded.draw_frames.values()),
        recorded.phase_of,
        recorded.origins,
    )
