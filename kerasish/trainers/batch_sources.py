"""Batches from a `PyDataset` or any iterable of `(x, y)` / `(x, y, sample_weight)` batches
(a generator, a PyTorch `DataLoader`): `data_adapter.make_batches` gives them to
`fit`/`evaluate`/`predict` as it gives batches of arrays, each converted and checked as an
array batch is."""

from __future__ import annotations

import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from backend.tensor import Tensor

from ..utils.py_dataset import PyDataset
from .data_adapter import (
    _describe,
    check_finite,
    class_weights_to_sample_weights,
    num_samples,
    to_arrays,
    unpack,
)


class IteratorBatches:
    """Batches from a PyDataset or an iterable of batches.

    A PyDataset gives `steps` batches per epoch (`num_batches` unless `steps` is smaller), in
    a new order each epoch when `shuffle`, fetched by `workers` threads when it has more than
    one. An iterable that can be iterated again (a PyTorch DataLoader) is
    read from its start each epoch, or with `steps`, `steps` batches at a time, starting a
    new pass when one runs out (as Keras). A one-time iterator (a generator) is read on from
    where the last epoch stopped; an epoch that finds it empty sets `ran_out` (the loop then
    stops) and warns.

    A PyDataset's epoch can be resumed at any step, as `ArrayBatches`' can (`epoch`,
    `position`); `drain()` waits until the batches being fetched ahead have arrived, so no
    `__getitem__` runs while training state is saved. An iterable of batches is not
    resumable: it can only be read on.
    """

    def __init__(self, source, steps=None, shuffle=False, class_weight=None):
        self.source = source
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.ran_out = False
        self._iterator = None
        self._endless = False
        self._next_index = 0  # where an endless PyDataset's next epoch starts
        self._pending = deque()  # batches being fetched ahead by threads
        self.order = None  # the current epoch's batch indices (a PyDataset)
        if isinstance(source, PyDataset):
            total = source.num_batches
            self._endless = total is None
            self._one_time = False
        else:
            try:
                self._iterator = iter(source)
            except TypeError:
                raise TypeError(
                    f"Expected an iterable of batches; a {_describe(source)} cannot be "
                    "iterated. Received: x={source!r}"
                ) from None
            self._one_time = self._iterator is source
            total = None if self._one_time or not hasattr(source, "__len__") else len(source)
        if steps is not None:
            steps = int(steps)
            total = steps if total is None else min(steps, total)
        self.steps = total

    @property
    def resumable(self) -> bool:
        return isinstance(self.source, PyDataset)

    def __iter__(self):
        return self.epoch()

    def epoch(self, position=None):
        """The batches of a new epoch, or with `position` (a PyDataset's), those of the
        epoch it was taken in from its step on."""
        start = 0
        if not isinstance(self.source, PyDataset):
            batches = self._iterable_batches()
        else:
            if position is None:
                self.order = self._pydataset_order()
            else:
                self.order = np.asarray(position["order"])
                self._next_index = int(position["next_index"])
                start = int(position["step"])
            self.source.on_epoch_begin()
            self._pending = deque()
            batches = self._pydataset_batches(self.order[start:])
        return self._checked_batches(batches, start)

    def position(self, step: int) -> dict:
        """What `epoch` needs to resume the current epoch before `step` (a PyDataset)."""
        return {"step": int(step), "order": self.order, "next_index": self._next_index}

    def drain(self) -> None:
        """Waits for the batches being fetched ahead (they stay queued for training)."""
        wait(list(self._pending))

    def _pydataset_order(self):
        source = self.source
        if self.steps is None:
            raise ValueError(
                f"The PyDataset {_describe(source)} has no length (`num_batches` is None): "
                "pass `steps_per_epoch` (or `steps`) to say how many batches make an epoch."
            )
        if self._endless:  # each epoch goes on from where the last one stopped, in order
            order = np.arange(self._next_index, self._next_index + self.steps)
            self._next_index += self.steps
        else:
            order = np.arange(self.steps)
            if self.shuffle:
                np.random.shuffle(order)
        return order

    def _pydataset_batches(self, order):
        source = self.source
        if source.workers > 1:
            yield from _fetch_in_threads(
                source, order, source.workers, source.max_queue_size, self._pending
            )
        else:
            for index in order:
                yield source[int(index)]

    def _iterable_batches(self):
        count, fresh = 0, False
        while self.steps is None or count < self.steps:
            if self._iterator is None:  # a new pass over a source read again each epoch
                self._iterator, fresh = iter(self.source), True
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if self._one_time:
                    self._ran_out(count)
                    return
                if self.steps is None or fresh:  # the pass is over (or the source is empty)
                    return
                continue  # `steps` go on into a new pass
            fresh = False
            count += 1
            yield batch

    def _ran_out(self, count: int) -> None:
        if count == 0:  # an epoch found nothing left
            self.ran_out = True
            warnings.warn(
                f"The {_describe(self.source)} ran out of batches, so training stops. A "
                "generator is read once: pass `steps_per_epoch` (it is then shared out over "
                "the epochs) or a source that can be read again each epoch (a PyDataset, a "
                "PyTorch DataLoader).",
                stacklevel=4,
            )

    def _checked_batches(self, batches, start: int):
        for index, batch in enumerate(batches, start):
            yield self._checked(batch, index)

    def on_epoch_end(self):
        if isinstance(self.source, PyDataset):
            self.source.on_epoch_end()

    def _checked(self, batch, index: int):
        if not isinstance(batch, (tuple, list, dict, np.ndarray, Tensor)) and not hasattr(
            batch, "__array__"
        ):
            raise ValueError(
                f"Batch {index} from the {_describe(self.source)} is a "
                f"{type(batch).__name__}; each batch must be (x, y), (x, y, sample_weight) "
                f"or x, of arrays or of values numpy converts to arrays. Received: {batch!r:.200}"
            )
        x, y, sw = unpack(batch)
        try:
            x, y, sw = to_arrays(x, "x"), to_arrays(y, "y"), to_arrays(sw, "sample_weight")
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Batch {index} from the {_describe(self.source)} does not convert to numpy "
                f"arrays ({error}). Each batch must be (x, y), (x, y, sample_weight) or x, of "
                "arrays or of values numpy converts to arrays (lists of numbers, PyTorch "
                f"tensors). Received parts of types: {[type(p).__name__ for p in (x, y, sw)]}"
            ) from error
        num_samples(x, y, sw)
        for structure, name in ((x, "x"), (y, "y"), (sw, "sample_weight")):
            check_finite(structure, f"{name} of batch {index} from the {_describe(self.source)}")
        if self.class_weight is not None and y is not None:
            if sw is not None:
                raise ValueError(
                    "`class_weight` cannot be combined with batches that carry their own "
                    f"sample weights; batch {index} from the {_describe(self.source)} has three "
                    "parts."
                )
            sw = class_weights_to_sample_weights(y, self.class_weight, None)
        return x, y, sw


def _fetch_in_threads(source, order, workers: int, max_queue_size: int, pending: deque):
    """`source[i]` for each index of `order`, in order, fetched ahead by `workers` threads;
    `pending` holds the fetches under way."""
    ahead = max(int(max_queue_size), workers, 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        indices = iter(order)
        for index in indices:
            pending.append(pool.submit(source.__getitem__, int(index)))
            if len(pending) >= ahead:
                break
        while pending:
            batch = pending.popleft().result()
            following = next(indices, None)
            if following is not None:
                pending.append(pool.submit(source.__getitem__, int(following)))
            yield batch
