"""Pooling layers: the layer harness, numpy references, configs and bad arguments."""

import numpy as np
import pytest

from kerasish import layers
from kerasish.testing import run_layer_test


def _same_pads(n, k, s):
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pool2d_ref(x, pool, strides, padding, mode):
    """Windows over real cells only: 'same' pads with cells that neither win a max nor
    count in a mean (as Keras)."""
    n, h, w, c = x.shape
    if padding == "same":
        (t, _), (lf, _) = _same_pads(h, pool[0], strides[0]), _same_pads(w, pool[1], strides[1])
        oh, ow = -(-h // strides[0]), -(-w // strides[1])
    else:
        t = lf = 0
        oh, ow = (h - pool[0]) // strides[0] + 1, (w - pool[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - t, j * strides[1] - lf
            win = x[:, max(r0, 0) : r0 + pool[0], max(c0, 0) : c0 + pool[1]]
            out[:, i, j] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, out_shape",
    [
        (layers.MaxPooling2D, {}, (2, 5, 4, 3), (2, 2, 2, 3)),
        (layers.MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 5, 4, 3),
         (2, 3, 2, 3)),
        (layers.AveragePooling2D, {"pool_size": 2}, (2, 5, 4, 3), (2, 2, 2, 3)),
        (layers.AveragePooling2D, {"pool_size": (3, 2), "strides": 1, "padding": "same"},
         (2, 5, 4, 3), (2, 5, 4, 3)),
        (layers.MaxPooling1D, {}, (2, 7, 3), (2, 3, 3)),
        (layers.MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 3),
         (2, 4, 3)),
        (layers.AveragePooling1D, {"pool_size": 2, "strides": 1}, (2, 7, 3), (2, 6, 3)),
        (layers.GlobalAveragePooling1D, {}, (2, 7, 3), (2, 3)),
        (layers.GlobalAveragePooling1D, {"keepdims": True}, (2, 7, 3), (2, 1, 3)),
        (layers.GlobalMaxPooling1D, {}, (2, 7, 3), (2, 3)),
        (layers.GlobalAveragePooling2D, {}, (2, 5, 4, 3), (2, 3)),
        (layers.GlobalMaxPooling2D, {"keepdims": True}, (2, 5, 4, 3), (2, 1, 1, 3)),
    ],
)  # fmt: skip
def test_layer_harness(cls, kwargs, in_shape, out_shape):
    run_layer_test(cls, kwargs, in_shape, out_shape)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize(
    "pool, strides, padding",
    [((2, 2), (2, 2), "valid"), ((3, 2), (1, 2), "valid"), ((3, 3), (2, 2), "same"),
     ((2, 3), (1, 1), "same"), ((3, 3), (3, 2), "same")],
)  # fmt: skip
def test_pool2d_matches_numpy(mode, pool, strides, padding):
    cls = layers.MaxPooling2D if mode == "max" else layers.AveragePooling2D
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 3)).astype("float32")
    y = cls(pool, strides=strides, padding=padding)(x).numpy()
    np.testing.assert_allclose(y, pool2d_ref(x, pool, strides, padding, mode), rtol=1e-5)


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pool1d_matches_numpy(mode):
    cls = layers.MaxPooling1D if mode == "max" else layers.AveragePooling1D
    x = np.random.default_rng(2).standard_normal((2, 9, 3)).astype("float32")
    y = cls(3, strides=2, padding="same")(x).numpy()
    ref = pool2d_ref(x[:, None], (1, 3), (1, 2), "same", mode)[:, 0]
    np.testing.assert_allclose(y, ref, rtol=1e-5)


def test_average_pooling_same_divides_by_real_cells():
    x = np.ones((1, 3, 3, 1), "float32")
    y = layers.AveragePooling2D(2, strides=1, padding="same")(x).numpy()
    np.testing.assert_allclose(y, np.ones((1, 3, 3, 1)))


def test_global_pooling_matches_numpy():
    x = np.random.default_rng(3).standard_normal((2, 5, 4, 3)).astype("float32")
    np.testing.assert_allclose(layers.GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)),
                               rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(layers.GlobalMaxPooling2D()(x).numpy(), x.max(axis=(1, 2)))
    # A masked mean over the unmasked steps, as Keras.
    seq = x[:, :, 0]
    mask = np.array([[True, True, False, False, False], [True, True, True, True, False]])
    y = layers.GlobalAveragePooling1D()(seq, mask=mask).numpy()
    ref = np.stack([seq[0, :2].mean(0), seq[1, :4].mean(0)])
    np.testing.assert_allclose(y, ref, rtol=1e-5)


def test_configs_and_defaults():
    config = layers.MaxPooling2D().get_config()
    assert config == {
        "name": config["name"],
        "trainable": True,
        "dtype": "float32",
        "pool_size": (2, 2),
        "padding": "valid",
        "strides": (2, 2),
        "data_format": "channels_last",
    }
    config = layers.AveragePooling1D(3).get_config()
    assert list(config)[3:] == ["pool_size", "padding", "strides", "data_format"]
    assert config["pool_size"] == (3,) and config["strides"] == (3,)
    assert layers.MaxPooling1D().pool_size == (2,)
    config = layers.GlobalMaxPooling2D().get_config()
    assert list(config)[3:] == ["data_format", "keepdims"] and config["keepdims"] is False


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Received: pool_size=0"):
        layers.MaxPooling2D(0)
    with pytest.raises(ValueError, match=r"Received: strides=\(1, -1\)"):
        layers.AveragePooling2D(2, strides=(1, -1))
    with pytest.raises(ValueError, match=r"Received: padding='causal'"):
        layers.MaxPooling1D(padding="causal")
    with pytest.raises(ValueError, match=r"Received: data_format='channels_first'"):
        layers.GlobalAveragePooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match=r"MaxPooling2D '\w+'.*rank 4.*\(2, 5, 3\)"):
        layers.MaxPooling2D()(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"pool_size=\(3, 3\) is larger"):
        layers.MaxPooling2D(3)(np.zeros((1, 2, 5, 1), "float32"))
