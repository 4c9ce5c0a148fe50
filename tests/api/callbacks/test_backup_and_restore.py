"""BackupAndRestore in one process: a fit interrupted by an exception at a chosen batch,
then a fresh model (as a script run again builds) fitted with the same callbacks, ends as a
run that was never interrupted, bit for bit. test_checkpoint_crashes.py kills real
processes."""

import os
import threading
import time
import warnings

import numpy as np
import pytest

import kerasish as keras
from kerasish.callbacks import BackupAndRestore

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 6)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int32")


class Interrupted(Exception):
    pass


class Interrupt(keras.callbacks.Callback):
    """Raises at the start of batch `batch` of epoch `epoch`."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise Interrupted


class FirstBatch(keras.callbacks.Callback):
    """Notes the (epoch, batch) of the first batch a fit trains, and the weights then."""

    first = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.first is None:
            self.first = (self.epoch, batch)
            self.weights = self.model.get_weights()


def sequential():
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.25),
        keras.layers.GaussianNoise(0.1),
        keras.layers.Dense(2, activation="softmax"),
    ])  # fmt: skip


class Scale(keras.layers.Layer):
    """Its weight's initializer is made in `build`, so building it draws a seed from the
    global generator."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="random_normal")

    def call(self, x):
        return x * self.scale


class Subclassed(keras.Model):
    """Built at its first call (inside the first traced step, which draws from the global
    generator), with a SeedGenerator of its own besides its layers', and a draw from the
    global generator (seed=None) in each step."""

    def __init__(self):
        super().__init__()
        self.scale = Scale()
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.drop = keras.layers.Dropout(0.3)
        self.out = keras.layers.Dense(2, activation="softmax")
        self.noise_seed = keras.random.SeedGenerator()

    def call(self, x, training=False):
        if training:
            x = x + keras.random.normal(keras.ops.shape(x), stddev=0.05, seed=self.noise_seed)
            x = x * keras.random.uniform(keras.ops.shape(x), 0.9, 1.1)
        return self.out(self.drop(self.hidden(self.scale(x)), training=training))


def fresh(build=sequential, run_eagerly=False):
    """A model as a script run again builds it: same names, same seeds."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=run_eagerly,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    return model


def state(model) -> list:
    return model.get_weights() + [v.numpy() for v in model.optimizer.variables]


def assert_same(got: list, want: list) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def interrupted_then_resumed(backup_dir, at, data, fit_kwargs, extra=list, **model_kwargs):
    """Runs fit until it raises at `at`, then again on a fresh model, fresh data (`data()`)
    and fresh callbacks (`extra()`, with a new BackupAndRestore on the same directory);
    returns that model, its History and where it started."""
    save_freq = fit_kwargs.pop("save_freq", 3)
    model = fresh(**model_kwargs)
    backup = BackupAndRestore(backup_dir, save_freq=save_freq)
    with pytest.raises(Interrupted):
        model.fit(*data(), callbacks=[backup, *extra(), Interrupt(*at)], **fit_kwargs)
    model = fresh(**model_kwargs)
    first = FirstBatch()
    backup = BackupAndRestore(backup_dir, save_freq=save_freq)
    history = model.fit(*data(), callbacks=[backup, *extra(), first], **fit_kwargs)
    return model, history, first


def reference(data, fit_kwargs, extra=list, **model_kwargs):
    model = fresh(**model_kwargs)
    history = model.fit(*data(), callbacks=list(extra()), **fit_kwargs)
    return model, history


def arrays():
    return X, Y


def watching_callbacks(folder):
    """Callbacks whose state decides what they do: min_delta so large that nothing improves
    (their waits decide when they act); a scheduler that sets the rate in on_epoch_begin from
    the rate it finds (run twice in an epoch, or on a rate not yet restored, it would end
    elsewhere); a checkpoint that keeps the batches where the running loss is the lowest so
    far (its best value and batch count decide which files it writes)."""

    def make():
        return [
            keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
            keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=10.0),
            keras.callbacks.EarlyStopping(monitor="loss", patience=3, min_delta=10.0),
            keras.callbacks.ModelCheckpoint(
                folder / "best-{epoch}-{batch}.weights.h5", monitor="loss", mode="min",
                save_best_only=True, save_weights_only=True, save_freq=2,
            ),
        ]  # fmt: skip

    return make


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
def test_arrays_resume_mid_epoch_exactly(tmp_path, run_eagerly):
    data, kwargs = arrays, {"batch_size": 8, "epochs": 5, "verbose": 0}
    extra = watching_callbacks(tmp_path / "reference")
    want, want_history = reference(data, dict(kwargs), extra, run_eagerly=run_eagerly)
    extra = watching_callbacks(tmp_path / "resumed")
    model, history, first = interrupted_then_resumed(
        tmp_path / "b", (2, 6), data, dict(kwargs), extra, run_eagerly=run_eagerly
    )
    # 8 batches an epoch, a backup every 3 batches: in epoch 2, before batches 2 and 5.
    assert first.first == (2, 5)
    assert history.epoch == [2, 3]  # EarlyStopping, resumed with its wait, stops at 3 again
    assert want_history.epoch == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "learning_rate"):  # epoch 2's metrics include batches 0-4
        assert history.history[key] == want_history.history[key][2:]
    assert_same(state(model), state(want))
    assert not (tmp_path / "b").exists()
    saved = sorted(os.listdir(tmp_path / "reference"))
    assert len(saved) > 1 and sorted(os.listdir(tmp_path / "resumed")) == saved


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled", "eager"])
def test_a_subclassed_model_built_in_its_first_step_resumes_exactly(tmp_path, run_eagerly):
    data, kwargs = arrays, {"batch_size": 8, "epochs": 3, "verbose": 0}
    want, _ = reference(data, dict(kwargs), build=Subclassed, run_eagerly=run_eagerly)
    model, _, first = interrupted_then_resumed(
        tmp_path / "b", (1, 6), data, dict(kwargs), build=Subclassed, run_eagerly=run_eagerly
    )
    assert first.first == (1, 4)  # 8 batches an epoch, a backup every 3: before batch 4
    assert_same(state(model), state(want))


class ShufflingBatches(keras.utils.PyDataset):
    """Reorders its samples at each epoch's end with numpy's global RNG, and says so through
    get_state/set_state, so a resumed run gets the epoch's order back."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.samples = np.arange(len(X))

    def __len__(self):
        return 6

    def __getitem__(self, index):
        part = self.samples[10 * index : 10 * index + 10]
        return X[part], Y[part]

    def on_epoch_end(self):
        np.random.shuffle(self.samples)

    def get_state(self):
        return {"samples": self.samples.copy()}

    def set_state(self, state):
        self.samples = np.array(state["samples"])


@pytest.mark.parametrize("workers", [1, 3])
def test_a_pydataset_resumes_mid_epoch_exactly(tmp_path, workers):
    kwargs = {"epochs": 3, "verbose": 0}

    def data():
        return (ShufflingBatches(workers=workers),)

    want, want_history = reference(data, dict(kwargs))
    model, history, first = interrupted_then_resumed(tmp_path / "b", (1, 5), data, dict(kwargs))
    assert first.first == (1, 3)
    assert history.history["loss"] == want_history.history["loss"][1:]
    assert_same(state(model), state(want))


class SlowBatches(keras.utils.PyDataset):
    """Notes how many `__getitem__` calls are running each time its state is read."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.running, self.lock, self.seen = 0, threading.Lock(), []

    def __len__(self):
        return 6

    def __getitem__(self, index):
        with self.lock:
            self.running += 1
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        return X[10 * index : 10 * index + 10], Y[10 * index : 10 * index + 10]

    def get_state(self):
        self.seen.append(self.running)
        return {}

    def set_state(self, state):
        pass


def test_batches_fetched_ahead_are_waited_for_before_a_backup(tmp_path):
    data = SlowBatches(workers=3, max_queue_size=4)
    backup = BackupAndRestore(tmp_path, save_freq=2)
    fresh().fit(data, epochs=2, verbose=0, callbacks=[backup])
    assert data.seen == [0] * 5  # backups before batches 2 and 4, then 0, 2 and 4


def test_a_generator_resumes_at_the_next_epoch(tmp_path):
    def batches():
        while True:
            for i in range(0, 60, 10):
                yield X[i : i + 10], Y[i : i + 10]

    model = fresh()
    backup_dir = tmp_path / "b"
    backup = BackupAndRestore(backup_dir, save_freq=2)
    kwargs = {"steps_per_epoch": 6, "epochs": 3, "verbose": 0}
    with pytest.warns(UserWarning, match="taken at the start of the next one"):
        with pytest.raises(Interrupted):
            model.fit(batches(), callbacks=[backup, Interrupt(1, 4)], **kwargs)
    at_epoch_start = model.get_weights()  # not quite: the backup was taken before batch 0
    model = fresh()
    first = FirstBatch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(batches(), callbacks=[backup, first], **kwargs)
    assert first.first == (1, 0) and history.epoch == [1, 2]
    assert not all(np.array_equal(a, b) for a, b in zip(first.weights, at_epoch_start, strict=True))


def test_an_epoch_backup_resumes_at_the_next_epoch_exactly(tmp_path):
    data, kwargs = arrays, {"batch_size": 8, "epochs": 4, "verbose": 0}
    want, _ = reference(data, dict(kwargs))
    model, history, first = interrupted_then_resumed(
        tmp_path / "b", (2, 5), data, {**kwargs, "save_freq": "epoch"}
    )
    assert first.first == (2, 0) and history.epoch == [2, 3]
    assert_same(state(model), state(want))


def test_a_backup_past_the_epochs_asked_for_only_restores_the_variables(tmp_path):
    """Run again with fewer `epochs` than the backup's epoch, fit trains nothing and leaves
    the model as it was backed up."""
    data, kwargs = arrays, {"batch_size": 8, "epochs": 3, "verbose": 0}
    with pytest.raises(Interrupted):
        fresh().fit(*data(), callbacks=[BackupAndRestore(tmp_path), Interrupt(2, 1)], **kwargs)
    model = fresh()
    history = model.fit(*data(), callbacks=[BackupAndRestore(tmp_path)], **{**kwargs, "epochs": 2})
    assert history.epoch == []
    want, _ = reference(data, {**kwargs, "epochs": 2})  # the backup before epoch 2
    assert_same(state(model), state(want))


def test_double_checkpoint_falls_back_to_the_backup_before(tmp_path):
    data, kwargs = arrays, {"batch_size": 8, "epochs": 3, "verbose": 0}
    model = fresh()
    backup = BackupAndRestore(tmp_path, save_freq=3, double_checkpoint=True)
    with pytest.raises(Interrupted):
        model.fit(*data(), callbacks=[backup, Interrupt(1, 5)], **kwargs)
    names = sorted(os.listdir(tmp_path))  # the latest backup and the one before
    assert len([n for n in names if n.endswith(".weights.h5")]) == 2
    assert names[-2:] == ["training_state.h5", "training_state.prev.h5"]
    (tmp_path / "training_state.h5").write_bytes(b"not a backup")
    model = fresh()
    first = FirstBatch()
    with pytest.warns(UserWarning, match="resuming from the backup before it"):
        model.fit(*data(), callbacks=[backup, first], **kwargs)
    assert first.first == (1, 1)  # backups before batch 1 (8 batches an epoch) and batch 4
    want, _ = reference(data, dict(kwargs))
    assert_same(state(model), state(want))


def test_a_broken_backup_is_a_clear_error(tmp_path):
    model = fresh()
    backup = BackupAndRestore(tmp_path, save_freq=3, delete_checkpoint=False)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[backup])  # backs up before epoch 1
    weights = [n for n in os.listdir(tmp_path) if n.endswith(".weights.h5")]
    assert weights == ["backup-0.weights.h5"]
    (tmp_path / weights[0]).unlink()
    with pytest.raises(ValueError, match="training_state.h5.*backup-0.weights.h5 it names"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[backup])
    (tmp_path / "training_state.h5").write_bytes(b"\x89HDF\r\n truncated")
    with pytest.raises(ValueError, match="Cannot read the training state file .*training_state"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[backup])


def test_a_backup_of_another_model_or_other_batches_is_refused(tmp_path):
    model = fresh()
    backup = BackupAndRestore(tmp_path, save_freq=2, delete_checkpoint=False)
    with pytest.raises(Interrupted):
        model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=[backup, Interrupt(0, 9)])
    with pytest.raises(ValueError, match="steps per epoch"):
        fresh().fit(X, Y, batch_size=30, epochs=2, verbose=0, callbacks=[backup])
    with pytest.raises(ValueError, match="an order of 60 samples, but these are 56 samples"):
        fresh().fit(X[:56], Y[:56], batch_size=4, epochs=2, verbose=0, callbacks=[backup])
    with pytest.raises(ValueError, match="`shuffle` changed"):
        fresh().fit(X, Y, batch_size=4, epochs=2, verbose=0, shuffle=False, callbacks=[backup])

    def smaller():
        return keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="softmax")])

    with pytest.raises(ValueError, match="random generators"):
        fresh(smaller).fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=[backup])


def test_delete_checkpoint_false_keeps_the_last_backup(tmp_path):
    backup = BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    fresh().fit(X, Y, epochs=2, verbose=0, callbacks=[backup])
    assert sorted(os.listdir(tmp_path / "b")) == ["backup-0.weights.h5", "training_state.h5"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backup_dir": ""}, "backup_dir"),
        ({"backup_dir": "b", "save_freq": 0}, "save_freq=0"),
        ({"backup_dir": "b", "save_freq": True}, "save_freq=True"),
        ({"backup_dir": "b", "save_freq": "batch"}, "save_freq='batch'"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BackupAndRestore(**kwargs)
