"""The work buffers the Plans of one compiled function share (one Plan per batch size)."""

from __future__ import annotations

import weakref

import numpy as np


class BufferArena:
    """Work buffers shared by the Plans of one compiled function.

    Plans of one function never run at the same time (they run under the compiler's lock)
    and keep nothing in a work buffer from one run to the next, so the Plans built for
    several batch sizes can share their work buffers: a Plan's j-th new buffer of a dtype is
    the first elements of the arena's j-th buffer of that dtype, which grows (a new, larger
    array) when a Plan needs more. The same graph at another batch size asks for its buffers
    in the same order, so the arena ends up the size of the largest Plan's buffers. It holds
    weak references only: a buffer goes when the last Plan using it leaves the cache.
    """

    def __init__(self):
        self._buffers: dict = {}  # (dtype, use) -> [weakref to a flat array]

    def take(self, key: tuple, index: int, size: int) -> np.ndarray:
        """`size` elements of the `index`-th flat buffer of `key` = (dtype, use)."""
        refs = self._buffers.setdefault(key, [])
        while len(refs) <= index:
            refs.append(lambda: None)
        flat = refs[index]()
        if flat is None or flat.size < size:
            flat = np.empty(size, dtype=key[0])
            refs[index] = weakref.ref(flat)
        return flat[:size]
