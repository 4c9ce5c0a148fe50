"""Turning what `fit`/`evaluate`/`predict` receive into batches of numpy arrays.

Accepted: numpy arrays (or lists/dicts of them, for several inputs or outputs), a Python
generator or iterator of `(x, y)` / `(x, y, sample_weight)` batches, or a `PyDataset`.
Bad data fails here, before any step runs, with a ValueError naming what was received.
"""

from __future__ import annotations

import math

import numpy as np

from backend import nest
from backend.tensor import Tensor

from ..utils.py_dataset import PyDataset


def unpack(data):
    """`(x, y, sample_weight)` from a batch that may be `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)`."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(
            f"A batch must be (x,), (x, y) or (x, y, sample_weight). Received {len(data)} items"
        )
    return data, None, None


def pack(x, y=None, sample_weight=None):
    """What a step receives, as Keras packs it: `x` alone when there is no `y` (`(x,)` when
    `x` is itself a tuple, so it is not read as `(x, y)`), else `(x, y)` or
    `(x, y, sample_weight)`."""
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, tuple) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _as_array(value, what: str):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value._value
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"`{what}` must be numeric arrays. Received an array of Python objects")
    return array


def to_arrays(structure, what: str):
    if structure is None:
        return None
    flat = [_as_array(v, what) for v in nest.flatten(structure)]
    return nest.pack(structure, iter(flat))


def check_finite(structure, what: str) -> None:
    for array in nest.flatten(structure):
        if array is not None and array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = "NaN" if np.isnan(array).any() else "Inf"
            raise ValueError(f"`{what}` contains {bad} values; clean the data before training.")


def num_samples(x, y=None, sample_weight=None) -> int:
    sizes = {}
    for name, structure in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        for array in nest.flatten(structure) if structure is not None else []:
            if array.ndim == 0:
                raise ValueError(f"`{name}` must have a batch dimension. Received a scalar")
            sizes.setdefault(name, set()).add(array.shape[0])
    counts = {n for s in sizes.values() for n in s}
    if len(counts) > 1:
        shown = ", ".join(f"{k}: {sorted(v)}" for k, v in sizes.items())
        raise ValueError(
            f"Data cardinality is ambiguous: the arrays have different lengths ({shown})."
        )
    return counts.pop() if counts else 0


def take(structure, index):
    if structure is None:
        return None
    return nest.pack(structure, iter([a[index] for a in nest.flatten(structure)]))


def split_validation(x, y, sample_weight, validation_split: float):
    """The last `validation_split` of the samples, before any shuffling (as Keras)."""
    n = num_samples(x, y, sample_weight)
    cut = int(n * (1.0 - validation_split))
    if cut == 0 or cut == n:
        raise ValueError(
            f"validation_split={validation_split} leaves no training or no validation samples "
            f"out of {n}."
        )
    train = (take(x, slice(0, cut)), take(y, slice(0, cut)), take(sample_weight, slice(0, cut)))
    val = (take(x, slice(cut, n)), take(y, slice(cut, n)), take(sample_weight, slice(cut, n)))
    return train, val


def class_weights_to_sample_weights(y, class_weight: dict, sample_weight):
    if class_weight is None:
        return sample_weight
    flat_y = nest.flatten(y)
    if len(flat_y) != 1:
        raise ValueError("`class_weight` is only supported for models with a single output.")
    labels = flat_y[0]
    labels = labels.argmax(-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels.reshape(-1)
    weights = np.array([class_weight.get(int(c), 1.0) for c in labels], dtype="float32")
    return weights if sample_weight is None else weights * sample_weight


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled each epoch when `shuffle`."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False, steps=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = num_samples(x, y, sample_weight)
        self.batch_size = batch_size
        self.shuffle = shuffle
        full = math.ceil(self.n / batch_size) if self.n else 0
        self.steps = full if steps is None else min(int(steps), full)

    def __iter__(self):
        order = np.random.permutation(self.n) if self.shuffle else None
        for step in range(self.steps):
            index = slice(step * self.batch_size, min((step + 1) * self.batch_size, self.n))
            if order is not None:
                index = order[index]
            yield take(self.x, index), take(self.y, index), take(self.sample_weight, index)


class IteratorBatches:
    """Batches from a generator/iterator or a PyDataset."""

    def __init__(self, source, steps=None):
        self.source = source
        if isinstance(source, PyDataset):
            self.steps = len(source) if steps is None else min(int(steps), len(source))
        else:
            self.steps = None if steps is None else int(steps)
        self._iterator = None if isinstance(source, PyDataset) else iter(source)

    def __iter__(self):
        if isinstance(self.source, PyDataset):
            for i in range(self.steps):
                yield self._checked(self.source[i])
            return
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self._iterator)
            except StopIteration:
                return
            count += 1
            yield self._checked(batch)

    def on_epoch_end(self):
        if isinstance(self.source, PyDataset):
            self.source.on_epoch_end()

    @staticmethod
    def _checked(batch):
        x, y, sw = unpack(batch)
        x, y, sw = to_arrays(x, "x"), to_arrays(y, "y"), to_arrays(sw, "sample_weight")
        num_samples(x, y, sw)
        return x, y, sw


def make_batches(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None,
                 check=True):  # fmt: skip
    """An iterable of `(x, y, sample_weight)` numpy batches (with a `steps` attribute, None
    when unknown), from any accepted input."""
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size <= 0
    ):
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    if isinstance(x, PyDataset) or (
        hasattr(x, "__next__")
        or (hasattr(x, "__iter__") and not isinstance(x, (list, tuple, dict, np.ndarray, Tensor)))
    ):
        if y is not None:
            raise ValueError("`y` must not be given when `x` is a generator or a PyDataset.")
        return IteratorBatches(x, steps)
    x = to_arrays(x, "x")
    y = to_arrays(y, "y")
    sample_weight = to_arrays(sample_weight, "sample_weight")
    num_samples(x, y, sample_weight)
    if check:
        check_finite(x, "x")
        check_finite(y, "y")
    return ArrayBatches(x, y, sample_weight, batch_size or 32, shuffle, steps)
