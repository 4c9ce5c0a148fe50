"""Losses from layers join the training loss: `add_loss` in `call`, activity regularizers
and weight regularizers, in the default step, a custom step, compiled and eager; checked
against the same sums in numpy."""

from pathlib import Path

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops

GOLDENS = Path(__file__).resolve().parents[2] / "fixtures" / "keras_goldens" / "layer_losses.npz"

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3)).astype("float32")
Y = RNG.normal(size=(8, 2)).astype("float32")


class AddsLoss(layers.Layer):
    """Adds `scale * x**2` elementwise (not a scalar: it counts by its sum) and returns x."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        self.add_loss(self.scale * ops.square(x))
        return x


def make_model():
    """The model `tools/keras_goldens/record_layer_losses.py` records in Keras."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    h = layers.Dense(
        4,
        activation="tanh",
        kernel_regularizer=keras.regularizers.L2(0.01),
        bias_regularizer=keras.regularizers.L1(0.02),
        activity_regularizer=keras.regularizers.L2(0.03),
    )(inputs)
    h = AddsLoss(0.05)(h)
    h = layers.ActivityRegularization(l1=0.04)(h)
    return keras.Model(inputs, layers.Dense(2)(h))


def expected_loss(model, x, y):
    """mse + every layer's penalty, in numpy from the model's current weights."""
    kernel, bias, kernel2, bias2 = (w.numpy().astype(np.float64) for w in model.weights)
    h = np.tanh(x @ kernel + bias)
    out = h @ kernel2 + bias2
    mse = np.mean((out - y) ** 2)
    weight_penalties = 0.01 * np.sum(kernel**2) + 0.02 * np.sum(np.abs(bias))
    activity = 0.03 * np.sum(h**2) / len(x) + 0.04 * np.sum(np.abs(h)) / len(x)
    added = 0.05 * np.sum(h**2)
    return mse + weight_penalties + activity + added


def test_model_losses_after_a_call_hold_every_term():
    model = make_model()
    model(X)  # through the cached inference Plan
    assert len(model.losses) == 5  # activity, add_loss, activity layer, kernel, bias
    total = sum(float(ops.sum(loss)) for loss in model.losses)
    mse_free = expected_loss(model, X, model(X).numpy())
    np.testing.assert_allclose(total, mse_free, rtol=1e-5)
    with keras.GradientTape():  # through the layers: the same terms
        model(X)
    np.testing.assert_allclose(sum(float(ops.sum(v)) for v in model.losses), total, rtol=1e-5)


@pytest.mark.parametrize("eager", [False, True])
def test_the_default_step_trains_on_layer_losses(eager):
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=eager)
    for _ in range(2):  # the reported loss is the one before each update
        expected = expected_loss(model, X, Y)
        np.testing.assert_allclose(model.train_on_batch(X, Y), expected, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), expected_loss(model, X, Y),
                               rtol=1e-5)  # fmt: skip


class CustomStep(keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            prediction = self(x, training=True)
            mse = ops.mean(ops.square(prediction - y))
            total = mse + sum(ops.sum(loss) for loss in self.losses)  # one is not a scalar
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return {"total": total, "mse": mse}


@pytest.mark.parametrize("eager", [False, True])
def test_a_custom_step_reads_the_layer_losses(eager):
    model = make_model()
    inputs, outputs = model.input, model.output
    custom = CustomStep(inputs, outputs)
    custom.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=eager)
    reference = make_model()  # the same weights, trained by the default step
    reference.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    for _ in range(2):
        expected = expected_loss(custom, X, Y)
        logs = custom.train_on_batch(X, Y, return_dict=True)
        np.testing.assert_allclose(logs["total"], expected, rtol=1e-5)
        reference.train_on_batch(X, Y)
    for ours, theirs in zip(custom.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_a_model_whose_only_loss_is_added():
    inputs = keras.Input((3,))
    outputs = AddsLoss(1.0)(layers.Dense(2)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.05))  # no compiled loss
    first = model.train_on_batch(X)
    for _ in range(20):
        last = model.train_on_batch(X)
    assert last < 0.5 * first  # the sum of squares is driven down


def test_no_loss_at_all_is_a_clear_error():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(2)(inputs))
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="has no loss"):
        model.train_on_batch(X, Y)


@pytest.mark.parametrize("eager", [False, True])
def test_layer_losses_match_keras(eager):
    recorded = np.load(GOLDENS)
    model = make_model()
    model.set_weights([recorded[f"init_w{i}"] for i in range(4)])
    x, y = recorded["x"], recorded["y"]
    model(x)
    np.testing.assert_allclose(
        sorted(float(ops.sum(v)) for v in model.losses), sorted(recorded["call_losses"]),
        rtol=1e-5,
    )  # fmt: skip
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=eager)
    for step in (1, 2, 3):
        loss = model.train_on_batch(x, y)
        np.testing.assert_allclose(loss, recorded["train_on_batch"][step - 1], rtol=1e-5)
        for i, w in enumerate(model.get_weights()):
            np.testing.assert_allclose(w, recorded[f"step{step}_w{i}"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), recorded["evaluate"][0], rtol=1e-5)
