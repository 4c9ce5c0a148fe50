"""`clone_model`: a new model with the same architecture and fresh weights."""

from __future__ import annotations

import inspect

from ..layers.core import InputLayer
from ..saving import functional_config, serialization
from .model import Model
from .sequential import Sequential

_FUNCTION_ATTRIBUTES = ("function", "mask", "output_shape", "_standardize", "_split")


def _functions_of(layer) -> dict:
    """The named Python functions a layer calls (a Lambda's), so its clone finds them."""
    found = {}
    for attr in _FUNCTION_ATTRIBUTES:
        value = layer.__dict__.get(attr)
        name = getattr(value, "__name__", None)
        if callable(value) and not isinstance(value, type) and name and name != "<lambda>":
            found[name] = value
    for sub in layer._layers:
        found.update(_functions_of(sub))
    return found


def _clone_layer(layer):
    """A new layer from `layer`'s config (Keras' default `clone_function`)."""
    from_config = type(layer).from_config
    config = layer.get_config()
    if "custom_objects" in inspect.signature(from_config).parameters:
        return from_config(config, custom_objects=_functions_of(layer))
    return from_config(config)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):  # fmt: skip
    """A new model with the same architecture and freshly initialized weights (as Keras).

    `clone_function(layer)` makes each new layer from the old one (by default from its
    config); with `recursive=True` it is applied inside nested Sequential and functional
    models too. `input_tensors` gives the new model's inputs (`keras.Input` tensors).

    Example:
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> clone = keras.models.clone_model(model)
        >>> clone.layers[0].units, clone.layers[0] is model.layers[0]
        (2, False)
    """
    if kwargs or call_function is not None:
        unknown = sorted({*kwargs, *(["call_function"] if call_function is not None else [])})
        raise ValueError(f"clone_model: unsupported arguments {unknown}.")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(
            f"clone_model: `clone_function` must be callable. Received: {clone_function!r}"
        )
    make = clone_function or _clone_layer
    if recursive and clone_function is not None:
        inner = make

        def make(layer):
            if isinstance(layer, Model) and layer._functional:
                return clone_model(layer, clone_function=inner, recursive=True)
            return inner(layer)

    if isinstance(model, Sequential):
        return _clone_sequential(model, input_tensors, make)
    if isinstance(model, Model) and model._functional:
        return _clone_functional(model, input_tensors, make)
    if input_tensors is not None or clone_function is not None:
        raise ValueError(
            "clone_model: `input_tensors` and `clone_function` need a Sequential or functional "
            f"model; '{model.name}' is a subclassed model."
        )
    return _clone_layer(model)


def _clone_sequential(model, input_tensors, make):
    clone = Sequential(name=model.name, trainable=model.trainable)
    if input_tensors is not None:
        tensors = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(tensors) != 1:
            raise ValueError(
                f"clone_model: a Sequential takes one input tensor. Received: {len(tensors)}"
            )
        clone.add(tensors[0], rebuild=False)
    elif model._input_layer is not None:
        clone.add(InputLayer.from_config(model._input_layer.get_config()), rebuild=False)
    for layer in model.layers:
        clone.add(make(layer), rebuild=False)
    clone._rebuild()
    return clone


def _clone_functional(model, input_tensors, make):
    by_name = {layer.name: layer for layer in model.layers}
    given = {}
    if input_tensors is not None:
        tensors = (
            list(input_tensors.values())
            if isinstance(input_tensors, dict)
            else (
                list(input_tensors) if isinstance(input_tensors, (list, tuple)) else [input_tensors]
            )
        )
        if len(tensors) != len(model.inputs):
            raise ValueError(
                f"clone_model: model '{model.name}' has {len(model.inputs)} inputs. Received: "
                f"{len(tensors)} input tensors"
            )
        given = {x._history[0].name: t for x, t in zip(model.inputs, tensors, strict=True)}

    def make_layer(entry):
        layer = by_name[entry["name"]]
        if isinstance(layer, InputLayer):
            return InputLayer.from_config(layer.get_config())
        return make(layer)

    config = functional_config.functional_config(model)
    return functional_config.functional_from_config(
        type(model), config, make_layer=make_layer, input_tensors=given
    )


serialization.register_builtins({"Model": Model, "Functional": Model, "Sequential": Sequential})
