"""Argument checks shared by the kernel wrappers: the kernels themselves trust their inputs."""

from __future__ import annotations

import math

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def float_dtype(kernel: str, name: str, a) -> np.dtype:
    """The dtype of `a`, which must be a float32 or float64 numpy array."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{kernel}: {name} must be a numpy array. Received: {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{kernel}: {name} must be float32 or float64. Received: {name}.dtype={a.dtype}"
        )
    return a.dtype


def check(
    kernel: str,
    name: str,
    a,
    *,
    dtype: np.dtype | tuple,
    shape: tuple | None = None,
    out: bool = False,
) -> None:
    """Checks one argument: a C-contiguous array of `dtype` (or one of a tuple of dtypes), of
    `shape` when given, and writeable when it is an output."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{kernel}: {name} must be a numpy array. Received: {type(a).__name__}")
    allowed = dtype if isinstance(dtype, tuple) else (dtype,)
    if a.dtype not in allowed:
        expected = " or ".join(str(d) for d in allowed)
        raise TypeError(f"{kernel}: {name} must be {expected}. Received: {name}.dtype={a.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(
            f"{kernel}: {name} must have shape {tuple(shape)}. Received: {name}.shape={a.shape}"
        )
    if not a.flags.c_contiguous:
        raise ValueError(
            f"{kernel}: {name} must be C-contiguous (use np.ascontiguousarray). Received: "
            f"{name}.strides={a.strides} for shape {a.shape}"
        )
    if out and not a.flags.writeable:
        raise ValueError(f"{kernel}: {name} is written to but is read-only.")


def check_4d(name: str, arg: str, a, dtype=None) -> np.dtype:
    """Checks that `a` is a 4-D array (of `dtype`, else float32 or float64) passing `check`;
    returns its dtype."""
    dtype = float_dtype(name, arg, a) if dtype is None else dtype
    if not isinstance(a, np.ndarray) or a.ndim != 4:
        raise ValueError(f"{name}: {arg} must be a 4-D array. Received: {arg}.shape="
                         f"{np.shape(a)}")  # fmt: skip
    check(name, arg, a, dtype=dtype)
    return dtype


def check_ndim(kernel: str, name: str, a: np.ndarray, ndim: int) -> None:
    """Checks that `a` has at least `ndim` dims."""
    if a.ndim < ndim:
        raise ValueError(
            f"{kernel}: {name} must have at least {ndim} dims. Received: {name}.shape={a.shape}"
        )


def as_rows(a: np.ndarray) -> np.ndarray:
    """A 2-D (rows, last axis) view of a C-contiguous array (also when an axis is empty)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


#: Zero-length arrays standing for "no bias" in kernels with an optional bias: one compiled
#: signature serves both cases.
EMPTY = {dtype: np.empty(0, dtype) for dtype in (np.dtype(np.float32), np.dtype(np.float64))}


def check_apart(name: str, out_name: str, out: np.ndarray, **inputs) -> None:
    """Raises ValueError when the output `out` overlaps one of `inputs` (name -> array)."""
    for arg, a in inputs.items():
        if np.may_share_memory(out, a):
            raise ValueError(f"{name}: {out_name} must not overlap {arg} (it is written while "
                             f"{arg} is read).")  # fmt: skip
