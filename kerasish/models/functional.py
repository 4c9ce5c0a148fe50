"""The layer graph of a functional model: which layer calls lead from inputs to outputs,
in what order they run, and in what order `model.layers` lists them (Keras' rule)."""

from __future__ import annotations

from backend import nest
from backend.tensor import SymbolicTensor


def history_of(tensor):
    history = getattr(tensor, "_history", None)
    if history is None:
        raise ValueError(
            "A functional model's outputs must come from layers called on `keras.Input` "
            f"tensors; this tensor was made some other way: {tensor!r}"
        )
    return history


def map_graph(inputs: list, outputs: list):
    """Returns (nodes in execution order, layers in Keras' `model.layers` order).

    Layers are ordered by depth from the outputs, deepest (nearest the inputs) first; ties
    keep the order in which a depth-first walk from the outputs first reaches them.
    Raises ValueError when an output depends on a tensor that is not among `inputs`.
    """
    input_ids = {id(x) for x in inputs}
    node_depth: dict = {}  # id(node) -> depth
    nodes_by_id: dict = {}
    layer_order: list = []  # first reached by the DFS from the outputs
    exec_order: list = []
    visited: set = set()

    def visit(tensor, depth):
        layer, node_index, _ = history_of(tensor)
        if id(tensor) in input_ids:
            node = ("input", id(layer))
            if layer not in layer_order:
                layer_order.append(layer)
            node_depth[node] = max(node_depth.get(node, 0), depth)
            nodes_by_id[node] = None
            return
        if type(layer).__name__ == "InputLayer":
            raise ValueError(
                f"The model's outputs depend on the input '{layer.name}', which is not among "
                "the model's inputs (the graph is disconnected)."
            )
        call = layer._inbound_nodes[node_index]
        key = id(call)
        if layer not in layer_order:
            layer_order.append(layer)
        node_depth[key] = max(node_depth.get(key, 0), depth)
        nodes_by_id[key] = call
        for x in call.input_tensors:
            visit(x, depth + 1)
        if key not in visited:
            visited.add(key)
            exec_order.append(call)

    for out in outputs:
        visit(out, 0)

    layer_depth: dict = {}
    for key, depth in node_depth.items():
        call = nodes_by_id[key]
        layer = call.layer if call is not None else next(l for l in layer_order if id(l) == key[1])
        layer_depth[id(layer)] = max(layer_depth.get(id(layer), 0), depth)
    ordered = sorted(layer_order, key=lambda l: (-layer_depth[id(l)], layer_order.index(l)))
    return exec_order, ordered


def run_graph(nodes: list, inputs: list, values: list, training=None):
    """Runs the layer calls `nodes` on actual `values` for the symbolic `inputs`; returns a
    function mapping each symbolic tensor of the graph to its computed value."""
    computed = {id(s): v for s, v in zip(inputs, values, strict=True)}

    def substitute(x):
        if isinstance(x, SymbolicTensor) and id(x) in computed:
            return computed[id(x)]
        return x

    for call in nodes:
        args = nest.pack(call.args, iter([substitute(x) for x in nest.flatten(call.args)]))
        kwargs = {k: nest.pack(v, iter([substitute(x) for x in nest.flatten(v)]))
                  for k, v in call.kwargs.items()}  # fmt: skip
        if training is not None:
            kwargs["training"] = training
        out = call.layer(*args, **kwargs)
        for sym, val in zip(call.output_tensors, nest.flatten(out), strict=True):
            computed[id(sym)] = val
    return lambda s: computed[id(s)]


# ---- configs ---------------------------------------------------------------------------------


def _local_node_index(model, layer, call) -> int:
    """The index of `call` among `layer`'s calls that belong to `model` (as Keras numbers
    them in a model's config)."""
    own = [node for node in layer._inbound_nodes if node in model._nodes]
    return own.index(call)


def _tensor_ref(model, tensor) -> list:
    layer, node_index, tensor_index = history_of(tensor)
    if type(layer).__name__ == "InputLayer":
        return [layer.name, 0, 0]
    call = layer._inbound_nodes[node_index]
    return [layer.name, _local_node_index(model, layer, call), tensor_index]


def _encode_arg(model, value):
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
        return [_encode_arg(model, v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_arg(model, v) for k, v in value.items()}
    return value


def functional_config(model) -> dict:
    """Keras 3's functional config: layers with their inbound nodes, input and output refs."""
    from ..layers import serialization

    layer_configs = []
    for layer in model.layers:
        entry = serialization.serialize(layer)
        entry["name"] = layer.name
        nodes = [node for node in layer._inbound_nodes if node in model._nodes]
        entry["inbound_nodes"] = [
            {"args": _encode_arg(model, list(node.args)), "kwargs": _encode_arg(model, node.kwargs)}
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


def _is_tensor_config(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _keras2_node_args(node) -> list:
    """A Keras 2 node `[[layer, node_index, tensor_index, kwargs], ...]` as Keras 3 args."""
    refs = [
        {"class_name": "__keras_tensor__", "config": {"keras_history": list(item[:3])}}
        for item in node
    ]
    return [refs[0] if len(refs) == 1 else refs]


def functional_from_config(cls, config: dict, custom_objects=None):
    """Rebuilds a functional model: create every layer, then sweep the layers in config
    order, calling each node whose inputs exist, until all nodes are done."""
    from ..layers import serialization

    layers, pending = {}, []
    for entry in config["layers"]:
        layer = serialization.deserialize(entry, custom_objects)
        name = entry.get("name") or entry.get("config", {}).get("name")
        layers[name] = layer
        for node in entry.get("inbound_nodes", []):
            if isinstance(node, list):  # Keras 2
                node = {"args": _keras2_node_args(node), "kwargs": {}}
            pending.append((name, node))
    made: dict = {}  # (layer, node_index, tensor_index) -> tensor
    for name, layer in layers.items():
        if type(layer).__name__ == "InputLayer":
            made[(name, 0, 0)] = layer.output
    counts = {name: 0 for name in layers}

    def resolve(value):
        if _is_tensor_config(value):
            key = tuple(value["config"]["keras_history"])
            if key not in made:
                raise KeyError(key)
            return made[key]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    while pending:
        progressed = False
        remaining = []
        for name, node in pending:
            try:
                args = resolve(node.get("args", []))
                kwargs = resolve(node.get("kwargs", {}))
            except KeyError:
                remaining.append((name, node))
                continue
            out = layers[name](*args, **kwargs)
            for i, tensor in enumerate(nest.flatten(out)):
                made[(name, counts[name], i)] = tensor
            counts[name] += 1
            progressed = True
        if not progressed:
            raise ValueError(
                "The model config cannot be rebuilt: these layer calls never get their inputs: "
                f"{sorted({n for n, _ in remaining})}"
            )
        pending = remaining

    def lookup(refs):
        if isinstance(refs, dict):
            return {k: lookup(v) for k, v in refs.items()}
        if refs and isinstance(refs[0], (list, tuple)):
            return [lookup(r) for r in refs]
        return made[tuple(refs[:3])]

    inputs, outputs = lookup(config["input_layers"]), lookup(config["output_layers"])
    return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))
