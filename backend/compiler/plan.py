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

Running a Plan copies the arguments into the input buffers (an input only products read is
read where it is, `inputs.py`), runs the flat list of steps, and returns fresh copies of the
outputs. Steady-state runs allocate no buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import config, graph, profiling, spinners
from ..tensor import SymbolicTensor, Tensor
from ..variables import Variable
from . import cse, fusion, inputs, lowering, packing, patterns, runners, state_groups
from .arena import BufferArena


@dataclass
class Step:
    """One call of the flat list: `run(*[slots[i] for i in args])`."""

    name: str
    run: object
    inputs: list
    outputs: list
    elementwise: bool = False
    full_inputs: tuple = ()  # input positions read element-for-element (may be overwritten)
    phase: str = "forward"  # forward, backward or optimizer (for the profiler)
    flops: float = 0.0  # floating-point operations of a run, where known (for the profiler)
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
    alias: int | None = None  # for a Variable placed in a flat buffer: the buffer's slot


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
    flat_buffers: list = field(default_factory=list)  # synced before the Variables are read
    borrowable: dict = field(default_factory=dict)  # input slot -> own buffer (`inputs.py`)

    def run(self, args: list) -> list:
        spinners.touch()
        if profiling.active is not None:
            return self._run_profiled(args, profiling.active)
        if config.nan_checks_enabled():
            return runners.run_checked(self, args)
        arrays = self.arrays
        self.begin(args)
        try:
            for step in self.steps:
                step.run(*[arrays[i] for i in step.args])
            return self.finish()
        finally:
            self.end()

    def begin(self, args: list) -> None:
        """What a run does before its steps: advance random streams, sync flat buffers, read
        the Variables, make views of their current values, copy the arguments in."""
        arrays = self.arrays
        for frame in self.draw_frames:
            frame.begin()
        for buffer in self.flat_buffers:
            if buffer.dirty:
                buffer.sync()
        for slot, variable in self.var_slots:
            arrays[slot] = variable._value
        for slot in self.dynamic_views:
            s = self.slots[slot]
            op, attrs = s.view
            arrays[slot] = op.forward(None, arrays[s.base], **attrs)
        borrowable = self.borrowable
        for slot, arg in zip(self.input_slots, args, strict=True):
            own = borrowable.get(slot)
            if own is not None and inputs.fits(arg, own):
                arrays[slot] = arg  # read in place for this run; `end` puts the buffer back
            else:
                np.copyto(arrays[slot], arg)

    def end(self) -> None:
        """What a run does last, even when a step raised: the input buffers go back in place
        of the caller's arrays that `begin` let the steps read (the Plan keeps none)."""
        for slot, own in self.borrowable.items():
            self.arrays[slot] = own

    def finish(self) -> list:
        """What a run does after its steps: copy assigned values into their Variables, and
        return copies of the outputs."""
        arrays = self.arrays
        for slot, variable in self.assign_copies:
            np.copyto(variable._value, arrays[slot])
        out = []
        for i, slot in enumerate(self.output_slots):
            if slot is None:
                out.append(self.output_constants.get(i))
            else:
                out.append(np.array(arrays[slot], copy=True))
        return out

    def _run_profiled(self, args: list, recorder) -> list:
        return runners.run_profiled(self, args, recorder)

    def bound_runner(self):
        """A callable `run(args) -> outputs` doing what `run` does, with every step's arguments
        bound once, for repeated calls with one signature (`runners.bound_runner`); None when
        the Plan draws random numbers or reads a flat buffer."""
        return runners.bound_runner(self)

    def describe(self) -> list:
        """The kernel calls in order, by name (for tests and curiosity)."""
        return [step.name for step in self.steps]


def build_plan(traced, arena: BufferArena | None = None) -> Plan:
    """The Plan of a traced graph; its work buffers come from `arena` when one is given."""
    builder = _Builder(traced, arena)
    return builder.build()


class _Builder:
    def __init__(self, traced, arena: BufferArena | None = None):
        self.traced = traced
        self.arena = arena
        self._taken: dict = {}  # (dtype, use) -> new buffers of that kind taken so far
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
        nodes, canonical = cse.eliminate(graph.topological_nodes(roots))
        self.outputs = [cse.resolve(o, canonical) for o in traced.outputs]
        self.assignments = [(var, cse.resolve(v, canonical)) for var, v in traced.assignments]
        roots = [cse.resolve(v, canonical) for v in roots]

        consumers: dict = {}
        for node in nodes:
            for x in node.inputs:
                consumers[id(x)] = consumers.get(id(x), 0) + 1
        for value in roots:
            consumers[id(value)] = consumers.get(id(value), 0) + 1  # read by the caller

        steps = self._lower(nodes, consumers)
        self._alias_flat_members()
        output_slots, constants = [], {}
        for i, out in enumerate(self.outputs):
            if out is None:
                output_slots.append(None)
            elif isinstance(out, Tensor):
                output_slots.append(None)
                constants[i] = out.numpy()
            else:
                output_slots.append(self.slot_for(out))

        assignments = [(self.slot_for(v), var) for var, v in self.assignments]
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
        assigned = {id(v) for _, v in self.assignments}
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
        state_groups.merge(nodes, group_of, absorbed, consumers, assigned)

        fused_at, replaced = {}, set()
        for fused in patterns.find(nodes, group_of, consumers):
            fused_at[id(fused.anchor)] = fused
            replaced.update(id(n) for n in fused.replaced)
        steps = []
        phase_of = self.traced.phase_of
        for node in nodes:
            fused = fused_at.get(id(node))
            if fused is not None:
                ins = [self.slot_for(x) for x in fused.inputs]
                outs = [self.slot_for(o) for o in fused.outputs]
                work = {id(n): n for n in [fused.anchor, *fused.replaced]}
                flops = sum(profiling.node_flops(n) for n in work.values())
                phase = phase_of.get(id(fused.anchor), "forward")
                steps.append(Step(fused.name, fused.run, ins, outs, phase=phase, flops=flops,
                                  origin=self._origin(fused.anchor)))  # fmt: skip
                continue
            if id(node) in absorbed or id(node) in replaced:
                continue
            group, extra = group_of.get(id(node), (None, None))
            if group is not None and (len(group) > 1 or not lowering.has_direct(node)):
                steps.append(self._fused_step(group, extra))
                steps[-1].phase = phase_of.get(id(node), "forward")
                steps[-1].origin = self._origin(group[0])
                continue
            if lowering.is_view(node):
                self._view_slot(node)
                continue
            ins = [self.slot_for(x) for x in node.inputs]
            outs = [self.slot_for(o) for o in node.outputs]
            phase = phase_of.get(id(node), "forward")
            if node.op.name == "flat_pack":  # its run is set when buffers are planned
                steps.append(Step(node.op.name, None, ins, outs, phase=phase,
                                  origin=self._origin(node)))  # fmt: skip
                continue
            run, elementwise = lowering.lower(node)
            full = tuple(
                i
                for i, x in enumerate(node.inputs)
                if elementwise and tuple(x.shape) == tuple(node.outputs[0].shape)
            )
            flops = profiling.node_flops(node)
            steps.append(Step(node.op.name, run, ins, outs, elementwise, full, phase, flops,
                              self._origin(node)))  # fmt: skip
        return steps

    def _origin(self, node) -> str | None:
        entry = self.traced.origins.get(id(node))
        return entry[1] if entry is not None else None

    def _alias_flat_members(self) -> None:
        """A Variable placed in a flat buffer that this Plan also reads or writes as a whole
        shares its memory: liveness and in-place writes treat it as the buffer's slot."""
        self.flat_buffers = []
        for slot in list(self.var_slot.values()):
            buffer = getattr(self.slots[slot].variable, "buffer", None)
            if buffer is None:
                continue
            self.flat_buffers.append(buffer)
            for member in buffer.variables:
                member_slot = self.var_slot.get(id(member))
                if member_slot is not None and member._flat is buffer:
                    self.slots[member_slot].alias = slot

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
        results = [len(group) - 1] + [inner[id(n.outputs[0])] for n in extra]
        run = fusion.runner(body, leaf_kinds, results, out_shape, len(group))
        ins = [self.slot_for(x) for x in leaf_values]
        outs = [self.slot_for(root.outputs[0])] + [self.slot_for(n.outputs[0]) for n in extra]
        full = tuple(i for i, k in enumerate(leaf_kinds) if k == "full")
        name = "fused[" + ",".join(n.op.name for n in group) + "]"
        return Step(name, run, ins, outs, True, full)

    # ---- buffers ------------------------------------------------------------------------------

    def _root(self, slot: int) -> int:
        while self.slots[slot].kind == "view":
            slot = self.slots[slot].base
        alias = self.slots[slot].alias
        return slot if alias is None else alias

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
        # A flat buffer assigned both as a whole and through a Variable placed in it: all its
        # assignments are copied in at the end, in program order.
        assigned_as = {}
        for _, var in assignments:
            var_slot = self.slot_for(var)
            assigned_as.setdefault(self._root(var_slot), set()).add(var_slot)
        for value_slot, var in assignments:
            var_slot = self.slot_for(var)
            k = producer_step.get(value_slot)
            alone = len(assigned_as[self._root(var_slot)]) == 1
            if (
                alone
                and k is not None
                and self._can_write_in_place(steps[k:], value_slot, var_slot)
            ):
                in_place[value_slot] = var_slot
            else:
                copies.append((value_slot, var))
                last_use[self._root(value_slot)] = end

        arrays: list = [None] * len(slots)
        for slot, array in self.const_arrays.items():
            arrays[slot] = array
        self._taken = {}  # (dtype, use) -> how many new buffers of that kind so far
        for slot in input_slots:
            s = slots[slot]
            arrays[slot] = self._new_flat(s.dtype, math.prod(s.shape), "input").reshape(s.shape)
        pool: dict = {}  # (dtype, size) -> [flat arrays]

        def allocate(slot: int) -> None:
            s = slots[slot]
            key = (s.dtype, math.prod(s.shape))
            free = pool.get(key)
            flat = free.pop() if free else self._new_flat(s.dtype, key[1])
            arrays[slot] = flat.reshape(s.shape)

        def release(slot: int) -> None:
            s = slots[slot]
            if s.kind != "buffer" or arrays[slot] is None:
                return
            pool.setdefault((s.dtype, math.prod(s.shape)), []).append(arrays[slot].reshape(-1))

        for step in steps:
            if step.name == "flat_pack":
                packing.pack_in_place(self.slots, self._new_flat, step, producer_step, arrays,
                                      last_use, end)  # fmt: skip

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
            steps=[step for step in steps if step.run is not None],  # a pack left nothing to do
            input_slots=input_slots,
            output_slots=output_slots,
            output_constants=constants,
            var_slots=[(slot, s.variable) for slot, s in enumerate(slots) if s.kind == "var"],
            dynamic_views=dynamic_views,
            assign_copies=[(slot, var) for slot, var in copies],
            arrays=arrays,
            draw_frames=list(self.traced.draw_frames),
            flat_buffers=self.flat_buffers,
        )
        viewed = {self._root(i) for i, s in enumerate(slots) if s.kind == "view"}
        plan.borrowable = inputs.borrowable(plan.steps, input_slots, output_slots, viewed, arrays)
        return plan

    def _new_flat(self, dtype, size: int, use: str = "work") -> np.ndarray:
        """A new flat buffer for this Plan: the next of its kind from the function's arena
        (shared with its other Plans) when there is one."""
        if self.arena is None:
            return np.empty(size, dtype=dtype)
        key = (np.dtype(dtype).str, use)
        index = self._taken.get(key, 0)
        self._taken[key] = index + 1
        return self.arena.take(key, index, size)

    def _can_write_in_place(self, steps: list, value_slot: int, var_slot: int) -> bool:
        """Whether `steps[0]`, which computes a Variable's final value, may write it straight
        into the Variable: an elementwise step, reading the Variable (if at all) element for
        element, whose value nobody else reads, and after which nothing reads the Variable."""
        step, later = steps[0], steps[1:]
        if not step.elementwise or value_slot not in step.outputs:
            return False
        if value_slot in self.output_slots or self.assigned_count[value_slot] != 1:
            return False
        var_root = self._root(var_slot)  # a placed Variable: its flat buffer's slot
        for other in later:
            if any(self._root(s) in (var_root, value_slot) for s in other.inputs):
                return False
        for pos, s in enumerate(step.inputs):
            if self._root(s) == var_root and (s != var_slot or pos not in step.full_inputs):
                return False
        return True
