"""`ReduceLROnPlateau`: lower the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

import warnings

import numpy as np

from ._monitor import (
    check_int,
    check_mode,
    check_monitor,
    check_number,
    check_verbose,
    monitor_direction,
)
from .callback import Callback

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when the monitored quantity plateaus.

    An epoch improves when its value beats the best so far by more than `min_delta` (in the
    direction of `mode`; "auto" reads it from the metric's name, and takes unknown names as
    lower-is-better, as Keras does). After `patience` epochs in a row without improvement the
    optimizer's `learning_rate` becomes `max(lr * factor, min_lr)` (unless it is already at
    `min_lr`). Then `cooldown` epochs follow in which no reduction happens; as in Keras, the
    last of them already counts towards the next patience (so `cooldown=1` acts like 0).
    It also adds the current `learning_rate` to each epoch's logs, so `History` records it.
    A monitored key missing from the logs gives a warning.

    Example:
        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(optimizer=SimpleNamespace(learning_rate=0.1))
        >>> reduce_lr = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.02)
        >>> reduce_lr.set_model(model)
        >>> reduce_lr.on_train_begin()
        >>> for epoch in range(6):
        ...     reduce_lr.on_epoch_end(epoch, {"val_loss": 1.0})  # never improves
        ...     print(epoch, model.optimizer.learning_rate)
        0 0.1
        1 0.1
        2 0.05
        3 0.05
        4 0.025
        5 0.025
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        super().__init__()
        name = "ReduceLROnPlateau"
        self.monitor = check_monitor(name, monitor)
        self.factor = check_number(name, "factor", factor, minimum=0.0)
        if self.factor >= 1.0:
            raise ValueError(
                f"{name} does not support a factor >= 1.0 (it would not reduce the learning "
                f"rate). Received: factor={factor!r}"
            )
        self.patience = check_int(name, "patience", patience)
        self.verbose = check_verbose(name, verbose)
        self.mode = check_mode(name, mode)
        self.min_delta = abs(check_number(name, "min_delta", min_delta))
        self.cooldown = check_int(name, "cooldown", cooldown)
        self.min_lr = check_number(name, "min_lr", min_lr, minimum=0.0)
        self._reset()

    def _reset(self) -> None:
        direction = monitor_direction(self.mode, self.monitor, self.model) or "min"
        self._direction = direction
        self.best = np.inf if direction == "min" else -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def get_state(self):
        return {
            "best": float(self.best), "wait": self.wait,
            "cooldown_counter": self.cooldown_counter, "direction": self._direction,
        }  # fmt: skip

    def set_state(self, state) -> None:
        self.best, self.wait = float(state["best"]), int(state["wait"])
        self.cooldown_counter, self._direction = int(state["cooldown_counter"]), state["direction"]

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_improvement(self, value: float) -> bool:
        if self._direction == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
            return
        current = float(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                # Compared in float32, as the optimizer stores it, so min_lr is reachable.
                if np.float32(old_lr) > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                            f"to {new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
