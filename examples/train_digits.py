"""Train a two-layer network on the bundled digits data with ops, Variables and a
GradientTape alone: no layers, no fit(). This is the engine at its lowest level; the
training step is compiled into a Plan (pass --eager to run it op by op).

    python examples/train_digits.py [--eager]
"""

from __future__ import annotations

import sys
import time

import numpy as np

import kerasish as keras
from kerasish import ops


def init_params(seed: int, n_in: int = 64, hidden: int = 64, n_out: int = 10) -> list:
    """Glorot-uniform weights and zero biases, as Keras' Dense defaults."""
    rng = np.random.default_rng(seed)

    def glorot(fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))

    return [
        keras.Variable(glorot(n_in, hidden), name="w1"),
        keras.Variable(np.zeros(hidden), name="b1"),
        keras.Variable(glorot(hidden, n_out), name="w2"),
        keras.Variable(np.zeros(n_out), name="b2"),
    ]


def forward(params: list, x):
    w1, b1, w2, b2 = params
    hidden = ops.relu(ops.matmul(x, w1) + b1)
    return ops.matmul(hidden, w2) + b2  # logits


def accuracy(params: list, x: np.ndarray, y: np.ndarray) -> float:
    predicted = ops.convert_to_numpy(ops.argmax(forward(params, x), axis=-1))
    return float(np.mean(predicted == y))


def make_train_step(params: list, learning_rate: float):
    """One SGD step on a batch: forward, loss, GradientTape gradients, Variable updates."""

    def train_step(x, y):
        with keras.GradientTape() as tape:
            logits = forward(params, x)
            loss = ops.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, params)
        for p, g in zip(params, grads, strict=True):
            p.assign_sub(learning_rate * g)
        return loss

    return train_step


def train(epochs: int = 30, batch_size: int = 64, learning_rate: float = 0.3, seed: int = 0,
          compiled: bool = True, verbose: bool = True) -> dict:  # fmt: skip
    """Trains with minibatch SGD; returns the final train and test accuracy.

    With `compiled=True` the step is traced once per batch shape into a compiled Plan
    (`kerasish.backend.compiler.function`); otherwise it runs op by op.
    """
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    x_test = x_test.reshape(-1, 64).astype("float32") / 16.0
    y_train = y_train.astype("int32")
    params = init_params(seed)
    step = make_train_step(params, learning_rate)
    if compiled:
        step = keras.backend.compiler.function(step)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            losses.append(float(step(x_train[batch], y_train[batch])))
        if verbose and (epoch % 5 == 4 or epoch == epochs - 1):
            print(
                f"epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  "
                f"train acc {accuracy(params, x_train, y_train):.3f}"
            )
    return {
        "train_accuracy": accuracy(params, x_train, y_train),
        "test_accuracy": accuracy(params, x_test, y_test),
    }


if __name__ == "__main__":
    started = time.perf_counter()
    result = train(compiled="--eager" not in sys.argv)
    print(
        f"train accuracy {result['train_accuracy']:.3f}, test accuracy "
        f"{result['test_accuracy']:.3f} ({time.perf_counter() - started:.1f} s)"
    )
