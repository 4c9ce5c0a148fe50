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
