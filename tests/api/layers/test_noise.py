"""GaussianNoise, GaussianDropout: identity in inference, noise in training."""

import numpy as np
import pytest

from backend import compiler
from kerasish import layers
from kerasish.testing import run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs",
    [(layers.GaussianNoise, {"stddev": 0.5, "seed": 3}),
     (layers.GaussianDropout, {"rate": 0.3, "seed": 3})],
)  # fmt: skip
def test_layer_harness(cls, kwargs):
    run_layer_test(cls, kwargs, (2, 3), (2, 3))
    run_layer_test(cls, kwargs, (2, 3), (2, 3), call_kwargs={"training": True})


def test_gaussian_noise_statistics_and_inference():
    layer = layers.GaussianNoise(0.5, seed=1)
    x = np.full((200, 100), 2.0, np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    noise = layer(x, training=True).numpy() - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01


def test_gaussian_dropout_statistics():
    rate = 0.2
    layer = layers.GaussianDropout(rate, seed=1)
    x = np.full((200, 100), 3.0, np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    factor = layer(x, training=True).numpy() / 3.0
    assert abs(factor.mean() - 1.0) < 0.01
    assert abs(factor.std() - np.sqrt(rate / (1 - rate))) < 0.01


@pytest.mark.parametrize(
    "layer", [layers.GaussianNoise(1.0, seed=5), layers.GaussianDropout(0.5, seed=5)]
)
def test_traced_steps_draw_fresh_noise_each_run(layer):
    x = np.ones((4, 3), np.float32)
    step = compiler.function(lambda data: layer(data, training=True))
    first, second = np.asarray(step(x)), np.asarray(step(x))
    assert not np.allclose(first, second)
    eager_a, eager_b = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not np.allclose(eager_a, eager_b)


def test_same_seed_same_noise():
    x = np.ones((3, 3), np.float32)
    a = layers.GaussianNoise(1.0, seed=7)(x, training=True).numpy()
    b = layers.GaussianNoise(1.0, seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.GaussianNoise(-0.1), r"Received: stddev=-0.1$"),
        (lambda: layers.GaussianNoise("0.1"), r"Received: stddev='0.1'$"),
        (lambda: layers.GaussianDropout(1.0), r"Received: rate=1.0$"),
        (lambda: layers.GaussianDropout(-0.5), r"Received: rate=-0.5$"),
        (lambda: layers.GaussianDropout(0.5, seed=-1), r"Received: seed=-1$"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
