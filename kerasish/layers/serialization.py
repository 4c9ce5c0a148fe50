"""Layers to and from `{"class_name", "config"}` dicts, through one registry.

Loading resolves class names from the registry (built-in layers and those registered with
`register`) or `custom_objects`; it never imports or runs code named by the config.
"""

from __future__ import annotations

import inspect

from ..saving.object_registry import get_registered_object

_REGISTRY: dict = {}


def register(cls):
    """Registers a layer class for deserialization by its class name; usable as a decorator."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _builtins() -> dict:
    from .. import layers, models

    found = {name: getattr(layers, name) for name in layers.__all__}
    found.update({"Sequential": models.Sequential, "Model": models.Model,
                  "Functional": models.Model})  # fmt: skip
    return found


def serialize(layer) -> dict:
    return {
        "module": "keras.layers",
        "class_name": type(layer).__name__,
        "config": layer.get_config(),
        "registered_name": getattr(type(layer), "_registered_name", None),
    }


def deserialize(config: dict, custom_objects: dict | None = None):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name'. Received: {config!r}")
    name = config["class_name"]
    classes = {**_builtins(), **_REGISTRY, **(custom_objects or {})}
    cls = classes.get(name) or get_registered_object(config.get("registered_name") or name)
    if cls is None:
        raise ValueError(
            f"Unknown layer class {name!r}. Pass it in `custom_objects` or register it with "
            "`kerasish.saving.register_keras_serializable`."
        )
    inner = dict(config.get("config", {}))
    if name == "InputLayer" and "batch_input_shape" in inner and "batch_shape" not in inner:
        inner["batch_shape"] = inner.pop("batch_input_shape")
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)
