"""`PyDataset` (also `Sequence`): a Python class that serves batches by index, as Keras'."""

from __future__ import annotations


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"PyDataset: `{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
    return value


class PyDataset:
    """Batches served by index: subclass it with `__len__` and `__getitem__`.

    `__len__` is the number of batches per epoch (or define the property `num_batches`,
    None for an endless dataset, which then needs `steps_per_epoch`); `__getitem__(index)`
    returns one batch: `(x, y)`, `(x, y, sample_weight)` or `x`. `fit`, `evaluate` and
    `predict` accept it as `x`; `fit` visits the batches in a new random order each epoch
    unless `shuffle=False`, and calls `on_epoch_begin()` and `on_epoch_end()` around each
    epoch (shuffle your samples in `on_epoch_end`). With `workers` > 1, that many threads
    fetch up to `max_queue_size` batches ahead of training (useful when `__getitem__` reads
    files); `use_multiprocessing` is accepted for compatibility and also uses threads.
    Call `super().__init__(**kwargs)` from your `__init__`.

    Example:
        >>> import numpy as np
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[part], self.y[part]
        >>> data = Batches(np.zeros((10, 3)), np.zeros(10), batch_size=4)
        >>> data.num_batches, data[2][0].shape
        (3, (2, 3))
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):  # fmt: skip
        self._workers = _check_count("workers", workers, 1)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = _check_count("max_queue_size", max_queue_size, 1)

    # Read through properties, so a subclass that forgot `super().__init__()` still works.
    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = _check_count("workers", value, 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = _check_count("max_queue_size", value, 1)

    def __getitem__(self, index):
        """The batch at position `index`."""
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(index), returning one batch."
        )

    @property
    def num_batches(self) -> int | None:
        """The number of batches per epoch (`len(self)`), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ or the property `num_batches`."
        )

    def __iter__(self):
        count = self.num_batches
        index = 0
        while count is None or index < count:
            yield self[index]
            index += 1

    def on_epoch_begin(self) -> None:
        """Called at the start of each epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of each epoch (shuffle your samples here)."""


#: Keras 2's name for `PyDataset`.
Sequence = PyDataset
