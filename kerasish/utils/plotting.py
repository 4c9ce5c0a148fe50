"""Pictures: `plot_history` (training curves, with matplotlib) and `plot_model` (the layer
graph, drawn by Graphviz). Both packages are optional; without them the error says what
to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from backend import nest

__all__ = ["model_to_dot", "plot_history", "plot_model"]


def plot_history(history, metrics=None, figsize=None):
    """Plots training curves: one panel per metric, training and validation values by epoch.

    `history` is what `fit` returns (or its `.history` dict). `metrics` lists the names to
    plot (default: `loss`, then every other metric, each with its `val_` curve when there is
    one). Returns the matplotlib Figure (in a notebook it shows itself; in a script call
    `matplotlib.pyplot.show()` or `figure.savefig("curves.png")`). Needs matplotlib:
    `pip install matplotlib`.

    Example:
        >>> figure = plot_history({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]})  # doctest: +SKIP
        >>> figure.savefig("curves.png")  # doctest: +SKIP
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            "plot_history: expected the History that `fit` returns (or its `.history` dict of "
            f"per-epoch lists). Received: {type(history).__name__}"
        )
    if metrics is None:
        names = [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
        names.sort(key=lambda k: k != "loss")
        names = names or [k[len("val_") :] for k in logs if k.startswith("val_")]
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [n for n in names if n not in logs and f"val_{n}" not in logs]
        if unknown:
            raise ValueError(
                f"plot_history: no such metric in the history: {unknown}. It has: "
                f"{sorted(logs)}. Received: metrics={metrics!r}"
            )
    try:
        from matplotlib import pyplot
    except ImportError as error:
        raise ImportError(
            "plot_history draws with the matplotlib package, which is not installed. "
            "Install it with `pip install matplotlib`."
        ) from error
    figure, axes = pyplot.subplots(
        1, len(names), figsize=figsize or (4.5 * len(names), 3.5), squeeze=False
    )
    start = min(getattr(history, "epoch", None) or [0])
    for axis, name in zip(axes[0], names, strict=True):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in logs:
                values = [float(v) for v in logs[key]]
                epochs = range(start + 1, start + 1 + len(values))
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def _graph(model):
    """(layers in drawing order, edges between layer names) of a functional or Sequential
    model."""
    nodes = getattr(model, "_nodes", None)
    inputs = getattr(model, "inputs", None)
    if nodes is None or not inputs:
        if getattr(model, "_functional", False) or type(model).__name__ == "Sequential":
            raise ValueError(
                f"plot_model: the model '{model.name}' is not built yet, so it has no graph. "
                "Start it with a `keras.Input(shape)`, or call it on data first."
            )
        raise ValueError(
            f"plot_model: '{model.name}' is a subclassed model, whose graph is its Python "
            "code; only Sequential and functional models can be drawn."
        )
    layers, edges = [], []
    for tensor in nest.flatten(inputs):
        layer = tensor._history[0]
        if layer not in layers:
            layers.append(layer)
    for node in nodes:
        if node.layer not in layers:
            layers.append(node.layer)
        for tensor in nest.flatten(node.input_tensors):
            edge = (tensor._history[0].name, node.layer.name)
            if edge not in edges:
                edges.append(edge)
    return layers, edges


def _shapes(model, layer) -> tuple:
    if type(layer).__name__ == "InputLayer":
        shape = str(tuple(layer.batch_shape))
        return shape, shape
    calls = [node for node in layer._inbound_nodes if node in model._nodes]
    if not calls:
        return "?", "?"

    def show(tensors):
        shapes = [str(tuple(t.shape)) for t in nest.flatten(tensors)]
        return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"

    return show(calls[-1].input_tensors), show(calls[-1].output_tensors)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False,
                 show_trainable=False, **kwargs) -> str:  # fmt: skip
    """The model's layer graph as Graphviz DOT source text (see `plot_model`)."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(
            f"plot_model: `rankdir` must be 'TB' or 'LR'. Received: rankdir={rankdir!r}"
        )
    layers, edges = _graph(model)
    lines = [
        f"digraph {_quote(model.name)} {{",
        f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica"];',
    ]
    for layer in layers:
        kind = type(layer).__name__
        label = [f"{layer.name} ({kind})" if show_layer_names else kind]
        activation = getattr(layer, "activation", None)
        if show_layer_activations and activation is not None:
            label.append(f"activation: {getattr(activation, '__name__', activation)}")
        if show_dtype:
            label.append(f"dtype: {getattr(layer, 'dtype', '?')}")
        if show_shapes:
            shape_in, shape_out = _shapes(model, layer)
            label.append(f"input: {shape_in}" if kind != "InputLayer" else f"shape: {shape_out}")
            if kind != "InputLayer":
                label.append(f"output: {shape_out}")
        if show_trainable and kind != "InputLayer":
            label.append(f"trainable: {'yes' if layer.trainable else 'no'}")
        text = "\\n".join(_quote(part)[1:-1] for part in label)  # DOT's line break: \n
        lines.append(f'  {_quote(layer.name)} [label="{text}"];')
    lines += [f"  {_quote(a)} -> {_quote(b)};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):  # fmt: skip
    """Draws the model's layers and connections to `to_file`, as `keras.utils.plot_model`.

    `show_shapes` adds each layer's input and output shapes, `show_dtype` its dtype,
    `show_layer_names` its name, `show_layer_activations` its activation, `show_trainable`
    whether it trains; `rankdir` is `"TB"` (top to bottom) or `"LR"`. The file's extension
    chooses the format: `.dot` writes the Graphviz source (nothing to install); `.png`,
    `.svg`, `.pdf` and the others are drawn by Graphviz's `dot` program, which must be
    installed (`apt install graphviz`, `brew install graphviz` or `conda install graphviz`;
    the error says so). Nested models are drawn as one box (`expand_nested` is accepted and
    ignored). In IPython, returns the picture for display (PNG, JPEG or SVG).

    Example:
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="out")])
        >>> plot_model(model, to_file="model.png", show_shapes=True)  # doctest: +SKIP
    """
    source = model_to_dot(model, show_shapes, show_dtype, show_layer_names, rankdir,
                          expand_nested, dpi, show_layer_activations, show_trainable)  # fmt: skip
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension in ("dot", "gv"):
        with open(to_file, "w", encoding="utf-8") as file:
            file.write(source)
        return None
    program = shutil.which("dot")
    if program is None:
        raise ImportError(
            f"plot_model draws {extension.upper()} files with Graphviz's `dot` program, which "
            "is not installed. Install Graphviz (`apt install graphviz`, `brew install "
            "graphviz` or `conda install graphviz`; see https://graphviz.org/download/), or "
            f"write the graph's source with to_file='{os.path.splitext(to_file)[0]}.dot'."
        )
    result = subprocess.run([program, f"-T{extension}", "-o", to_file], input=source.encode(),
                            capture_output=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise ValueError(
            f"plot_model: Graphviz could not draw {to_file}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    if "IPython" in sys.modules and extension in ("png", "jpg", "jpeg", "svg"):
        from IPython import display

        return display.SVG(filename=to_file) if extension == "svg" else (
            display.Image(filename=to_file)
        )  # fmt: skip
    return None
