"""The functional merge helpers (`layers.add`, `concatenate`, `dot`, ...): each makes its
layer with the given arguments and calls it, eagerly and on Inputs."""

import doctest

import numpy as np
import pytest

import kerasish as keras
from kerasish import layers
from kerasish.layers import merging

rng = np.random.default_rng(9)
A = rng.standard_normal((2, 3)).astype(np.float32)
B = rng.standard_normal((2, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "function, cls, expected",
    [
        (layers.add, layers.Add, A + B),
        (layers.subtract, layers.Subtract, A - B),
        (layers.multiply, layers.Multiply, A * B),
        (layers.average, layers.Average, (A + B) / 2),
        (layers.maximum, layers.Maximum, np.maximum(A, B)),
        (layers.minimum, layers.Minimum, np.minimum(A, B)),
        (layers.concatenate, layers.Concatenate, np.concatenate([A, B], -1)),
    ],
)
def test_each_helper_makes_its_layer_and_calls_it(function, cls, expected):
    np.testing.assert_allclose(function([A, B]).numpy(), expected, rtol=1e-6)
    a, b = keras.Input((3,)), keras.Input((3,))
    out = function([a, b], name="merged")
    layer = out._history[0]
    assert type(layer) is cls and layer.name == "merged"
    model = keras.Model([a, b], out)
    np.testing.assert_allclose(model([A, B]).numpy(), expected, rtol=1e-6)


def test_concatenate_and_dot_take_their_arguments():
    out = layers.concatenate([A[:, None], B[:, None]], axis=1)
    np.testing.assert_array_equal(out.numpy(), np.stack([A, B], 1))
    a, b = keras.Input((3,)), keras.Input((3,))
    layer = layers.dot([a, b], axes=1, normalize=True)._history[0]
    assert (layer.axes, layer.normalize) == (1, True)
    cosine = (A * B).sum(1) / np.linalg.norm(A, axis=1) / np.linalg.norm(B, axis=1)
    np.testing.assert_allclose(layers.dot([A, B], 1, normalize=True).numpy()[:, 0], cosine,
                               rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(layers.dot([A, B], axes=-1).numpy()[:, 0], (A * B).sum(1),
                               rtol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="at least 2 inputs"):
        layers.add([A])


def test_doc_examples():
    result = doctest.testmod(merging, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
