"""Turning what `fit`/`evaluate`/`predict` receive into batches of numpy arrays.

Accepted: numpy arrays (or lists/dicts of them, for several inputs or outputs), a `PyDataset`,
or any iterable of `(x, y)` / `(x, y, sample_weight)` batches whose parts convert to numpy
arrays: a Python generator or iterator, a PyTorch `DataLoader` (a list or tuple `x` is the
inputs of a model with several, as in Keras).
Bad data fails here, before any step runs, with a ValueError naming what was received.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from backend import nest
from backend.memory import check_memory
from backend.tensor import Tensor

from ..utils.py_dataset import PyDataset

#: Samples per batch when `batch_size` is not given, as in Keras.
DEFAULT_BATCH_SIZE = 32


def unpack(data):
    """`(x, y, sample_weight)` from a batch that may be `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)` (a list of 1 to 3 items counts as a tuple, as in Keras: it is what
    a PyTorch DataLoader yields)."""
    if isinstance(data, list) and 1 <= len(data) <= 3:
        data = tuple(data)
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
    `x` is itself a tuple or list, the inputs of a model with several, so it is not read as
    `(x, y)`), else `(x, y)` or `(x, y, sample_weight)`."""
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _as_array(value, what: str):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value._value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a PyTorch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object and not is_text(array):
        raise TypeError(f"`{what}` must be numeric arrays. Received an array of Python objects")
    return array


def to_arrays(structure, what: str):
    if structure is None:
        return None
    if is_text(structure):
        return np.asarray(structure)  # a list of strings is one array of text, not N inputs
    if _is_nested_numbers(structure):
        return _numbers_as_array(structure, what)  # one array, not one input per number
    flat = [_as_array(v, what) for v in nest.flatten(structure)]
    return nest.pack(structure, iter(flat))


def _is_nested_numbers(value) -> bool:
    """Whether `value` is a (nested) Python list or tuple whose first leaf is a number: the
    data of one array written as lists, as `[[0.1, 0.2], [0.3, 0.4]]` (a list of arrays is
    several inputs, as in Keras)."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return isinstance(value, (numbers.Number, np.number, np.bool_))


def _numbers_as_array(structure, what: str) -> np.ndarray:
    try:
        array = np.asarray(structure)
    except ValueError:
        array = None
    if array is None or array.dtype == object:
        raise ValueError(
            f"`{what}` is a nested Python list of numbers whose rows have different lengths, "
            f"so it is not one array. Make every row the same length (for sequences, "
            f"kerasish.utils.pad_sequences pads them) and pass np.asarray({what})."
        )
    return array


def is_text(value) -> bool:
    """Whether `value` is text: a string, an array of strings, or a (nested) list of them."""
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            return True
        return value.dtype == object and value.size > 0 and isinstance(value.flat[0], (str, bytes))
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(v, (str, bytes)) for v in nest.flatten(value))
    return False


def reject_text(model, x) -> None:
    """A TypeError when text reaches a model input that expects numbers, saying to turn the
    text into numbers first (the one check `fit`, `evaluate`, `predict`, the `*_on_batch`
    methods and `model(x)` share)."""
    inputs = list(getattr(model, "inputs", None) or [])
    flat = [x] if is_text(x) else nest.flatten(x)
    if len(inputs) != len(flat):
        return  # a subclassed model: what its call accepts is its own business
    for spec, value in zip(inputs, flat, strict=True):
        dtype = spec.dtype
        if dtype in ("string", "str", "object") or not is_text(value):
            continue
        name = f"input '{spec.name}'" if spec.name else "its input"
        shown = (
            f"an array of dtype {value.dtype}"
            if isinstance(value, np.ndarray)
            else (f"a {type(value).__name__} of strings")
        )
        raise TypeError(
            f"Model '{model.name}': {name} expects numbers ({dtype}), but received text "
            f"({shown}). Turn text into numbers first: a `TextVectorization` layer (whole "
            "texts to token ids) or a `StringLookup` layer (tokens to ids), in the model or "
            "applied to the data."
        )


def check_finite(structure, what: str) -> None:
    """A ValueError naming `what` (and which of its arrays) and the index of the first NaN or
    Inf, when a float array of `structure` has one.

    One pass per array finds that all is well (`surely_finite`): no temporary the size of the
    data, so a 60000 x 784 float32 array costs one pass over it, and a batch of 32 MNIST rows
    about 4 us."""
    flat = nest.flatten(structure)
    for position, array in enumerate(flat):
        if array is None or array.dtype.kind not in "fc" or array.size == 0:
            continue
        if surely_finite(array):
            continue
        index = _first_non_finite(array)
        if index is None:
            continue  # the quick pass overflowed; every value is finite
        value = array[index]
        name = what if len(flat) == 1 else f"{what}[{position}]"
        shown = ", ".join(str(i) for i in index)
        raise ValueError(
            f"`{name}` contains {'NaN' if np.isnan(value) else value} values; the first is at "
            f"index [{shown}] (array of shape {array.shape}). Clean the data before training "
            f"(np.nan_to_num, or drop those samples). Received: {name}[{shown}]={value}"
        )


@np.errstate(all="ignore")
def surely_finite(array: np.ndarray) -> bool:
    """True when a quick pass shows that every value of the float array is finite; False means
    it may not be (a NaN or Inf makes the result non-finite; a result that overflows only
    sends the array to the exact search). A contiguous float32 or float64 array is dotted with
    itself (BLAS; squares cannot cancel an Inf): 4 us for 32 x 784 float32 here, against 11 us
    for numpy's pairwise sum, which the other arrays take."""
    if array.dtype in _DOTTED and array.flags.c_contiguous:
        flat = array.reshape(-1)
        return math.isfinite(np.dot(flat, flat))
    return bool(np.isfinite(np.add.reduce(array, axis=None)))


_DOTTED = (np.dtype(np.float32), np.dtype(np.float64))


def _first_non_finite(array: np.ndarray):
    """The index tuple of the first non-finite value (in C order), or None; in chunks of rows,
    so the temporary stays small."""
    rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(-1, 1)
    chunk = max(1, (1 << 20) // max(1, rows.shape[1]))
    for start in range(0, rows.shape[0], chunk):
        bad = np.flatnonzero(~np.isfinite(rows[start : start + chunk]))
        if bad.size:
            flat_index = start * rows.shape[1] + int(bad[0])
            return tuple(int(i) for i in np.unravel_index(flat_index, array.shape))
    return None


def num_samples(x, y=None, sample_weight=None) -> int:
    sizes = {}
    for name, structure in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        for array in nest.flatten(structure) if structure is not None else []:
            if array.ndim == 0:
                raise ValueError(
                    f"`{name}` must be arrays whose first axis is the batch (samples). "
                    f"Received a single number: {name}={array.item()!r:.100}. Pass the data "
                    f"as one array, np.asarray({name}), with one row per sample."
                )
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
    if is_batch_source(x):
        raise ValueError(
            "`validation_split` needs arrays, to take their last samples; with batches from "
            f"a {_describe(x)}, pass the validation batches as `validation_data` instead. "
            f"Received: validation_split={validation_split}"
        )
    x, y = to_arrays(x, "x"), to_arrays(y, "y")
    sample_weight = to_arrays(sample_weight, "sample_weight")
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


def check_class_weight(class_weight) -> None:
    if class_weight is None:
        return
    if not isinstance(class_weight, dict) or not all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight
    ):
        raise ValueError(
            "`class_weight` must be a dict from class index (an int) to weight. Received: "
            f"class_weight={class_weight!r:.200}"
        )


def class_weights_to_sample_weights(y, class_weight: dict, sample_weight):
    check_class_weight(class_weight)
    if class_weight is None or y is None:  # batches from a source are weighted one by one
        return sample_weight
    flat_y = nest.flatten(y)
    if len(flat_y) != 1:
        raise ValueError("`class_weight` is only supported for models with a single output.")
    labels = flat_y[0]
    labels = labels.argmax(-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels.reshape(-1)
    weights = np.array([class_weight.get(int(c), 1.0) for c in labels], dtype="float32")
    return weights if sample_weight is None else weights * sample_weight


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled each epoch when `shuffle`.

    Iterating gives one epoch. `epoch()` does the same and keeps the epoch's order (a
    permutation drawn from numpy's global RNG when shuffling), so `position(step)` can note
    where the epoch stands and `epoch(position)` can later give the rest of that epoch.
    """

    resumable = True  # an epoch can be resumed at any step

    def __init__(self, x, y=None, sample_weight=None, batch_size=DEFAULT_BATCH_SIZE,
                 shuffle=False, steps=None):  # fmt: skip
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = num_samples(x, y, sample_weight)
        self.batch_size = batch_size
        self.shuffle = shuffle
        full = math.ceil(self.n / batch_size) if self.n else 0
        self.steps = full if steps is None else min(int(steps), full)
        self.order = None  # the current epoch's sample order (None: in order)

    def __iter__(self):
        return self.epoch()

    def epoch(self, position=None):
        """The batches of a new epoch, or with `position`, those of the epoch it was taken
        in from its step on. The order is drawn now, not at the first batch."""
        if position is None:
            self.order = np.random.permutation(self.n) if self.shuffle else None
            start = 0
        else:
            order = position["order"]
            if (order is None) == self.shuffle or (order is not None and len(order) != self.n):
                shown = "unshuffled" if order is None else f"an order of {len(order)} samples"
                raise ValueError(
                    f"The epoch to resume was {shown}, but these are {self.n} samples "
                    f"{'shuffled' if self.shuffle else 'in order'}: the data or `shuffle` "
                    "changed since the backup."
                )
            self.order, start = order, position["step"]
        return self._batches(start)

    def position(self, step: int) -> dict:
        """What `epoch` needs to resume the current epoch before `step`."""
        return {"step": int(step), "order": self.order}

    def _batches(self, start: int):
        order = self.order
        for step in range(start, self.steps):
            index = slice(step * self.batch_size, min((step + 1) * self.batch_size, self.n))
            if order is not None:
                index = order[index]
            yield take(self.x, index), take(self.y, index), take(self.sample_weight, index)


def _describe(source) -> str:
    """`"DataLoader (from torch.utils.data.dataloader)"`: a source's type, for messages."""
    cls = type(source)
    return f"{cls.__name__} (from {cls.__module__})"


def is_batch_source(x) -> bool:
    """Whether `x` is a PyDataset or an iterable of batches rather than array data."""
    if isinstance(x, PyDataset):
        return True
    if isinstance(x, (str, bytes, list, tuple, dict, np.ndarray, Tensor)) or hasattr(
        x, "__array__"
    ):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def make_batches(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None,
                 check=True, class_weight=None, names=("x", "y", "sample_weight")):  # fmt: skip
    """An iterable of `(x, y, sample_weight)` numpy batches (with a `steps` attribute, None
    when unknown), from any accepted input. `class_weight` weights the batches of a batch
    source (arrays get theirs from `class_weights_to_sample_weights`)."""
    check_count("batch_size", batch_size, 1)
    check_count("steps", steps, 1)
    if x is None:
        raise ValueError("No data: `x` is required. Received: x=None")
    if is_batch_source(x):
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(
                    f"`{name}` must not be given when `x` is a {_describe(x)}: its batches "
                    f"carry the targets and weights, as (x, y) or (x, y, sample_weight)."
                )
        from .batch_sources import IteratorBatches

        return IteratorBatches(x, steps, shuffle=shuffle, class_weight=class_weight)
    _check_array_like(x)
    x = to_arrays(x, "x")
    y = to_arrays(y, "y")
    sample_weight = to_arrays(sample_weight, "sample_weight")
    count = num_samples(x, y, sample_weight)
    if count == 0:
        shapes = [a.shape for a in nest.flatten(x)]
        raise ValueError(f"The data is empty: `x` has no samples. Received: x of shape(s) {shapes}")
    _check_sample_weight_rank(sample_weight, y)
    if batch_size:
        check_memory(
            batch_size * sum(a[:1].nbytes for a in nest.flatten(x)), f"batch_size={batch_size}"
        )
    if check:
        for structure, name in zip((x, y, sample_weight), names, strict=True):
            check_finite(structure, name)
    return ArrayBatches(x, y, sample_weight, batch_size or DEFAULT_BATCH_SIZE, shuffle, steps)


def _check_array_like(x) -> None:
    """Refuses, with a message naming it, an `x` that is neither array data nor a source."""
    for value in nest.flatten(x):
        if value is None or isinstance(value, (np.ndarray, Tensor, str, bytes, int, float)):
            continue
        if hasattr(value, "__array__") or isinstance(value, (list, tuple, np.generic)):
            continue
        shown = "" if type(value).__repr__ is object.__repr__ else f": {value!r:.200}"
        raise TypeError(
            "`x` must be a numpy array (or a list or dict of them), a "
            "kerasish.utils.PyDataset, or an iterable of (x, y) batches such as a generator "
            f"or a PyTorch DataLoader. Received: x of type {_describe(value)}{shown}"
        )


def check_count(name: str, value, minimum: int) -> None:
    """A ValueError unless `value` is None or an int >= `minimum` (a batch size, a number of
    steps or epochs)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def check_verbose(verbose) -> int:
    """`verbose` as 0, 1 or 2 ("auto" is 1)."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, int, np.integer)) and 0 <= verbose <= 2:
        return int(verbose)
    raise ValueError(f'`verbose` must be "auto", 0, 1 or 2. Received: verbose={verbose!r}')


def _check_sample_weight_rank(sample_weight, y) -> None:
    """Sample weights weigh samples (rank 1) or, for sequence targets, time steps: never
    more dims than the targets have."""
    if sample_weight is None:
        return
    y_rank = max([a.ndim for a in nest.flatten(y)] or [1]) if y is not None else 1
    for array in nest.flatten(sample_weight):
        if array.ndim > max(y_rank, 1):
            raise ValueError(
                "`sample_weight` must have one weight per sample (or per time step of "
                f"sequence targets): at most {max(y_rank, 1)} dims here. Received: "
                f"sample_weight of shape {array.shape}"
            )


def make_validation_batches(validation_data, batch_size=None, steps=None):
    """The batches of `fit(validation_data=...)`: a tuple `(x, y)` or `(x, y,
    sample_weight)` of arrays, or a batch source (PyDataset, DataLoader, generator)."""
    if is_batch_source(validation_data):
        return make_batches(validation_data, None, None, batch_size, False, steps)
    if not isinstance(validation_data, (tuple, list)) or not 2 <= len(validation_data) <= 3:
        raise ValueError(
            "`validation_data` must be (x_val, y_val), (x_val, y_val, val_sample_weight), a "
            "PyDataset or an iterable of batches. Received: validation_data of type "
            f"{type(validation_data).__name__}"
            + (
                f" with {len(validation_data)} items"
                if isinstance(validation_data, (tuple, list))
                else ""
            )
        )
    vx, vy, vsw = unpack(tuple(validation_data))
    names = ("validation_data x", "validation_data y", "validation_data sample_weight")
    return make_batches(vx, vy, vsw, batch_size, False, steps, names=names)
