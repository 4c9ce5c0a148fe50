"""`kerasish.models`: Model (functional and subclassed), Sequential, cloning, loading."""

from .cloning import clone_model
from .model import Model
from .sequential import Sequential


def model_from_json(json_string: str, custom_objects=None, safe_mode: bool = True):
    """A model (freshly initialized weights) from `model.to_json()` output.

    Loading only resolves registered class names; it never runs code from the JSON.

    Example:
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> keras.models.model_from_json(model.to_json()).layers[0].units
        2
    """
    from ..saving import saving_api

    return saving_api.model_from_json(json_string, custom_objects, safe_mode=safe_mode)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Loads a model saved with `model.save` (ours or Keras'): see
    `kerasish.saving.load_model`."""
    from ..saving import saving_api

    return saving_api.load_model(filepath, custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite: bool = True, **kwargs):
    """Saves a model: see `kerasish.saving.save_model`."""
    from ..saving import saving_api

    saving_api.save_model(model, filepath, overwrite=overwrite, **kwargs)


__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
