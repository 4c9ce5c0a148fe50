"""Refusing allocations larger than the machine's memory before trying them, with a message
that says what asked for how much (numpy's own MemoryError names neither the layer nor the
argument, and an allocation that the OS grants lazily may instead end the process later);
and the work arrays a step of a compiled function keeps from one run to the next
(`work_array`)."""

from __future__ import annotations

import functools
import math
import os

import numpy as np


@functools.cache
def total_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "bytes" else f"{int(n)} bytes"
        n /= 1024
    return f"{n:.1f} TB"


def check_memory(nbytes: int, what: str) -> None:
    """A MemoryError naming `what` when `nbytes` exceeds the machine's memory."""
    total = total_memory()
    if total is not None and nbytes > total:
        raise MemoryError(
            f"{what} needs {format_bytes(nbytes)} of memory, more than this machine has "
            f"({format_bytes(total)}); nothing was allocated."
        )


def check_array_memory(shape: tuple, itemsize: int, what: str) -> None:
    """`check_memory` for an array of `shape` with items of `itemsize` bytes."""
    check_memory(math.prod(shape) * itemsize, f"{what} of shape {tuple(shape)}")


def work_array(scratch: dict | None, tag: str, shape, dtype, zero: bool = False) -> np.ndarray:
    """A work array: a new one without `scratch`, else the one kept in that dict under
    (tag, shape, dtype), made on first use (zeroed when `zero`; callers that rely on zeros
    write only cells they wrote on the first use too, so the rest stays zero). A compiled
    function gives each of its steps that takes one its own dict, so a steady run of the step
    allocates nothing.

    Example:
        >>> kept = {}
        >>> work_array(kept, "sums", (2, 3), np.float32) is work_array(kept, "sums", (2, 3),
        ...                                                            np.float32)
        True
    """
    make = np.zeros if zero else np.empty
    if scratch is None:
        return make(shape, dtype)
    key = (tag, tuple(shape), np.dtype(dtype))
    buf = scratch.get(key)
    if buf is None:
        buf = scratch[key] = make(shape, dtype)
    return buf
