"""`TerminateOnNaN`: stop training as soon as a batch's loss is NaN or infinite."""

from __future__ import annotations

import math

from .callback import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stops training when a training batch's loss is NaN or infinite.

    It sets `model.stop_training = True` and prints `Batch <i>: Invalid loss, terminating
    training` (as Keras does); the loop ends after the current batch.

    Example:
        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(stop_training=False)
        >>> callback = TerminateOnNaN()
        >>> callback.set_model(model)
        >>> callback.on_train_batch_end(0, {"loss": 0.7})
        >>> model.stop_training
        False
        >>> callback.on_train_batch_end(1, {"loss": float("nan")})
        Batch 1: Invalid loss, terminating training
        >>> model.stop_training
        True
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
