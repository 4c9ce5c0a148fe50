"""`LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from .callback import Callback

__all__ = ["LambdaCallback"]

_HOOKS = (
    "on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
    "on_train_batch_end", "on_batch_begin", "on_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)  # fmt: skip


class LambdaCallback(Callback):
    """A callback whose hooks are the functions you pass, for quick one-off callbacks.

    Each argument is a hook name and a function called with that hook's arguments, by
    position: `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`,
    `on_train_begin(logs)`, `on_train_end(logs)`, `on_train_batch_begin(batch, logs)`,
    `on_train_batch_end(batch, logs)`. Any other hook (`on_test_begin`, `on_predict_batch_end`,
    the Keras 2 `on_batch_end`, ...) can be given by keyword too. Hooks not given do nothing.

    Example:
        >>> from kerasish.callbacks import CallbackList
        >>> printer = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        >>> callbacks = CallbackList([printer])
        >>> callbacks.on_epoch_end(0, {"loss": 0.25})
        0 0.25
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        for name, function in kwargs.items():
            if name not in _HOOKS:
                raise ValueError(
                    f"LambdaCallback: unknown hook `{name}`; the hooks are {', '.join(_HOOKS)}. "
                    f"Received: {name}={function!r}"
                )
            hooks[name] = function
        for name, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise ValueError(
                    f"LambdaCallback: `{name}` must be a function or None. "
                    f"Received: {name}={function!r}"
                )
            setattr(self, name, function)
