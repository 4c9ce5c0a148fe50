"""Optimizers: the `Optimizer` base, Keras 3's optimizers, learning-rate `schedules`, and
`get` to resolve them by name.

Example:
    >>> import kerasish as keras
    >>> type(keras.optimizers.get("adam")).__name__
    'Adam'
"""

from __future__ import annotations

from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .lion import Lion
from .nadam import Nadam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax,
                                          Nadam, Lion)}  # fmt: skip
_REGISTRY: dict = {}


def register(cls):
    """Registers a custom Optimizer class for `get`/`deserialize` by its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _lookup(name: str, custom_objects=None):
    if name.startswith("Custom>"):  # tf.keras 2.11-2.15 writes "Custom>Adam"
        name = name[len("Custom>") :]
    custom = {**_REGISTRY, **(custom_objects or {})}
    if name in custom:
        return custom[name]
    by_lower = {k.lower(): v for k, v in _CLASSES.items()}
    cls = by_lower.get(name.lower())
    if cls is None:
        known = sorted([*(k.lower() for k in _CLASSES), *_CLASSES, *custom])
        raise ValueError(f"Unknown optimizer: {name!r}. Known: {known}")
    return cls


def serialize(optimizer) -> dict:
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}  # fmt: skip


def deserialize(config: dict, custom_objects=None) -> Optimizer:
    """An optimizer from `serialize`'s dict (or a bare `{"class_name", "config"}`)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer config: {config!r}")
    cls = _lookup(config["class_name"], custom_objects)
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier) -> Optimizer | None:
    """An optimizer from a name (`"adam"`, `"SGD"`, case-insensitive), a config dict, an
    Optimizer instance (returned as is), an Optimizer class or None."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier. Received: {identifier!r}")


__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Lion", "Nadam",
           "Optimizer", "RMSprop", "deserialize", "get", "register", "schedules",
           "serialize"]  # fmt: skip
