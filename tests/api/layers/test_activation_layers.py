"""ReLU, LeakyReLU, PReLU, ELU, Softmax."""

import json

import numpy as np
import pytest

from kerasish import layers
from kerasish.testing import run_layer_test

X = np.linspace(-3, 3, 13, dtype="float32").reshape(1, 13)


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, n_trainable",
    [
        (layers.ReLU, {}, (2, 3), 0),
        (layers.ReLU, {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.5}, (2, 3), 0),
        (layers.LeakyReLU, {"negative_slope": 0.2}, (2, 3), 0),
        (layers.PReLU, {"alpha_initializer": "ones"}, (2, 3, 4), 1),
        (layers.PReLU, {"alpha_initializer": "ones", "shared_axes": [1]}, (2, 3, 4), 1),
        (layers.ELU, {"alpha": 0.5}, (2, 3), 0),
        (layers.Softmax, {}, (2, 3), 0),
        (layers.Softmax, {"axis": (1, 2)}, (2, 3, 4), 0),
    ],
)
def test_layer_harness(cls, kwargs, in_shape, n_trainable):
    run_layer_test(cls, kwargs, in_shape, in_shape, expected_num_trainable_weights=n_trainable)


def test_relu_matches_numpy():
    def reference(x, max_value, slope, threshold):
        out = np.where(x > threshold, x, slope * (x - threshold))
        return out if max_value is None else np.minimum(out, max_value)

    for args in [(None, 0.0, 0.0), (2.0, 0.0, 0.0), (2.0, 0.1, 0.5), (None, 0.2, 0.0)]:
        out = layers.ReLU(*args)(X).numpy()
        np.testing.assert_allclose(out, reference(X, *args), rtol=1e-6, atol=1e-7)


def test_leaky_relu_default_slope_and_keras2_alpha():
    np.testing.assert_allclose(layers.LeakyReLU()(X).numpy(), np.where(X > 0, X, 0.3 * X))
    with pytest.warns(UserWarning, match="alpha"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    with pytest.warns(UserWarning):
        restored = layers.LeakyReLU.from_config({"name": "leaky", "alpha": 0.05})
    assert restored.get_config()["negative_slope"] == 0.05


def test_prelu_weight_shape_name_and_values():
    layer = layers.PReLU(shared_axes=[1, 2])
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype("float32")
    layer(x)
    assert [w.path for w in layer.weights] == [f"{layer.name}/alpha"]
    assert layer.alpha.shape == (1, 1, 5)
    alpha = np.linspace(0.1, 0.5, 5, dtype="float32").reshape(1, 1, 5)
    layer.set_weights([alpha])
    np.testing.assert_allclose(layer(x).numpy(), np.where(x > 0, x, alpha * x), rtol=1e-6)
    assert layers.PReLU().get_config()["alpha_initializer"]["class_name"] == "Zeros"


def test_elu_matches_numpy():
    np.testing.assert_allclose(
        layers.ELU(alpha=0.7)(X).numpy(), np.where(X > 0, X, 0.7 * np.expm1(X)), rtol=1e-5
    )


def test_softmax_with_mask_and_axes():
    x = np.random.default_rng(1).standard_normal((2, 4)).astype("float32")
    mask = np.array([[True, True, False, True], [False, False, False, False]])
    out = layers.Softmax()(x, mask=mask).numpy()
    e = np.exp(x[0]) * mask[0]
    np.testing.assert_allclose(out[0], e / e.sum(), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out[1], np.zeros(4))  # a fully masked row is all zeros
    x3 = np.random.default_rng(2).standard_normal((2, 3, 4)).astype("float32")
    e3 = np.exp(x3)
    np.testing.assert_allclose(
        layers.Softmax(axis=[1, 2])(x3).numpy(), e3 / e3.sum(axis=(1, 2), keepdims=True),
        rtol=1e-5,
    )  # fmt: skip
    config = json.loads(json.dumps(layers.Softmax(axis=(1, 2)).get_config()))
    assert layers.Softmax.from_config(config).axis == (1, 2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.ReLU(max_value=-1.0), r"Received: max_value=-1.0$"),
        (lambda: layers.ReLU(negative_slope=-0.1), r"Received: negative_slope=-0.1$"),
        (lambda: layers.ReLU(threshold=None), r"Received: threshold=None$"),
        (lambda: layers.LeakyReLU(negative_slope=-1), r"Received: negative_slope=-1$"),
        (lambda: layers.PReLU(shared_axes=[0]), r"Received: shared_axes=\[0\]$"),
        (lambda: layers.ELU(alpha="1"), r"Received: alpha='1'$"),
        (lambda: layers.Softmax(axis="last"), r"Received: axis='last'$"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
