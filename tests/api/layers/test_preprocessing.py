"""Rescaling and Normalization (with adapt)."""

import json

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.testing import run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs, in_shape",
    [
        (layers.Rescaling, {"scale": 0.5, "offset": 1.0}, (2, 3)),
        (layers.Rescaling, {"scale": [1.0, 2.0, 3.0]}, (2, 4, 3)),
        (layers.Normalization, {"mean": 2.0, "variance": 4.0}, (2, 3)),
        (layers.Normalization, {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 9.0]}, (2, 3)),
        (layers.Normalization, {"axis": None, "mean": 1.0, "variance": 2.0, "invert": True},
         (2, 3)),
    ],
)  # fmt: skip
def test_layer_harness(cls, kwargs, in_shape):
    run_layer_test(cls, kwargs, in_shape, in_shape)


def test_rescaling_casts_integers_to_the_layer_dtype():
    out = layers.Rescaling(1 / 255)(np.array([[0, 255]], np.uint8))
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), [[0.0, 1.0]])
    x = np.ones((1, 2, 3), np.float32)
    np.testing.assert_allclose(
        layers.Rescaling([1.0, 2.0, 3.0], offset=[0.0, 0.0, 1.0])(x).numpy(), x * [1, 2, 4]
    )


def test_adapt_matches_numpy_and_normalizes():
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((64, 5, 3)) * [1.0, 2.0, 3.0] + [0.0, 10.0, -5.0]).astype("float32")
    layer = layers.Normalization()
    layer.adapt(data)
    assert [w.path for w in layer.non_trainable_weights] == [
        f"{layer.name}/mean", f"{layer.name}/variance", f"{layer.name}/count"
    ]  # fmt: skip
    assert layer.trainable_weights == []
    mean, variance, count = layer.get_weights()
    assert count == 64 * 5
    np.testing.assert_allclose(mean, data.mean(axis=(0, 1)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(variance, data.var(axis=(0, 1)), rtol=1e-5)
    out = layer(data).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1)), 1.0, rtol=1e-4)

    inverse = layers.Normalization(invert=True)
    inverse.adapt(data)
    np.testing.assert_allclose(inverse(out).numpy(), data, rtol=1e-4, atol=1e-4)


def test_adapt_over_batches_and_several_axes():
    data = np.random.default_rng(1).standard_normal((30, 4, 2)) * 3 + 1e3
    layer = layers.Normalization(axis=(1, 2))
    layer.adapt((data[i : i + 7] for i in range(0, 30, 7)), steps=3)  # the first 21 rows
    np.testing.assert_allclose(layer.get_weights()[0], data[:21].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[1], data[:21].var(axis=0), rtol=1e-4)
    with pytest.raises(ValueError, match=r"built for inputs of shape \(7, 4, 2\)"):
        layer.adapt(np.ones((3, 4, 5)))


def test_normalization_formula_and_epsilon():
    x = np.array([[1.0, 3.0]], np.float32)
    layer = layers.Normalization(mean=[1.0, 1.0], variance=[0.0, 4.0])
    # a zero variance divides by epsilon (1e-7): (1 - 1) / 1e-7 = 0
    np.testing.assert_allclose(layer(x).numpy(), [[0.0, 1.0]])
    assert layer.weights == []


def test_calling_before_adapt_is_an_error_but_a_model_can_be_built_first():
    layer = layers.Normalization()
    with pytest.raises(ValueError, match=r"Normalization 'normalization.*adapt\(data\)"):
        layer(np.ones((2, 3)))
    inputs = keras.Input((3,))
    norm = layers.Normalization()
    model = keras.Model(inputs, norm(inputs))
    data = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 6.0]], np.float32)
    norm.adapt(data)
    np.testing.assert_allclose(model.predict(data, verbose=0), [[-1, -1, -1], [1, 1, 1]])


def test_adapted_layer_round_trip_with_weights():
    layer = layers.Normalization(axis=-1)
    layer.adapt(np.array([[1.0, 2.0], [3.0, 6.0]]))
    config = json.loads(json.dumps(layer.get_config()))
    assert config["axis"] == [-1] and config["mean"] is None and config["invert"] is False
    restored = layers.Normalization.from_config(config)
    restored.build((None, 2))
    restored.set_weights(layer.get_weights())
    x = np.array([[2.0, 4.0]], np.float32)
    np.testing.assert_allclose(restored(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Rescaling("2"), r"Received: scale='2'$"),
        (lambda: layers.Rescaling(1.0, offset=None), r"Received: offset=None$"),
        (lambda: layers.Normalization(axis="x"), r"Received: axis='x'$"),
        (lambda: layers.Normalization(mean=1.0), r"Received: mean=1.0, variance=None$"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_uses():
    with pytest.raises(ValueError, match="cannot also be adapted"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"Received: steps=0$"):
        layers.Normalization().adapt(np.ones((2, 2)), steps=0)
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 2\).*axis=\(2,\)"):
        layers.Normalization(axis=2)(np.ones((2, 2)))
    with pytest.raises(ValueError, match="must broadcast"):
        layers.Normalization(mean=[0.0, 1.0], variance=[1.0, 1.0])(np.ones((2, 3)))
