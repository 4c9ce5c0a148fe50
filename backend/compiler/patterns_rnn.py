"""Recurrent loops in inference: a fused sequence op (`ops.rnn`) whose saved output (what
its backward would read: gates and states at every step) has no reader runs its kernel
without computing or writing it, and the Plan gives that output no buffer (`patterns.find`
adds these fusions).
"""

from __future__ import annotations

from .patterns import Fused


def inference_sequences(nodes: list, consumers: dict) -> list:
    """One `Fused` per sequence node whose last output (the saved values) nobody reads."""
    from ..ops.rnn import SequenceOp

    found = []
    for node in nodes:
        if not isinstance(node.op, SequenceOp) or consumers.get(id(node.outputs[-1]), 0):
            continue
        op, attrs, scratch = node.op, node.attrs, {}  # scratch: this step's work arrays

        def run(*arrays, op=op, attrs=attrs, scratch=scratch):
            op.forward_into(*arrays, train=False, scratch=scratch, **attrs)

        found.append(
            Fused(
                op.name + "[inference]",
                run,
                list(node.inputs),
                list(node.outputs[:-1]),
                anchor=node,
            )
        )
    return found
