"""Where time goes: the engine's side of `kerasish.utils.profile`.

While a `Recorder` is `active`, every Plan times each of its steps and records it under the
step's phase ("forward", "backward" or "optimizer": what the traced code was doing when it
recorded the step's nodes, see `phase`) and its name, with the step's floating-point work
where it is known (matrix products and convolutions), so a table can show GFLOP/s. The fit
loop records the time spent assembling batches ("data") and in callbacks ("callbacks").
Without an active recorder nothing is timed and a Plan runs its plain loop.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

from .tensor import current_trace

#: The Recorder of the profile running now, or None.
active = None

PHASES = ("forward", "backward", "optimizer")


class Recorder:
    """Sums of calls, seconds and FLOPs by (category, name)."""

    def __init__(self):
        self.records: dict = {}

    def add(self, category: str, name: str, seconds: float, flops: float = 0.0) -> None:
        record = self.records.get((category, name))
        if record is None:
            record = self.records[(category, name)] = [0, 0.0, 0.0]
        record[0] += 1
        record[1] += seconds
        record[2] += flops


@contextmanager
def phase(name: str):
    """Nodes recorded inside are of phase `name` (in a traced function; else nothing)."""
    trace = current_trace()
    if trace is None:
        yield
        return
    previous, trace.phase = trace.phase, name
    try:
        yield
    finally:
        trace.phase = previous


def timed(iterable, category: str, name: str):
    """`iterable`, with the time each item takes to produce recorded while profiling."""
    recorder = active
    if recorder is None:
        yield from iterable
        return
    iterator = iter(iterable)
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            recorder.add(category, name, time.perf_counter() - start)
            return
        recorder.add(category, name, time.perf_counter() - start)
        yield item


def node_flops(node) -> float:
    """Floating-point operations of a node (2 per multiply-add), where known; else 0."""
    name = node.op.name
    try:
        if name == "matmul":
            a, _ = node.inputs
            return 2.0 * math.prod(node.outputs[0].shape) * a.shape[-1]
        if name == "conv":
            kh, kw, cin_group, _ = node.inputs[1].shape
            return 2.0 * math.prod(node.outputs[0].shape) * kh * kw * cin_group
        if name in ("conv_transpose", "conv_filter_grad"):  # the conv's gradients: its work
            per_output = node.inputs[1].shape if name == "conv_transpose" else None
            if per_output is not None:
                kh, kw, cin_group, _ = per_output
                return 2.0 * math.prod(node.inputs[0].shape) * kh * kw * cin_group
            kh, kw = node.attrs["kernel_size"]
            x, g = node.inputs
            groups = node.attrs.get("groups", 1) or 1
            return 2.0 * math.prod(g.shape) * kh * kw * (x.shape[-1] // groups)
    except (TypeError, KeyError, ValueError):
        return 0.0
    return 0.0
