"""LayerNormalization and UnitNormalization: the layer harness, numpy references, configs
and errors (tests/api/layers/test_attention_goldens.py compares them with Keras)."""

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.testing import run_layer_test

rng = np.random.default_rng(6)


@pytest.mark.parametrize(
    "kwargs,weights",
    [({}, 2), ({"axis": [1, 2]}, 2), ({"axis": 1, "center": False}, 1),
     ({"axis": [-1], "scale": False}, 1), ({"rms_scaling": True}, 1)],
)  # fmt: skip
def test_layer_norm_harness(kwargs, weights):
    with pytest.warns(UserWarning) if kwargs.get("rms_scaling") else _nothing():
        run_layer_test(layers.LayerNormalization, kwargs, (3, 4, 5), (3, 4, 5), weights)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_unit_norm_harness_and_values(axis):
    run_layer_test(layers.UnitNormalization, {"axis": axis}, (3, 4, 5), (3, 4, 5))
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    axes = (2,) if axis == -1 else (1, 2)
    expected = x / np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=axes, keepdims=True))
    np.testing.assert_allclose(layers.UnitNormalization(axis=axis)(x).numpy(), expected,
                               rtol=1e-6)  # fmt: skip


def test_layer_norm_values_and_weights():
    layer = layers.LayerNormalization(axis=[1, 2], epsilon=1e-2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 3 + 1
    out = layer(x).numpy()
    gamma = 1 + 0.1 * rng.standard_normal((3, 4)).astype(np.float32)
    beta = 0.1 * rng.standard_normal((3, 4)).astype(np.float32)
    layer.set_weights([gamma, beta])
    out = layer(x).numpy()
    x64 = x.astype(np.float64)
    mean, var = x64.mean((1, 2), keepdims=True), x64.var((1, 2), keepdims=True)
    np.testing.assert_allclose(out, (x64 - mean) / np.sqrt(var + 1e-2) * gamma + beta, rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    assert [w.path for w in layer.weights] == [f"{layer.name}/gamma", f"{layer.name}/beta"]
    assert layer.gamma.shape == (3, 4)


def test_configs_have_keras_keys():
    config = layers.LayerNormalization().get_config()
    assert set(config) == {
        "name", "trainable", "dtype", "axis", "epsilon", "center", "scale", "rms_scaling",
        "beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer",
        "beta_constraint", "gamma_constraint",
    }  # fmt: skip
    assert config["epsilon"] == 1e-3 and config["axis"] == -1
    keras_config = {**config, "axis": [-1], "dtype": {"class_name": "DTypePolicy",
                                                     "config": {"name": "float32"}}}  # fmt: skip
    assert layers.LayerNormalization.from_config(keras_config).axis == [-1]
    assert layers.UnitNormalization(axis=[1]).get_config()["axis"] == [1]


def test_functional_model_fits():
    inputs = keras.Input((6, 4))
    h = layers.LayerNormalization()(layers.Dense(4)(inputs))
    h = layers.UnitNormalization()(h)
    model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(h)))
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.standard_normal((16, 6, 4)), rng.standard_normal((16, 1))
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (16, 1)


def test_errors_name_the_layer_and_argument():
    with pytest.raises(TypeError, match=r"LayerNormalization: `axis` must be an int or a list"):
        layers.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match=r"LayerNormalization: `epsilon` must be a float >= 0"):
        layers.LayerNormalization(epsilon=-1)
    with pytest.raises(TypeError, match=r"UnitNormalization: `axis` must be an int"):
        layers.UnitNormalization(axis=1.5)
    layer = layers.LayerNormalization(axis=3, name="ln")
    with pytest.raises(ValueError, match=r"LayerNormalization 'ln': axis 3 is out of bounds.*"
                                         r"input_shape=\(2, 3\)"):  # fmt: skip
        layer(np.ones((2, 3)))
    layer = layers.LayerNormalization(name="ln2")
    with pytest.raises(ValueError, match=r"'ln2': the normalized axes \[2\] must have known"):
        layer(keras.Input((3, None)))
    layer = layers.LayerNormalization(name="ln3")
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"'ln3' was built for inputs of rank 2 with sizes "
                                         r"\(3,\).*Received: input shape \(2, 4\)"):  # fmt: skip
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"UnitNormalization 'un': axis -3 is out of bounds"):
        layers.UnitNormalization(axis=-3, name="un")(np.ones((2, 3)))
