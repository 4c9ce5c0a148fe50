"""`ProgbarLogger`: the progress bar of `fit`, `evaluate` and `predict`, on tqdm."""

from __future__ import annotations

import sys
import time

from .callback import Callback

__all__ = ["ProgbarLogger"]

# Seconds between refreshes of the bar's loss/metrics text: formatting them every batch would
# cost more than a small batch's training step.
_POSTFIX_INTERVAL = 0.1


def format_logs(logs) -> str:
    """`"loss: 0.1234 - accuracy: 0.9000"`: Keras' 4 decimals, or 4 significant digits when tiny."""
    parts = []
    for key, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            parts.append(f"{key}: {value}")
            continue
        parts.append(f"{key}: {number:.4f}" if abs(number) > 1e-3 else f"{key}: {number:.4e}")
    return " - ".join(parts)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


class ProgbarLogger(Callback):
    """Prints progress to standard output: what `verbose` in `fit`/`evaluate`/`predict` asks for.

    The mode comes from `params["verbose"]` ("auto" means 1). With 1, each epoch gets a
    `tqdm.auto` bar (a widget in a notebook) that updates in place with the step count,
    elapsed time, ETA and the running loss and metrics, and ends showing the epoch's logs,
    `val_` ones included. With 2, each epoch prints one line when it ends, such as
    `Epoch 1/3 - 0s - loss: 0.1234 - accuracy: 0.9000 - val_loss: 0.2345`. With 0 it prints
    nothing. Inside `fit`, the validation pass shows no bar of its own. `fit` adds one when
    `verbose` is not 0, so you rarely create it yourself.

    Example:
        >>> from kerasish.callbacks import CallbackList
        >>> callbacks = CallbackList(add_progbar=True, verbose=2, epochs=2, steps=3)
        >>> callbacks.on_train_begin()
        >>> for epoch in range(2):
        ...     callbacks.on_epoch_begin(epoch)
        ...     for batch in range(3):
        ...         callbacks.on_train_batch_end(batch, {"loss": 0.5})
        ...     callbacks.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.00012})
        Epoch 1/2 - 0s - loss: 0.5000 - val_loss: 1.2000e-04
        Epoch 2/2 - 0s - loss: 0.5000 - val_loss: 1.2000e-04
        >>> callbacks.on_train_end()
    """

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0
        self.progbar = None
        self._epoch = None
        self._called_in_fit = False
        self._start = 0.0
        self._last_postfix = 0.0

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    # fit
    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        self._begin(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_train_end(self, logs=None):
        self._close_bar()
        self._called_in_fit = False

    # evaluate, outside fit
    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._begin(None)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finish(logs)

    # predict
    def on_predict_begin(self, logs=None):
        self._begin(None)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _begin(self, epoch) -> None:
        self._close_bar()
        self._epoch = epoch
        self.seen = 0
        self._start = time.monotonic()
        self._last_postfix = 0.0
        if self.verbose == 1:
            from tqdm.auto import tqdm  # imported here: `import kerasish` must stay light

            description = None if epoch is None else f"Epoch {epoch + 1}/{self.epochs}"
            self.progbar = tqdm(
                total=self.target,
                desc=description,
                unit="step",
                file=sys.stdout,
                leave=True,
                dynamic_ncols=True,
            )

    def _update(self, batch, logs) -> None:
        self.seen = batch + 1
        if self.progbar is None:
            return
        now = time.monotonic()
        if logs and now - self._last_postfix >= _POSTFIX_INTERVAL:
            self._last_postfix = now
            self.progbar.set_postfix_str(format_logs(logs), refresh=False)
        self.progbar.update(self.seen - self.progbar.n)

    def _finish(self, logs) -> None:
        if self.target is None:
            self.target = self.seen  # the first pass over a dataset of unknown length
        if self.verbose == 1 and self.progbar is not None:
            done = self.seen or self.target or 0
            if done > self.progbar.n:
                self.progbar.update(done - self.progbar.n)
            self.progbar.set_postfix_str(format_logs(logs), refresh=False)
            self._close_bar()
        elif self.verbose == 2:
            elapsed = _format_seconds(time.monotonic() - self._start)
            if self._epoch is not None:
                head = f"Epoch {self._epoch + 1}/{self.epochs}"
            else:
                head = f"{self.seen}/{self.target or self.seen}"
            text = format_logs(logs)
            print(f"{head} - {elapsed}" + (f" - {text}" if text else ""), flush=True)

    def _close_bar(self) -> None:
        if self.progbar is not None:
            self.progbar.close()
            self.progbar = None
