"""The compiler: traced functions become Plans, cached per input signature.

    step = compiler.function(train_step)   # train_step(x, y) written with ops
    loss = step(x_batch, y_batch)          # traced and compiled once per signature

Array and Tensor arguments are the traced function's data (a new shape or dtype is a new
signature, so a new Plan, but never a new kernel: kernels are shape-generic); any other
argument is static and part of the signature. Each function keeps its most recently used
`config.plan_cache_size()` Plans and drops the least recently used beyond that. Outputs
come back as fresh numpy arrays in the structure the function returned. Plans run under one
lock: a Plan's buffers serve every call of it, and the Plans of one function share their
work buffers (`BufferArena`), so two threads must not run them at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .. import config, nest
from ..tensor import Tensor
from . import replan
from .arena import BufferArena
from .plan import Plan, build_plan
from .trace import TracedGraph, is_dynamic, signature, trace

__all__ = ["Function", "Plan", "TracedGraph", "function", "trace"]

PLAN_LOCK = threading.RLock()


class Function:
    """A Python function compiled to Plans; call it like the function."""

    def __init__(self, fn, name: str | None = None):
        if not callable(fn):
            raise TypeError(f"compiler.function expects a callable. Received: {fn!r}")
        self._fn = fn
        self.name = name or getattr(fn, "__name__", "function")
        self._plans: OrderedDict = OrderedDict()  # signature -> (Plan, output structure)
        # Signature without the batch dim -> the first traced graph (re-planned for new
        # batch sizes when batch-free, replan.py).
        self._families: dict = {}
        self.replans = 0  # Plans built by re-planning a traced graph rather than tracing
        self._arena = BufferArena()  # work buffers its Plans (one per batch size) share

    def plan_for(self, *args) -> Plan:
        """The Plan for these arguments' signature (traced and built on first use)."""
        return self._entry(signature(args), args)[0]

    def _entry(self, key, args) -> tuple:
        entry = self._plans.get(key)
        if entry is not None:
            self._plans.move_to_end(key)
            return entry
        family_key = replan.family_key(args, key)
        family = self._families.get(family_key[0]) if family_key else None
        with PLAN_LOCK:
            traced = None
            if family is not None and family.batch_free:
                traced = family.retarget(family_key[1])  # None when it no longer checks out
                if traced is not None:
                    self.replans += 1
            if traced is None:
                traced = trace(self._fn, args)
                if family is None and family_key is not None:
                    self._families[family_key[0]] = replan.Family(traced, family_key[1])
                elif family is not None:
                    family.compare(traced, family_key[1])
            entry = (build_plan(traced, self._arena), traced.structure)
        self._plans[key] = entry
        while len(self._plans) > config.plan_cache_size():
            self._plans.popitem(last=False)
        return entry

    def __call__(self, *args):
        plan, structure = self._entry(signature(args), args)
        data = [a._value if isinstance(a, Tensor) else np.asarray(a) for a in args if is_dynamic(a)]
        with PLAN_LOCK:
            flat = plan.run(data)
        return nest.pack(structure, iter(flat))

    @property
    def plan_count(self) -> int:
        return len(self._plans)


def function(fn) -> Function:
    """Compiles `fn` (written with ops, GradientTape and Variable assignments) into Plans.

    Example:
        >>> import numpy as np
        >>> from backend import Variable, compiler, ops
        >>> w = Variable(np.ones(3))
        >>> def step(x):
        ...     w.assign_add(x)
        ...     return ops.sum(w)
        >>> f = compiler.function(step)
        >>> float(f(np.ones(3, np.float32))), w.numpy().tolist()
        (6.0, [2.0, 2.0, 2.0])
    """
    return Function(fn)
