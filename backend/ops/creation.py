"""Creating tensors and converting between tensors and arrays."""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..memory import check_array_memory
from ..tensor import Spec, SymbolicTensor, Tensor, in_symbolic_scope
from ..variables import Variable
from .base import Op, TensorTypes, apply, convert

__all__ = [
    "arange", "cast", "convert_to_numpy", "convert_to_tensor", "eye", "full", "full_like",
    "ones", "ones_like", "shape", "zeros", "zeros_like", "is_tensor", "dtype",
]  # fmt: skip

from .elementwise import cast  # noqa: E402  (re-exported here with the creation ops)


def convert_to_tensor(x, dtype=None, sparse=None):
    """Converts arrays, scalars and lists to a Tensor (Python floats become floatx, Python
    ints int32). A Variable gives a read of its value that still carries its gradient.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.convert_to_tensor([[1, 2]]).dtype
        'int32'
    """
    if isinstance(x, Variable):
        if in_symbolic_scope():
            # While tracing, a read of the Variable at run time (not its value now).
            from .shape import identity

            return convert(identity(x), dtype)
        x = Tensor(x._value, variable=x)
    return convert(x, dtype)


def convert_to_numpy(x) -> np.ndarray:
    """Returns a numpy copy of `x`."""
    if isinstance(x, SymbolicTensor):
        x.numpy()
    return np.array(x._value if isinstance(x, (Tensor, Variable)) else x)


def is_tensor(x) -> bool:
    return isinstance(x, TensorTypes)


def dtype(x) -> str:
    """The dtype of `x` as a string."""
    return convert(x).dtype


def shape(x) -> tuple:
    """The shape of `x` as a tuple (None for dims unknown while tracing)."""
    if isinstance(x, TensorTypes):
        return tuple(x.shape)
    return np.shape(x)


def _check_shape(shape_arg, op_name: str) -> tuple:
    if isinstance(shape_arg, (int, np.integer)):
        shape_arg = (shape_arg,)
    try:
        out = tuple(int(d) for d in shape_arg)
    except (TypeError, ValueError):
        raise ValueError(
            f"{op_name}: shape must be a tuple of ints. Received: {shape_arg!r}"
        ) from None
    if any(d < 0 for d in out):
        raise ValueError(f"{op_name}: shape dims must be >= 0. Received: shape={shape_arg!r}")
    check_array_memory(out, 8, op_name)  # at most 8 bytes an item: refused before allocating
    return out


def _fill_dtype(fill_value, dtype):
    if dtype is not None:
        return dt.standardize_dtype(dtype)
    weak = dt.weak_type_of(fill_value)
    if weak is not None:
        return dt.standardize_dtype(weak)
    return convert(fill_value).dtype


def zeros(shape, dtype=None):
    """A tensor of zeros (floatx unless `dtype` is given)."""
    return Tensor(np.zeros(_check_shape(shape, "zeros"), dtype=dt.standardize_dtype(dtype)))


def ones(shape, dtype=None):
    """A tensor of ones (floatx unless `dtype` is given)."""
    return Tensor(np.ones(_check_shape(shape, "ones"), dtype=dt.standardize_dtype(dtype)))


def full(shape, fill_value, dtype=None):
    """A tensor of `shape` filled with `fill_value`."""
    value = np.asarray(convert(fill_value)._value)
    out_dtype = _fill_dtype(fill_value, dtype)
    return Tensor(np.broadcast_to(value, _check_shape(shape, "full")).astype(out_dtype))


class FullLikeOp(Op):
    """A constant with the shape of its input (which may have unknown dims while tracing).
    Its output carries no gradient back to the input."""

    name = "full_like"
    differentiable = False
    shape_only = (0,)

    def infer(self, x, *, fill_value, dtype):
        return Spec(x.shape, dtype or x.dtype)

    def forward(self, ctx, x, *, fill_value, dtype):
        return np.full(x.shape, fill_value, dtype=dtype or x.dtype)


_FULL_LIKE = FullLikeOp()


def full_like(x, fill_value, dtype=None):
    """A tensor shaped like `x` filled with `fill_value`."""
    x = convert(x)
    dtype = None if dtype is None else dt.standardize_dtype(dtype)
    fill = np.asarray(convert(fill_value)._value).item()
    return apply(_FULL_LIKE, (x,), {"fill_value": fill, "dtype": dtype})


def zeros_like(x, dtype=None):
    """Zeros shaped like `x`."""
    return full_like(x, 0, dtype)


def ones_like(x, dtype=None):
    """Ones shaped like `x`."""
    return full_like(x, 1, dtype)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in `[start, stop)`: int32 for int arguments, else floatx."""
    if dtype is None:
        weak = [dt.weak_type_of(v) or float for v in (start, stop, step) if v is not None]
        dtype = dt.result_type(*weak)
    if step == 0:
        raise ValueError("arange: step must not be 0. Received: step=0")
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step).astype(dt.standardize_dtype(dtype)))


def eye(N, M=None, k=0, dtype=None):
    """A 2-D tensor with ones on the `k`-th diagonal."""
    if int(N) < 0 or (M is not None and int(M) < 0):
        raise ValueError(f"eye: N and M must be >= 0. Received: N={N}, M={M}")
    return Tensor(
        np.eye(int(N), None if M is None else int(M), int(k), dt.standardize_dtype(dtype))
    )
