"""`EarlyStopping`: stop training when a monitored quantity stops improving."""

from __future__ import annotations

import warnings

import numpy as np

from ._monitor import (
    check_int,
    check_mode,
    check_monitor,
    check_number,
    check_verbose,
    known_direction,
)
from .callback import Callback

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stops training when the monitored quantity has not improved for `patience` epochs.

    An epoch improves when its value beats the best so far by more than `min_delta` (in the
    direction `mode` gives: "min", "max", or "auto", which reads it from the metric: losses
    and errors go down, accuracies, AUC, precision and recall go up). After an epoch that
    does not improve on both the best and `baseline` (when given), a counter grows; when it
    reaches `patience` (and the epoch is not the first), `model.stop_training` is set.
    Epochs before `start_from_epoch` are ignored. With `restore_best_weights=True`, the
    weights of the best epoch are put back at the end of training, whether training stopped
    early or ran all its epochs. A monitored key missing from the logs gives a warning and
    the epoch is skipped. `stopped_epoch` and `best_epoch` are 0-based.

    Example:
        >>> import numpy as np
        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(stop_training=False, weights=[np.zeros(2)])
        >>> model.get_weights = lambda: [w.copy() for w in model.weights]
        >>> model.set_weights = lambda ws: setattr(model, "weights", [w.copy() for w in ws])
        >>> stopper = EarlyStopping(patience=1, restore_best_weights=True)
        >>> stopper.set_model(model)
        >>> stopper.on_train_begin()
        >>> for epoch, val_loss in enumerate([0.5, 0.3, 0.4, 0.35, 0.2]):
        ...     model.weights = [np.full(2, float(epoch))]  # what this epoch trained
        ...     stopper.on_epoch_end(epoch, {"val_loss": val_loss})
        ...     if model.stop_training:
        ...         break
        >>> stopper.stopped_epoch, stopper.best_epoch
        (2, 1)
        >>> stopper.on_train_end()
        >>> model.weights
        [array([1., 1.])]
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__()
        name = "EarlyStopping"
        self.monitor = check_monitor(name, monitor)
        self.min_delta = abs(check_number(name, "min_delta", min_delta))
        self.patience = check_int(name, "patience", patience)
        self.verbose = check_verbose(name, verbose)
        self.mode = check_mode(name, mode)
        self.baseline = None if baseline is None else check_number(name, "baseline", baseline)
        if not isinstance(restore_best_weights, bool):
            raise ValueError(
                f"{name}: `restore_best_weights` must be a bool. "
                f"Received: restore_best_weights={restore_best_weights!r}"
            )
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = check_int(name, "start_from_epoch", start_from_epoch)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0
        self._direction = None  # "min" or "max", found at the first watched epoch

    def on_train_begin(self, logs=None):
        self._reset()

    def get_state(self):
        return {
            "wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
            "best_epoch": self.best_epoch, "direction": self._direction,
            "best_weights": self.best_weights,
        }  # fmt: skip

    def set_state(self, state) -> None:
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        self.best, self.best_epoch = state["best"], int(state["best_epoch"])
        self._direction = state["direction"]
        weights = state["best_weights"]
        self.best_weights = None if weights is None else [np.array(w) for w in weights]

    def _set_direction(self) -> None:
        self._direction = known_direction("EarlyStopping", self.mode, self.monitor, self.model)

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_epoch_end(self, epoch, logs=None):
        current = self._get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self._direction is None:
            self._set_direction()
        if self.restore_best_weights and self.best_weights is None:
            # Until an epoch improves, the first watched epoch's weights are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Patience restarts only for an epoch that beats both the best and the baseline.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def _get_monitor_value(self, logs) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}",
                stacklevel=3,
            )
            return None
        return float(value)
