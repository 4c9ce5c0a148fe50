"""The `Callback` base class, with every Keras 3 hook as a no-op, and `CallbackList`."""

from __future__ import annotations

__all__ = ["Callback", "CallbackList"]

# Each batch hook, with the Keras 2 alias that the base class forwards it to (if any).
_BATCH_HOOKS = {
    "on_train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
    "on_train_batch_end": ("on_train_batch_end", "on_batch_end"),
    "on_test_batch_begin": ("on_test_batch_begin",),
    "on_test_batch_end": ("on_test_batch_end",),
    "on_predict_batch_begin": ("on_predict_batch_begin",),
    "on_predict_batch_end": ("on_predict_batch_end",),
}


class Callback:
    """The base class of callbacks: hooks that a training loop calls, all no-ops here.

    Subclass it and override the hooks you need. The loop sets `self.model` (through
    `set_model`) and `self.params` (a dict such as `{"verbose": 1, "epochs": 3, "steps": 10}`,
    through `set_params`) before training starts. A callback stops training by setting
    `self.model.stop_training = True`. Epoch hooks get the epoch index (from 0) and a dict
    of logs (`loss`, metrics, `val_` versions at epoch end); batch hooks get the batch index
    within the epoch and that batch's logs. Batch hooks that no callback overrides are not
    called at all, so they cost nothing.

    Example:
        >>> class CountEpochs(Callback):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.seen = []
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         self.seen.append((epoch, logs["loss"]))
        >>> counter = CountEpochs()
        >>> callbacks = CallbackList([counter], epochs=2)
        >>> for epoch in range(2):
        ...     callbacks.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
        >>> counter.seen
        [(0, 1.0), (1, 0.5)]
    """

    def __init__(self):
        self.model = None
        self.params = None

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def get_state(self):
        """The callback's state for a resumable training state (`BackupAndRestore`): a dict
        of numbers, strings, lists and numpy arrays, or None when it has none (the
        default). A resumed `fit` hands it to `set_state` after `on_epoch_begin`."""
        return None

    def set_state(self, state) -> None:
        """Puts back a state `get_state` returned, when `fit` resumes from a backup."""

    # Keras 2 names for the train batch hooks; the train hooks call them, as in Keras 3.
    def on_batch_begin(self, batch, logs=None):
        """Called at the start of a training batch (Keras 2 name)."""

    def on_batch_end(self, batch, logs=None):
        """Called at the end of a training batch (Keras 2 name)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch `epoch` (from 0) in `fit`."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch; `logs` has the epoch's loss, metrics and `val_` ones."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called at the start of a training batch."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called at the end of a training batch; `logs` has the running loss and metrics."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called at the start of a batch in `evaluate` (and validation in `fit`)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called at the end of a batch in `evaluate` (and validation in `fit`)."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called at the start of a batch in `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called at the end of a batch in `predict`; `logs` has `outputs`."""

    def on_train_begin(self, logs=None):
        """Called at the start of `fit`."""

    def on_train_end(self, logs=None):
        """Called at the end of `fit`."""

    def on_test_begin(self, logs=None):
        """Called at the start of `evaluate` (and of validation in `fit`)."""

    def on_test_end(self, logs=None):
        """Called at the end of `evaluate` (and of validation in `fit`)."""

    def on_predict_begin(self, logs=None):
        """Called at the start of `predict`."""

    def on_predict_end(self, logs=None):
        """Called at the end of `predict`."""


def _overrides(callback, hook: str) -> bool:
    """Whether `callback` does something in `hook`: a subclass method or an instance attribute."""
    method = getattr(callback, hook, None)
    return getattr(method, "__func__", None) is not getattr(Callback, hook)


def _by_name(logs) -> dict:
    """`logs` itself ({} for None), its keys put in sorted order, as Keras hands logs to
    callbacks (so `History` records `accuracy, loss, val_accuracy, val_loss`)."""
    if logs is None:
        return {}
    if list(logs) != sorted(logs):
        items = sorted(logs.items())
        logs.clear()
        logs.update(items)
    return logs


class CallbackList(Callback):
    """Calls a list of callbacks in order, for each hook: what `fit`, `evaluate` and `predict` use.

    `add_history=True` appends a `History` and `add_progbar=True` a `ProgbarLogger` unless the
    list already has one. `model` and `**params` (`verbose`, `epochs`, `steps`) are passed to
    every callback. Logs reach callbacks with their keys sorted by name, as in Keras. The
    epoch and begin/end hooks pass the same `logs` dict to each callback in turn, so a
    callback that adds a key (ReduceLROnPlateau adds `learning_rate`) is seen by those after
    it. Batch hooks go only to the callbacks that override them; a loop can
    skip building per-batch logs when `should_call_batch_hooks("train")` is False.

    Example:
        >>> from kerasish.callbacks import History
        >>> callbacks = CallbackList(add_history=True, epochs=1, steps=2, verbose=0)
        >>> callbacks.should_call_batch_hooks("train")
        False
        >>> callbacks.on_train_begin()
        >>> callbacks.on_epoch_end(0, {"loss": 0.5})
        >>> history = [c for c in callbacks if isinstance(c, History)][0]
        >>> history.history, history.params
        ({'loss': [0.5]}, {'epochs': 1, 'steps': 2, 'verbose': 0})
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if isinstance(callbacks, Callback) and not isinstance(callbacks, CallbackList):
            callbacks = [callbacks]
        if callbacks is not None and not isinstance(callbacks, (list, tuple, CallbackList)):
            raise TypeError(
                "`callbacks` must be a list of `kerasish.callbacks.Callback` instances. "
                f"Received: callbacks={callbacks!r:.100}"
            )
        self.callbacks = list(callbacks) if callbacks else []
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise ValueError(
                    "CallbackList: every callback must be a `kerasish.callbacks.Callback` "
                    f"instance. Received: callback={callback!r}"
                )
        self._add_default_callbacks(add_history, add_progbar)
        self._index_batch_hooks()
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def _add_default_callbacks(self, add_history: bool, add_progbar: bool) -> None:
        from .history import History
        from .progbar import ProgbarLogger

        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def _index_batch_hooks(self) -> None:
        # For each batch hook, the callbacks that override it or the alias it forwards to.
        self._batch_hook_callbacks = {
            hook: [c for c in self.callbacks if any(_overrides(c, name) for name in names)]
            for hook, names in _BATCH_HOOKS.items()
        }

    def should_call_batch_hooks(self, mode: str) -> bool:
        """Whether any callback overrides a batch hook of `mode` ("train", "test", "predict")."""
        if mode not in ("train", "test", "predict"):
            raise ValueError(
                f"`mode` must be 'train', 'test' or 'predict'. Received: mode={mode!r}"
            )
        hooks = self._batch_hook_callbacks
        return bool(hooks[f"on_{mode}_batch_begin"] or hooks[f"on_{mode}_batch_end"])

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)
        self._index_batch_hooks()
        if self.model is not None:
            callback.set_model(self.model)
        if self.params is not None:
            callback.set_params(self.params)

    def set_model(self, model) -> None:
        super().set_model(model)
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def _call(self, hook: str, logs) -> None:
        logs = _by_name(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(logs)

    def _call_epoch(self, hook: str, epoch: int, logs) -> None:
        logs = _by_name(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(epoch, logs)

    def _call_batch(self, hook: str, batch: int, logs) -> None:
        callbacks = self._batch_hook_callbacks[hook]
        if callbacks:
            logs = None if logs is None else dict(sorted(logs.items()))  # a step's own dict
            for callback in callbacks:
                getattr(callback, hook)(batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call_epoch("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call_epoch("on_epoch_end", epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)
