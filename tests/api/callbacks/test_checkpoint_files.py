"""The files ModelCheckpoint writes: they load back to the model as it was when saved (weights
with the optimizer's state, whole models as `.keras` and `.h5`), and the best-only file holds
the best epoch's weights."""

import os

import numpy as np
import pytest

import kerasish as keras
from kerasish.callbacks import ModelCheckpoint

RNG = np.random.default_rng(1)
X = RNG.normal(size=(48, 5)).astype("float32")
Y = (X[:, 0] - X[:, 2] > 0).astype("int32")


def fresh():
    keras.backend.clear_session()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(2, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


class WeightsAtEpochEnd(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights, self.val_loss = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.val_loss.append(logs["val_loss"])


def assert_same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["e{epoch:02d}.weights.h5", "e{epoch:02d}.keras", "e{epoch}.h5"])
def test_each_epoch_file_loads_back_to_that_epoch(tmp_path, name):
    model = fresh()
    seen = WeightsAtEpochEnd()
    checkpoint = ModelCheckpoint(str(tmp_path / name), save_weights_only=name.endswith("s.h5"))
    model.fit(X, Y, batch_size=16, epochs=3, verbose=0, validation_split=0.25,
              callbacks=[checkpoint, seen])  # fmt: skip
    for epoch in range(3):
        path = tmp_path / name.format(epoch=epoch + 1)
        if checkpoint.save_weights_only:
            loaded = fresh()
            loaded.load_weights(path)
        else:
            loaded = keras.models.load_model(path)
            assert loaded.compiled
            then = fresh()
            then.set_weights(seen.weights[epoch])
            np.testing.assert_array_equal(loaded.predict(X, verbose=0), then.predict(X, verbose=0))
        assert_same(loaded.get_weights(), seen.weights[epoch])


def test_best_only_keeps_the_best_epoch(tmp_path):
    model = fresh()
    seen = WeightsAtEpochEnd()
    path = tmp_path / "best.weights.h5"
    checkpoint = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    model.fit(X, Y, batch_size=16, epochs=6, verbose=0, validation_split=0.25,
              callbacks=[checkpoint, seen])  # fmt: skip
    best = int(np.argmin(seen.val_loss))
    assert checkpoint.best == seen.val_loss[best]
    loaded = fresh()
    loaded.load_weights(path)
    assert_same(loaded.get_weights(), seen.weights[best])


def test_a_weights_checkpoint_continues_training_as_if_never_stopped(tmp_path):
    """The file holds the optimizer's state: a fresh model loading it (compiled first) and
    training one more epoch ends where two epochs in a row end."""
    path = tmp_path / "e{epoch}.weights.h5"
    model = fresh()
    model.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0,
              callbacks=[ModelCheckpoint(path, save_weights_only=True)])  # fmt: skip
    resumed = fresh()
    resumed.load_weights(str(path).format(epoch=1))
    assert int(resumed.optimizer.iterations) == 3
    resumed.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert_same(resumed.get_weights(), model.get_weights())
    assert_same([v.numpy() for v in resumed.optimizer.variables],
                [v.numpy() for v in model.optimizer.variables])  # fmt: skip


def test_a_directory_in_the_way_is_a_clear_error(tmp_path):
    os.mkdir(tmp_path / "m.keras")
    model = fresh()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "m.keras")])


def test_missing_folders_are_created(tmp_path):
    model = fresh()
    path = tmp_path / "runs" / "a" / "w.weights.h5"
    model.fit(X, Y, epochs=1, verbose=0,
              callbacks=[ModelCheckpoint(path, save_weights_only=True)])  # fmt: skip
    assert path.exists()
