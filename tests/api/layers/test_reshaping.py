"""Reshape, Permute, RepeatVector."""

import numpy as np
import pytest

from kerasish import layers
from kerasish.testing import run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, out_shape",
    [
        (layers.Reshape, {"target_shape": (3, 4)}, (2, 12), (2, 3, 4)),
        (layers.Reshape, {"target_shape": (-1, 2)}, (2, 3, 4), (2, 6, 2)),
        (layers.Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
        (layers.Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4)),
        (layers.RepeatVector, {"n": 3}, (2, 5), (2, 3, 5)),
    ],
)
def test_layer_harness(cls, kwargs, in_shape, out_shape):
    run_layer_test(cls, kwargs, in_shape, out_shape)


def test_values_match_numpy():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_array_equal(layers.Reshape((4, -1))(x).numpy(), x.reshape(2, 4, 3))
    np.testing.assert_array_equal(layers.Permute((2, 1))(x).numpy(), np.transpose(x, (0, 2, 1)))
    v = x[:, 0]
    np.testing.assert_array_equal(layers.RepeatVector(2)(v).numpy(), np.stack([v, v], axis=1))


def test_reshape_symbolic_with_minus_one_and_size_errors():
    assert layers.Reshape((-1, 3)).compute_output_shape((None, 4, 3)) == (None, 4, 3)
    with pytest.raises(ValueError, match=r"Reshape 'reshape.*\(3, 4\).*12 values.*\(5,\)"):
        layers.Reshape((5,))(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"Reshape 'reshape.*target_shape=\(5, -1\)"):
        layers.Reshape((5, -1))(np.ones((2, 12)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Reshape(5), r"Received: target_shape=5$"),
        (lambda: layers.Reshape((-1, -1)), r"Received: target_shape=\(-1, -1\)$"),
        (lambda: layers.Reshape((0, 2)), r"Received: target_shape=\(0, 2\)$"),
        (lambda: layers.Permute((1, 3)), r"Received: dims=\(1, 3\)$"),
        (lambda: layers.Permute((0, 1)), r"Received: dims=\(0, 1\)$"),
        (lambda: layers.RepeatVector(0), r"Received: n=0$"),
        (lambda: layers.RepeatVector(2.0), r"Received: n=2.0$"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_input_ranks():
    with pytest.raises(ValueError, match="rank 3"):
        layers.Permute((2, 1))(np.ones((2, 3)))
    with pytest.raises(ValueError, match="2D inputs"):
        layers.RepeatVector(2)(np.ones((2, 3, 4)))
