"""Layers and models to and from Keras' `{"module", "class_name", "config", ...}` dicts.

One registry serves every layer and model class: `kerasish.layers` and `kerasish.models`
register their built-in classes here when they are imported (`register_builtins`), user
classes arrive through `register_keras_serializable` or `custom_objects`, and functions a
`Lambda` or `TextVectorization` names through `register`. Loading resolves names only from
those places: it never imports a module a config names, never evaluates or unpickles
anything. A config naming any other class is a `ValueError` that names the class and says
how to pass it.

`safe_mode` (on while `load_model` runs, as Keras): layers that would call a function the
file names (`Lambda`) refuse to load; `SafeModeScope(False)` allows them, and they then take
their function from `custom_objects` or the registry.

Keras 2 configs go through `keras2_configs.upgrade` first, so keys Keras 3 dropped
(`time_major`, `input_length`, ...) are accepted here for every layer.
"""

from __future__ import annotations

import inspect
import threading

from . import keras2_configs
from .object_registry import get_registered_object

_BUILTINS: dict = {}  # class name -> built-in layer or model class (and KerasOperation)
_REGISTERED: dict = {}  # name -> class or function registered with `register`
_MAX_DEPTH = 64  # nesting of layer configs (a model in a wrapper in a model ...)


def register_builtins(classes: dict) -> None:
    """Adds built-in classes, by the class names configs use (`kerasish.layers` and
    `kerasish.models` call it at import)."""
    _BUILTINS.update(classes)


def registered_builtin(name: str):
    """The built-in class registered under `name` (`"Model"`, `"Dense"`, ...), or None."""
    return _BUILTINS.get(name)


def register(obj):
    """Registers a layer class or a function (a `Lambda`'s) under its `__name__`, so
    configs naming it load; usable as a decorator.

    Example:
        >>> from kerasish.saving import serialization
        >>> @serialization.register
        ... def halve(x):
        ...     return x / 2
        >>> serialization.registered("halve") is halve
        True
    """
    _REGISTERED[obj.__name__] = obj
    return obj


def registered(name: str):
    """The class or function registered under `name` with `register` or
    `register_keras_serializable`, or None."""
    return _REGISTERED.get(name) or get_registered_object(name)


# ---- safe mode -----------------------------------------------------------------------------


class _SafeMode(threading.local):
    def __init__(self):
        self.stack = []


_safe_mode = _SafeMode()


class SafeModeScope:
    """Context manager: inside it, `in_safe_mode()` is `safe_mode`."""

    def __init__(self, safe_mode: bool = True):
        self.safe_mode = bool(safe_mode)

    def __enter__(self):
        _safe_mode.stack.append(self.safe_mode)
        return self

    def __exit__(self, *exc):
        _safe_mode.stack.pop()
        return False


def in_safe_mode():
    """True or False inside a `SafeModeScope` (every `load_model` opens one), else None."""
    return _safe_mode.stack[-1] if _safe_mode.stack else None


# ---- serializing ---------------------------------------------------------------------------


def is_functional(layer) -> bool:
    """Whether `layer` is a functional model (built from inputs and outputs, not a
    Sequential)."""
    sequential = _BUILTINS.get("Sequential")
    return getattr(layer, "_functional", False) and not (
        sequential is not None and isinstance(layer, sequential)
    )


def class_name_of(layer) -> str:
    """The class name Keras writes: `Functional` for a functional `Model`, the operation's
    class for a Keras operation node."""
    keras_name = getattr(layer, "keras_class_name", None)
    if keras_name is not None:
        return keras_name
    if type(layer) is _BUILTINS.get("Model") and is_functional(layer):
        return "Functional"
    return type(layer).__name__


def _module_of(layer, name: str) -> str:
    if getattr(layer, "keras_module", None) is not None:
        return layer.keras_module
    if name == "Functional":
        return "keras.src.models.functional"
    if name in ("Sequential", "Model") and _BUILTINS.get(name) is type(layer):
        return "keras"
    if _BUILTINS.get(name) is type(layer):
        return "keras.layers"
    return type(layer).__module__


def serialize(layer) -> dict:
    """Keras 3's dict for a layer or model: `{"module", "class_name", "config",
    "registered_name"}`.

    Example:
        >>> import kerasish as keras
        >>> from kerasish.saving import serialization
        >>> serialization.serialize(keras.layers.Dense(2))["class_name"]
        'Dense'
    """
    name = class_name_of(layer)
    registered_name = getattr(type(layer), "_registered_name", None)
    if registered_name is None and _BUILTINS.get(name) is not type(layer):
        registered_name = name  # a class of the user's, or a Keras operation (as Keras)
    return {
        "module": _module_of(layer, name),
        "class_name": name,
        "config": layer.get_config(),
        "registered_name": registered_name,
    }


# ---- deserializing -------------------------------------------------------------------------


class _Depth(threading.local):
    def __init__(self):
        self.value = 0


_depth = _Depth()


def resolve_class(config: dict, custom_objects: dict | None = None, kind: str = "layer"):
    """The class a layer config names, from `custom_objects`, registered classes or the
    built-ins; a ValueError naming the class and how to provide it otherwise."""
    name = config.get("class_name")
    registered_name = config.get("registered_name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"A {kind} config's 'class_name' must be a string. Received: {name!r}")
    custom = custom_objects or {}
    candidates = [custom.get(name)]
    if isinstance(registered_name, str):
        candidates += [custom.get(registered_name), get_registered_object(registered_name)]
    candidates += [_BUILTINS.get(name), _REGISTERED.get(name), get_registered_object(name)]
    for cls in candidates:
        if isinstance(cls, type):
            return cls
    raise ValueError(
        f"Unknown {kind} class {name!r}. If it is a class of your own, pass it to the loader: "
        f"`custom_objects={{{name!r}: {name}}}`, or decorate it with "
        "`@kerasish.saving.register_keras_serializable()`."
    )


def deserialize(config, custom_objects: dict | None = None):
    """A layer or model from `serialize`'s dict (or Keras 2's `{"class_name", "config"}`).

    Example:
        >>> import kerasish as keras
        >>> from kerasish.saving import serialization
        >>> layer = serialization.deserialize({"class_name": "Dense", "config": {"units": 3}})
        >>> layer.units
        3
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name'. Received: {config!r}")
    operation = _BUILTINS.get("KerasOperation")
    if operation is not None and operation.is_operation_config(config):
        return operation.from_keras_config(config)
    cls = resolve_class(config, custom_objects)
    inner = config.get("config", {})
    if inner is None:
        inner = {}
    if not isinstance(inner, (dict, list)):
        raise ValueError(
            f"The config of layer class {config['class_name']!r} must be a dict. "
            f"Received: {inner!r}"
        )
    if isinstance(inner, dict):
        inner = keras2_configs.upgrade(config["class_name"], dict(inner))
    if _depth.value >= _MAX_DEPTH:
        raise ValueError(f"Layer configs are nested more than {_MAX_DEPTH} levels deep.")
    _depth.value += 1
    try:
        if "custom_objects" in inspect.signature(cls.from_config).parameters:
            return cls.from_config(inner, custom_objects=custom_objects)
        return cls.from_config(inner)
    except TypeError as err:
        raise ValueError(
            f"Could not rebuild a {config['class_name']} layer from its config: {err}"
        ) from None
    finally:
        _depth.value -= 1
