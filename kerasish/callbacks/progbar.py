"""`ProgbarLogger`: the progress bar of `fit`, `evaluate` and `predict`."""

from __future__ import annotations

from ..utils.progbar import Progbar
from .callback import Callback

__all__ = ["ProgbarLogger"]


class ProgbarLogger(Callback):
    """Prints progress to standard output: what `verbose` in `fit`/`evaluate`/`predict` asks for.

    The mode comes from `params["verbose"]` ("auto" means 1). With 1, each epoch (when there
    are several) starts with `Epoch 1/3`, then a `kerasish.utils.Progbar` shows the step
    count, the bar, the time left, the time per step and the running loss and metrics, and
    ends on the epoch's logs, `val_` ones included (in a log file or pipe, only that last
    line is written). With 2, each epoch prints only that last line, as
    `3/3 - 0s - 2ms/step - loss: 0.1234 - val_loss: 0.2345`. With 0 it prints nothing. Inside
    `fit`, the validation pass shows no bar of its own. `fit` adds one when `verbose` is not
    0, so you rarely create it yourself.

    Example:
        >>> from kerasish.callbacks import CallbackList
        >>> callbacks = CallbackList(add_progbar=True, verbose=2, epochs=2, steps=3)
        >>> callbacks.on_train_begin()
        >>> for epoch in range(2):
        ...     callbacks.on_epoch_begin(epoch)
        ...     for batch in range(3):
        ...         callbacks.on_train_batch_end(batch, {"loss": 0.5})
        ...     callbacks.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.00012})
        Epoch 1/2
        3/3 - 0s - ...s/step - loss: 0.5000 - val_loss: 1.2000e-04
        Epoch 2/2
        3/3 - 0s - ...s/step - loss: 0.5000 - val_loss: 1.2000e-04
        >>> callbacks.on_train_end()
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    # fit
    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # the validation passes inside fit show no bar

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    # evaluate, outside fit
    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    # predict
    def on_predict_begin(self, logs=None):
        self._reset()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # the batch's outputs are not shown

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def _reset(self) -> None:
        """A new bar, whose clock starts now (before the first step runs)."""
        self.seen = 0
        self.progbar = None
        self._progbar()

    def _progbar(self) -> Progbar:
        if self.progbar is None:
            # Logs hold the metrics' running results already: shown as they are.
            self.progbar = Progbar(self.target, verbose=self.verbose, stateless_metrics=set())
        return self.progbar

    def _update(self, batch, logs) -> None:
        self.seen = batch + 1
        if self.verbose == 1:
            self._progbar().update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs) -> None:
        progbar = self._progbar()
        if self.target is None:
            self.target = self.seen  # the first pass over data of unknown length
            progbar.target = self.target
        # A stopped epoch ends on the steps that ran, not on the steps it was meant to have.
        done = self.seen if 0 < self.seen < self.target else self.target
        progbar.update(done, list((logs or {}).items()), finalize=True)
