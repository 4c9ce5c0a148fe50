"""Three other ways to run a Plan: timing each step for the profiler, checking each step's
outputs for NaN and Inf (`config.enable_nan_checks()`), and with every step's arguments bound
once for the fast path of repeated calls."""

from __future__ import annotations

import functools
import operator
import time

import numpy as np

from .. import config, profiling, spinners
from ..origins import NonFiniteError


def run_profiled(plan, args: list, recorder) -> list:
    """`run`, timing each step into `recorder` (backend.profiling)."""
    clock = time.perf_counter
    start = clock()
    arrays = plan.arrays
    plan.begin(args)
    overhead = clock() - start
    try:
        for step in plan.steps:
            step_args = [arrays[i] for i in step.args]
            begin = clock()
            step.run(*step_args)
            recorder.add(step.phase, step.name, clock() - begin, step.flops)
        start = clock()
        out = plan.finish()
    finally:
        plan.end()
    recorder.add("plan", "inputs, Variables, outputs", overhead + clock() - start)
    return out


def run_checked(plan, args: list) -> list:
    """`run`, each step's float outputs checked for NaN and Inf; the first raises
    NonFiniteError naming the step, its op and the layer it was traced in."""
    arrays = plan.arrays
    plan.begin(args)
    try:
        return _checked_steps(plan, arrays)
    finally:
        plan.end()


def _checked_steps(plan, arrays: list) -> list:
    for index, step in enumerate(plan.steps):
        step.run(*[arrays[i] for i in step.args])
        for slot in step.outputs:
            out = arrays[slot]
            if out.dtype.kind != "f" or np.isfinite(out).all():
                continue
            kind = "NaN" if np.isnan(out).any() else "Inf"
            raise NonFiniteError(
                f"NaN check: the first {kind} came from op '{step.name}' "
                f"{_describe_origin(step.origin)} (step {index + 1} of {len(plan.steps)} of the "
                f"compiled function; an output of shape {out.shape}).",
                op=step.name,
                origin=step.origin or "",
                plan_step=index,
            )
    return plan.finish()


def _describe_origin(origin: str | None) -> str:
    if not origin:
        return "outside any layer (the loss, metrics or optimizer)"
    if origin.startswith("gradient of "):
        return f"in the gradient (backward pass) of layer '{origin[len('gradient of ') :]}'"
    if origin == "gradient":
        return "in the gradient of the loss"
    return f"in layer '{origin}'"


def bound_runner(plan):
    """A callable `run(args) -> outputs` doing what `run` does, with every step's arguments
    bound once (a fused kernel's reshaped views, a matmul's operands), for the fast path
    of repeated calls with one signature. When a Variable's value was replaced (an eager
    `assign`, a metric's `reset_state`) since, the steps that read it are bound again. None
    when the Plan draws random numbers or reads a flat buffer (those runs take `run`)."""
    if plan.draw_frames or plan.flat_buffers:
        return None
    arrays, slots = plan.arrays, plan.slots
    var_slots = plan.var_slots
    variables = [variable for _, variable in var_slots]
    values: list = [None] * len(variables)  # the Variables' arrays the bindings were made with
    calls: list = [None] * len(plan.steps)
    readers = _readers(plan)  # Variable index -> (its dynamic views, the steps reading it)
    out_slots = plan.output_slots
    # Without assigned values to copy back, `finish` copies each computed output buffer and
    # hands back the constant outputs, when those come last (a model call's masks of None).
    computed = len(out_slots)
    while computed and out_slots[computed - 1] is None:
        computed -= 1
    simple_finish = not plan.assign_copies and None not in out_slots[:computed]
    constants = [plan.output_constants.get(i) for i in range(computed, len(out_slots))]
    outputs: list = []

    def bind(changed) -> None:
        views, steps = set(), set()
        for index in changed:
            arrays[var_slots[index][0]] = values[index] = variables[index]._value
            views.update(readers[index][0])
            steps.update(readers[index][1])
        for slot in plan.dynamic_views:  # in the Plan's order: a view of a view comes after
            if slot in views:
                op, attrs = slots[slot].view
                arrays[slot] = op.forward(None, arrays[slots[slot].base], **attrs)
        for index in steps:
            calls[index] = _bound_call(plan.steps[index], arrays)
        if simple_finish:  # a Variable returned as it is changes array with it
            outputs[:] = [arrays[slot] for slot in out_slots[:computed]]

    def refresh() -> None:
        """Takes in the Variables whose value was replaced: a small one (a metric's total,
        reset each evaluation) is copied into the array the steps are bound to, which goes
        back into the Variable (its value is private: reads get copies); the steps reading a
        larger one are bound again."""
        changed = []
        for index, variable in enumerate(variables):
            new, old = variable._value, values[index]
            if new is old:
                continue
            if (
                new.size <= _COPIED_BACK
                and new.shape == old.shape
                and new.dtype == old.dtype
                and variable._flat is None
            ):
                np.copyto(old, new)
                variable._value = old
            else:
                changed.append(index)
        if changed:
            bind(changed)

    inputs = [arrays[slot] for slot in plan.input_slots]
    copy_in = np.copyto
    touch = spinners.touch
    is_not = operator.is_not

    def run(args):
        if profiling.active is not None or config.nan_checks_enabled():
            return plan.run(args)
        touch()
        if any(map(is_not, map(_VALUE, variables), values)):
            refresh()
        for array, arg in zip(inputs, args, strict=True):
            copy_in(array, arg)
        for call in calls:
            call()
        if simple_finish:
            return [np.array(output) for output in outputs] + constants
        return plan.finish()  # assigned values copied into their Variables, outputs copied

    bind(range(len(variables)))
    for index, step in enumerate(plan.steps):
        if calls[index] is None:  # reads no Variable
            calls[index] = _bound_call(step, arrays)
    if simple_finish and not variables:
        outputs[:] = [arrays[slot] for slot in out_slots[:computed]]
    return run


def _readers(plan) -> list:
    """For each of the Plan's Variables: the dynamic views of it (directly or through other
    views) and the indices of the steps that take it or one of those views."""
    slots = plan.slots
    root_of = {}  # slot -> Variable index, for var slots and views of them
    for index, (slot, _) in enumerate(plan.var_slots):
        root_of[slot] = index
    for slot in plan.dynamic_views:
        base = slots[slot].base
        while base not in root_of and slots[base].kind == "view":
            base = slots[base].base
        if base in root_of:
            root_of[slot] = root_of[base]
    readers = [(set(), set()) for _ in plan.var_slots]
    for slot in plan.dynamic_views:
        if slot in root_of:
            readers[root_of[slot]][0].add(slot)
    for index, step in enumerate(plan.steps):
        for slot in step.args:
            if slot in root_of:
                readers[root_of[slot]][1].add(index)
    return readers


_VALUE = operator.attrgetter("_value")
_COPIED_BACK = 4096  # elements: a replaced Variable this small is copied, not rebound


def _bound_call(step, arrays):
    """`step` as a call of no arguments over the Plan's current `arrays`."""
    args = [arrays[i] for i in step.args]
    bind = getattr(step.run, "bind", None)
    if bind is not None:
        return bind(*args)
    return functools.partial(step.run, *args)
