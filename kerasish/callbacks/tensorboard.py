"""`TensorBoard`: writes the training curves as event files that TensorBoard reads."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

from .callback import Callback

__all__ = ["TensorBoard"]

_INSTALL_HINT = "pip install tensorboardX"


def _summary_writer_class():
    """tensorboardX's `SummaryWriter`, or an ImportError that says how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError as error:
        raise ImportError(
            "kerasish.callbacks.TensorBoard writes event files through the tensorboardX "
            f"package, which is not installed. Install it with `{_INSTALL_HINT}` (then view "
            "the logs with `tensorboard --logdir <log_dir>`, from `pip install tensorboard`)."
        ) from error
    return SummaryWriter


def _scalar(value):
    """A float for a log value, or None for one that is not a number (it is skipped)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array) if array.ndim == 0 else None


class TensorBoard(Callback):
    """Writes loss, metrics and learning rate as TensorBoard scalar summaries, as Keras does.

    Event files go to `log_dir/train` (per epoch: `epoch_loss`, `epoch_<metric>`,
    `epoch_learning_rate`, and `epoch_steps_per_second` with `write_steps_per_second`) and
    `log_dir/validation` (the `val_` logs, under the same `epoch_` names, and after each
    evaluation `evaluation_<name>_vs_iterations` at the optimizer's step). `update_freq`
    (`"batch"` or an int `N`) also writes `batch_<name>` every N training batches.
    `histogram_freq=N` writes a histogram of every weight every N epochs; `write_graph`
    writes the model's JSON config as a text summary. See the curves with
    `tensorboard --logdir log_dir`.

    The files are written by the `tensorboardX` package (`pip install tensorboardX`); without
    it, creating the callback raises an ImportError that says so. Profiling
    (`profile_batch`) is not available, as on Keras' numpy and torch backends; `write_images`
    and `embeddings_freq` are accepted and ignored, with a warning.

    Example:
        >>> import kerasish as keras
        >>> tensorboard = keras.callbacks.TensorBoard(log_dir="logs")  # doctest: +SKIP
        >>> model.fit(x, y, epochs=5, callbacks=[tensorboard])  # doctest: +SKIP
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):  # fmt: skip
        super().__init__()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                "TensorBoard: `update_freq` must be 'epoch', 'batch' or an int >= 1. "
                f"Received: update_freq={update_freq!r}"
            )
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or (
                histogram_freq < 0):  # fmt: skip
            raise ValueError(
                "TensorBoard: `histogram_freq` must be an int >= 0. "
                f"Received: histogram_freq={histogram_freq!r}"
            )
        if profile_batch:
            raise ValueError(
                "TensorBoard: profiling is not available in kerasish. "
                f"Received: profile_batch={profile_batch!r} (must be 0)"
            )
        for name, value in (("write_images", write_images), ("embeddings_freq", embeddings_freq)):
            if value:
                warnings.warn(
                    f"TensorBoard: `{name}` is not supported in kerasish and is ignored. "
                    f"Received: {name}={value!r}",
                    stacklevel=2,
                )
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = bool(write_graph)
        self.write_images = write_images
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict = {}
        self._global_train_batch = 0
        self._training = False
        self._epoch_start = 0.0
        self._epoch_batches = 0

    def _writer(self, kind: str):
        """The writer of `log_dir/train` or `log_dir/validation`, opened on first use."""
        if kind not in self._writers:
            folder = "train" if kind == "train" else "validation"
            self._writers[kind] = self._writer_class(os.path.join(self.log_dir, folder))
        return self._writers[kind]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _write(self, kind: str, prefix: str, logs: dict, step: int) -> None:
        writer = self._writer(kind)
        for name, value in logs.items():
            number = _scalar(value)
            if number is not None:
                writer.add_scalar(prefix + name, number, global_step=int(step))

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            return None
        return _scalar(optimizer.learning_rate)

    def on_train_begin(self, logs=None):
        self._training = True
        self._global_train_batch = 0
        if self.write_graph and hasattr(self.model, "to_json"):
            self._writer("train").add_text("keras", self.model.to_json(), global_step=0)

    def on_train_end(self, logs=None):
        self._training = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.monotonic()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        self._epoch_batches += 1
        if self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0:
            self._write("train", "batch_", logs or {}, self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[len("val_") :]: v for k, v in logs.items() if k.startswith("val_")}
        learning_rate = self._learning_rate()
        if learning_rate is not None:
            train.setdefault("learning_rate", learning_rate)
        if self.write_steps_per_second:
            seconds = time.monotonic() - self._epoch_start
            train["steps_per_second"] = self._epoch_batches / seconds if seconds > 0 else 0.0
        self._write("train", "epoch_", train, epoch)
        if validation:
            self._write("validation", "epoch_", validation, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)
        for writer in self._writers.values():
            writer.flush()  # TensorBoard shows each epoch as it ends

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if logs and iterations is not None:
            step = int(np.asarray(iterations))
            evaluation = {f"{name}_vs_iterations": v for name, v in logs.items()}
            self._write("validation", "evaluation_", evaluation, step)
        if not self._training:
            self._close_writers()

    def _write_histograms(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in getattr(self.model, "layers", []):
            for weight in layer.weights:
                name = f"{layer.name}/{weight.name}".replace(":", "_")
                writer.add_histogram(f"{name}/histogram", np.asarray(weight), global_step=epoch)
