"""`BackupAndRestore`: back up the training state, and resume from it after a crash."""

from __future__ import annotations

import contextlib
import os
import warnings
from functools import partial

from ..saving.atomic import atomic_write, remove_stale_temporaries
from ..trainers.resume import ResumePoint
from . import backup_files as files
from ._monitor import batch_save_due
from .callback import Callback

__all__ = ["BackupAndRestore"]


class BackupAndRestore(Callback):
    """Backs up the whole training state, so that a `fit` that died can resume exactly.

    Every `save_freq` (`"epoch"`, or a number of batches) the callback writes the training
    state to `backup_dir`: the model's and optimizer's variables, the epoch and step, the
    order of the epoch's batches, every random generator, the metrics' running totals and
    the state of the callbacks (`EarlyStopping`'s best value and wait, ...). When `fit` starts
    with a backup in `backup_dir` (the script was run again after the process died), it
    resumes from it: with array or `PyDataset` data at the very batch the backup was taken
    before, and it ends with the same weights, bit for bit, as a run that was never
    interrupted. Batches from a generator or another iterable can only be read on, so their
    backups are taken at the start of an epoch, and a resumed run starts that epoch with a
    fresh read of the source. See `docs/checkpoints.md` for the rules.

    A backup is a weights file and a state file naming it, each written under a temporary
    name and renamed into place, the state last, so a process killed at any moment (even
    while writing) leaves the previous backup whole. With `delete_checkpoint=True` (the
    default) the backup is deleted when `fit` ends normally. `double_checkpoint=True` keeps
    the previous backup too, and falls back to it when the latest cannot be read. The
    directory must belong to one training run.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> import kerasish as keras
        >>> class Interrupt(keras.callbacks.Callback):
        ...     def on_epoch_begin(self, epoch, logs=None):
        ...         self.epoch = epoch
        ...     def on_train_batch_begin(self, batch, logs=None):
        ...         if self.epoch == 2:
        ...             raise RuntimeError("interrupted")
        >>> backup = BackupAndRestore(backup_dir=tempfile.mkdtemp())
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 4)), np.zeros((8, 1))
        >>> try:
        ...     model.fit(x, y, epochs=5, callbacks=[backup, Interrupt()], verbose=0)
        ... except RuntimeError:
        ...     pass
        >>> history = model.fit(x, y, epochs=5, callbacks=[backup], verbose=0)
        >>> history.epoch  # the epochs the first run did not finish
        [2, 3, 4]
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):  # fmt: skip
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise ValueError(
                "BackupAndRestore: `backup_dir` must be a non-empty path. "
                f"Received: backup_dir={backup_dir!r}"
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                "BackupAndRestore: `save_freq` must be 'epoch' or a positive number of "
                f"batches. Received: save_freq={save_freq!r}"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.backup_due = False  # set by the hooks; `fit` then calls write_backup
        self.restored = None  # the ResumePoint read at the start of training, if any
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0

    # ---- when to back up ---------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self.backup_due = False
        self.restored = self._read_backup()

    def on_train_batch_end(self, batch, logs=None):
        if batch_save_due(self, batch):
            self.backup_due = True

    def on_epoch_end(self, epoch, logs=None):
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self.backup_due = True

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            for name in (files.STATE, files.PREVIOUS_STATE):
                _remove_quietly(os.path.join(self.backup_dir, name))
            files.remove_unnamed_weights(self.backup_dir, keep=set())
            _remove_stray_temporaries(self.backup_dir)
            with contextlib.suppress(OSError):
                os.rmdir(self.backup_dir)  # only if nothing else is in it

    def get_state(self):
        return {
            "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
            "last_batch_seen": self._last_batch_seen,
        }

    def set_state(self, state) -> None:
        self._batches_seen_since_last_saving = int(state["batches_seen_since_last_saving"])
        self._last_batch_seen = int(state["last_batch_seen"])

    # ---- writing -----------------------------------------------------------------------------

    def write_backup(self, epoch: int, step: int, state: dict) -> None:
        """Writes a backup of the training state before step `step` of epoch `epoch`: the
        variables to a new weights file, then the state naming it over the last one."""
        directory = self.backup_dir
        os.makedirs(directory, exist_ok=True)
        weights = files.weights_name(files.next_generation(directory))
        self.model.save_weights(os.path.join(directory, weights))  # optimizer state included
        current = os.path.join(directory, files.STATE)
        previous = os.path.join(directory, files.PREVIOUS_STATE)
        keep = {weights}
        if self.double_checkpoint and os.path.exists(current):
            os.replace(current, previous)
            with contextlib.suppress(ValueError, OSError):
                keep.add(files.read_position(previous)[2])
        with atomic_write(current) as tmp:
            files.write_state(tmp, epoch, step, weights, state)
        files.remove_unnamed_weights(directory, keep)

    # ---- reading -----------------------------------------------------------------------------

    def _read_backup(self):
        directory = self.backup_dir
        _remove_stray_temporaries(directory)
        paths = [os.path.join(directory, name) for name in (files.STATE, files.PREVIOUS_STATE)]
        paths = [path for path in paths if os.path.exists(path)]
        for i, path in enumerate(paths):
            try:
                epoch, step, weights, state = files.read_state(path)
            except ValueError as error:
                if i + 1 < len(paths):
                    warnings.warn(f"{error}; resuming from the backup before it.", stacklevel=3)
                    continue
                raise
            load = partial(_load_variables, path=os.path.join(directory, weights))
            return ResumePoint(epoch, step, state, load)
        return None


def _load_variables(model, path: str) -> None:
    model.load_weights(path)  # the optimizer's variables too


# ---- leftovers -----------------------------------------------------------------------------


def _remove_stray_temporaries(directory: str) -> None:
    """Removes the temporary files that killed processes left while writing a backup."""
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        if name.startswith(".") and ".tmp-" in name:
            target = name[1:].split(".tmp-", 1)[0]
            remove_stale_temporaries(os.path.join(directory, target))


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
