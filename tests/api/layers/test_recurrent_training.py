"""An LSTM learns a sequence task with `fit`: which of two input features has the larger sum
over ten steps (near-ties left out), to >= 95% accuracy on held-out sequences."""

import numpy as np

import kerasish as keras
from kerasish import layers


def _sequences(rng, n):
    x = rng.uniform(size=(2 * n, 10, 2)).astype(np.float32)
    diff = x[:, :, 0].sum(axis=1) - x[:, :, 1].sum(axis=1)
    keep = np.abs(diff) > 0.4
    return x[keep][:n], (diff[keep][:n] > 0).astype(np.float32)[:, None]


def test_lstm_learns_which_feature_dominates_a_sequence():
    rng = np.random.default_rng(0)
    x, y = _sequences(rng, 384)
    x_test, y_test = _sequences(rng, 256)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((10, 2)), layers.LSTM(8), layers.Dense(1, activation="sigmoid")]
    )
    model.compile(keras.optimizers.Adam(0.03), "binary_crossentropy", metrics=["accuracy"])
    _, before = model.evaluate(x_test, y_test, verbose=0)
    model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert before < 0.8 and accuracy >= 0.95, (before, accuracy)
