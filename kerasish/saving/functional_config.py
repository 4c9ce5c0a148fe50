"""A functional model's config (Keras 3's form) and the model rebuilt from one (Keras 3's
or Keras 2's form).

The config lists each layer with the calls (`inbound_nodes`) it makes inside the model;
a call's tensors are `{"class_name": "__keras_tensor__", "config": {"keras_history":
[layer, node_index, tensor_index], ...}}` (Keras 3) or `[layer, node_index, tensor_index,
kwargs]` lists (Keras 2), where `node_index` counts the calls of that layer within the
model. Rebuilding creates every layer, then sweeps the layers in config order, making each
layer's calls in their order as soon as their inputs exist, until all are made.
"""

from __future__ import annotations

from backend import nest
from backend.tensor import SymbolicTensor

from . import serialization


def _history(tensor):
    history = getattr(tensor, "_history", None)
    if history is None:
        raise ValueError(f"A tensor of the model was not made by a layer call: {tensor!r}")
    return history


def _first_node_index(layer) -> int:
    """Where the numbering of a layer's calls starts in a config: Keras counts a nested
    functional model's own input-to-output graph as its call 0, so its calls start at 1."""
    return 1 if serialization.is_functional(layer) else 0


def _local_node_index(model, layer, call) -> int:
    """The index of `call` among `layer`'s calls that belong to `model` (as Keras numbers
    them in a model's config)."""
    own = [node for node in layer._inbound_nodes if node in model._nodes]
    return own.index(call) + _first_node_index(layer)


def _tensor_ref(model, tensor) -> list:
    layer, node_index, tensor_index = _history(tensor)
    if type(layer).__name__ == "InputLayer":
        return [layer.name, 0, 0]
    call = layer._inbound_nodes[node_index]
    return [layer.name, _local_node_index(model, layer, call), tensor_index]


def _encode(model, value):
    if isinstance(value, SymbolicTensor):
        return {
            "class_name": "__keras_tensor__",
            "config": {
                "shape": list(value.shape),
                "dtype": value.dtype,
                "keras_history": _tensor_ref(model, value),
            },
        }
    if isinstance(value, (list, tuple)):
        return [_encode(model, v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(model, v) for k, v in value.items()}
    return value


def functional_config(model) -> dict:
    """Keras 3's functional config: layers with their calls, input and output refs."""
    layer_configs = []
    for layer in model.layers:
        entry = serialization.serialize(layer)
        entry["name"] = layer.name
        nodes = [node for node in layer._inbound_nodes if node in model._nodes]
        entry["inbound_nodes"] = [
            {"args": _encode(model, list(node.args)), "kwargs": _encode(model, node.kwargs)}
            for node in nodes
        ]
        layer_configs.append(entry)

    def refs(structure):
        if isinstance(structure, dict):
            return {k: _tensor_ref(model, v) for k, v in structure.items()}
        if isinstance(structure, (list, tuple)):
            return [_tensor_ref(model, v) for v in structure]
        return _tensor_ref(model, structure)

    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layer_configs,
        "input_layers": refs(model._input_struct),
        "output_layers": refs(model._output_struct),
    }


def is_functional_config(config) -> bool:
    return isinstance(config, dict) and "layers" in config and "input_layers" in config


def _is_tensor_config(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _history_key(ref) -> tuple:
    if (
        not isinstance(ref, (list, tuple))
        or len(ref) < 3
        or not isinstance(ref[0], str)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ref[1:3])
    ):
        raise ValueError(f"A tensor reference must be [layer, node, tensor]. Received: {ref!r}")
    return (ref[0], ref[1], ref[2])


def _keras2_node(node: list, layer_names: set) -> dict:
    """A Keras 2 node `[[layer, node_index, tensor_index, kwargs], ...]` as Keras 3's
    `{"args", "kwargs"}`; tensors in the kwargs (`[layer, node, tensor]`) are resolved too."""

    def ref(item):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": list(item[:3])}}

    def kwarg(value):
        if (
            isinstance(value, list)
            and len(value) == 3
            and isinstance(value[0], str)
            and value[0] in layer_names
            and all(isinstance(i, int) for i in value[1:])
        ):
            return ref(value)
        if isinstance(value, dict):
            return {k: kwarg(v) for k, v in value.items()}
        return value

    if not all(isinstance(item, list) and len(item) in (3, 4) for item in node):
        raise ValueError(f"A Keras 2 layer call must list [layer, node, tensor, kwargs]: {node!r}")
    refs = [ref(item) for item in node]
    kwargs = node[-1][3] if node and len(node[-1]) == 4 and node[-1][3] else {}
    if not isinstance(kwargs, dict):
        raise ValueError(f"A Keras 2 layer call's kwargs must be a dict. Received: {kwargs!r}")
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwarg(kwargs)}


def functional_from_config(cls, config: dict, custom_objects=None, make_layer=None,
                           input_tensors=None):  # fmt: skip
    """Rebuilds a functional model of class `cls` from its config. `make_layer(entry)`,
    when given, makes each layer from its config entry, and `input_tensors` (a dict from
    input layer names to symbolic tensors) replaces those inputs (cloning uses both)."""
    input_tensors = input_tensors or {}
    if not isinstance(config.get("layers"), list):
        raise ValueError("A functional model config needs a list of 'layers'.")
    make_layer = make_layer or (lambda entry: serialization.deserialize(entry, custom_objects))
    layers, queues = {}, {}
    names = set()
    for entry in config["layers"]:
        if not isinstance(entry, dict):
            raise ValueError(f"A layer entry of a model config must be a dict: {entry!r}")
        inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        name = entry.get("name") or inner.get("name")
        if not isinstance(name, str) or name in names:
            raise ValueError(f"Layer names in a model config must be unique strings: {name!r}")
        names.add(name)
    made: dict = {}  # (layer, node_index, tensor_index) -> tensor
    for entry in config["layers"]:
        inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        name = entry.get("name") or inner.get("name")
        if name in input_tensors:
            made[(name, 0, 0)] = input_tensors[name]
            continue
        layers[name] = make_layer(entry)
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"Layer {name!r}: 'inbound_nodes' must be a list: {nodes!r}")
        queues[name] = [
            _keras2_node(node, names) if isinstance(node, list) else node for node in nodes
        ]
    for name, layer in layers.items():
        if type(layer).__name__ == "InputLayer":
            made[(name, 0, 0)] = layer.output
    counts = {name: _first_node_index(layer) for name, layer in layers.items()}

    def resolve(value):
        if _is_tensor_config(value):
            key = _history_key((value.get("config") or {}).get("keras_history"))
            if key[0] not in layers and key not in made:
                raise ValueError(f"A layer call takes the output of an unknown layer {key[0]!r}.")
            if key not in made:
                raise KeyError(key)
            return made[key]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    while any(queues.values()):
        progressed = False
        for name, queue in queues.items():
            while queue:
                node = queue[0]
                if not isinstance(node, dict):
                    raise ValueError(f"Layer {name!r}: a call must be a dict. Received: {node!r}")
                try:
                    args = resolve(node.get("args", []))
                    kwargs = resolve(node.get("kwargs", {}))
                except KeyError:
                    break
                if not isinstance(args, list) or not isinstance(kwargs, dict):
                    raise ValueError(
                        f"Layer {name!r}: a call's args must be a list and its kwargs a dict."
                    )
                if kwargs.get("mask", 0) is None:
                    del kwargs["mask"]  # Keras records `mask=None` for calls that take none
                out = layers[name](*args, **kwargs)
                for i, tensor in enumerate(nest.flatten(out)):
                    made[(name, counts[name], i)] = tensor
                counts[name] += 1
                queue.pop(0)
                progressed = True
        if not progressed:
            waiting = sorted(name for name, queue in queues.items() if queue)
            raise ValueError(
                f"The model config cannot be rebuilt: the calls of {waiting} never get their "
                "inputs."
            )

    def lookup(refs):
        if isinstance(refs, dict):
            return {k: lookup(v) for k, v in refs.items()}
        if isinstance(refs, (list, tuple)) and refs and isinstance(refs[0], (list, tuple)):
            return [lookup(r) for r in refs]
        key = _history_key(refs)
        if key not in made:
            raise ValueError(f"The model's inputs or outputs name a tensor no layer made: {refs}")
        return made[key]

    inputs, outputs = lookup(config.get("input_layers")), lookup(config.get("output_layers"))
    if isinstance(outputs, list) and len(outputs) == 1:
        outputs = outputs[0]  # as Keras: a model of one output gives an array, not a list
    return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))
