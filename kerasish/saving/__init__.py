"""`kerasish.saving`: saving and loading models and weights (ours and Keras' files), and
the registration of custom classes for configs.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> import kerasish as keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.h5")
    >>> keras.saving.save_model(model, path)
    >>> restored = keras.saving.load_model(path)
    >>> bool(np.allclose(restored.predict(np.ones((1, 3)), verbose=0),
    ...                  model.predict(np.ones((1, 3)), verbose=0)))
    True
"""

from .object_registry import get_registered_object, register_keras_serializable
from .serialization import SafeModeScope

_API = ("load_model", "save_model", "load_weights", "save_weights")

__all__ = ["SafeModeScope", "deserialize_keras_object", "get_registered_object", "load_model",
           "register_keras_serializable", "save_model", "serialize_keras_object"]  # fmt: skip


def serialize_keras_object(obj) -> dict:
    """Keras' config dict of a layer or model."""
    from . import serialization

    return serialization.serialize(obj)


def deserialize_keras_object(config, custom_objects=None, safe_mode: bool = True):
    """A layer or model from `serialize_keras_object`'s dict; nothing in it is executed."""
    from . import serialization

    with serialization.SafeModeScope(safe_mode):
        return serialization.deserialize(config, custom_objects)


def __getattr__(name):
    # The file formats need the whole package (layers, optimizers, ...), which itself
    # imports this package's registry: they load on first use.
    if name in _API:
        from . import saving_api

        return getattr(saving_api, name)
    raise AttributeError(f"module 'kerasish.saving' has no attribute {name!r}")
