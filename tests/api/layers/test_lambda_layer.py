"""Lambda: calls a function; configs name the function and never carry code."""

import json

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers, ops
from kerasish.saving import serialization
from kerasish.testing import run_layer_test


def scaled_square(x, factor=1.0):
    return ops.multiply(ops.square(x), factor)


serialization.register(scaled_square)


def test_layer_harness_with_a_registered_function():
    run_layer_test(
        layers.Lambda, {"function": scaled_square, "arguments": {"factor": 2.0}}, (2, 3), (2, 3)
    )


def test_calls_the_function_with_arguments_mask_and_training():
    seen = {}

    def spy(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x

    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(
        layers.Lambda(scaled_square, arguments={"factor": 3.0})(x).numpy(), 3 * x
    )
    layers.Lambda(spy)(x, training=True, mask=np.array([True, False]))
    assert seen["training"] is True and seen["mask"].tolist() == [True, False]


def test_mask_function_sets_the_output_mask():
    layer = layers.Lambda(lambda x: x, mask=lambda inputs, mask: ops.greater(inputs, 0))
    out = layer(np.array([1.0, -1.0], np.float32))
    assert out._mask.numpy().tolist() == [True, False]


def test_builtin_op_round_trips_and_works_in_a_model():
    layer = layers.Lambda(ops.relu)
    config = json.loads(json.dumps(layer.get_config()))
    restored = layers.Lambda.from_config(config)
    assert restored.function is ops.relu
    inputs = keras.Input((2,))
    model = keras.Model(inputs, restored(inputs))
    np.testing.assert_allclose(model.predict(np.array([[-1.0, 2.0]]), verbose=0), [[0.0, 2.0]])


def test_loading_never_runs_code():
    def local_function(x):
        return x

    config = json.loads(json.dumps(layers.Lambda(local_function).get_config()))
    assert config["function"]["config"] == "local_function"
    with pytest.raises(ValueError, match="unknown function 'local_function'.*custom_objects"):
        layers.Lambda.from_config(config)
    restored = layers.Lambda.from_config(config, custom_objects={"local_function": local_function})
    assert restored.function is local_function

    lambda_config = json.loads(json.dumps(layers.Lambda(lambda x: x).get_config()))
    with pytest.raises(ValueError, match="Python lambda"):
        layers.Lambda.from_config(lambda_config)
    keras2 = {"name": "l", "function": ["4wEAAAAA", None, None], "function_type": "lambda"}
    with pytest.raises(ValueError, match="Python lambda"):
        layers.Lambda.from_config(keras2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Lambda("relu"), r"Received: function='relu'$"),
        (lambda: layers.Lambda(ops.relu, arguments=[1]), r"Received: arguments=\[1\]$"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
