"""`CSVLogger`: write each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import os

import numpy as np

from .callback import Callback

__all__ = ["CSVLogger"]


def _cell(value):
    """A log value as a CSV cell: numbers as they print, sequences as "[a, b]"."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return f"[{', '.join(map(str, value))}]"
    return value


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: a header, then one row per epoch.

    The columns are `epoch` and the first epoch's log keys, sorted; when the first epoch has
    no `val_` keys, `val_` versions of every key are added (as Keras does, for
    `validation_freq` > 1), and a value an epoch lacks is written `NA`. The file is flushed
    after each row and closed at the end of training. With `append=True` rows go after an
    existing file's, and the header is written only if the file was empty. Lines end in
    `\\n`.

    Example:
        >>> import os, tempfile
        >>> from kerasish.callbacks import CallbackList
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> callbacks = CallbackList([CSVLogger(path)])
        >>> callbacks.on_train_begin()
        >>> callbacks.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
        >>> callbacks.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.5})
        >>> callbacks.on_train_end()
        >>> print(open(path).read(), end="")
        epoch,loss,val_loss
        0,0.5,0.75
        1,0.25,0.5
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        try:
            self.filename = os.fspath(filename)
        except TypeError:
            raise ValueError(
                f"CSVLogger: `filename` must be a path. Received: filename={filename!r}"
            ) from None
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "CSVLogger: `separator` must be a single character. "
                f"Received: separator={separator!r}"
            )
        if not isinstance(append, bool):
            raise ValueError(f"CSVLogger: `append` must be a bool. Received: append={append!r}")
        self.sep = separator
        self.append = append
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self._open()

    def _open(self) -> None:
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as file:
                    self.append_header = not file.readline()
            mode = "a"
        else:
            mode = "w"
        self._close()
        self.csv_file = open(self.filename, mode, newline="")  # closed at train end
        self.writer = None
        self.keys = None

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None or self.csv_file.closed:
            self._open()
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                self.keys += ["val_" + key for key in self.keys]
        if self.writer is None:
            self.writer = csv.writer(self.csv_file, delimiter=self.sep, lineterminator="\n")
            if self.append_header:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(_cell(logs.get(key, "NA")) for key in self.keys)])
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None
