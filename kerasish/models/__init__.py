"""`kerasish.models`: Model (functional and subclassed) and Sequential."""

from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential"]


def model_from_json(json_string: str, custom_objects=None):
    """A model (unbuilt weights, freshly initialized) from `model.to_json()` output.

    Loading only resolves registered class names; it never runs code from the JSON.

    Example:
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> keras.models.model_from_json(model.to_json()).layers[0].units
        2
    """
    import json

    from ..layers import serialization

    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as err:
        raise ValueError(f"model_from_json: not valid JSON ({err})") from None
    return serialization.deserialize(config, custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialized weights (as Keras).

    `clone_function(layer)`, when given, makes each new layer from the old one.
    """
    from ..layers import serialization

    if input_tensors is not None:
        raise ValueError("clone_model: `input_tensors` is not supported yet. Received some.")
    if clone_function is not None:
        raise ValueError("clone_model: `clone_function` is not supported yet. Received one.")
    return serialization.deserialize(serialization.serialize(model))


__all__ += ["clone_model", "model_from_json"]
