"""fit/evaluate/predict on PyDatasets and on iterables of batches (a DataLoader stand-in)."""

import threading

import numpy as np
import pytest

import kerasish as keras

RNG = np.random.default_rng(0)
X = RNG.random((96, 6)).astype("float32")
Y = (X.sum(axis=1) > 3).astype("int32")


class TorchLikeTensor:
    """What a PyTorch CPU tensor offers for conversion: `.detach().cpu().numpy()`."""

    def __init__(self, array):
        self._array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._array


class DataLoaderStandIn:
    """Iterable again each epoch, with a length, yielding `[x, y]` lists, as a DataLoader."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.passes = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        self.passes += 1
        for start in range(0, len(self.x), self.batch_size):
            part = slice(start, start + self.batch_size)
            yield [TorchLikeTensor(self.x[part]), TorchLikeTensor(self.y[part])]


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.calls = []
        self.threads = set()

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.calls.append(index)
        self.threads.add(threading.get_ident())
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_begin(self):
        self.calls.append("begin")

    def on_epoch_end(self):
        self.calls.append("end")


def make_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def fit_arrays(**kwargs):
    model = make_model()
    history = model.fit(X, Y, batch_size=16, shuffle=False, verbose=0, **kwargs)
    return model, history


def assert_same_training(model, history, reference_model, reference_history):
    for a, b in zip(model.get_weights(), reference_model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert history.history.keys() == reference_history.history.keys()
    for name, values in history.history.items():
        assert values == pytest.approx(reference_history.history[name], rel=1e-6), name


def test_dataloader_like_iterable_trains_as_the_same_arrays_would():
    reference = fit_arrays(epochs=3)
    loader = DataLoaderStandIn(X, Y, 16)
    model = make_model()
    seen = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    history = model.fit(loader, epochs=3, verbose=0, callbacks=[count])
    assert loader.passes == 3 and seen == list(range(6)) * 3  # a full pass per epoch
    assert history.params["steps"] == 6  # from len(loader)
    assert_same_training(model, history, *reference)
    expected = reference[0].evaluate(X, Y, verbose=0)
    assert model.evaluate(loader, verbose=0) == pytest.approx(expected)
    np.testing.assert_allclose(model.predict(loader, verbose=0), reference[0].predict(X, verbose=0))


def test_validation_data_may_be_an_iterable_of_batches():
    reference = fit_arrays(epochs=2, validation_data=(X[:32], Y[:32]))
    model = make_model()
    history = model.fit(X, Y, batch_size=16, shuffle=False, epochs=2, verbose=0,
                        validation_data=DataLoaderStandIn(X[:32], Y[:32], 8))  # fmt: skip
    assert_same_training(model, history, *reference)


def test_generator_steps_are_shared_out_over_epochs_and_running_out_stops_training():
    def batches(passes=1):
        for _ in range(passes):
            for start in range(0, 96, 16):
                yield X[start : start + 16], Y[start : start + 16]

    reference = fit_arrays(epochs=2)
    model = make_model()
    history = model.fit(batches(passes=2), steps_per_epoch=6, epochs=2, verbose=0)
    assert_same_training(model, history, *reference)

    model = make_model()
    with pytest.warns(UserWarning, match="ran out of batches.*steps_per_epoch"):
        history = model.fit(batches(), epochs=3, verbose=0)
    assert history.epoch == [0]  # the second epoch found nothing: training stopped
    assert history.history["loss"] == pytest.approx(fit_arrays(epochs=1)[1].history["loss"])


def test_pydataset_visits_batches_in_a_new_order_each_epoch_unless_shuffle_is_false():
    data = Batches(X, Y, 16)
    make_model().fit(data, epochs=2, verbose=0, shuffle=False)
    assert data.calls == ["begin", *range(6), "end"] * 2
    data = Batches(X, Y, 16)
    keras.utils.set_random_seed(3)
    make_model().fit(data, epochs=3, verbose=0)
    epochs = [data.calls[i * 8 + 1 : i * 8 + 7] for i in range(3)]
    assert all(sorted(order) == list(range(6)) for order in epochs)
    assert len({tuple(order) for order in epochs}) > 1  # reshuffled


def test_pydataset_trains_as_arrays_and_threads_fetch_the_same_batches_in_order():
    reference = fit_arrays(epochs=2)
    for workers in (1, 3):
        data = Batches(X, Y, 16, workers=workers, max_queue_size=2)
        model = make_model()
        history = model.fit(data, epochs=2, verbose=0, shuffle=False)
        assert_same_training(model, history, *reference)
        assert (len(data.threads - {threading.get_ident()}) > 0) == (workers > 1)
        np.testing.assert_allclose(model.predict(data, verbose=0), reference[0].predict(X))
    assert keras.utils.Sequence is keras.utils.PyDataset


def test_pydataset_class_weight_matches_arrays():
    weights = {0: 0.25, 1: 2.0}
    reference = fit_arrays(epochs=1, class_weight=weights)
    model = make_model()
    history = model.fit(Batches(X, Y, 16), epochs=1, verbose=0, shuffle=False,
                        class_weight=weights)  # fmt: skip
    assert_same_training(model, history, *reference)


def test_endless_pydataset_needs_steps_and_goes_on_across_epochs():
    class Endless(keras.utils.PyDataset):
        num_batches = None

        def __init__(self):
            super().__init__()
            self.calls = []

        def __getitem__(self, index):
            self.calls.append(index)
            part = slice(index % 6 * 16, index % 6 * 16 + 16)
            return X[part], Y[part]

    model = make_model()
    with pytest.raises(ValueError, match="no length.*steps_per_epoch"):
        model.fit(Endless(), epochs=1, verbose=0)
    data = Endless()
    model.fit(data, steps_per_epoch=4, epochs=2, verbose=0)
    assert data.calls == list(range(8))


def test_what_cannot_be_used_is_named():
    model = make_model()
    loader = DataLoaderStandIn(X, Y, 16)
    with pytest.raises(ValueError, match=r"`y` must not be given when `x` is a DataLoaderStandIn"):
        model.fit(loader, Y, verbose=0)
    with pytest.raises(ValueError, match="validation_split.*DataLoaderStandIn.*validation_data"):
        model.fit(loader, validation_split=0.2, verbose=0)

    class Opaque:
        pass

    with pytest.raises(TypeError, match=r"PyTorch DataLoader\. Received: x of type Opaque"):
        model.fit(Opaque(), Y, verbose=0)

    def odd_batches():
        yield X[:16], Y[:16]
        yield {"pixels": X[:16]}.values(), Y[:16]

    with pytest.raises(ValueError, match=r"Batch 1 from the generator .*does not convert"):
        model.fit(odd_batches(), verbose=0)

    def not_batches():
        yield 3.5

    with pytest.raises(ValueError, match=r"Batch 0 from the generator .* is a float"):
        model.fit(not_batches(), verbose=0)
    with pytest.raises(ValueError, match="`workers` must be an int >= 1. Received: workers=0"):
        Batches(X, Y, 16, workers=0)
