"""`History`: the per-epoch record that `fit` returns."""

from __future__ import annotations

from .callback import Callback

__all__ = ["History"]


class History(Callback):
    """Records the logs of every epoch: what `fit` returns.

    `history` is a dict of per-epoch lists (`loss`, each metric, their `val_` versions, and
    anything callbacks before it add, such as `learning_rate`); `epoch` lists the epoch
    indices seen; `params` is the dict the loop passed (`{"verbose", "epochs", "steps"}`).
    As in Keras 3, it also sets `model.history` to itself after each epoch.

    Example:
        >>> from kerasish.callbacks import CallbackList
        >>> history = History()
        >>> callbacks = CallbackList([history], verbose=0, epochs=2, steps=4)
        >>> callbacks.on_train_begin()
        >>> for epoch, loss in enumerate([0.9, 0.4]):
        ...     callbacks.on_epoch_end(epoch, {"loss": loss, "val_loss": loss + 0.1})
        >>> history.history
        {'loss': [0.9, 0.4], 'val_loss': [1.0, 0.5]}
        >>> history.epoch, history.params
        ([0, 1], {'verbose': 0, 'epochs': 2, 'steps': 4})
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
