"""`PyDataset`: a Python class that serves batches by index, as `keras.utils.PyDataset`."""

from __future__ import annotations


class PyDataset:
    """Subclass it with `__len__` (batches per epoch) and `__getitem__(index)` returning a
    batch `(x, y)` or `(x, y, sample_weight)`; `on_epoch_end` runs after each epoch.

    `workers`, `use_multiprocessing` and `max_queue_size` are accepted for compatibility;
    batches are produced in the training thread.

    Example:
        >>> import numpy as np
        >>> class Batches(PyDataset):
        ...     def __len__(self):
        ...         return 2
        ...     def __getitem__(self, i):
        ...         return np.full((4, 3), i, "float32"), np.zeros((4, 1), "float32")
        >>> len(Batches()), Batches()[1][0].shape
        (2, (4, 3))
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        """Called at the end of each epoch (shuffle your indices here)."""
