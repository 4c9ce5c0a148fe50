"""plot_history and plot_model."""

import os
import shutil
import stat
import sys

import numpy as np
import pytest

import kerasish as keras
from kerasish.utils import model_to_dot, plot_history, plot_model

HISTORY = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.6, 0.8, 0.85], "val_loss": [1.0, 0.7, 0.6],
           "val_accuracy": [0.5, 0.7, 0.8], "learning_rate": [0.01] * 3}  # fmt: skip


def test_plot_history_draws_training_and_validation_curves_per_metric():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    figure = plot_history(HISTORY)
    loss_axis, accuracy_axis = figure.axes
    assert loss_axis.get_title() == "loss" and accuracy_axis.get_title() == "accuracy"
    for axis, name in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        lines = {line.get_label(): line for line in axis.get_lines()}
        assert set(lines) == {"training", "validation"}
        assert list(lines["training"].get_xdata()) == [1, 2, 3]
        assert list(lines["training"].get_ydata()) == HISTORY[name]
        assert list(lines["validation"].get_ydata()) == HISTORY[f"val_{name}"]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=2, verbose=0)
    (axis,) = plot_history(history).axes
    assert [line.get_label() for line in axis.get_lines()] == ["training"]
    assert list(axis.get_lines()[0].get_ydata()) == pytest.approx(history.history["loss"])
    with pytest.raises(ValueError, match=r"no such metric.*\['auc'\]"):
        plot_history(HISTORY, metrics=["auc"])


def test_plot_history_without_matplotlib_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(HISTORY)


def functional_model():
    image = keras.Input((8,), name="image")
    extra = keras.Input((3,), name="extra")
    hidden = keras.layers.Dense(4, activation="relu", name="hidden")(image)
    merged = keras.layers.Concatenate(name="merge")([hidden, extra])
    output = keras.layers.Dense(2, activation="softmax", name="scores")(merged)
    return keras.Model([image, extra], output)


def test_model_to_dot_has_every_layer_edge_and_shape():
    source = model_to_dot(functional_model(), show_shapes=True, show_layer_activations=True)
    for edge in ('"image" -> "hidden"', '"hidden" -> "merge"', '"extra" -> "merge"',
                 '"merge" -> "scores"'):  # fmt: skip
        assert edge in source
    assert source.count(" -> ") == 4
    assert '"hidden (Dense)\\nactivation: relu\\ninput: (None, 8)\\noutput: (None, 4)"' in source
    assert '"merge (Concatenate)\\ninput: [(None, 4), (None, 3)]\\noutput: (None, 7)"' in source
    assert "activation: softmax" in source and "shape: (None, 3)" in source
    sequential = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, name="a"),
                                   keras.layers.Dense(1, name="b")])  # fmt: skip
    assert '"a" -> "b"' in model_to_dot(sequential)
    with pytest.raises(ValueError, match="not built yet"):
        model_to_dot(keras.Sequential([keras.layers.Dense(3)]))


def test_plot_model_writes_dot_source_without_graphviz(tmp_path):
    path = tmp_path / "model.dot"
    assert plot_model(functional_model(), to_file=path, show_shapes=True) is None
    assert path.read_text().startswith('digraph "') and '"merge" -> "scores"' in path.read_text()


def test_plot_model_runs_graphviz_or_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ImportError, match=r"Graphviz.*apt install graphviz.*model\.dot"):
        plot_model(functional_model(), to_file=tmp_path / "model.png")
    # A stand-in `dot` that records its arguments and copies its input to the output file.
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\n"
        "(pathlib.Path(sys.argv[0]).parent / 'args').write_text(' '.join(sys.argv[1:]))\n"
        "pathlib.Path(sys.argv[3]).write_bytes(sys.stdin.buffer.read())\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent))
    plot_model(functional_model(), to_file=tmp_path / "model.svg", rankdir="LR")
    assert (fake.parent / "args").read_text().split() == [
        "-Tsvg",
        "-o",
        str(tmp_path / "model.svg"),
    ]
    assert "rankdir=LR" in (tmp_path / "model.svg").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_plot_model_draws_a_png_with_graphviz(tmp_path):
    path = tmp_path / "model.png"
    plot_model(functional_model(), to_file=path, show_shapes=True, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 1000
