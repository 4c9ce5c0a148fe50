"""Record golden values for losses added by layers (add_loss, activity and weight
regularizers) joining the training loss, from real Keras 3.

Run it in the keras venv (never a kerasish dependency); see README.md next to this file:

    KERAS_BACKEND=jax /tmp/venv-keras/bin/python tools/keras_goldens/record_layer_losses.py \
        --out tests/fixtures/keras_goldens

One functional model: a Dense with kernel, bias and activity regularizers, a custom layer
whose `add_loss` value is not a scalar, an ActivityRegularization layer and a Dense head.
Its weights come from numpy (`record_conv.init_weights`); the script records the losses
`model.losses` holds after a call, three `train_on_batch` steps with SGD and an MSE loss
(the returned loss and every weight after each), and `evaluate`. Output:
`layer_losses.npz` and `layer_losses.json`, deterministic as the other recorders'.
"""

import argparse
import inspect
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from record_conv import (  # noqa: E402  (sets KERAS_BACKEND and checks it)
    fresh,
    init_weights,
    keras,
    layers,
    model_info,
    np,
    to_float,
    versions,
    weight_dict,
    write_npz,
)


class AddsSquares(layers.Layer):
    """Adds `scale * x**2` (a tensor, not a scalar) with add_loss and returns x."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        self.add_loss(self.scale * keras.ops.square(x))
        return x


def build():
    inputs = keras.Input((3,))
    h = layers.Dense(
        4,
        activation="tanh",
        kernel_regularizer=keras.regularizers.L2(0.01),
        bias_regularizer=keras.regularizers.L1(0.02),
        activity_regularizer=keras.regularizers.L2(0.03),
    )(inputs)
    h = AddsSquares(0.05)(h)
    h = layers.ActivityRegularization(l1=0.04)(h)
    return keras.Model(inputs, layers.Dense(2)(h))


def record():
    fresh()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    model = build()
    model.set_weights(init_weights([(w.name, tuple(w.shape)) for w in model.weights], 7))
    arrays = {"x": x, "y": y, **weight_dict(model, "init")}
    model(x)
    arrays["call_losses"] = np.array([float(keras.ops.sum(v)) for v in model.losses], np.float32)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    losses = []
    for step in (1, 2, 3):
        losses.append(to_float(model.train_on_batch(x, y)))
        arrays.update(weight_dict(model, f"step{step}"))
    arrays["train_on_batch"] = np.array(losses, np.float32)
    arrays["evaluate"] = np.array([model.evaluate(x, y, verbose=0)], np.float32)
    info = {"train_on_batch": losses, "n_call_losses": len(arrays["call_losses"])}
    info.update(model_info(model))
    return arrays, info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/keras_goldens")
    args = parser.parse_args(argv)
    arrays, info = record()
    os.makedirs(args.out, exist_ok=True)
    write_npz(os.path.join(args.out, "layer_losses.npz"), arrays)
    info["arrays"] = {k: [list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in arrays.items()}
    index = {
        "description": "Losses from layers joining the training loss, from real Keras; see "
        "tools/keras_goldens/record_layer_losses.py.",
        "versions": versions(),
        "source": inspect.getsource(sys.modules[__name__]),
        "case": info,
    }
    with open(os.path.join(args.out, "layer_losses.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(arrays)} arrays")


if __name__ == "__main__":
    main()
