"""Three other ways to run a Plan: timing each step for the profiler, checking each step's
outputs for NaN and Inf (`config.enable_nan_checks()`), and with every step's arguments bound
once for the fast path of repeated calls."""

from __future__ import annotations

import functools
import time

import numpy as np

from .. import config, profiling
from ..origins import NonFiniteError


def run_profiled(plan, args: list, recorder) -> list:
    """`run`, timing each step into `recorder` (backend.profiling)."""
    clock = time.perf_counter
    start = clock()
    arrays = plan.arrays
    plan.begin(args)
    overhead = clock() - start
    for step in plan.steps:
        step_args = [arrays[i] for i in step.args]
        begin = clock()
        step.run(*step_args)
        recorder.add(step.phase, step.name, clock() - begin, step.flops)
    start = clock()
    out = plan.finish()
    recorder.add("plan", "inputs, Variables, outputs", overhead + clock() - start)
    return out


def run_checked(plan, args: list) -> list:
    """`run`, each step's float outputs checked for NaN and Inf; the first raises
    NonFiniteError naming the step, its op and the layer it was traced in."""
    arrays = plan.arrays
    plan.begin(args)
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
    of repeated calls with one signature. The bindings are redone when a Variable's value
    was replaced (an eager `assign`) since they were made. None when the Plan draws
    random numbers or reads a flat buffer (those runs take `run`)."""
    if plan.draw_frames or plan.flat_buffers:
        return None
    arrays, slots = plan.arrays, plan.slots
    bound: dict = {}

    def bind() -> None:
        for slot, variable in plan.var_slots:
            arrays[slot] = variable._value
        for slot in plan.dynamic_views:
            op, attrs = slots[slot].view
            arrays[slot] = op.forward(None, arrays[slots[slot].base], **attrs)
        bound["calls"] = [_bound_call(step, arrays) for step in plan.steps]
        bound["values"] = [(variable, variable._value) for _, variable in plan.var_slots]

    inputs = [arrays[slot] for slot in plan.input_slots]

    def run(args):
        if profiling.active is not None or config.nan_checks_enabled():
            return plan.run(args)
        if any(variable._value is not value for variable, value in bound["values"]):
            bind()
        for array, arg in zip(inputs, args, strict=True):
            np.copyto(array, arg)
        for call in bound["calls"]:
            call()
        return plan.finish()  # assigned values copied into their Variables, outputs copied

    bind()
    return run


def _bound_call(step, arrays):
    """`step` as a call of no arguments over the Plan's current `arrays`."""
    args = [arrays[i] for i in step.args]
    bind = getattr(step.run, "bind", None)
    if bind is not None:
        return bind(*args)
    return functools.partial(step.run, *args)
