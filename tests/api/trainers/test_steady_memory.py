"""Memory in a steady state: training, predicting and new batch sizes do not make the process
grow.

- Python-level allocations (tracemalloc) stay flat over 1,000 training steps of `fit` and over
  1,000 `predict`, `predict_on_batch` and `model(x)` calls;
- the resident set size (RSS) stays flat over epochs of a small convnet, over 10,000 `predict`
  calls, and over 200 distinct batch sizes (each compiled step keeps at most
  `kerasish.config.plan_cache_size()` Plans).

The 200 batch sizes are also tried on the benchmark's 784-512-512-10 MLP. The full-size
check of 50 epochs of the keras.io MNIST convnet is marked `full_memory` and skipped unless
selected:
`python -m pytest -m full_memory tests/api/trainers/test_steady_memory.py`.
"""

import gc
import os
import tracemalloc

import numpy as np
import pytest

import kerasish as keras
from backend.compiler import Plan
from backend.testing import stop_background_compiles
from kerasish import layers

rng = np.random.default_rng(0)


def _rss_mb() -> float:
    """This process's resident set size in MB, after a garbage collection."""
    gc.collect()
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except OSError:
        pytest.skip("reading the resident set size needs Linux's /proc")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _mlp(sizes, activation=None):
    *hidden, out = sizes[1:]
    model = keras.Sequential(
        [
            keras.Input((sizes[0],)),
            *(layers.Dense(units, activation="relu") for units in hidden),
            layers.Dense(out, activation=activation),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=activation is None),
    )
    return model


def _convnet(input_shape, filters):
    """keras.io's "Simple MNIST convnet", with the input shape and filter counts given."""
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(filters[0], kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(filters[1], kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _images(n, shape):
    x = rng.random((n, *shape), dtype=np.float32)
    return x, rng.integers(0, 10, size=n).astype(np.int32)


class _Every(keras.callbacks.Callback):
    """Records `measure()` at the end of every `every`-th batch (or of every epoch)."""

    def __init__(self, measure, every=None):
        super().__init__()
        self.measure, self.every, self.values = measure, every, []

    def on_train_batch_end(self, batch, logs=None):
        if self.every and (batch + 1) % self.every == 0:
            self.values.append(self.measure())

    def on_epoch_end(self, epoch, logs=None):
        if not self.every:
            self.values.append(self.measure())


def test_fit_allocates_nothing_that_stays_over_1000_training_steps():
    # Conv, batch normalization, dropout (a random mask every step), pooling, Adam, a metric.
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x, y = _images(16 * 1100, (8, 8, 1))
    model.fit(x[:64], y[:64], batch_size=16, epochs=1, verbose=0)  # compile before tracing
    probe = _Every(_traced_bytes, every=100)
    stop_background_compiles()  # their output reader allocates
    tracemalloc.start()
    try:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[probe])
    finally:
        tracemalloc.stop()
    first, *later = probe.values[1:]  # from step 200: the first steps fill free lists
    assert len(later) == 9
    # A leak of 16 bytes a step would add 16 KB over these 900 steps.
    assert max(later) - first < 16 * 1024, [v - first for v in later]


def test_inference_calls_allocate_nothing_that_stays():
    model = _mlp((64, 128, 10))
    x32 = rng.standard_normal((32, 64)).astype(np.float32)
    calls = {
        "predict": lambda: model.predict(x32, verbose=0),
        "predict_on_batch": lambda: model.predict_on_batch(x32),
        "model(x)": lambda: model(x32[:1]),
    }
    for name, call in calls.items():
        for _ in range(100):
            call()
        tracemalloc.start()
        try:
            for _ in range(100):
                call()
            before = _traced_bytes()
            for _ in range(1000):
                call()
            grown = _traced_bytes() - before
        finally:
            tracemalloc.stop()
        assert grown < 16 * 1024, f"{name}: {grown} bytes more after 1000 calls"


def test_10000_predict_calls_grow_rss_by_under_20_mb():
    model = _mlp((64, 128, 10))
    x32 = rng.standard_normal((32, 64)).astype(np.float32)
    expected = model.predict(x32, verbose=0)
    for _ in range(100):
        model.predict(x32, verbose=0)
    before = _rss_mb()
    for _ in range(10_000):
        out = model.predict(x32, verbose=0)
    grown = _rss_mb() - before
    np.testing.assert_array_equal(out, expected)
    assert grown < 20, f"RSS grew by {grown:.1f} MB over 10,000 predict calls"


def _live_plans() -> int:
    gc.collect()
    # type(), not isinstance(): a dead weakref.proxy among the objects (another test's)
    # raises ReferenceError when isinstance asks it for its class
    return sum(type(o) is Plan for o in gc.get_objects())


def _distinct_batch_sizes(model, sizes, width):
    x = rng.standard_normal((max(sizes), width)).astype(np.float32)
    y = rng.integers(0, 10, size=max(sizes)).astype(np.int32)
    model.train_on_batch(x[:1], y[:1])
    model.predict(x[:1], verbose=0)
    plans_before, before = _live_plans(), _rss_mb()
    for n in rng.permutation(sizes):
        model.train_on_batch(x[:n], y[:n])
        out = model.predict(x[:n], verbose=0)
        assert out.shape == (n, 10)
    return _rss_mb() - before, _live_plans() - plans_before


def test_200_batch_sizes_grow_rss_by_under_20_mb():
    model = _mlp((64, 128, 10))
    grown, new_plans = _distinct_batch_sizes(model, np.arange(1, 201), 64)
    # The train and predict steps keep at most plan_cache_size() Plans each; a cache that
    # kept all 400 would hold several times this much.
    assert new_plans <= 2 * keras.config.plan_cache_size()
    assert grown < 20, f"RSS grew by {grown:.1f} MB over 200 batch sizes"


def _rss_growth_over_epochs(side, filters, samples, batch, epochs, settle):
    """RSS growth (MB) after epoch `settle` while a convnet on `side`x`side` images trains for
    `epochs` epochs (a short last batch and a validation pass every epoch), and the RSS after
    every epoch relative to it."""
    shape = (side, side, 1)
    model = _convnet(shape, filters)
    x, y = _images(samples, shape)
    rss = _Every(_rss_mb)
    model.fit(
        x,
        y,
        batch_size=batch,
        epochs=epochs,
        verbose=0,
        validation_data=_images(2 * batch, shape),
        callbacks=[rss],
    )
    base = rss.values[settle]
    return max(rss.values[settle + 1 :]) - base, [round(v - base, 2) for v in rss.values]


def test_rss_is_flat_over_epochs_of_a_small_convnet():
    # 9 batches of 32 and a last one of 12.
    grown, history = _rss_growth_over_epochs(12, (4, 8), 300, 32, epochs=15, settle=2)
    assert grown < 2, history


@pytest.fixture
def full_memory(request):
    """Skips a full-size check unless the run selected it (`-m full_memory`)."""
    if "full_memory" not in (request.config.option.markexpr or ""):
        pytest.skip("the full-size memory checks are selected with `-m full_memory`")


@pytest.mark.full_memory
@pytest.mark.usefixtures("full_memory")
def test_rss_grows_by_under_5_mb_over_50_epochs_of_the_mnist_convnet():
    # 8 batches of 128 and a last one of 40.
    grown, history = _rss_growth_over_epochs(28, (32, 64), 1024 + 40, 128, epochs=50, settle=1)
    assert grown < 5, history


def test_200_batch_sizes_of_the_benchmark_mlp_grow_rss_by_under_20_mb():
    # The Plans of one step share their work buffers (compiler.BufferArena): without that,
    # each of the 32 cached train Plans kept its own 2.7 MB of weight gradients (+100 MB).
    model = _mlp((784, 512, 512, 10))
    grown, new_plans = _distinct_batch_sizes(model, np.arange(1, 201), 784)
    assert new_plans <= 2 * keras.config.plan_cache_size()
    assert grown < 20, f"RSS grew by {grown:.1f} MB over 200 batch sizes"
