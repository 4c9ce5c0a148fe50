"""Creation and conversion ops."""

import numpy as np
import pytest

from backend import SymbolicTensor, Tensor, Variable, config, ops


def test_convert_to_tensor_dtypes():
    assert ops.convert_to_tensor(1.5).dtype == "float32"
    assert ops.convert_to_tensor([1, 2]).dtype == "int32"
    assert ops.convert_to_tensor(np.ones(2)).dtype == "float64"
    assert ops.convert_to_tensor(np.ones(2), dtype="float16").dtype == "float16"
    assert ops.convert_to_tensor([True, False]).dtype == "bool"
    t = ops.convert_to_tensor([1.0])
    assert ops.convert_to_tensor(t) is t
    with pytest.raises(TypeError, match="Cannot convert"):
        ops.convert_to_tensor({"a": 1})


def test_convert_to_numpy_returns_a_copy():
    v = Variable(np.ones(3))
    arr = ops.convert_to_numpy(v)
    arr[0] = 5.0
    assert v.numpy()[0] == 1.0
    np.testing.assert_array_equal(ops.convert_to_numpy([1, 2]), [1, 2])


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: ops.zeros((2, 3)), np.zeros((2, 3), np.float32)),
        (lambda: ops.ones(4, dtype="int32"), np.ones(4, np.int32)),
        (lambda: ops.full((2,), 7), np.full(2, 7, np.int32)),
        (lambda: ops.full((2, 2), 0.5), np.full((2, 2), 0.5, np.float32)),
        (lambda: ops.full((2,), 3, dtype="float64"), np.full(2, 3.0)),
        (lambda: ops.arange(5), np.arange(5, dtype=np.int32)),
        (lambda: ops.arange(1, 2, 0.25), np.arange(1, 2, 0.25, dtype=np.float32)),
        (lambda: ops.arange(10, 0, -3), np.arange(10, 0, -3, dtype=np.int32)),
        (lambda: ops.eye(3), np.eye(3, dtype=np.float32)),
        (lambda: ops.eye(2, 3, k=1), np.eye(2, 3, 1, dtype=np.float32)),
        (lambda: ops.zeros_like(np.ones((2, 2), np.int32)), np.zeros((2, 2), np.int32)),
        (lambda: ops.ones_like(np.ones(3), dtype="float32"), np.ones(3, np.float32)),
        (lambda: ops.full_like(np.ones(2, np.float32), 4.0), np.full(2, 4.0, np.float32)),
    ],
)
def test_creation_values_and_dtypes(make, expected):
    out = make()
    assert isinstance(out, Tensor)
    assert out.dtype == expected.dtype.name
    np.testing.assert_array_equal(out.numpy(), expected)


def test_floatx_setting_changes_defaults():
    try:
        config.set_floatx("float64")
        assert ops.zeros(2).dtype == "float64"
        assert ops.convert_to_tensor(1.0).dtype == "float64"
    finally:
        config.set_floatx("float32")
    with pytest.raises(ValueError, match="floatx"):
        config.set_floatx("int8")


def test_like_ops_on_symbolic_tensors_keep_unknown_dims():
    x = SymbolicTensor((None, 3), "float32")
    z = ops.zeros_like(x)
    assert isinstance(z, SymbolicTensor) and z.shape == (None, 3)
    from backend import graph

    np.testing.assert_array_equal(graph.evaluate([z], {x: np.ones((2, 3))})[0], np.zeros((2, 3)))


def test_shape_and_cast():
    assert ops.shape(np.ones((2, 3))) == (2, 3)
    assert ops.shape(SymbolicTensor((None, 3))) == (None, 3)
    assert ops.cast([1.9, -0.5], "int32").numpy().tolist() == [1, 0]


def test_bad_creation_arguments():
    with pytest.raises(ValueError, match="zeros"):
        ops.zeros((2, -1))
    with pytest.raises(ValueError, match="zeros"):
        ops.zeros("abc")
    with pytest.raises(ValueError, match="arange"):
        ops.arange(0, 5, 0)
    with pytest.raises(ValueError, match="eye"):
        ops.eye(-1)
    with pytest.raises(TypeError, match="dtype"):
        ops.ones(2, dtype="string")
