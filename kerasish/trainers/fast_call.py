"""The fast path of a repeated call: `model(x)`, `predict_on_batch(x)`, or a one-batch
`predict(x)` or `evaluate(x, y)`, with the signature of the call before it.

The general path of `model(x)` checks its arguments, converts and casts them, looks the Plan
up by signature and packs the outputs: 20-35 us a call, more than the computation of a small
model on one sample. After a general call that could have taken it, the model keeps a
`FastCall`: the input's shape and dtype, the Plan's pre-bound runner (`Plan.bound_runner`)
and the output structure. A later call with one numpy array (or Tensor) of that shape and
dtype, and nothing that changes what the call means (no GradientTape recording, not inside a
traced step, no `training=True`, no loss added by a layer since), runs the Plan directly.
Anything else takes the general path, which sets the fast path up again.
"""

from __future__ import annotations

import numpy as np

from backend import nest, profiling
from backend.compiler import PLAN_LOCK
from backend.memory import check_memory
from backend.tensor import Tensor, active_tapes, in_symbolic_scope

from ..layers.layer import Layer
from . import data_adapter as da
from .step_state import in_step


class FastCall:
    """A Plan's bound runner for one input signature, and what the call returns. The
    signature is one array, or with `targets`, an array and its targets (an evaluation
    step on `(x, y)`)."""

    __slots__ = ("owner", "plan", "shape", "dtype", "targets", "runner", "structure", "count",
                 "fresh", "losses_mark")  # fmt: skip

    def __init__(self, owner, plan, array: np.ndarray, runner, structure, targets=None):
        self.owner = owner  # the cache the Plan came from: a new cache means a new Plan
        self.plan = plan
        self.shape = array.shape
        self.dtype = array.dtype
        self.targets = None if targets is None else (targets.shape, targets.dtype)
        self.runner = runner
        self.structure = structure
        self.count = len(nest.flatten(structure))
        # Every output a new array each run (none a constant the Plan hands back as it is).
        self.fresh = all(slot is not None for slot in plan.output_slots[: self.count])
        self.losses_mark = Layer._losses_added

    def matches(self, x, owner) -> np.ndarray | None:
        """The array to run on when `x` takes this fast path, else None."""
        if type(x) is Tensor:
            x = x._value
        elif type(x) is not np.ndarray:
            return None
        if x.shape != self.shape or x.dtype != self.dtype or owner is not self.owner:
            return None
        if self.losses_mark != Layer._losses_added:
            return None  # a layer added a loss: the general path clears `model.losses`
        if active_tapes() or in_step() or in_symbolic_scope():
            return None
        return x

    def matches_targets(self, y) -> bool:
        """Whether targets `y` (a numpy array) are of the signature's shape and dtype."""
        return type(y) is np.ndarray and (y.shape, y.dtype) == self.targets

    def run(self, *arrays: np.ndarray) -> list:
        with PLAN_LOCK:
            return self.runner(arrays)[: self.count]

    def same(self, plan, owner, array, targets) -> bool:
        """Whether this runs `plan` (of `owner`) on the signature of `array` and `targets`."""
        return (
            self.plan is plan
            and self.owner is owner
            and self.shape == array.shape
            and self.dtype == array.dtype
            and self.targets == (None if targets is None else (targets.shape, targets.dtype))
        )


def fast_call_for(function, owner, array, structure, masks, added, current=None, targets=None):
    """A FastCall for `function`'s Plan on `array` (and `targets`), when its outputs carry no
    mask and no added loss and the Plan can be pre-bound; else None. `current` (the
    FastCall in use) is kept when it already runs that Plan on that signature: binding a
    Plan's steps costs more than running a small one."""
    if any(m is not None for m in masks) or added:
        return None
    plan = function.plan_for(array) if targets is None else function.plan_for(array, targets)
    if current is not None and current.same(plan, owner, array, targets):
        current.losses_mark = Layer._losses_added  # the same Plan returns the same structure
        return current
    runner = plan.bound_runner()
    if runner is None:
        return None
    return FastCall(owner, plan, array, runner, structure, targets)


def keep(model, kind: str, function, flat: list, batch: tuple, result) -> None:
    """After `model`'s compiled predict step on one array, or test step on an array and its
    targets (neither cast: `batch` is the `(x, y, sample_weight)` the step was given), keeps
    the step's Plan pre-bound for a `predict` or `evaluate` of that signature."""
    x, y, sample_weight = batch
    owner = model._step_fns
    if kind == "predict" and len(flat) == 1 and x is flat[0]:
        current = model.__dict__.get("_fast_predict")
        model._fast_predict = fast_call_for(function, owner, x, result, [], [], current)
    elif kind == "test" and sample_weight is None and len(flat) == 2 and flat[0] is x:
        if flat[1] is not y:
            return
        current = model.__dict__.get("_fast_evaluate")
        model._fast_evaluate = fast_call_for(function, owner, x, result, [], [], current, y)


def one_batch(model, fast: FastCall, x, batch_size, steps, verbose, callbacks):
    """`x` as an array when `fast` (the model's pre-bound predict or test step) can run it as
    `predict` or `evaluate` would: no progress bar, callbacks or profile to serve, one batch
    of its signature (`batch_size` and `steps` leave it whole), checked as `make_batches`
    checks it; else None (the general path then does the work, and raises for bad
    arguments)."""
    if type(verbose) is not int or verbose != 0 or callbacks is not None:
        return None
    if profiling.active is not None or model._run_eagerly:
        return None
    array = fast.matches(x, model._step_fns)
    if array is None:
        return None
    rows = array.shape[0]
    if batch_size is None:
        if rows > da.DEFAULT_BATCH_SIZE:
            return None
    elif type(batch_size) is not int or not rows <= batch_size:
        return None
    else:  # as `make_batches`: a batch size too large for memory is refused
        check_memory(batch_size * array[:1].nbytes, f"batch_size={batch_size}")
    if steps is not None and (type(steps) is not int or steps < 1):
        return None
    if array.dtype.kind in "fc" and not da.surely_finite(array):
        da.check_finite(array, "x")  # raises, naming the first NaN or Inf
    return array


def as_tensors(fast: FastCall, flat: list):
    if fast.count == 1 and not isinstance(fast.structure, (list, tuple, dict)):
        return Tensor(flat[0])
    return nest.pack(fast.structure, iter(Tensor(o) for o in flat))


def as_arrays(fast: FastCall, flat: list):
    if fast.count == 1 and not isinstance(fast.structure, (list, tuple, dict)):
        return flat[0]
    return nest.pack(fast.structure, iter(flat))
