"""`model.summary()`: Keras 3's table of layers, output shapes and parameter counts."""

from __future__ import annotations

import numpy as np

from backend import nest


def _format_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


def _output_shape(model, layer) -> str:
    nodes = [node for node in layer._inbound_nodes if node in getattr(model, "_nodes", [])]
    if type(layer).__name__ == "InputLayer":
        return str(layer.batch_shape)
    if not nodes:
        return "?"
    shapes = [tuple(t.shape) for t in nest.flatten(nodes[-1].output_tensors)]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _params(layer) -> str:
    if not layer.built:
        return "0 (unbuilt)"
    return f"{sum(int(np.prod(w.shape)) for w in layer.weights):,}"


def _count(weights) -> tuple:
    params = sum(int(np.prod(w.shape)) for w in weights)
    size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in weights)
    return params, size


def _connected_to(model, layer) -> str:
    """Keras' "Connected to" cell: `layer[node][tensor]` for each input of each call."""
    if type(layer).__name__ == "InputLayer":
        return "-"
    refs = []
    for node in layer._inbound_nodes:
        if node not in model._nodes:
            continue
        for tensor in node.input_tensors:
            source, node_index, tensor_index = tensor._history
            own = [n for n in source._inbound_nodes if n in model._nodes]
            call = source._inbound_nodes[node_index] if source._inbound_nodes else None
            index = own.index(call) if call in own else 0
            refs.append(f"{source.name}[{index}][{tensor_index}]")
    return ", ".join(refs) or "-"


def summary_lines(model, line_length: int | None = None) -> list:
    functional = bool(getattr(model, "_functional", False)) and type(model).__name__ == "Model"
    rows = []
    for layer in model.layers:
        cells = [f"{layer.name} ({type(layer).__name__})", _output_shape(model, layer)]
        cells.append(_params(layer))
        if functional:
            cells.append(_connected_to(model, layer))
        rows.append(tuple(cells))
    headers = ("Layer (type)", "Output Shape", "Param #") + (
        ("Connected to",) if functional else ()
    )
    n = len(headers)
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(n)]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - 2 * n)

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells, bar):
        parts = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            parts.append(f" {cell:>{width}} " if i == 2 else f" {cell:<{width}} ")
        return bar + bar.join(parts) + bar

    out = [f'Model: "{model.name}"']
    out.append(line("┏", "┳", "┓", "━"))
    out.append(row(headers, "┃"))
    out.append(line("┡", "╇", "┩", "━"))
    for i, r in enumerate(rows):
        out.append(row(r, "│"))
        if i < len(rows) - 1:
            out.append(line("├", "┼", "┤", "─"))
    out.append(line("└", "┴", "┘", "─"))
    total = _count(model.weights)
    trainable = _count(model.trainable_weights)
    frozen = _count(model.non_trainable_weights)
    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    slots = _count(optimizer.variables) if getattr(optimizer, "built", False) else None
    if slots is not None:  # as Keras: a built optimizer's variables count in the total
        total = (total[0] + slots[0], total[1] + slots[1])
    out.append(f" Total params: {total[0]:,} ({_format_bytes(total[1])})")
    out.append(f" Trainable params: {trainable[0]:,} ({_format_bytes(trainable[1])})")
    out.append(f" Non-trainable params: {frozen[0]:,} ({_format_bytes(frozen[1])})")
    if slots is not None:
        out.append(f" Optimizer params: {slots[0]:,} ({_format_bytes(slots[1])})")
    if any(not layer.built for layer in model.layers):
        out.append(_UNBUILT_NOTE)
    return out


#: What `summary()` adds when a layer is unbuilt: its weights (and output shapes) do not exist
#: until the model knows its input shape.
_UNBUILT_NOTE = (
    " Some layers are not built yet, so their weights and output shapes are unknown. Give the"
    " model its input shape to build it: start it with keras.Input(shape=...), call"
    " model.build((None, ...)) with the batch axis as None, or call the model on data once."
)


def summary(model, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
    """Prints the table (or passes each line to `print_fn`)."""
    lines = summary_lines(model, line_length)
    if print_fn is None:
        print("\n".join(lines))
    else:
        for text in lines:
            print_fn(text)
