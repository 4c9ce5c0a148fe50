"""`python -m kerasish`: train a small network on the bundled digits and report.

It prints the model summary, trains with `fit` (progress bar, a validation split, early
stopping), and prints the test accuracy. Options: `--epochs N`, `--verbose {0,1,2}`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kerasish as keras


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(prog="python -m kerasish", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    x_test = x_test.reshape(-1, 64).astype("float32") / 16.0

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="digits_mlp",
    )
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=args.epochs,
        validation_split=0.1,
        callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)],
        verbose=args.verbose,
    )
    elapsed = time.perf_counter() - started
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    assert np.isclose(np.mean(predicted == y_test), accuracy, atol=1e-6)
    print(f"test accuracy: {accuracy:.4f}  (test loss {loss:.4f}, trained in {elapsed:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
