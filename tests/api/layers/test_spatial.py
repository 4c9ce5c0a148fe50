"""ZeroPadding, Cropping, UpSampling and SpatialDropout: harness, numpy references,
configs and bad arguments."""

import numpy as np
import pytest

from kerasish import layers
from kerasish.testing import run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, out_shape",
    [
        (layers.ZeroPadding1D, {}, (2, 4, 3), (2, 6, 3)),
        (layers.ZeroPadding1D, {"padding": (0, 2)}, (2, 4, 3), (2, 6, 3)),
        (layers.ZeroPadding2D, {}, (2, 4, 5, 3), (2, 6, 7, 3)),
        (layers.ZeroPadding2D, {"padding": (1, 2)}, (2, 4, 5, 3), (2, 6, 9, 3)),
        (layers.ZeroPadding2D, {"padding": ((1, 0), (0, 3))}, (2, 4, 5, 3), (2, 5, 8, 3)),
        (layers.Cropping1D, {}, (2, 5, 3), (2, 3, 3)),
        (layers.Cropping1D, {"cropping": (0, 2)}, (2, 5, 3), (2, 3, 3)),
        (layers.Cropping2D, {"cropping": 1}, (2, 5, 6, 3), (2, 3, 4, 3)),
        (layers.Cropping2D, {"cropping": ((1, 0), (2, 1))}, (2, 5, 6, 3), (2, 4, 3, 3)),
        (layers.UpSampling1D, {}, (2, 4, 3), (2, 8, 3)),
        (layers.UpSampling1D, {"size": 3}, (2, 4, 3), (2, 12, 3)),
        (layers.UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2)),
        (layers.UpSampling2D, {"size": (1, 3), "interpolation": "bilinear"}, (2, 3, 4, 2),
         (2, 3, 12, 2)),
        (layers.SpatialDropout1D, {"rate": 0.5}, (2, 4, 3), (2, 4, 3)),
        (layers.SpatialDropout2D, {"rate": 0.5}, (2, 4, 5, 3), (2, 4, 5, 3)),
    ],
)  # fmt: skip
def test_layer_harness(cls, kwargs, in_shape, out_shape):
    run_layer_test(cls, kwargs, in_shape, out_shape)


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype("float32")


def test_padding_and_cropping_match_numpy():
    x = _x(2, 5, 6, 3)
    y = layers.ZeroPadding2D(((1, 2), (3, 0)))(x).numpy()
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (1, 2), (3, 0), (0, 0))))
    y = layers.ZeroPadding1D(2)(x[:, 0]).numpy()
    np.testing.assert_array_equal(y, np.pad(x[:, 0], ((0, 0), (2, 2), (0, 0))))
    y = layers.Cropping2D(((1, 2), (0, 1)))(x).numpy()
    np.testing.assert_array_equal(y, x[:, 1:-2, 0:-1])
    y = layers.Cropping1D((2, 0))(x[:, 0]).numpy()
    np.testing.assert_array_equal(y, x[:, 0, 2:])


def test_upsampling_nearest_and_bilinear():
    x = _x(2, 3, 4, 2)
    y = layers.UpSampling2D((2, 3))(x).numpy()
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(3, axis=2))
    y = layers.UpSampling1D(2)(x[:, 0]).numpy()
    np.testing.assert_array_equal(y, x[:, 0].repeat(2, axis=1))
    # Bilinear, half-pixel centers: golden values from Keras 3.15 (JAX backend).
    image = np.array([0, 1, 2, 4], "float32").reshape(1, 2, 2, 1)
    y = layers.UpSampling2D(interpolation="bilinear")(image).numpy()[0, :, :, 0]
    expected = [
        [0.0, 0.25, 0.75, 1.0],
        [0.5, 0.8125, 1.4375, 1.75],
        [1.5, 1.9375, 2.8125, 3.25],
        [2.0, 2.5, 3.5, 4.0],
    ]
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((8, 6, 5, 16), "float32")
    layer = layers.SpatialDropout2D(0.5, seed=3)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: the identity
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    assert (y.std(axis=(1, 2)) == 0).all()  # one draw per (sample, channel)
    y = layers.SpatialDropout1D(0.5, seed=4)(x[:, :, 0], training=True).numpy()
    assert (y.std(axis=1) == 0).all() and 0 < (y == 0).mean() < 1


def test_configs_are_keras_shaped():
    assert layers.ZeroPadding2D().get_config()["padding"] == ((1, 1), (1, 1))
    assert layers.ZeroPadding1D().get_config()["padding"] == (1, 1)
    assert layers.Cropping2D().get_config()["cropping"] == ((0, 0), (0, 0))
    assert layers.Cropping1D().get_config()["cropping"] == (1, 1)
    assert "data_format" not in layers.Cropping1D().get_config()
    assert list(layers.UpSampling2D().get_config())[3:] == ["size", "data_format",
                                                           "interpolation"]  # fmt: skip
    assert layers.UpSampling1D().get_config()["size"] == 2
    config = layers.SpatialDropout2D(0.2).get_config()
    assert set(config) == {"rate", "seed", "name", "dtype", "data_format"}
    assert set(layers.SpatialDropout1D(0.2).get_config()) == {"rate", "seed", "name", "dtype"}


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"Received: padding=-1"):
        layers.ZeroPadding1D(-1)
    with pytest.raises(ValueError, match=r"Received: padding=\(1, 2, 3\)"):
        layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match=r"Received: cropping=\(\(1, 2\), 3\)"):
        layers.Cropping2D(((1, 2), 3))
    with pytest.raises(ValueError, match=r"Received: size=0"):
        layers.UpSampling2D(0)
    with pytest.raises(ValueError, match=r"Received: interpolation='cubic'"):
        layers.UpSampling2D(interpolation="cubic")
    with pytest.raises(ValueError, match=r"Received: rate=1.0"):
        layers.SpatialDropout1D(1.0)
    with pytest.raises(ValueError, match=r"Received: data_format='channels_first'"):
        layers.ZeroPadding2D(data_format="channels_first")
    with pytest.raises(ValueError, match=r"Cropping1D '\w+'.*leaves nothing.*\(2, 3, 1\)"):
        layers.Cropping1D((2, 1))(np.zeros((2, 3, 1), "float32"))
    with pytest.raises(ValueError, match=r"UpSampling2D '\w+'.*rank 4"):
        layers.UpSampling2D()(np.zeros((2, 3, 1), "float32"))
