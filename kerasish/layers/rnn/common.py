"""Small helpers the recurrent layers and wrappers share."""

from __future__ import annotations

from backend.tensor import SymbolicTensor, current_trace, in_symbolic_scope

from ..layer import Layer, layer_path


def as_list(value) -> list:
    """`value` as a list: a list or tuple's items, else `[value]`."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def building_functional_graph(x) -> bool:
    """True while layers are called on `keras.Input` tensors to build a model (symbolic,
    outside any traced function): nothing is computed then, only shapes and history."""
    return (isinstance(x, SymbolicTensor) or in_symbolic_scope()) and current_trace() is None


def build_sublayer(layer: Layer, input_shape) -> None:
    """Builds a nested layer once, under its own name in the weight paths."""
    if not layer.built:
        with layer_path(layer.name):
            layer.build(input_shape)
        layer.built = True


def plain_config(config: dict) -> dict:
    """A copy of a layer config whose `dtype` is a name (Keras 3 writes a DTypePolicy
    config there), ready for the layer's constructor."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name")
    return config


def own_arguments(arguments: dict, *leave_out: str) -> dict:
    """A constructor's arguments from its `locals()`: without `self` and the names in
    `leave_out`, with its `**kwargs` merged in (so a subclass can hand them on whole)."""
    arguments = {k: v for k, v in arguments.items() if k not in ("self", "__class__", *leave_out)}
    kwargs = arguments.pop("kwargs", {})
    return {**arguments, **kwargs}
