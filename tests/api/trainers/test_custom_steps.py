"""Overridden train_step/test_step/predict_step, compute_loss/compute_metrics, the metrics
property, an overridden compile, and the errors a custom step can meet."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
SW = RNG.uniform(0.5, 1.5, size=(40,)).astype("float32")


def dense_model(cls=keras.Model, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    return cls(inputs, layers.Dense(1)(inputs))


class Recorder(keras.Model):
    """Records the Python structure of `data` each time train_step runs its Python code."""

    seen: list

    def train_step(self, data):
        self.seen.append(
            tuple(type(d).__name__ for d in data) if isinstance(data, tuple) else "array"
        )
        x = data[0] if isinstance(data, tuple) else data
        return {"n": ops.cast(ops.shape(x)[0], "float32")}


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize(
    "fit_args, expected",
    [
        ((X,), "array"),
        ((X, Y), ("SymbolicTensor", "SymbolicTensor")),
        ((X, Y, SW), ("SymbolicTensor", "SymbolicTensor", "SymbolicTensor")),
    ],
)
def test_train_step_receives_what_fit_got(fit_args, expected, eager):
    model = dense_model(Recorder)
    model.seen = []
    model.compile(run_eagerly=eager)
    x, *rest = fit_args
    y = rest[0] if rest else None
    sw = rest[1] if len(rest) > 1 else None
    model.fit(x, y, sample_weight=sw, batch_size=20, epochs=1, verbose=0)
    if eager:  # eager steps see Tensors where the traced one sees symbolic tensors
        expected = expected if expected == "array" else tuple("ndarray" for _ in expected)
    assert model.seen[0] == expected
    assert len(model.seen) == (2 if eager else 1)  # traced once, run twice


@pytest.mark.parametrize("several", [(X, X), [X, X]])
def test_several_inputs_alone_arrive_wrapped(several):
    model = dense_model(Recorder)
    model.seen = []
    model.compile(run_eagerly=True)
    model.fit(several, batch_size=40, epochs=1, verbose=0)
    # (x,), so that `x, y = data` cannot misread the two inputs as inputs and targets.
    assert model.seen == [(type(several).__name__,)]


def _unpack(data):
    """`(x, y, sample_weight)` from what a step receives."""
    if isinstance(data, tuple):
        return (*data, None, None)[:3]
    return data, None, None


class ComputeLossModel(keras.Model):
    """The keras.io step: compute_loss, apply_gradients, return compute_metrics(...)."""

    def train_step(self, data):
        x, y, sample_weight = _unpack(data)
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self.compute_metrics(x, y, y_pred, sample_weight)


class MetricsLoopModel(keras.Model):
    """Keras 3's guide: update each of `self.metrics` by hand."""

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _fit(model_cls, eager, sample_weight, batch_size):
    model = dense_model(model_cls)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"],
                  run_eagerly=eager)  # fmt: skip
    history = model.fit(X, Y, sample_weight=sample_weight, batch_size=batch_size, epochs=2,
                        shuffle=False, verbose=0)  # fmt: skip
    return history.history, model.get_weights()


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize(
    "cls, sample_weight, batch_size",
    # Batches of 16, 16 and 8: compute_metrics must weight the loss by batch size, as the
    # default step does. The loop's `update_state(loss)` weights each batch 1 (as in
    # Keras), so it gets equal batches.
    [(ComputeLossModel, SW, 16), (MetricsLoopModel, None, 8)],
)
def test_custom_steps_report_as_the_default_step(cls, sample_weight, batch_size, eager):
    # Each reproduces the default step, so logs and weights must equal the default's.
    expected_logs, expected_weights = _fit(keras.Model, False, sample_weight, batch_size)
    logs, weights = _fit(cls, eager, sample_weight, batch_size)
    assert list(logs) == ["loss", "mae"]
    for key in logs:
        np.testing.assert_allclose(logs[key], expected_logs[key], rtol=1e-5)
    for ours, theirs in zip(weights, expected_weights, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_metrics_property_order_and_names():
    model = dense_model()
    model.compile(loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    assert model.metrics_names == ["loss", "compile_metrics"]
    model.train_on_batch(X, Y)
    container = model.metrics[1]
    assert [m.name for m in container.metrics] == ["mae", "mse"]
    logs = model.get_metrics_result()
    assert list(logs) == ["loss", "mae", "mse"]


class TwoOptimizers(keras.Model):
    """No call(): two sub-models, an overridden compile, metrics assigned as attributes."""

    def __init__(self):
        super().__init__()
        self.encoder = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
        self.decoder = keras.Sequential([keras.Input((2,)), layers.Dense(3)])

    def compile(self, encoder_optimizer, decoder_optimizer, loss_fn):
        super().compile()
        self.encoder_optimizer = encoder_optimizer
        self.decoder_optimizer = decoder_optimizer
        self.loss_fn = loss_fn
        self.error = keras.metrics.Mean(name="error")
        self.steps = keras.metrics.Sum(name="steps")

    def train_step(self, x):
        with keras.GradientTape(persistent=True) as tape:
            error = self.loss_fn(x, self.decoder(self.encoder(x)))
        for part, optimizer in ((self.encoder, self.encoder_optimizer),
                                (self.decoder, self.decoder_optimizer)):  # fmt: skip
            grads = tape.gradient(error, part.trainable_weights)
            optimizer.apply_gradients(zip(grads, part.trainable_weights, strict=True))
        self.error.update_state(error)
        self.steps.update_state(1.0)
        return {"error": self.error.result(), "steps": self.steps.result()}


@pytest.mark.parametrize("eager", [False, True])
def test_model_without_call_trains_with_two_optimizers(eager):
    keras.utils.set_random_seed(0)
    model = TwoOptimizers()
    model.compile(keras.optimizers.Adam(0.02), keras.optimizers.SGD(0.1),
                  keras.losses.MeanSquaredError())  # fmt: skip
    model.run_eagerly = eager
    before = [w.numpy() for w in model.weights]
    history = model.fit(X, batch_size=8, epochs=3, verbose=0)
    assert not model.built  # never called or built as a whole
    assert model.metrics_names == ["loss", "error", "steps"]
    # The attribute metrics are reset each epoch: 5 steps per epoch, not a running count.
    assert history.history["steps"] == [5.0, 5.0, 5.0]
    assert history.history["error"][-1] < history.history["error"][0]
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights, strict=True))
    assert model.encoder_optimizer.iterations.numpy() == 15
    with pytest.raises(NotImplementedError, match="call"):
        model(X)


def test_reassigned_metric_attribute_is_tracked_once():
    model = TwoOptimizers()
    for _ in range(2):  # compile twice: new metrics replace the old ones
        model.compile(keras.optimizers.SGD(), keras.optimizers.SGD(), keras.losses.mse)
    assert model.metrics_names == ["loss", "error", "steps"]


class CountingStep(keras.Model):
    def train_step(self, data):
        self.python_calls += 1
        return super().train_step(data)


def test_run_eagerly_set_as_an_attribute_runs_python_each_step():
    model = dense_model(CountingStep)
    model.python_calls = 0
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, batch_size=20, epochs=2, verbose=0)
    assert model.python_calls == 1  # traced once, then the compiled Plan
    model.run_eagerly = True
    model.fit(X, Y, batch_size=20, epochs=2, verbose=0)
    assert model.python_calls == 1 + 4


class Overrides(keras.Model):
    def test_step(self, data):
        x, y = data
        return {"abs_error": ops.mean(ops.abs(self(x) - y))}

    def predict_step(self, data):
        return {"doubled": self(data) * 2.0}


@pytest.mark.parametrize("eager", [False, True])
def test_test_step_and_predict_step_overrides(eager):
    model = dense_model(Overrides)
    model.compile(loss="mse", run_eagerly=eager)
    logs = model.evaluate(X, Y, batch_size=40, verbose=0, return_dict=True)
    direct = model.predict(X, verbose=0)["doubled"] / 2.0
    np.testing.assert_allclose(logs["abs_error"], np.abs(direct - Y).mean(), rtol=1e-5)
    np.testing.assert_allclose(direct, X @ model.get_weights()[0] + model.get_weights()[1],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


class ReturnsThis(keras.Model):
    def train_step(self, data):
        value = self.result_of(ops.mean(data))
        return value


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize(
    "result_of, error, match",
    [
        (lambda m: [m], TypeError, r"must return a dict of scalar metrics.*Received: list"),
        (lambda m: {"loss": "low"}, TypeError, r"Received: 'loss': str"),
        (lambda m: {"loss": ops.ones((2,)) * m}, ValueError, r"'loss' with shape \(2,\)"),
        (lambda m: {"inner": {"v": ops.ones((3, 1)) * m}}, ValueError, r"'v' with shape"),
    ],
)
def test_train_step_must_return_a_dict_of_scalars(result_of, error, match, eager):
    model = ReturnsThis()
    model.result_of = result_of
    model.compile(run_eagerly=eager)
    with pytest.raises(error, match=match):
        model.fit(X, batch_size=20, epochs=1, verbose=0)


def test_nested_dicts_and_python_numbers_in_the_logs_are_flattened():
    model = ReturnsThis()
    model.result_of = lambda m: {"mean": m, "extra": {"one": 1.0, "twice": m * 2.0}}
    model.compile()
    logs = model.train_on_batch(X, return_dict=True)
    assert list(logs) == ["mean", "one", "twice"]
    np.testing.assert_allclose([logs["mean"], logs["one"], logs["twice"]],
                               [X.mean(), 1.0, 2 * X.mean()], rtol=1e-5)  # fmt: skip


class TapeTwice(keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x) - y))
        tape.gradient(loss, self.trainable_weights)
        tape.gradient(loss, self.trainable_weights)  # a non-persistent tape: an error
        return {"loss": loss}


@pytest.mark.parametrize("eager", [False, True])
def test_a_consumed_tape_is_a_clear_error_in_a_step(eager):
    model = dense_model(TapeTwice)
    model.compile(run_eagerly=eager)
    with pytest.raises(RuntimeError, match="persistent=True"):
        model.fit(X, Y, verbose=0)


class BadApply(keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x) - y))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(self.pairs(grads, self.trainable_weights))
        return {"loss": loss}


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize(
    "pairs, error, match",
    [
        (lambda g, v: [g, v], TypeError, r"a list of gradients and a list of variables"),
        (lambda g, v: [(v[0], g[0])], TypeError, r"pairs.*\(Variable, "),
        (lambda g, v: zip(g, v[::-1], strict=True), ValueError, r"gradient for '.*' has shape"),
    ],
)
def test_apply_gradients_with_mismatched_lists_is_a_clear_error(pairs, error, match, eager):
    model = dense_model(BadApply)
    model.pairs = pairs
    model.compile(optimizer="sgd", run_eagerly=eager)
    with pytest.raises(error, match=match):
        model.fit(X, Y, verbose=0)


def test_apply_with_lists_of_different_lengths():
    variables = [keras.Variable(np.ones(2)), keras.Variable(np.ones(3))]
    with pytest.raises(ValueError, match="got 1 gradients for 2 variables"):
        keras.optimizers.SGD().apply([np.ones(2)], variables)
