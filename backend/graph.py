"""Walking and running symbolic graphs.

`evaluate` is the reference interpreter: it runs each node's `forward` in topological order
with numpy. The compiler (`backend.compiler`) turns the same graphs into Plans; this stays as
the plain reference the compiled Plans are tested against.
"""

from __future__ import annotations

import numpy as np

from .tensor import SymbolicTensor, Tensor
from .variables import Variable


def topological_nodes(outputs) -> list:
    """The nodes that `outputs` depend on, each after the nodes it reads from."""
    order, seen = [], set()
    for out in outputs:
        if not isinstance(out, SymbolicTensor) or out._node is None:
            continue
        stack = [(out._node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for x in node.inputs:
                if isinstance(x, SymbolicTensor) and x._node is not None:
                    if id(x._node) not in seen:
                        stack.append((x._node, False))
    return order


def evaluate(outputs, feed: dict) -> list:
    """Computes symbolic `outputs` given `feed`, a dict {placeholder SymbolicTensor: array}.

    Placeholders are symbolic tensors with no producing node. Returns numpy arrays.
    """
    values = {id(k): np.asarray(v) for k, v in feed.items()}

    def value_of(x):
        if isinstance(x, SymbolicTensor):
            if id(x) not in values:
                raise ValueError(f"evaluate: no value was fed for placeholder {x!r}")
            return values[id(x)]
        if isinstance(x, (Tensor, Variable)):
            return x._value
        return np.asarray(x)

    for node in topological_nodes(outputs):
        results = node.op.forward(node, *(value_of(x) for x in node.inputs), **node.attrs)
        outs = node.outputs
        if len(outs) == 1:
            results = (results,)
        for out, result in zip(outs, results, strict=True):
            values[id(out)] = np.asarray(result, dtype=out.dtype)
    return [np.array(value_of(o)) for o in outputs]
