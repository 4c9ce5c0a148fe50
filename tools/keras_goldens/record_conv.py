"""Record golden values for convolution / pooling / normalization layers from real Keras 3.

Run it in the keras venv (never a kerasish dependency); see README.md next to this file:

    KERAS_BACKEND=jax /tmp/venv-keras/bin/python tools/keras_goldens/record_conv.py \
        --out tests/fixtures/keras_goldens

Six small Sequential models (batch 4, small images / sequences; the keras.io MNIST
convnet's layers on 28x28) get INITIAL WEIGHTS MADE
WITH NUMPY (`init_weights`, driven by each weight's shape and name) through `set_weights`;
the script records `predict` and, for four of them, a few `train_on_batch` steps (losses and
every weight afterwards, BatchNormalization's moving statistics included). Output:
`conv.npz` (arrays `<case>/<name>`) and `conv.json` (per case: the builder's source, layer
names and classes, weight paths and shapes in `get_weights()` order, losses as floats).

The output is byte-for-byte deterministic: the npz is written with sorted keys and a fixed
zip timestamp, the JSON with sorted keys.
"""

import inspect
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from golden_io import record  # noqa: E402
from keras import layers  # noqa: E402

if keras.backend.backend() != "jax":
    sys.exit(f"record_conv.py must run with KERAS_BACKEND=jax, got {keras.backend.backend()!r}")


# ---------------------------------------------------------------- helpers


def init_weights(specs, seed):
    """Initial weights from numpy only, drawn in order from `np.random.default_rng(seed)`.

    `specs` is [(name, shape), ...] in get_weights() order. A weight with 2+ dims is
    uniform in +-sqrt(6 / (fan_in + fan_out)) with fan_in = prod(shape[:-1]) and
    fan_out = prod(shape[:-2]) * shape[-1]; a `gamma` is 1 + normal * 0.1; a
    `moving_variance` is uniform in [0.5, 1.5]; any other 1-D weight is normal * 0.1.
    """
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in specs:
        shape = tuple(shape)
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = int(np.prod(shape[:-2])) * shape[-1]
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, size=shape)
        elif name == "gamma":
            w = 1.0 + rng.normal(size=shape) * 0.1
        elif name == "moving_variance":
            w = rng.uniform(0.5, 1.5, size=shape)
        else:
            w = rng.normal(size=shape) * 0.1
        out.append(np.asarray(w, dtype=np.float32))
    return out


def fresh():
    """Reset Keras' global name counters, so automatic names match a fresh process."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def to_float(v):
    return float(np.float32(v))


def model_info(model):
    return {
        "layers": [layer.name for layer in model.layers],
        "layer_classes": [type(layer).__name__ for layer in model.layers],
        "weights": [
            {"path": w.path, "name": w.name, "shape": list(w.shape), "trainable": w.trainable}
            for w in model.weights
        ],
    }


def weight_dict(model, prefix):
    return {f"{prefix}_w{i}": np.asarray(w, np.float32) for i, w in enumerate(model.get_weights())}


# ---------------------------------------------------------------- models


def model_conv_dense():
    return keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def model_conv_bn():
    # The relu matters: a conv bias feeding BatchNormalization directly has an exactly-zero
    # gradient in training mode, and Adam turns the float noise left in it into updates
    # of ~lr that no two implementations share.
    return keras.Sequential(
        [
            keras.Input((11, 11, 2)),
            layers.Conv2D(3, 3, strides=2, padding="valid", activation="relu"),
            layers.BatchNormalization(),
            layers.AveragePooling2D(2, padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2),
        ]
    )


def model_depthwise():
    return keras.Sequential(
        [
            keras.Input((7, 7, 2)),
            layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            layers.SeparableConv2D(4, 3),
            layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
            layers.GroupNormalization(groups=2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(2),
        ]
    )


def model_conv1d():
    return keras.Sequential(
        [
            keras.Input((11, 3)),
            layers.Conv1D(4, 3, padding="causal", dilation_rate=2),
            layers.MaxPooling1D(2),
            layers.Conv1D(4, 2, groups=2),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def model_resample():
    return keras.Sequential(
        [
            keras.Input((5, 5, 2)),
            layers.UpSampling2D(2, interpolation="bilinear"),
            layers.ZeroPadding2D(((1, 0), (0, 1))),
            layers.Cropping2D(((0, 1), (1, 0))),
            layers.Conv2D(2, 2),
        ]
    )


def model_mnist_convnet():
    # The keras.io MNIST convnet without its Dropout (random in training mode) and with
    # linear logits (a softmax would hide the convolutions' rounding): its second conv + pool
    # takes Winograd in kerasish's predict, its first the one-channel window kernel.
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(10),
        ]
    )


# case: (builder, input shape, seed, optimizer factory, loss, y maker, steps, training fwd)
CASES = {
    "conv_dense": (
        model_conv_dense,
        (4, 9, 9, 2),
        11,
        lambda: keras.optimizers.SGD(learning_rate=0.1),
        "sparse_categorical_crossentropy",
        lambda rng: rng.integers(0, 3, size=(4,)).astype(np.int32),
        2,
    ),
    "conv_bn": (
        model_conv_bn,
        (4, 11, 11, 2),
        12,
        lambda: keras.optimizers.Adam(learning_rate=0.01),
        "mse",
        lambda rng: rng.normal(size=(4, 2)).astype(np.float32),
        2,
    ),
    "depthwise": (
        model_depthwise,
        (4, 7, 7, 2),
        13,
        lambda: keras.optimizers.SGD(learning_rate=0.05),
        "mse",
        lambda rng: rng.normal(size=(4, 2)).astype(np.float32),
        1,
    ),
    "conv1d": (
        model_conv1d,
        (4, 11, 3),
        14,
        lambda: keras.optimizers.SGD(learning_rate=0.1),
        "binary_crossentropy",
        lambda rng: np.array([[0.0], [1.0], [1.0], [0.0]], np.float32),
        2,
    ),
    "resample": (model_resample, (4, 5, 5, 2), 15, None, None, None, 0),
    "mnist_convnet": (model_mnist_convnet, (4, 28, 28, 1), 16, None, None, None, 0),
}


def run_case(name):
    """Build, set numpy weights, predict, (training forward,) train_on_batch steps."""
    builder, x_shape, seed, make_opt, loss, make_y, steps = CASES[name]
    fresh()
    rng = np.random.default_rng(1000 + seed)
    x = rng.normal(size=x_shape).astype(np.float32)
    model = builder()
    specs = [(w.name, tuple(w.shape)) for w in model.weights]
    init = init_weights(specs, seed)
    model.set_weights(init)
    arrays = {"x": x, **weight_dict(model, "init")}
    arrays["predict"] = model.predict(x, verbose=0)
    # Forward pass in training mode (BatchNormalization uses batch statistics and,
    # in Keras 3, updates its moving statistics: restore the initial weights after).
    arrays["train_forward"] = np.asarray(model(x, training=True))
    model.set_weights(init)
    info = {"x_shape": list(x_shape), "seed": seed, "n_weights": len(init)}
    if steps:
        y = make_y(rng)
        arrays["y"] = y
        model.compile(optimizer=make_opt(), loss=loss)
        losses = []
        for step in range(1, steps + 1):
            r = model.train_on_batch(x, y)
            losses.append(to_float(r))
            arrays[f"step{step}_loss"] = np.asarray(r, np.float32).reshape(-1)
            arrays.update(weight_dict(model, f"step{step}"))
        arrays["predict_after"] = model.predict(x, verbose=0)
        info.update(
            {
                "optimizer": model.optimizer.get_config(),
                "loss": loss,
                "train_on_batch": losses,
                "returned_type": type(r).__name__,
            }
        )
    info["builder_source"] = inspect.getsource(builder)
    info.update(model_info(model))
    return arrays, info


# ---------------------------------------------------------------- writing


def main(argv=None):
    index = {
        "description": "Conv/pooling/normalization goldens from real Keras; see "
        "tools/keras_goldens/record_conv.py.",
        "init_weights_source": inspect.getsource(init_weights),
        "run_case_source": inspect.getsource(run_case),
    }
    record("conv", run_case, CASES, index, argv)


if __name__ == "__main__":
    main()
