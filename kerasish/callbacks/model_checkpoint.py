"""`ModelCheckpoint`: save the model or its weights while training."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ._monitor import (
    batch_save_due,
    check_mode,
    check_monitor,
    check_number,
    check_verbose,
    known_direction,
)
from .callback import Callback

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Saves the model (`model.save`) or its weights (`model.save_weights`) during training.

    `filepath` may hold format fields filled from the epoch (from 1), the batch (from 1,
    when saving every `save_freq` batches) and the logs: `"ckpt-{epoch:02d}-{val_loss:.2f}
    .keras"`. It must end in `.weights.h5` with `save_weights_only=True`, else in `.keras`
    or `.h5`. `save_freq` is `"epoch"` (save at each epoch's end) or a number of batches
    (the logs are then the running values of the epoch so far). With
    `save_best_only=True` the file is written only when `monitor` improves on the best value
    so far (or, at first, on `initial_value_threshold` when given), in the direction of
    `mode` ("auto" reads it from the metric: losses go down, accuracies up); a monitored
    value missing from the logs gives a warning and saves anyway, as Keras does. Every file
    is written under a temporary name and renamed into place, so a crash never leaves a
    half-written checkpoint. Weight files hold the optimizer's state too, so training can
    continue from them.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import kerasish as keras
        >>> folder = tempfile.mkdtemp()
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> checkpoint = ModelCheckpoint(os.path.join(folder, "e{epoch:02d}.weights.h5"),
        ...                              save_weights_only=True)
        >>> _ = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=2, verbose=0,
        ...               callbacks=[checkpoint])
        >>> sorted(os.listdir(folder))
        ['e01.weights.h5', 'e02.weights.h5']
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):  # fmt: skip
        super().__init__()
        name = "ModelCheckpoint"
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise ValueError(f"{name}: `filepath` must be a path. Received: filepath={filepath!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = check_monitor(name, monitor)
        self.verbose = check_verbose(name, verbose)
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = check_mode(name, mode)
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                f"{name}: `save_freq` must be 'epoch' or a positive number of batches. "
                f"Received: save_freq={save_freq!r}"
            )
        self.save_freq = save_freq
        self.best = (
            None
            if initial_value_threshold is None
            else check_number(name, "initial_value_threshold", initial_value_threshold)
        )
        if self.save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                f"{name}: with `save_weights_only=True` the filepath must end in "
                f"`.weights.h5` (the Keras weights format). Received: filepath={self.filepath}"
            )
        if not self.save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                f"{name}: the filepath must end in `.keras` or `.h5` (a whole model), or use "
                "`save_weights_only=True` with a `.weights.h5` path. "
                f"Received: filepath={self.filepath}"
            )
        self._direction = None  # "min" or "max", found when first needed
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

    # ---- hooks ---------------------------------------------------------------------------------

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch_save_due(self, batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def get_state(self):
        return {
            "best": None if self.best is None else float(self.best),
            "direction": self._direction,
            "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
            "last_batch_seen": self._last_batch_seen,
            "current_epoch": self._current_epoch,
        }

    def set_state(self, state) -> None:
        self.best, self._direction = state["best"], state["direction"]
        self._batches_seen_since_last_saving = int(state["batches_seen_since_last_saving"])
        self._last_batch_seen = state["last_batch_seen"]
        self._current_epoch = int(state["current_epoch"])

    # ---- when and where ------------------------------------------------------------------------

    def _get_file_path(self, epoch: int, batch, logs) -> str:
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {error} '
                f"is not in the logs (available: epoch, batch, {', '.join(logs)})"
            ) from None

    def _is_improvement(self, value: float) -> bool:
        if self.best is None:
            return True
        if self._direction is None:
            self._direction = known_direction(
                "ModelCheckpoint", self.mode, self.monitor, self.model
            )
        return value < self.best if self._direction == "min" else value > self.best

    def _should_save_model(self, epoch: int, logs, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if np.ndim(current) > 0 and np.size(current) != 1:
            warnings.warn(
                f"Can save best model only when `monitor` is a scalar value. Received: "
                f"{current}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        current = float(np.asarray(current).reshape(()))
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch, logs) -> None:
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used "
                f"is an existing directory: {filepath}"
            )
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
