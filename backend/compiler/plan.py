"""Graph -> Plan: the compiled form of a traced function.

Building a Plan:
1. Order the nodes the outputs and Variable assignments need (everything else is pruned).
2. Give every value a *slot*: an input buffer, a constant, a Variable (read at run time),
   a view of another slot, or an intermediate buffer.
3. Fuse elementwise trees into generated kernels (`fusion.py`) and the cross-op patterns of
   `patterns.py` (a conv with its bias and relu, ...) into one call each; lower every other
   node to one call that writes into its output slot (`lowering.py`).
4. Plan buffers by liveness: a buffer whose last reader has run goes back to a pool and is
   reused by a later value of the same size and dtype; an elementwise step writes over a
   same-shaped input that dies with it (so `x @ W + b -> relu` runs in the matmul's buffer).
5. Write each Variable's final assigned value in place when its producing step is the last
   to touch the Variable, else copy it in at the end, in program order.

Running a Plan copies the arguments into the input buffers, runs the flat list of steps,
and returns fresh copies of the outputs. Steady-state runs allocate no buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import config, graph
from ..origins import NonFiniteError
from ..tensor import SymbolicTensor, Tensor
from ..variables import Variable
from . import fusion, lowering, patterns


@dataclass
class Step:
    """One call of the flat list: `run(*[slots[i] for i in args])`."""

    name: str
    run: object
    inputs: list
    outputs: list
    elementwise: bool = False
    full_inputs: tuple = ()  # input positions read element-for-element (may be overwritten)
    origin: str | None = None  # the layer path of the traced op (for the NaN checks' message)

    @property
    def args(self) -> tuple:
        """The slots the call takes: inputs, then outputs (fixed once the Plan is built)."""
        cached = self.__dict__.get("_args")
        if cached is None:
            cached = self.__dict__["_args"] = tuple(self.inputs) + tuple(self.outputs)
        return cached


@dataclass
class Slot:
    kind: str  # "input", "const", "var", "view", "buffer"
    shape: tuple
    dtype: str
    variable: Variable | None = None
    base: int | None = None  # for views: the slot viewed
    view: object = None  # for views: (op, attrs) applied to the base


@dataclass
class Plan:
    """A compiled function for one input signature."""

    slots: list
    steps: list
    input_slots: list
    output_slots: list
    output_constants: dict
    var_slots: list  # (slot, variable)
    dynamic_views: list  # slots recomputed after Variables are read
    assign_copies: list  # (slot, variable) copied in at the end
    arrays: list = field(default_factory=list)
    draw_frames: list = field(default_factory=list)  # random streams advanced once per run

    def run(self, args: list) -> list:
        arrays = self.arrays
        for frame in self.draw_frames:
            frame.begin()
        for slot, variable in self.var_slots:
            arrays[slot] = variable._value
        for slot in self.dynamic_views:
            s = self.slots[slot]
            op, attrs = s.view
            arrays[slot] = op.forward(None, arrays[s.base], **attrs)
        for slot, arg in zip(self.input_slots, args, strict=True):
            np.copyto(arrays[slot], arg)
        if config.nan_checks_enabled():
            self._run_checked_steps(arrays)
        else:
            for step in self.steps:
                step.run(*[arrays[i] for i in step.args])
        for slot, variable in self.assign_copies:
            np.copyto(variable._value, arrays[slot])
        out = []
        for i, slot in enumerate(self.output_slots):
            if slot is None:
                out.append(self.output_constants.get(i))
            else:
                out.append(np.array(arrays[slot], copy=True))
        return out

    def _run_checked_steps(self, arrays: list) -> None:
        """The steps, each output checked for NaN and Inf; the first raises NonFiniteError
        naming its step, op and layer."""
        for index, step in enumerate(self.steps):
            step.run(*[arrays[i] for i in step.args])
            for slot in step.outputs:
                out = arrays[slot]
                if out.dtype.kind != "f" or np.isfinite(out).all():
                    continue
                kind = "NaN" if np.isnan(out).any() else "Inf"
                where = _describe_origin(step.origin)
                raise NonFiniteError(
                    f"NaN check: the first {kind} came from op '{step.name}' {where} (step "
                    f"{index + 1} of {len(self.steps)} of the compiled function; an output of "
                    f"shape {out.shape}).",
                    op=step.name,
                    origin=step.origin or "",
                    plan_step=index,
                )

    def describe(self) -> list:
        """The kernel calls in order, by name (for tests and curiosity)."""
        return [step.name for step in self.steps]


def _describe_origin(origin: str | None) -> str:
    if not origin:
        return "outside any layer (the loss, metrics or optimizer)"
    if origin.startswith("gradient of "):
        return f"in the gradient (backward pass) of layer '{origin[len('gradient of ') :]}'"
    if origin == "gradient":
        return "in the gradient of the loss"
    return f"in layer '{origin}'"


def build_plan(traced) -> Plan:
    builder = _Builder(traced)
    return builder.build()


class _Builder:
    def __init__(self, traced):
        self.traced = traced
        self.slots: list = []
        self.slot_of: dict = {}  # id(value) -> slot
        self.pins: list = []  # keep traced values alive while ids are in use
        self.var_slot: dict = {}  # id(variable) -> slot

    # ---- slots ---------------------------------------------------------------------------

    def _new_slot(self, slot: Slot) -> int:
        self.slots.append(slot)
        return len(self.slots) - 1

    def slot_for(self, value) -> int:
        key = id(value)
        if key in self.slot_of:
            return self.slot_of[key]
        self.pins.append(value)
        if isinstance(value, Variable):
            if id(value) not in self.var_slot:
                self.var_slot[id(value)] = self._new_slot(
                    Slot("var", tuple(value.shape), value.dtype, variable=value)
                )
            slot = self.var_slot[id(value)]
        elif isinstance(value, Tensor):
            slot = self._new_slot(Slot("const", value.shape, value.dtype))
            self.const_arrays[slot] = np.array(value._value, order="C")  # keeps 0-d as 0-d
        elif isinstance(value, SymbolicTensor) and value._node is None:
            raise ValueError(
                f"The traced graph reads a placeholder that is not an argument: {value}"
            )
        else:
            slot = self._new_slot(Slot("buffer", tuple(value.shape), value.dtype))
        self.slot_of[key] = slot
        return slot

    # ---- build -----------------------------------------------------------------------------

    def build(self) -> Plan:
        traced = self.traced
        self.const_arrays: dict = {}
        input_slots = []
        for p in traced.placeholders:
            slot = self._new_slot(Slot("input", tuple(p.shape), p.dtype))
            self.slot_of[id(p)] = slot
            self.pins.append(p)
            input_slots.append(slot)

        roots = [o for o in traced.outputs if isinstance(o, SymbolicTensor)]
        roots += [v for _, v in traced.assignments if isinstance(v, SymbolicTensor)]
        nodes = graph.topological_nodes(roots)

        consumers: dict = {}
        for node in nodes:
            for x in node.inputs:
                consumers[id(x)] = consumers.get(id(x), 0) + 1
        for value in roots:
            consumers[id(value)] = consumers.get(id(value), 0) + 1  # read by the caller

        steps = self._lower(nodes, consumers)
        output_slots, constants = [], {}
        for i, out in enumerate(traced.outputs):
            if out is None:
                output_slots.append(None)
            elif isinstance(out, Tensor):
                output_slots.append(None)
                constants[i] = out.numpy()
            else:
                output_slots.append(self.slot_for(out))

        assignments = [(self.slot_for(v), var) for var, v in traced.assignments]
        self.output_slots = output_slots
        self.assigned_count = {}
        for slot, _ in assignments:
            self.assigned_count[slot] = self.assigned_count.get(slot, 0) + 1
        return self._plan_buffers(steps, input_slots, output_slots, constants, assignments)

    def _lower(self, nodes: list, consumers: dict) -> list:
        """Nodes -> steps, fusing elementwise trees.

        A value may live inside a fused group when one node reads it. If it is also a
        Variable's new value, it stays an output of the group: an optimizer's `m`, `v` and
        weight updates then run as one pass writing all three."""
        node_readers: dict = {}
        for node in nodes:
            for x in node.inputs:
                node_readers[id(x)] = node_readers.get(id(x), 0) + 1
        assigned = {id(v) for _, v in self.traced.assignments}
        group_of: dict = {}  # id(root node) -> (nodes in order, extra output nodes)
        absorbed: set = set()
        for node in nodes:
            if len(node.outputs) != 1 or not fusion.fusable(node):
                continue
            out_shape = tuple(node.outputs[0].shape)
            members, extra = [], []
            for x in node.inputs:
                producer = x._node if isinstance(x, SymbolicTensor) else None
                if producer is None or id(producer) not in group_of:
                    continue
                if tuple(x.shape) != out_shape or node_readers.get(id(x), 0) != 1:
                    continue
                other_readers = consumers.get(id(x), 0) - 1
                if other_readers and not (other_readers == 1 and id(x) in assigned):
                    continue
                if len(members) + len(group_of[id(producer)][0]) >= fusion.MAX_GROUP_NODES:
                    continue  # the producer's group stays a kernel of its own
                inner, inner_extra = group_of.pop(id(producer))
                members.extend(inner)
                extra.extend(inner_extra)
                if other_readers:
                    extra.append(producer)
                absorbed.add(id(producer))
            group_of[id(node)] = (members + [node], extra)

        fused_at, replaced = {}, set()
        for fused in patterns.find(nodes, group_of, consumers):
            fused_at[id(fused.anchor)] = fused
            replaced.update(id(n) for n in fused.replaced)
        steps = []
        for node in nodes:
            fused = fused_at.get(id(node))
            if fused is not None:
                ins = [self.slot_for(x) for x in fused.inputs]
                outs = [self.slot_for(o) for o in fused.outputs]
                steps.append(Step(fused.name, fused.run, ins, outs, origin=self._origin(node)))
                continue
            if id(node) in absorbed or id(node) in replaced:
                continue
            group, extra = group_of.get(id(node), (None, None))
            if group is not None and (len(group) > 1 or not lowering.has_direct(node)):
                steps.append(self._fused_step(group, extra))
                steps[-1].origin = self._origin(group[0])
                continue
            if lowering.is_view(node):
                self._view_slot(node)
                continue
            ins = [self.slot_for(x) for x in node.inputs]
            outs = [self.slot_for(o) for o in node.outputs]
            run, elementwise = lowering.lower(node)
            full = tuple(
                i
                for i, x in enumerate(node.inputs)
                if elementwise and tuple(x.shape) == tuple(node.outputs[0].shape)
            )
            steps.append(Step(node.op.name, run, ins, outs, elementwise, full, self._origin(node)))
        return steps

    def _origin(self, node) -> str | None:
        entry = self.traced.origins.get(id(node))
        return entry[1] if entry is not None else None

    def _view_slot(self, node) -> None:
        x = node.inputs[0]
        base = self.slot_for(x)
        out = node.outputs[0]
        slot = self._new_slot(
            Slot("view", tuple(out.shape), out.dtype, base=base, view=(node.op, node.attrs))
        )
        self.slot_of[id(out)] = slot
        self.pins.append(out)

    def _fused_step(self, group: list, extra: list) -> Step:
        root = group[-1]
        out_shape = tuple(root.outputs[0].shape)
        inner = {id(n.outputs[0]): i for i, n in enumerate(group)}
        leaves, leaf_values, leaf_kinds = {}, [], []
        body = []
        for i, node in enumerate(group):
            args = []
            for x in node.inputs:
                if id(x) in inner and inner[id(x)] < i:
                    args.append(f"t{inner[id(x)]}")
                    continue
                if id(x) not in leaves:
                    leaves[id(x)] = len(leaf_values)
                    leaf_values.append(x)
                    leaf_kinds.append(fusion.leaf_kind(tuple(x.shape), out_shape))
                j = leaves[id(x)]
                args.append(f"s{j}" if leaf_kinds[j] == "scalar" else f"a{j}")
            body.append(f"t{i} = {fusion.expression(node, args)}")
        from .. import kernels  # imports Numba: only when a Plan needs a kernel

        rows = "row" in leaf_kinds
        results = [len(group) - 1] + [inner[id(n.outputs[0])] for n in extra]
        source = fusion.generate_source("fused", body, leaf_kinds, rows, results)
        kernel = fusion.load_kernel(source)
        cols = out_shape[-1] if out_shape else 1
        size = math.prod(out_shape)
        shape2 = (size // cols if cols else 0, cols) if rows else (size,)

        def prepare(kind):
            if kind == "full":
                return lambda a: a.reshape(shape2)
            if kind == "row":
                return lambda a: a.reshape(cols)
            return lambda a: a.reshape(1)

        preparers = [prepare(k) for k in leaf_kinds]
        n_in = len(leaf_kinds)
        # A short fused pass is memory-bound: threads measured slower below ~1M elements
        # here (waking the pool costs more than the pass), so each op counts an eighth of
        # the size; a long one (an Adam update: a dozen ops with a sqrt and a division per
        # element) is compute-bound and earns the threads.
        work = size * len(group) // 8

        def run(*arrays):
            prepared = [p(a) for p, a in zip(preparers, arrays[:n_in], strict=True)]
            kernels.launch(kernel, work, *prepared, *[o.reshape(shape2) for o in arrays[n_in:]])

        ins = [self.slot_for(x) for x in leaf_values]
        outs = [self.slot_for(root.outputs[0])] + [self.slot_for(n.outputs[0]) for n in extra]
        full = tuple(i for i, k in enumerate(leaf_kinds) if k == "full")
        name = "fused[" + ",".join(n.op.name for n in group) + "]"
        return Step(name, run, ins, outs, True, full)

    # ---- buffers ------------------------------------------------------------------------------

    def _root(self, slot: int) -> int:
        while self.slots[slot].kind == "view":
            slot = self.slots[slot].base
        return slot

    def _plan_buffers(self, steps, input_slots, output_slots, constants, assignments) -> Plan:
        slots = self.slots
        n_steps = len(steps)
        end = n_steps  # "used until the end"
        last_use: dict = {}
        for k, step in enumerate(steps):
            for s in step.inputs:
                last_use[self._root(s)] = k
        for s in output_slots:
            if s is not None:
                last_use[self._root(s)] = end
        # Final Variable values written in place by their producing step, when safe.
        producer_step = {}
        for k, step in enumerate(steps):
            for s in step.outputs:
                producer_step[s] = k
        in_place: dict = {}  # value slot -> var slot
        copies = []
        for value_slot, var in assignments:
            var_slot = self.slot_for(var)
            k = producer_step.get(value_slot)
            if k is not None and self._can_write_in_place(steps[k:], value_slot, var_slot):
                in_place[value_slot] = var_slot
            else:
                copies.append((value_slot, var))
                last_use[self._root(value_slot)] = end

        arrays: list = [None] * len(slots)
        for slot, array in self.const_arrays.items():
            arrays[slot] = array
        for slot in input_slots:
            arrays[slot] = np.empty(slots[slot].shape, dtype=slots[slot].dtype)
        pool: dict = {}  # (dtype, size) -> [flat arrays]

        def allocate(slot: int) -> None:
            s = slots[slot]
            key = (s.dtype, math.prod(s.shape))
            free = pool.get(key)
            flat = free.pop() if free else np.empty(key[1], dtype=s.dtype)
            arrays[slot] = flat.reshape(s.shape)

        def release(slot: int) -> None:
            s = slots[slot]
            if s.kind != "buffer" or arrays[slot] is None:
                return
            pool.setdefault((s.dtype, math.prod(s.shape)), []).append(arrays[slot].reshape(-1))

        dynamic_views = []

        def materialize_views():
            for slot, s in enumerate(slots):
                if s.kind != "view" or arrays[slot] is not None:
                    continue
                root = self._root(slot)
                if slots[root].kind == "var":
                    if slot not in dynamic_views:
                        dynamic_views.append(slot)
                    continue
                if arrays[s.base] is None:
                    continue
                op, attrs = s.view
                view = op.forward(None, arrays[s.base], **attrs)
                if not np.shares_memory(view, arrays[s.base]):
                    raise AssertionError(f"internal error: view op {op.name} copied its input")
                arrays[slot] = view

        for k, step in enumerate(steps):
            materialize_views()
            for out in step.outputs:
                if out in in_place:
                    step.outputs = [in_place.get(o, o) for o in step.outputs]
                    continue
                if arrays[out] is not None:
                    continue
                reused = None
                if step.elementwise:
                    for pos in step.full_inputs:
                        s = step.inputs[pos]
                        if (
                            slots[s].kind == "buffer"
                            and last_use.get(s) == k
                            and slots[s].dtype == slots[out].dtype
                            and slots[s].shape == slots[out].shape
                        ):
                            reused = s
                            break
                if reused is not None:
                    arrays[out] = arrays[reused]
                    last_use[reused] = -1  # handed over; never released
                    continue
                allocate(out)
            for s in set(self._root(i) for i in step.inputs):
                if last_use.get(s) == k:
                    release(s)
        materialize_views()
        plan = Plan(
            slots=slots,
            steps=steps,
            input_slots=input_slots,
            output_slots=output_slots,
            output_constants=constants,
            var_slots=[(slot, s.variable) for slot, s in enumerate(slots) if s.kind == "var"],
            dynamic_views=dynamic_views,
            assign_copies=[(slot, var) for slot, var in copies],
            arrays=arrays,
            draw_frames=list(self.traced.draw_frames),
        )
        return plan

    def _can_write_in_place(self, steps: list, value_slot: int, var_slot: int) -> bool:
        """Whether `steps[0]`, which computes a Variable's final value, may write it straight
        into the Variable: an elementwise step, reading the Variable (if at all) element for
        element, whose value nobody else reads, and after which nothing reads the Variable."""
        step, later = steps[0], steps[1:]
        if not step.elementwise or value_slot not in step.outputs:
            return False
        if value_slot in self.output_slots or self.assigned_count[value_slot] != 1:
            return False
        for other in later:
            if any(self._root(s) in (var_slot, value_slot) for s in other.inputs):
                return False
        for pos, s in enumerate(step.inputs):
            if self._root(s) == var_slot and (s != var_slot or pos not in step.full_inputs):
                return False
        return True
