"""`LearningRateScheduler`: set the learning rate from a function of the epoch."""

from __future__ import annotations

import inspect

import numpy as np

from ._monitor import check_verbose
from .callback import Callback

__all__ = ["LearningRateScheduler"]


def _takes_learning_rate(schedule) -> bool:
    """Whether `schedule` accepts `(epoch, lr)`; Keras also accepts an old-style `(epoch)`."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): use the new API
        return True
    positional = 0
    for parameter in parameters:
        if parameter.kind == parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to `schedule(epoch, lr)`.

    `schedule` takes the epoch index (from 0) and the current learning rate (a float) and
    returns the new rate, a float; anything else is a `ValueError`. A one-argument
    `schedule(epoch)` works too, as in old Keras. The rate in use is added to each epoch's
    logs as `learning_rate`. With `verbose=1` it prints the rate it sets.

    Example:
        >>> import math
        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(optimizer=SimpleNamespace(learning_rate=0.1))
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 2 else lr * 0.5
        >>> scheduler = LearningRateScheduler(schedule)
        >>> scheduler.set_model(model)
        >>> for epoch in range(4):
        ...     scheduler.on_epoch_begin(epoch)
        ...     print(epoch, model.optimizer.learning_rate)
        0 0.1
        1 0.1
        2 0.05
        3 0.025
    """

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(
                "LearningRateScheduler: `schedule` must be a function (epoch, lr) -> new lr. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = check_verbose("LearningRateScheduler", verbose)
        self._new_api = _takes_learning_rate(schedule)

    def _current_lr(self) -> float:
        optimizer = getattr(self.model, "optimizer", None)
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError(
                "LearningRateScheduler: the model's optimizer must have a `learning_rate` "
                f"attribute. Received: optimizer={optimizer!r}"
            )
        return float(optimizer.learning_rate)

    def on_epoch_begin(self, epoch, logs=None):
        lr = self._current_lr()
        new_lr = self.schedule(epoch, lr) if self._new_api else self.schedule(epoch)
        if isinstance(new_lr, bool) or not isinstance(new_lr, (float, np.floating)):
            raise ValueError(
                "LearningRateScheduler: the output of the `schedule` function must be a "
                f"float. Received: schedule({epoch}, {lr}) = {new_lr!r}"
            )
        self.model.optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{float(new_lr)}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self._current_lr()
