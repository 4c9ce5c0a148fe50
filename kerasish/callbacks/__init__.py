"""`kerasish.callbacks`: hooks into `fit`, `evaluate` and `predict`, with Keras 3's names."""

from __future__ import annotations

from .backup_and_restore import BackupAndRestore
from .callback import Callback, CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .lr_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .progbar import ProgbarLogger
from .reduce_lr import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
    "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN", "get",
]  # fmt: skip

_BY_NAME = {
    cls.__name__: cls
    for cls in (
        CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateScheduler, ProgbarLogger,
        ReduceLROnPlateau, TensorBoard, TerminateOnNaN,
    )
}  # fmt: skip
_ALIASES = {
    "csv_logger": CSVLogger, "early_stopping": EarlyStopping, "history": History,
    "progbar_logger": ProgbarLogger, "reduce_lr_on_plateau": ReduceLROnPlateau,
    "tensorboard": TensorBoard, "terminate_on_nan": TerminateOnNaN,
}  # fmt: skip


def get(identifier) -> Callback | None:
    """A callback from an instance, a class name or alias, a class-and-config dict, or None.

    Strings (`"EarlyStopping"`, `"early_stopping"`) build the callback with its defaults; a
    dict `{"class_name": ..., "config": {...}}` passes the config as arguments.

    Example:
        >>> get("EarlyStopping").monitor
        'val_loss'
        >>> get({"class_name": "EarlyStopping", "config": {"patience": 3}}).patience
        3
        >>> get("terminate_on_nan")
        <kerasish.callbacks.terminate_on_nan.TerminateOnNaN object at ...>
    """
    if identifier is None or isinstance(identifier, Callback):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _ALIASES.get(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        cls = _BY_NAME.get(identifier["class_name"])
        if cls is not None:
            return cls(**identifier.get("config", {}))
    raise ValueError(
        "Could not interpret callback identifier; expected a Callback, one of "
        f"{sorted(_BY_NAME)} or a {{'class_name', 'config'}} dict. "
        f"Received: identifier={identifier!r}"
    )
