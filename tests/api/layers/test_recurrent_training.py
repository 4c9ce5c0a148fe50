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


def _token_sequences(rng, n, length=20, vocab=12):
    """Token sequences (0 pads the end of some) labelled 1 when token 1 occurs more often
    than token 2 (ties left out)."""
    x = rng.integers(1, vocab, size=(2 * n, length))
    lengths = rng.integers(length // 2, length + 1, size=2 * n)
    x[np.arange(length) >= lengths[:, None]] = 0
    diff = (x == 1).sum(axis=1) - (x == 2).sum(axis=1)
    keep = diff != 0
    return x[keep][:n].astype(np.int32), (diff[keep][:n] > 0).astype(np.float32)[:, None]


def _step_names(model) -> list:
    return [name for fn in model._step_fns.values() for plan, _ in fn._plans.values()
            for name in plan.describe()]  # fmt: skip


def test_embedding_lstm_learns_which_token_is_more_frequent_on_the_fused_kernels():
    rng = np.random.default_rng(1)
    x, y = _token_sequences(rng, 1024)
    x_test, y_test = _token_sequences(rng, 256)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            layers.Embedding(12, 8, mask_zero=True),
            layers.LSTM(16),
            layers.Dense(1),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.02),
        keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95, accuracy
    # The recurrence ran as one fused call each way, never as per-step nodes.
    names = _step_names(model)
    assert names.count("lstm_sequence") == 1 and names.count("lstm_sequence_grad") == 1
    assert "lstm_sequence[inference]" in names  # evaluate's Plan: nothing kept for a backward
    assert sum(name == "matmul" for name in names) < 10
