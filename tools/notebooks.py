"""Writes and runs the notebooks under docs/notebooks/, so they are committed with the output
of a real run.

    python tools/notebooks.py            # rewrites quickstart.ipynb and cnn.ipynb, executed

The cells are written here (one place to edit), then executed with nbclient in a Jupyter kernel
of this interpreter (`pip install nbclient nbformat ipykernel`), in a temporary folder, and saved
with their outputs. `tests/api/test_notebooks.py` executes the committed notebooks again.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "notebooks"
TIMEOUT = 300  # seconds per cell

SETUP = """\
import numpy as np

import kerasish as keras

keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
print(x_train.shape, y_train.shape, x_test.shape, y_test.shape)"""

COMPILE = """\
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.01),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.summary()"""

QUICKSTART = [
    (
        "markdown",
        """\
# Quickstart: a digit classifier

A small multilayer perceptron on the 8x8 handwritten digits bundled with kerasish (1797
images, pixels 0..16, no download). Write it as you would with Keras: `import kerasish as
keras`. The first run on a machine compiles the kernels a model uses and caches them; later
runs start in about a second.""",
    ),
    ("code", SETUP),
    ("markdown", "Flatten the images to 64 features scaled to 0..1."),
    (
        "code",
        """\
x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
x_test = x_test.reshape(-1, 64).astype("float32") / 16.0""",
    ),
    ("markdown", "A `Sequential` model: two hidden layers and a softmax over the 10 digits."),
    (
        "code",
        """\
model = keras.Sequential(
    [
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
"""
        + COMPILE,
    ),
    (
        "markdown",
        """\
Train for 3 epochs. In a notebook the progress bar is one line per epoch, updated in place
while the epoch runs (a widget when `ipywidgets` is installed, else a text line).""",
    ),
    ("code", "history = model.fit(x_train, y_train, epochs=3, batch_size=32, verbose=1)"),
    ("markdown", "Evaluate on the 297 test images the model never saw."),
    (
        "code",
        """\
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")""",
    ),
    ("markdown", "Predict: the class of highest probability, beside the true labels."),
    (
        "code",
        """\
probabilities = model.predict(x_test[:10], verbose=0)
print("predicted:", probabilities.argmax(axis=1))
print("true:     ", y_test[:10])""",
    ),
]

CNN = [
    (
        "markdown",
        """\
# A small convnet on the digits

The bundled 8x8 digits as images of shape `(8, 8, 1)` (height, width, channels), through two
convolutions and a pooling layer, trained briefly.""",
    ),
    ("code", SETUP),
    ("markdown", "Add the channel axis and scale the pixels to 0..1."),
    (
        "code",
        """\
x_train = x_train[..., None].astype("float32") / 16.0
x_test = x_test[..., None].astype("float32") / 16.0
print(x_train.shape)""",
    ),
    (
        "code",
        """\
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
"""
        + COMPILE,
    ),
    ("markdown", "Train for 5 epochs, holding out 10% of the training images for validation."),
    (
        "code",
        """\
history = model.fit(
    x_train, y_train, epochs=5, batch_size=32, validation_split=0.1, verbose=1
)""",
    ),
    (
        "code",
        """\
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
predicted = model.predict(x_test[:10], verbose=0).argmax(axis=1)
print("predicted:", predicted)
print("true:     ", y_test[:10])""",
    ),
]

NOTEBOOKS = {"quickstart.ipynb": QUICKSTART, "cnn.ipynb": CNN}


def build(cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(text)
        if kind == "markdown"
        else nbformat.v4.new_code_cell(text)
        for kind, text in cells
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def kernel_environment() -> dict:
    """This process's environment, with its import path, so the kernel imports the same
    kerasish (an editable install or a checkout on PYTHONPATH)."""
    env = dict(os.environ)
    path = [p for p in sys.path if p and Path(p).exists()]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    return env


def execute(nb, workdir: Path, timeout: float = TIMEOUT):
    """Run every cell of `nb` in a fresh `python3` kernel of this interpreter (not whichever
    `python3` kernel spec the machine has installed) in `workdir`; the executed notebook."""
    import traitlets
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as specs:
        (Path(specs) / "python3").mkdir()
        (Path(specs) / "python3" / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3",
                    "language": "python",
                }
            )
        )

        class ThisInterpreter(AsyncKernelManager):
            @traitlets.default("kernel_spec_manager")
            def _specs_here(self):
                return KernelSpecManager(kernel_dirs=[specs])

        client = NotebookClient(  # it starts the kernel and shuts it down at the end
            nb,
            kernel_manager_class=ThisInterpreter,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )
        return client.execute(env=kernel_environment())


def main() -> None:
    import nbformat

    OUT.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        with tempfile.TemporaryDirectory() as workdir:
            nb = execute(build(cells), Path(workdir))
        for cell in nb.cells:  # the run's timestamps would change the file at every run
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, OUT / name)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
