"""Saves each catalogue model (catalogue.py) with real Keras, for kerasish's tests to load.

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tools/keras_interop/record_keras_files.py \
        --out tests/fixtures/keras_files/catalogue
    KERAS_BACKEND=tensorflow /work/venvs/keras-tf/bin/python \
        tools/keras_interop/record_keras_files.py --text --out tests/fixtures/keras_files/catalogue

(Keras' text layers need TensorFlow, and compute inside a model only on its backend: the
second command writes the text models.) For each model NAME it writes `NAME.keras`,
`NAME.legacy.h5` (`model.save("NAME.h5")`) and `NAME.io.npz` (`x`, or
`x0`, `x1`, ... / `x_<key>` for several inputs, and `y`: Keras' `predict(x)`, or `y0`, `y1`
for several outputs). Each model is compiled with Adam(0.01) and trained three batches.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from catalogue import MODELS, TEXT_MODELS, compile_and_train  # noqa: E402


def arrays_of(prefix: str, value) -> dict:
    if isinstance(value, dict):
        return {f"{prefix}_{k}": np.asarray(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {f"{prefix}{i}": np.asarray(v) for i, v in enumerate(value)}
    return {prefix: np.asarray(value)}


def as_keras_inputs(x):
    """String arrays as TensorFlow tensors (Keras' predict takes no numpy strings)."""
    if isinstance(x, dict):
        return {k: as_keras_inputs(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [as_keras_inputs(v) for v in x]
    if isinstance(x, np.ndarray) and x.dtype.kind in "US":
        import tensorflow as tf

        return tf.constant(x)
    return x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--text", action="store_true", help="the text models (TensorFlow)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = [n for n in MODELS if (n in TEXT_MODELS) == args.text]
    keras.utils.set_random_seed(1234)
    for name in names:
        build, data, compile_kwargs = MODELS[name]
        x, y = data(np.random.default_rng(7))
        model = compile_and_train(keras, build(keras), as_keras_inputs(x), y, compile_kwargs)
        prediction = model.predict(as_keras_inputs(x), verbose=0)
        model.save(os.path.join(args.out, f"{name}.keras"))
        model.save(os.path.join(args.out, f"{name}.legacy.h5"))
        np.savez(os.path.join(args.out, f"{name}.io.npz"),
                 **arrays_of("x", x), **arrays_of("y", prediction))  # fmt: skip
        print(name, [layer.__class__.__name__ for layer in model.layers])
    print("keras", keras.__version__, keras.backend.backend())


if __name__ == "__main__":
    main()
