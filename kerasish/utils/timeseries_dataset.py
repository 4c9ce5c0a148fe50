"""`timeseries_dataset_from_array`: sliding windows over an array, in batches that `fit`,
`evaluate` and `predict` take (Keras returns a tf.data.Dataset; this is a `PyDataset`)."""

from __future__ import annotations

import math

import numpy as np

from .py_dataset import PyDataset


class TimeseriesDataset(PyDataset):
    """Batches of windows over `data` (with their targets), by index; see
    `timeseries_dataset_from_array`. `len()` is the number of batches; it can be iterated
    any number of times. With `shuffle`, the windows are reordered after each epoch."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size,
                 shuffle, seed):  # fmt: skip
        super().__init__()
        self.data = data
        self.targets = targets
        self.sequence_length = sequence_length
        self.sampling_rate = sampling_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._starts = starts
        self._offsets = np.arange(sequence_length) * sampling_rate
        self._rng = None
        if shuffle:
            # Keras' first shuffle: the window starts, permuted by numpy's RandomState(seed).
            self._rng = np.random.RandomState(
                np.random.randint(1_000_000) if seed is None else seed
            )
            self._rng.shuffle(self._starts)

    @property
    def num_windows(self) -> int:
        return len(self._starts)

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.num_windows
        return math.ceil(self.num_windows / self.batch_size)

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)) or not -len(self) <= index < len(self):
            raise IndexError(
                f"TimeseriesDataset: batch index out of range. Received: {index!r} for "
                f"{len(self)} batches"
            )
        index = int(index) % len(self)
        if self.batch_size is None:
            starts = self._starts[index]
        else:
            starts = self._starts[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.data[np.asarray(starts)[..., None] + self._offsets]
        if self.targets is None:
            return x
        return x, self.targets[starts]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self._rng.shuffle(self._starts)


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
) -> TimeseriesDataset:
    """Windows of `sequence_length` steps over `data` (every `sampling_rate`-th step), one
    starting every `sequence_stride` steps, in batches of `batch_size` (the last may be
    smaller; `batch_size=None` gives single windows), as `keras.utils.
    timeseries_dataset_from_array`.

    Only `data[start_index:end_index]` is used (`end_index` excluded). The window starting
    at `data[i]` pairs with `targets[i]`; `targets=None` gives windows alone. The result is
    a `PyDataset` of numpy batches `(x, y)` (or `x`) with a `len()`, which `fit`,
    `evaluate` and `predict` take and which can be iterated once per epoch.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> series = np.arange(10)
        >>> ds = keras.utils.timeseries_dataset_from_array(
        ...     series, targets=series[3:], sequence_length=3, batch_size=4)
        >>> len(ds)
        2
        >>> x, y = ds[0]
        >>> x.tolist(), y.tolist()
        ([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], [3, 4, 5, 6])
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError("timeseries_dataset_from_array: `data` must be an array of steps.")
    n = len(data)
    for arg, value in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                       ("sampling_rate", sampling_rate)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(
                f"timeseries_dataset_from_array: `{arg}` must be a positive integer. "
                f"Received: {arg}={value!r}"
            )
    for arg, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value >= n:
            raise ValueError(
                f"timeseries_dataset_from_array: `{arg}` must be lower than the length of the "
                f"data. Received: {arg}={value}, for data of length {n}"
            )
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size <= 0
    ):
        raise ValueError(
            "timeseries_dataset_from_array: `batch_size` must be a positive integer or None. "
            f"Received: batch_size={batch_size!r}"
        )
    # Keras' checks, `end_index == len(data)` refused as Keras does.
    if start_index:
        if start_index < 0:
            raise ValueError(
                "timeseries_dataset_from_array: `start_index` must be 0 or greater. Received: "
                f"start_index={start_index}"
            )
        if start_index >= n:
            raise ValueError(
                "timeseries_dataset_from_array: `start_index` must be lower than the length of "
                f"the data. Received: start_index={start_index}, for data of length {n}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                "timeseries_dataset_from_array: `end_index` must be higher than `start_index`. "
                f"Received: start_index={start_index}, and end_index={end_index}"
            )
        if end_index >= n:
            raise ValueError(
                "timeseries_dataset_from_array: `end_index` must be lower than the length of "
                f"the data. Received: end_index={end_index}, for data of length {n}"
            )
        if end_index <= 0:
            raise ValueError(
                "timeseries_dataset_from_array: `end_index` must be higher than 0. Received: "
                f"end_index={end_index}"
            )
    start = start_index or 0
    end = n if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError(
                "timeseries_dataset_from_array: `targets` must be an array (one target per "
                f"time step) or None. Received: targets={targets.item()!r}"
            )
        count = min(count, len(targets))
        available = len(targets[start:end])
        if count > available:
            raise ValueError(
                f"timeseries_dataset_from_array: {count} windows need targets "
                f"targets[{start}:{start + count}], but `targets` has {len(targets)} entries."
            )
        targets = targets[start:end]
    starts = np.arange(0, max(count, 0), sequence_stride)
    return TimeseriesDataset(data[start:end], targets, starts, int(sequence_length),
                             int(sampling_rate), batch_size, shuffle, seed)  # fmt: skip
