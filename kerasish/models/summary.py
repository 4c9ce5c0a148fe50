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


def summary_lines(model, line_length: int | None = None) -> list:
    rows = [
        (f"{layer.name} ({type(layer).__name__})", _output_shape(model, layer), _params(layer))
        for layer in model.layers
    ]
    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(3)]
    if line_length:
        widths[0] = max(widths[0], line_length - widths[1] - widths[2] - 4)

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells, bar):
        parts = [
            f" {cells[0]:<{widths[0]}} ",
            f" {cells[1]:<{widths[1]}} ",
            f" {cells[2]:>{widths[2]}} ",
        ]
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
    out.append(f" Total params: {total[0]:,} ({_format_bytes(total[1])})")
    out.append(f" Trainable params: {trainable[0]:,} ({_format_bytes(trainable[1])})")
    out.append(f" Non-trainable params: {frozen[0]:,} ({_format_bytes(frozen[1])})")
    return out


def summary(model, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
    """Prints the table (or passes each line to `print_fn`)."""
    lines = summary_lines(model, line_length)
    if print_fn is None:
        print("\n".join(lines))
    else:
        for text in lines:
            print_fn(text)
