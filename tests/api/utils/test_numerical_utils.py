"""to_categorical and normalize."""

import doctest

import numpy as np
import pytest

import kerasish as keras
from kerasish.utils import normalize, numerical_utils, to_categorical


def test_to_categorical_basic():
    out = to_categorical([0, 2, 1, 2])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[[0, 2, 1, 2]])
    assert to_categorical([1], num_classes=5).tolist() == [[0, 1, 0, 0, 0]]


def test_to_categorical_shapes():
    assert to_categorical(np.array([[0], [3]])).shape == (2, 4)  # trailing 1 dropped
    assert to_categorical(np.zeros((2, 3), int), 4).shape == (2, 3, 4)
    assert to_categorical(np.zeros((2, 3, 1), int), 4).shape == (2, 3, 4)
    assert to_categorical(np.array([1]), 2).shape == (1, 2)  # a 1-D (1,) is not squeezed
    assert to_categorical(2, 3).tolist() == [0, 0, 1]  # a scalar
    assert to_categorical(np.array([], int), 3).shape == (0, 3)


def test_to_categorical_accepts_integer_valued_floats_unsigned_and_tensors():
    np.testing.assert_array_equal(to_categorical([1.0, 0.0]), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical(np.array([1, 0], np.uint8)), [[0, 1], [1, 0]])
    tensor = keras.ops.convert_to_tensor(np.array([2, 0], np.int32))
    np.testing.assert_array_equal(to_categorical(tensor), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize(
    "x, num_classes, message",
    [
        ([0, -1, 2, -3], None, r"Received negative labels: \[-3, -1\]$"),
        ([0, 3, 5, 1], 3, r"< num_classes=3. Received labels out of range: \[3, 5\]$"),
        ([0.5, 1.0, np.nan], None, r"Received non-integer values: \[0.5, nan\]$"),
        (["a", "b"], None, r"Received: x.dtype=<U1$"),
        ([0, 1], 0, r"Received: num_classes=0$"),
        ([0, 1], 2.0, r"Received: num_classes=2.0$"),
        ([], None, r"Received: num_classes=None$"),
    ],
)
def test_to_categorical_errors(x, num_classes, message):
    with pytest.raises(ValueError, match=message):
        to_categorical(x, num_classes)


def test_to_categorical_lists_at_most_ten_bad_labels():
    with pytest.raises(ValueError, match=r"\[10, 11, .*, 19, \.\.\.\]$"):
        to_categorical(np.arange(30), num_classes=10)


def test_normalize_l2_l1_inf_and_zero_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 1.0]], np.float32)
    out = normalize(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, [[0.6, 0.8], [0, 0], [-(0.5**0.5), 0.5**0.5]], rtol=1e-6)
    np.testing.assert_allclose(normalize(x, order=1), [[3 / 7, 4 / 7], [0, 0], [-0.5, 0.5]])
    np.testing.assert_allclose(normalize(x, order=np.inf), [[0.75, 1.0], [0, 0], [-1, 1]])


def test_normalize_axis_dtype_and_inputs():
    x = np.array([[3.0, 1.0], [4.0, 0.0]])
    out = normalize(x, axis=0)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[0.6, 1.0], [0.8, 0.0]])
    ints = normalize([[0, 2]])  # array-like and ints: float32
    assert ints.dtype == np.float32 and ints.tolist() == [[0.0, 1.0]]
    x3 = np.random.default_rng(0).normal(size=(2, 3, 4))
    np.testing.assert_allclose(np.linalg.norm(normalize(x3, axis=1), axis=1), np.ones((2, 4)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"order": 0}, "Received: order=0$"),
        ({"order": 0.5}, "Received: order=0.5$"),
        ({"order": "l2"}, "Received: order='l2'$"),
        ({"axis": 2}, "Received: axis=2$"),
        ({"axis": None}, "Received: axis=None$"),
    ],
)
def test_normalize_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        normalize(np.ones((2, 2)), **kwargs)
    with pytest.raises(ValueError, match="Received: x.dtype=<U1"):
        normalize(["a"])


def test_utils_namespace_and_docstrings():
    assert keras.utils.to_categorical is to_categorical and keras.utils.normalize is normalize
    assert callable(keras.utils.set_random_seed)
    result = doctest.testmod(numerical_utils, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
