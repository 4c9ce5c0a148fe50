"""Dot (the other merging layers are covered with the models)."""

import json

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers


def _pair(shape_a, shape_b, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape_a).astype("float32"),
            rng.standard_normal(shape_b).astype("float32")]  # fmt: skip


@pytest.mark.parametrize(
    "axes, shapes, subscripts",
    [
        (1, [(2, 4), (2, 4)], "bi,bi->b"),
        (-1, [(2, 3, 4), (2, 5, 4)], "bij,bkj->bik"),
        ((2, 1), [(2, 3, 4), (2, 4, 5)], "bij,bjk->bik"),
        ((1, 1), [(2, 3, 4), (2, 3, 5)], "bij,bik->bjk"),
        ((1, 2), [(2, 4), (2, 3, 4)], "bi,bki->bk"),
        ((3, 1), [(2, 3, 4, 5), (2, 5, 6)], "bijk,bkl->bijl"),
    ],
)
def test_dot_matches_einsum(axes, shapes, subscripts):
    x, y = _pair(*shapes)
    out = layers.Dot(axes=axes)([x, y]).numpy()
    expected = np.einsum(subscripts, x, y)
    if expected.ndim == 1:
        expected = expected[:, None]  # two 2D inputs give (batch, 1), as keras.layers.Dot
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_dot_normalize_is_cosine_similarity():
    x, y = _pair((3, 4), (3, 4), seed=1)
    out = layers.Dot(axes=1, normalize=True)([x, y]).numpy()[:, 0]
    cosine = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(out, cosine, rtol=1e-5)


def test_dot_in_a_model_config_round_trip_and_gradients():
    a, b = keras.Input((3, 4)), keras.Input((5, 4))
    layer = layers.Dot(axes=[2, 2], name="dot_ab")
    out = layer([a, b])
    assert tuple(out.shape) == (None, 3, 5)
    config = json.loads(json.dumps(layer.get_config()))
    restored = layers.Dot.from_config(config)
    assert restored.get_config() == layer.get_config() and restored.axes == (2, 2)
    x, y = _pair((2, 3, 4), (2, 5, 4))
    xt, yt = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    with keras.GradientTape() as tape:
        tape.watch(xt)
        loss = keras.ops.sum(restored([xt, yt]))
    grad = tape.gradient(loss, xt)
    np.testing.assert_allclose(grad.numpy(), np.broadcast_to(y.sum(1, keepdims=True), x.shape),
                               rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Dot(axes="1"), r"Received: axes='1'$"),
        (lambda: layers.Dot(axes=(1, 2, 3)), r"Received: axes=\(1, 2, 3\)$"),
    ],
)
def test_dot_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dot_bad_inputs():
    with pytest.raises(ValueError, match="incompatible sizes 3.*and 4"):
        layers.Dot(axes=1)(_pair((2, 3), (2, 4)))
    with pytest.raises(ValueError, match="non-batch axes"):
        layers.Dot(axes=0)(_pair((2, 3), (2, 3)))
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Dot(axes=1)(_pair((2, 3), (2, 3)) * 2)
