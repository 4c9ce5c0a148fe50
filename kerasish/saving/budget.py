"""A limit on the weights a model being loaded may create: no more bytes than the file's own
datasets hold (plus a little), so a config asking for absurd shapes (`Dense(10**12)`) is
refused before anything is allocated.

`Layer.add_weight` calls `charge` for every weight; outside an `allocation_budget` block
it does nothing.
"""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

SLACK_BYTES = 64 << 20  # what a model may create beyond its file's datasets


class _Budget(threading.local):
    def __init__(self):
        self.remaining = None
        self.label = ""


_budget = _Budget()


@contextlib.contextmanager
def allocation_budget(nbytes: int, label: str):
    """Inside the block, weights created in this thread may total at most `nbytes` (plus
    `SLACK_BYTES`); `label` names the file in the error."""
    previous = (_budget.remaining, _budget.label)
    _budget.remaining, _budget.label = int(nbytes) + SLACK_BYTES, label
    try:
        yield
    finally:
        _budget.remaining, _budget.label = previous


def charge(shape, dtype, owner: str) -> None:
    """Counts a weight of `shape` and `dtype` against the budget; a ValueError when the
    file does not hold that much data."""
    if _budget.remaining is None:
        return
    nbytes = math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize
    if nbytes > _budget.remaining:
        raise ValueError(
            f"{_budget.label}: the model this file describes needs a weight of shape "
            f"{tuple(shape)} for '{owner}' ({nbytes:,} bytes), more than the file's own data "
            "holds; the file is corrupted or not a saved model. Nothing was allocated."
        )
    _budget.remaining -= nbytes
