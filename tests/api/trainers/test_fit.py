"""fit / evaluate / predict end to end: the digits MLP, inputs of every accepted kind,
callbacks, reproducibility, eager vs compiled, and bad input."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers


def _digits():
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    return (x_train.reshape(-1, 64) / 16.0, y_train), (x_test.reshape(-1, 64) / 16.0, y_test)


def _mlp(seed=0, hidden=32):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def test_digits_mlp_reaches_95_percent_validation_accuracy():
    (x, y), _ = _digits()
    model = _mlp(hidden=128)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=60,
        validation_split=0.2,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(patience=3, factor=0.5),
        ],
    )
    assert max(history.history["val_accuracy"]) >= 0.95, history.history["val_accuracy"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)


def test_set_random_seed_gives_identical_weights_and_training():
    (x, y), _ = _digits()
    runs = []
    for _ in range(2):
        model = _mlp(seed=123)
        model.add(layers.Dropout(0.3))
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        keras.utils.set_random_seed(7)
        model.fit(x[:256], y[:256], epochs=2, verbose=0)  # shuffling and dropout seeded too
        runs.append(model.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_eager_and_compiled_fit_agree():
    (x, y), _ = _digits()
    results = []
    for eager in (False, True):
        model = _mlp(seed=3)
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            run_eagerly=eager,
        )
        history = model.fit(x[:200], y[:200], batch_size=64, epochs=2, shuffle=False, verbose=0)
        results.append((history.history["loss"], model.get_weights()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_generator_and_pydataset_inputs():
    (x, y), _ = _digits()

    def batches():
        for i in range(0, 128, 32):
            yield x[i : i + 32], y[i : i + 32]

    class Data(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.ends = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]

        def on_epoch_end(self):
            self.ends += 1

    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert len(model.fit(batches(), epochs=1, verbose=0).history["loss"]) == 1
    data = Data()
    model.fit(data, epochs=2, verbose=0)
    assert data.ends == 2
    assert isinstance(model.evaluate(Data(), verbose=0), float)


def test_validation_inside_fit_calls_the_test_hooks_of_the_fit_callbacks():
    (x, y), _ = _digits()
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    calls = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch_end", epoch, "val_loss" in logs))

        def on_test_begin(self, logs=None):
            calls.append("test_begin")

        def on_test_batch_end(self, batch, logs=None):
            calls.append(("test_batch", batch))

        def on_test_end(self, logs=None):
            calls.append(("test_end", sorted(logs)))

    model.fit(x[:64], y[:64], batch_size=32, epochs=2, verbose=0, callbacks=[Recorder()],
              validation_data=(x[64:128], y[64:128]), validation_freq=2)  # fmt: skip
    assert calls == [
        ("epoch_end", 0, False), "test_begin", ("test_batch", 0), ("test_batch", 1),
        ("test_end", ["loss"]), ("epoch_end", 1, True),
    ]  # fmt: skip


def test_predict_and_on_batch_methods():
    (x, y), _ = _digits()
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    probs = model.predict(x[:70], batch_size=32, verbose=0)
    assert isinstance(probs, np.ndarray) and probs.shape == (70, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), probs[:5], rtol=1e-5)
    loss, acc = model.test_on_batch(x[:32], y[:32])
    logs = model.train_on_batch(x[:32], y[:32], return_dict=True)
    assert set(logs) == {"loss", "acc"} and np.isfinite(loss) and 0 <= acc <= 1


def test_custom_train_step_and_loss_from_add_loss():
    class SelfSupervised(keras.Model):
        def __init__(self):
            super().__init__()
            self.encode = layers.Dense(4)
            self.decode = layers.Dense(64)

        def call(self, x, training=None):
            out = self.decode(self.encode(x))
            self.add_loss(keras.ops.mean(keras.ops.square(out - x)))
            return out

    (x, _), _ = _digits()
    model = SelfSupervised()
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x[:256].astype("float32"), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_bad_input_is_a_clear_error():
    (x, y), _ = _digits()
    model = _mlp()
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, y)
    with pytest.raises(ValueError, match="Unknown loss|unknown loss"):
        model.compile(optimizer="adam", loss="no_such_loss")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="different lengths"):
        model.fit(x[:10], y[:9], verbose=0)
    with pytest.raises(ValueError, match=r"expects shape \(None, 64\)"):
        model.fit(np.ones((10, 63)), y[:10], verbose=0)
    with pytest.raises(ValueError, match="labels|label"):
        model.fit(x[:10], np.full(10, 12), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x[:10], y[:10], batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x[:10], y[:10], validation_split=1.0, verbose=0)
    bad = x[:10].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, y[:10], verbose=0)


def test_verbose_two_prints_one_line_per_epoch(capsys):
    (x, y), _ = _digits()
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:64], y[:64], epochs=2, verbose=2, validation_split=0.25)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "val_accuracy" in out


def test_demo_runs():
    from kerasish.__main__ import main

    assert main(["--epochs", "3", "--verbose", "0"]) > 0.8


def test_logs_are_ordered_as_keras_orders_them():
    # Keras 3.15 (checked on JAX): History's keys and every return_dict=True dict are sorted
    # by name; evaluate's list keeps the loss, then the metrics in compile's order.
    (x, y), _ = _digits()
    model = _mlp()
    top_k = "sparse_top_k_categorical_accuracy"
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=[top_k, "accuracy"])  # fmt: skip
    history = model.fit(x[:64], y[:64], epochs=1, validation_split=0.25, verbose=0)
    assert list(history.history) == [
        "accuracy", "loss", top_k, "val_accuracy", "val_loss", f"val_{top_k}"]  # fmt: skip
    as_dict = model.evaluate(x[:64], y[:64], verbose=0, return_dict=True)
    assert list(as_dict) == ["accuracy", "loss", top_k]
    listed = model.evaluate(x[:64], y[:64], verbose=0)
    assert listed == [as_dict["loss"], as_dict[top_k], as_dict["accuracy"]]
    for result in (model.train_on_batch(x[:8], y[:8], return_dict=True),
                   model.test_on_batch(x[:8], y[:8], return_dict=True)):  # fmt: skip
        assert list(result) == ["accuracy", "loss", top_k]
