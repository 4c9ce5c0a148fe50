"""`BackupAndRestore`: back up the training state, and resume from it after a crash."""

from __future__ import annotations

import contextlib
import os
import warnings
from functools import partial

import numpy as np

from ..saving.atomic import atomic_write, remove_stale_temporaries
from ..trainers.resume import ResumePoint
from . import backup_files as files
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
    interrupted. Batches from a generator or another iterable resume at the start of the
    epoch after the backup. See `docs/checkpoints.md` for the rules.

    Each backup is written to new files that are renamed into place, and a small pointer
    file is replaced last, so a process killed at any moment (even while writing) leaves
    the previous backup whole. With `delete_checkpoint=True` (the default) the backup is
    deleted when `fit` ends normally. `double_checkpoint=True` keeps the previous backup
    too, and falls back to it when the latest cannot be read. The directory must belong
    to one training run.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> import kerasish as keras
        >>> class Interrupt(keras.callbacks.Callback):
        ...     def on_epoch_begin(self, epoch, logs=None):
        ...         if epoch == 2:
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
        self._generation = None  # the generation the pointer names

    # ---- when to back up ---------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self.backup_due = False
        self._generation = None
        self.restored = self._read_backup()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self.backup_due = True

    def on_epoch_end(self, epoch, logs=None):
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self.backup_due = True

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            _remove_quietly(os.path.join(self.backup_dir, files.POINTER))
            files.remove_generations(self.backup_dir, keep=set())
            _remove_stray_temporaries(self.backup_dir)
            with contextlib.suppress(OSError):
                os.rmdir(self.backup_dir)  # only if nothing else is in it
        self._generation = None

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
        """Writes a backup of the training state before step `step` of epoch `epoch`."""
        directory = self.backup_dir
        os.makedirs(directory, exist_ok=True)
        previous = self._generation
        known = files.generations(directory) | ({previous} if previous is not None else set())
        generation = max(known) + 1 if known else 0
        state_path, _ = files.generation_paths(directory, generation)
        full_state = {**state, "variables": _variables_state(self.model)}
        with atomic_write(state_path) as tmp:
            files.write_state(tmp, epoch, step, full_state)
        keep = (
            {generation, previous}
            if self.double_checkpoint and previous is not None
            else {generation}
        )
        pointer = files.pointer_text(generation, previous if len(keep) > 1 else None, epoch, step)
        with atomic_write(os.path.join(directory, files.POINTER)) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(pointer)
        self._generation = generation
        files.remove_generations(directory, keep)

    # ---- reading -----------------------------------------------------------------------------

    def _read_backup(self):
        directory = self.backup_dir
        _remove_stray_temporaries(directory)
        pointer = files.read_pointer(directory)
        if pointer is None:
            return None
        candidates = [pointer["generation"]]
        if pointer.get("previous") is not None:
            candidates.append(pointer["previous"])
        for i, generation in enumerate(candidates):
            state_path, _ = files.generation_paths(directory, int(generation))
            try:
                epoch, step, state = files.read_state(state_path)
            except ValueError as error:
                if i + 1 < len(candidates):
                    warnings.warn(f"{error}; resuming from the backup before it.", stacklevel=3)
                    continue
                raise
            self._generation = int(generation)
            variables = state.pop("variables")
            load = partial(_set_variables, saved=variables, path=state_path)
            return ResumePoint(epoch, step, state, load)
        return None


# ---- the model's and optimizer's variables ------------------------------------------------------


def _variables_state(model) -> dict:
    optimizer = getattr(model, "optimizer", None)
    return {
        "model": [w.numpy() for w in model.weights],
        "optimizer": [v.numpy() for v in optimizer.variables] if optimizer is not None else [],
    }


def _set_variables(model, saved: dict, path: str) -> None:
    optimizer = getattr(model, "optimizer", None)
    groups = (
        ("model", model.weights),
        ("optimizer", optimizer.variables if optimizer is not None else []),
    )
    for name, variables in groups:
        values = saved[name]
        if len(values) != len(variables) or any(
            tuple(np.shape(a)) != tuple(v.shape) for a, v in zip(values, variables, strict=False)
        ):
            raise ValueError(
                f"The backup '{path}' holds {len(values)} {name} variables, but model "
                f"'{model.name}' has {len(variables)} (or other shapes): it is not the model "
                "the backup was taken from. Delete the backup directory to start over."
            )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(np.asarray(value, variable.dtype))


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
