"""A loss computed with its gradient: the sparse softmax crossentropy of a training step and
its logits gradient, `g * (softmax(z) - one_hot(t))`, as one pass over the logits.

In a training step the two are apart: the loss in the forward pass, its gradient in the
backward, whose seed `g` (`1 / batch` per sample for a mean) is a constant. When `g` is known
by the time the loss is computed (a constant, an argument, or a value computed before), one
call (`kernels.nn.sparse_softmax_xent_with_grad`) writes both at the loss's place: each row's
maximum and exponentials are computed once, and the labels are checked once. The numbers are
those of the two kernels apart (the same per-row arithmetic).
"""

from __future__ import annotations

import numpy as np

from ..tensor import SymbolicTensor, Tensor
from .patterns import Fused

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def losses_with_gradients(nodes: list, found: list, readers: dict) -> list:
    """The pairs of a sparse crossentropy and its gradient among `nodes` that run as one."""
    taken = {id(n) for f in found for n in (f.anchor, *f.replaced)}
    position = {id(n): i for i, n in enumerate(nodes)}
    fusions = []
    for node in nodes:
        if node.op.name != "sparse_categorical_crossentropy" or id(node) in taken:
            continue
        labels, logits = node.inputs
        axis = node.attrs["axis"]
        if axis != len(logits.shape) - 1 or np.dtype(logits.dtype) not in _FLOATS:
            continue
        for grad in readers.get(id(logits), []):
            if (
                grad.op.name == "sparse_categorical_crossentropy_grad"
                and id(grad) not in taken
                and grad.inputs[0] is labels
                and grad.inputs[1] is logits
                and grad.attrs["axis"] == axis
                and _known_before(grad.inputs[2], position[id(node)], position)
            ):
                fusions.append(_paired(node, grad))
                taken.add(id(grad))
                break
    return fusions


def _known_before(value, index: int, position: dict) -> bool:
    """Whether `value` exists when the node at `index` runs."""
    if type(value) is Tensor:
        return True
    if not isinstance(value, SymbolicTensor):
        return False
    producer = value._node
    return producer is None or position.get(id(producer), index) < index


def _paired(loss, grad) -> Fused:
    from ..kernels import nn

    def run(labels, logits, g, loss_out, grad_out):
        nn.sparse_softmax_xent_with_grad(logits, labels, g, loss_out, grad_out)

    return Fused("sparse_categorical_crossentropy+grad", run, list(grad.inputs),
                 [loss.outputs[0], grad.outputs[0]], anchor=loss, replaced=[grad])  # fmt: skip
