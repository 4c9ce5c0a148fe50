"""Gathered projections in inference: `take(table, ids) @ W (+ b)` as `take(table @ W + b, ids)`.

An embedding lookup followed by a Dense-like product (a recurrent layer's input projection,
`Embedding -> LSTM`) multiplies every gathered row by `W`. When more rows are gathered than
the table has (a predict batch of 256 sequences of 200 tokens is 51,200 rows of a 20,000-row
vocabulary), projecting the table once and gathering the projected rows does the same
products on fewer rows: 1.3 instead of 3.4 GFLOP for a (20000, 128) table and a (128, 256)
kernel, and the bias is added to the table's rows instead of the batch's. Each output row is
the same dot products as before (BLAS may block them differently, so the last bit may
differ).

It applies only when nothing else reads the gathered rows, so never in a training step (the
kernel's gradient reads them), and when the table, `W` and `b` are 2-D, 2-D and 1-D. The
projected table is kept, with copies of what it was made from, and made again only when the
table, `W` or `b` has changed since (`_Projection`): a `predict` of 8 batches of that LSTM
took 165 and 156 ms against 191 and 220 without it (medians of 15, two alternating runs).
`patterns.find` adds these fusions.
"""

from __future__ import annotations

import math

import numpy as np

from .patterns import Fused


def gathered_projections(nodes: list, groups: dict, readers: dict, consumers: dict) -> list:
    """One `Fused` per `matmul(take(table, ids, axis=0), W)` (with the bias add after it,
    when that add is a step of its own) whose gathered rows only the matmul reads and that
    gathers more rows than the table has."""
    found = []
    for node in nodes:
        if node.op.name != "matmul":
            continue
        gathered, weight = node.inputs
        take = getattr(gathered, "_node", None)
        if take is None or take.op.name != "take" or take.attrs["axis"] != 0:
            continue
        table, ids = take.inputs
        shapes = (tuple(table.shape), tuple(weight.shape), tuple(ids.shape))
        if len(shapes[0]) != 2 or len(shapes[1]) != 2 or None in sum(shapes, ()):
            continue
        if consumers.get(id(gathered), 0) != 1 or math.prod(shapes[2]) <= shapes[0][0]:
            continue
        bias_add = _own_bias_add(node, groups, readers, consumers)
        inputs = [table, weight, ids]
        replaced = [take]
        if bias_add is not None:
            inputs.insert(2, bias_add.inputs[1])
            replaced.append(node)
        last = bias_add or node
        found.append(
            Fused(
                "matmul(table)+take" if bias_add is None else "matmul(table)+bias+take",
                _projected_gather(bias_add is not None),
                inputs,
                [last.outputs[0]],
                anchor=last,
                replaced=replaced,
            )
        )
    return found


def _own_bias_add(matmul, groups: dict, readers: dict, consumers: dict):
    """The `add(matmul, b)` (b 1-D, the width of the product) that alone reads the product
    and runs as a step of its own; None if there is none."""
    out = matmul.outputs[0]
    users = readers.get(id(out), [])
    if consumers.get(id(out), 0) != 1 or len(users) != 1:
        return None
    add = users[0]
    if add.op.name != "add" or add.inputs[0] is not out:
        return None
    bias = add.inputs[1]
    if tuple(bias.shape) != (out.shape[-1],) or bias.dtype != out.dtype:
        return None
    members, _ = groups.get(id(add), ([], []))
    return add if members == [add] else None


class _Projection:
    """The projected table `table @ W (+ b)` and copies of the table, `W` and `b` it was made
    from: a later batch, or a later `predict`, whose weights have the same bits reuses it.

    Weights change between calls only by training or assignment, which this cannot see (an
    optimizer writes them in place), so every call compares them bit for bit
    (`kernels.compare.same_bits`: about 0.2 ms for a (20000, 128) float32 table, against 3
    to 10 ms for projecting it again). The copies cost the table's size in memory once."""

    def __init__(self, rows: int, width: int, dtype):
        self.rows = np.empty((rows, width), dtype=dtype)
        self.sources: list | None = None  # copies of (table, W[, b]), once computed

    def current(self, table, weight, bias) -> np.ndarray:
        from ..kernels.compare import same_bits

        sources = (table, weight) if bias is None else (table, weight, bias)
        kept = self.sources
        if kept is not None and all(map(same_bits, sources, kept)):
            return self.rows
        np.matmul(table, weight, out=self.rows)
        if bias is not None:
            np.add(self.rows, bias, out=self.rows)
        if kept is None:
            self.sources = [np.array(s, order="C") for s in sources]
        else:  # the same shapes: the key of a projection fixes them
            for k, s in zip(kept, sources, strict=True):
                np.copyto(k, s)
        return self.rows


def _projected_gather(with_bias: bool):
    projected: dict = {}  # the projected table, by shape and dtype (made once, reused)

    def run(table, weight, *rest):
        bias, ids, out = rest if with_bias else (None, *rest)
        key = (table.shape[0], weight.shape[1], table.dtype)
        projection = projected.get(key)
        if projection is None:
            projection = projected[key] = _Projection(*key)
        rows = projection.current(table, weight, bias)
        from ..ops import gather_rows

        if not gather_rows.take_rows_into(rows, ids, out):
            np.copyto(out, np.take(rows, ids, axis=0))

    return run
