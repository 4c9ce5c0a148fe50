"""Array helpers on numpy: `to_categorical` and `normalize`."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["normalize", "to_categorical"]


def _show(values: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(v) for v in values[:limit].tolist())
    return f"[{shown}{', ...' if values.size > limit else ''}]"


def _integer_labels(x) -> np.ndarray:
    labels = np.asarray(x)
    if labels.dtype == bool or labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f":
        flat = labels.reshape(-1)
        bad = flat[~np.isfinite(flat) | (flat != np.round(flat))]
        if bad.size:
            raise ValueError(
                "to_categorical: `x` must hold integer class labels. "
                f"Received non-integer values: {_show(np.unique(bad))}"
            )
        return labels.astype(np.int64)
    raise ValueError(
        f"to_categorical: `x` must hold integer class labels. Received: x.dtype={labels.dtype}"
    )


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """Converts integer class labels to one-hot rows: a float32 array with a new last axis.

    `x` holds labels in `[0, num_classes)` (ints, or floats with integer values); a trailing
    axis of size 1, as in labels of shape `(n, 1)`, is dropped first. `num_classes` defaults to
    the largest label + 1. Negative labels, labels `>= num_classes` and non-integer values
    raise a `ValueError` that lists them.

    Example:
        >>> import numpy as np
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
        >>> to_categorical(np.array([[1], [0]])).shape
        (2, 2)
    """
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
        or num_classes < 1
    ):  # fmt: skip
        raise ValueError(
            f"to_categorical: `num_classes` must be an int >= 1 or None. "
            f"Received: num_classes={num_classes!r}"
        )
    labels = _integer_labels(x)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    negative = flat[flat < 0]
    if negative.size:
        raise ValueError(
            f"to_categorical: labels must be >= 0. Received negative labels: "
            f"{_show(np.unique(negative))}"
        )
    if num_classes is None:
        if flat.size == 0:
            raise ValueError(
                "to_categorical: cannot infer `num_classes` from empty labels; pass it. "
                "Received: num_classes=None"
            )
        num_classes = int(flat.max()) + 1
    too_large = flat[flat >= num_classes]
    if too_large.size:
        raise ValueError(
            f"to_categorical: labels must be < num_classes={num_classes}. "
            f"Received labels out of range: {_show(np.unique(too_large))}"
        )
    categorical = np.zeros((flat.size, int(num_classes)), dtype=np.float32)
    categorical[np.arange(flat.size), flat] = 1.0
    return categorical.reshape(*shape, int(num_classes))


def normalize(x, axis: int = -1, order: float = 2) -> np.ndarray:
    """Scales `x` so each slice along `axis` has L-`order` norm 1; all-zero slices stay zero.

    `x` is array-like and the result is a numpy array of the same shape: float inputs keep
    their dtype, integer and bool inputs become float32. `order` is a number >= 1
    (`np.inf` for the largest absolute value).

    Example:
        >>> import numpy as np
        >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
        array([[0.6, 0.8],
               [0. , 0. ]])
        >>> normalize(np.array([[1.0, 3.0]]), order=1)
        array([[0.25, 0.75]])
    """
    array = np.asarray(x)
    if array.dtype.kind not in "fc":
        if array.dtype.kind not in "iub":
            raise ValueError(f"normalize: `x` must be numeric. Received: x.dtype={array.dtype}")
        array = array.astype(np.float32)
    ok = isinstance(order, numbers.Real) and not isinstance(order, bool)
    if not ok or math.isnan(order) or order < 1:
        raise ValueError(
            f"normalize: `order` must be a number >= 1 (or np.inf). Received: order={order!r}"
        )
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"normalize: `axis` must be an int. Received: axis={axis!r}")
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(
            f"normalize: `axis` is out of range for an input of rank {array.ndim}. "
            f"Received: axis={axis}"
        )
    norm = np.linalg.norm(array, ord=order, axis=int(axis), keepdims=True)
    norm[norm == 0] = 1
    return (array / norm).astype(array.dtype, copy=False)
