"""`split_dataset`: a left and a right part of array data, with Keras' size rules."""

from __future__ import annotations

import numbers
import random

import numpy as np

from backend import nest

__all__ = ["split_dataset"]


def _size(name: str, value, total: int):
    """An int count from a fraction in (0, 1) or a count in (0, total); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"split_dataset: `{name}` must be an int, a float or None. Received: {name}={value!r}"
        )
    if isinstance(value, numbers.Integral):
        if not 0 < value < total:
            raise ValueError(
                f"split_dataset: `{name}` must be a count in (0, {total}) or a fraction in "
                f"(0, 1). Received: {name}={value}"
            )
        return int(value)
    if not 0 < value < 1:
        raise ValueError(
            f"split_dataset: `{name}` must be a count in (0, {total}) or a fraction in "
            f"(0, 1). Received: {name}={value}"
        )
    return round(value * total)  # Python's rounding (half to even), as Keras


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None,
                  preferred_backend=None):  # fmt: skip
    """Splits array data into a left part (the first samples) and a right part (the last).

    `dataset` is an array, or a tuple, list or dict of arrays of the same length (such as
    `(x, y)`); both parts keep that structure. `left_size` and `right_size` are fractions in
    (0, 1) or sample counts; give one (the other part gets the rest) or both (samples in
    neither are dropped). With `shuffle`, the samples are shuffled first, by the same
    procedure as Keras (Python's `random` seeded with `seed`), so a seed selects the same
    samples as in Keras. Keras returns tf.data or torch datasets; here the parts are numpy
    arrays, ready for `fit`. `preferred_backend` is accepted for compatibility.

    Example:
        >>> import numpy as np
        >>> x, y = np.arange(10), np.arange(10) * 10
        >>> (x_left, y_left), (x_right, y_right) = split_dataset((x, y), left_size=0.8)
        >>> x_left.tolist(), y_right.tolist()
        ([0, 1, 2, 3, 4, 5, 6, 7], [80, 90])
        >>> left, right = split_dataset(x, right_size=3, shuffle=True, seed=42)
        >>> left.tolist(), right.tolist()
        ([7, 3, 2, 8, 5, 6, 9], [4, 0, 1])
    """
    if not isinstance(dataset, (list, tuple, dict)) and not hasattr(dataset, "__array__"):
        raise TypeError(
            "split_dataset: `dataset` must be an array or a tuple, list or dict of arrays. "
            f"Received: dataset of type {type(dataset).__name__}"
        )
    if left_size is None and right_size is None:
        raise ValueError(
            "split_dataset: give `left_size`, `right_size` or both. "
            "Received: left_size=None and right_size=None"
        )
    arrays = [np.asarray(a) for a in nest.flatten(dataset)]
    lengths = {len(a) if a.ndim else 0 for a in arrays}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            "split_dataset: the arrays must have the same (non-zero) length. "
            f"Received lengths: {[len(a) if a.ndim else 0 for a in arrays]}"
        )
    total = lengths.pop()
    left, right = _size("left_size", left_size, total), _size("right_size", right_size, total)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(
            f"split_dataset: the parts hold {left} + {right} samples, more than the {total} "
            f"there are. Received: left_size={left_size}, right_size={right_size}"
        )
    if left == 0 or right == 0:
        raise ValueError(
            f"split_dataset: with {total} samples, left_size={left_size} and "
            f"right_size={right_size} leave one part empty."
        )
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    order = np.asarray(order)
    return tuple(
        nest.pack(dataset, iter([a[index] for a in arrays]))
        for index in (order[:left], order[total - right :])
    )
