"""Train a two-layer network on the bundled digits data with ops, Variables and a
GradientTape alone: no layers, no fit(). This is the engine at its lowest level.

    python examples/train_digits.py
"""

from __future__ import annotations

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


def train(epochs: int = 30, batch_size: int = 64, learning_rate: float = 0.3, seed: int = 0,
          verbose: bool = True) -> dict:  # fmt: skip
    """Trains with minibatch SGD; returns the final train and test accuracy."""
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    x_test = x_test.reshape(-1, 64).astype("float32") / 16.0
    params = init_params(seed)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            with keras.GradientTape() as tape:
                logits = forward(params, x_train[batch])
                loss = ops.mean(
                    ops.sparse_categorical_crossentropy(y_train[batch], logits, from_logits=True)
                )
            grads = tape.gradient(loss, params)
            for p, g in zip(params, grads, strict=True):
                p.assign_sub(learning_rate * g.numpy())
            losses.append(float(loss))
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
    result = train()
    print(
        f"train accuracy {result['train_accuracy']:.3f}, test accuracy "
        f"{result['test_accuracy']:.3f} ({time.perf_counter() - started:.1f} s)"
    )
