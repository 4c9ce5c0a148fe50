"""Row gathers on Numba kernels: the axis-0 case of `take` and of its vjp `scatter_add`
(an embedding lookup and its gradient), and `checked_indices`, the index check an embedding
runs before its lookup.

`take_rows_into` and `scatter_add_rows_into` write into a given output (a Plan's buffer):
the gather copies rows, the scatter-add zeroes the table-shaped gradient and adds each
gathered row's gradient into its row (`kernels/gather.py`), so an embedding's gradient costs
one pass over the table and one over the batch's rows, with no dense temporary and no
`np.add.at`. Both return False when their case does not apply (a non-float table, a
non-contiguous array), and the caller takes numpy's path.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, convert

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INDICES = (np.dtype(np.int32), np.dtype(np.int64))


def fits_kernels(table: np.ndarray, indices: np.ndarray) -> bool:
    """Whether the row kernels take this table (or gradient) and these indices: float32/64
    values, int32/int64 indices."""
    return table.ndim >= 1 and table.dtype in _FLOATS and indices.dtype in _INDICES


def _rows_apply(table: np.ndarray, indices: np.ndarray, out: np.ndarray) -> bool:
    return (
        fits_kernels(table, indices)
        and out.dtype == table.dtype
        and table.flags.c_contiguous
        and out.flags.c_contiguous
    )


def take_rows_into(x: np.ndarray, indices: np.ndarray, out: np.ndarray) -> bool:
    """`out = take(x, indices, axis=0)` on the gather kernel; False (nothing written) when
    the arrays do not fit it. Raises IndexError for an index outside `[-len(x), len(x))`."""
    if not _rows_apply(x, indices, out):
        return False
    from ..kernels import gather

    table = x.reshape(x.shape[0], -1)
    indices = np.ascontiguousarray(indices)
    try:
        gather.gather_rows(table, indices, out.reshape(indices.size, table.shape[1]))
    except IndexError as err:
        raise IndexError(f"take: {err} (tensor shape {x.shape})") from None
    return True


def scatter_add_rows_into(updates: np.ndarray, indices: np.ndarray, out: np.ndarray) -> bool:
    """`out = zeros; out[indices[i]] += updates[i]` (the vjp of an axis-0 take) on the
    scatter-add kernel; False (nothing written) when the arrays do not fit it."""
    expected = indices.shape + out.shape[1:]
    if updates.shape != expected or not _rows_apply(out, indices, updates):
        return False
    from ..kernels import gather

    rows = out.reshape(out.shape[0], -1)
    indices = np.ascontiguousarray(indices)
    try:
        gather.scatter_add_rows(updates.reshape(indices.size, rows.shape[1]), indices, rows)
    except IndexError as err:
        raise IndexError(f"scatter_add: {err} (tensor shape {out.shape})") from None
    return True


# ---- the index check of an embedding lookup ---------------------------------------------------


class CheckedIndicesOp(Op):
    """`x` as int32 indices, after checking that every element is a whole number in
    `[0, upper)`; else a ValueError naming `owner` (the layer), the offending index, the
    largest one and the bound. Float inputs holding whole numbers are accepted (a model whose
    `Input` is float32 by default). One pass over the indices, eagerly and in a Plan."""

    name = "checked_indices"
    differentiable = False

    def infer(self, x, *, upper, owner, bound_name):
        if not (dt.is_int(x.dtype) or dt.is_float(x.dtype)):
            raise TypeError(
                f"{owner} expects integer indices (or floats holding whole numbers). "
                f"Received: dtype={x.dtype}"
            )
        return Spec(tuple(x.shape), "int32")

    def forward(self, ctx, x, **attrs):
        out = np.empty(x.shape, np.int32)
        self.forward_into(x, out, **attrs)
        return out

    def forward_into(self, x, out, *, upper, owner, bound_name):
        from ..kernels import gather

        if x.dtype not in (*_INDICES, *_FLOATS):
            x = x.astype(np.int64 if x.dtype.kind in "iub" else np.float64)
        x = np.ascontiguousarray(x)
        bad = gather.to_checked_int32(x, upper, out)
        if bad >= 0:
            raise ValueError(_index_error(x, bad, upper, owner, bound_name))


def _index_error(x: np.ndarray, bad: int, upper: int, owner: str, bound_name: str) -> str:
    value = x.reshape(-1)[bad]
    position = tuple(int(p) for p in np.unravel_index(bad, x.shape))
    if value != value:
        what = f"NaN at position {position}"
    elif value != np.floor(value):
        what = f"the non-integral value {value} at position {position}"
    else:
        what = f"index {value:.0f} at position {position}"
    with np.errstate(invalid="ignore"):
        largest, smallest = np.nanmax(x), np.nanmin(x)
    return (
        f"{owner}: indices must be whole numbers in [0, {bound_name}) = [0, {upper}). "
        f"Received: {what}; the indices received range from {smallest:g} to {largest:g} "
        f"({bound_name}={upper})."
    )


_CHECKED_INDICES = CheckedIndicesOp()


def checked_indices(x, upper: int, owner: str = "checked_indices", bound_name: str = "upper"):
    """`x` as int32 indices, each checked to be a whole number in `[0, upper)`.

    `owner` and `bound_name` word the error (an Embedding passes its name and "input_dim").

    Example:
        >>> import numpy as np
        >>> checked_indices(np.array([[1.0, 0.0]], np.float32), 3).numpy()
        array([[1, 0]], dtype=int32)
        >>> checked_indices(np.array([3]), 3)
        Traceback (most recent call last):
        ...
        ValueError: checked_indices: indices must be whole numbers in [0, upper) = [0, 3). ...
    """
    if isinstance(upper, bool) or not isinstance(upper, (int, np.integer)) or upper < 0:
        raise ValueError(f"checked_indices: `upper` must be an int >= 0. Received: {upper!r}")
    attrs = {"upper": int(upper), "owner": str(owner), "bound_name": str(bound_name)}
    return apply(_CHECKED_INDICES, (convert(x),), attrs)
