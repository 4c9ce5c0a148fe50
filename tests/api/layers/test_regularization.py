"""ActivityRegularization: identity plus an L1/L2 loss on its output, divided by the batch."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.testing import run_layer_test


def test_layer_harness():
    run_layer_test(layers.ActivityRegularization, {"l1": 0.1, "l2": 0.2}, (2, 3), (2, 3))


def test_penalty_matches_numpy_and_output_is_the_input():
    x = np.random.default_rng(0).standard_normal((4, 3, 2)).astype("float32")
    layer = layers.ActivityRegularization(l1=0.01, l2=0.5)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    expected = (0.01 * np.abs(x).sum() + 0.5 * np.square(x).sum()) / 4
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)


def test_penalty_in_a_functional_model_with_unknown_batch():
    inputs = keras.Input((3,))
    outputs = layers.ActivityRegularization(l2=1.0)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = np.full((5, 3), 2.0, np.float32)
    # mse is 0; the penalty is sum(x**2) / batch = 3 * 4 for every batch size.
    np.testing.assert_allclose(model.test_on_batch(x, x), 12.0, rtol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, x, batch_size=2, verbose=0), 12.0, rtol=1e-6)


@pytest.mark.parametrize("arg", ["l1", "l2"])
def test_bad_arguments(arg):
    with pytest.raises(ValueError, match=rf"Received: {arg}=-1.0$"):
        layers.ActivityRegularization(**{arg: -1.0})
