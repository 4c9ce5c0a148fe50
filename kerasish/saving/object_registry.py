"""One registry for serializing the objects of every family (initializers, regularizers,
constraints, ...), and the decorator that registers custom classes for all of them.

A family lists its built-in classes and Keras' aliases; `deserialize` resolves a class name
from those, from classes registered with `register_keras_serializable` (or the family's
own `register`), and from `custom_objects`. It never imports or runs code named by a
config.
"""

from __future__ import annotations

_CUSTOM: dict = {}  # "package>Name" and "Name" -> class


class UnknownIdentifierError(ValueError):
    """A ValueError for a name, config or object that no member of a family answers to;
    `identifier` is what was received (a layer's constructor adds the argument's name)."""

    def __init__(self, message: str, identifier):
        super().__init__(message)
        self.identifier = identifier


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: makes a custom class loadable by name from configs and files.

    Example:
        >>> import kerasish as keras
        >>> @keras.saving.register_keras_serializable(package="demo")
        ... class Doubling(keras.constraints.Constraint):
        ...     def __call__(self, w):
        ...         return w * 2
        >>> type(keras.constraints.get({"class_name": "demo>Doubling", "config": {}})).__name__
        'Doubling'
    """

    def decorate(cls):
        key = name or cls.__name__
        _CUSTOM[f"{package}>{key}"] = cls
        _CUSTOM[key] = cls
        cls._registered_name = f"{package}>{key}"
        return cls

    return decorate


def get_registered_object(name: str):
    """The class registered under `name` (`"package>Name"` or `"Name"`), or None."""
    return _CUSTOM.get(name)


class Family:
    """The serialization of one family: `kind` names it in errors (`"constraint"`),
    `module` is what Keras writes as the dict's module, `classes` and `aliases` map names to
    the built-in classes."""

    def __init__(self, kind: str, module: str, classes: dict, aliases: dict):
        self.kind = kind
        self.module = module
        self.classes = classes
        self.aliases = aliases
        self._registered: dict = {}

    def register(self, cls):
        """Registers a custom class of this family by its class name."""
        self._registered[cls.__name__] = cls
        return cls

    def known(self) -> dict:
        return {**self.classes, **self.aliases, **self._registered}

    def serialize(self, obj) -> dict:
        """Keras 3's dict: `{"module", "class_name", "config", "registered_name"}`."""
        return {
            "module": self.module,
            "class_name": type(obj).__name__,
            "config": obj.get_config(),
            "registered_name": getattr(type(obj), "_registered_name", None),
        }

    def deserialize(self, config, custom_objects=None):
        """An object from `serialize`'s dict (or `{"class_name", "config"}`) or a name."""
        known = self.known()
        received = config
        if isinstance(config, str):
            config = {"class_name": config, "config": {}}
        if not isinstance(config, dict) or "class_name" not in config:
            raise UnknownIdentifierError(
                f"Could not interpret {self.kind} config: {config!r}", received
            )
        name = config["class_name"]
        cls = (
            (custom_objects or {}).get(name)
            or known.get(name)
            or _CUSTOM.get(config.get("registered_name") or name)
        )
        if cls is None:
            raise UnknownIdentifierError(
                f"Unknown {self.kind}: {name!r}. Known {self.kind}s: {sorted(known)}", received
            )
        return cls.from_config(dict(config.get("config") or {}))
