"""dtype names and promotion."""

import numpy as np
import pytest

from backend import dtypes


@pytest.mark.parametrize(
    "given, name",
    [(None, "float32"), ("float", "float32"), (np.float64, "float64"), (np.dtype("int8"), "int8"),
     (float, "float32"), (int, "int32"), (bool, "bool"), ("uint8", "uint8")],
)  # fmt: skip
def test_standardize_dtype(given, name):
    assert dtypes.standardize_dtype(given) == name


def test_standardize_dtype_rejects_unknown():
    with pytest.raises(TypeError, match="complex64"):
        dtypes.standardize_dtype("complex64")
    with pytest.raises(TypeError):
        dtypes.standardize_dtype(object())


@pytest.mark.parametrize(
    "args, expected",
    [
        (("float32", float), "float32"),
        (("int32", float), "float32"),
        (("int8", int), "int8"),
        (("bool", int), "int32"),
        (("bool", "bool"), "bool"),
        (("int32", "float16"), "float16"),
        (("int64", "float32"), "float32"),
        (("float16", "float64"), "float64"),
        (("uint8", "int8"), "int16"),
        (("int32", "int64"), "int64"),
        ((float, int), "float32"),
        ((int,), "int32"),
        ((bool,), "bool"),
    ],
)
def test_result_type(args, expected):
    assert dtypes.result_type(*args) == expected


def test_numpy_scalars_keep_their_dtype_and_stay_weak_beside_a_tensor():
    from backend import ops

    value = 0.5478467492858172
    for scalar, dtype in ((np.float64(value), "float64"), (np.float32(value), "float32"),
                          (np.int64(3), "int64"), (np.float16(1.5), "float16")):  # fmt: skip
        tensor = ops.convert_to_tensor(scalar)
        assert tensor.dtype == dtype and tensor.numpy().item() == scalar.item()
    assert ops.convert_to_tensor(value).dtype == "float32"  # a Python float: floatx
    x64 = ops.convert_to_tensor(np.ones(1))
    assert ops.minimum(x64, np.float64(value)).numpy().item() == value  # no float32 rounding
    x32 = ops.convert_to_tensor(np.ones(1, np.float32))
    assert ops.multiply(x32, np.sqrt(2.0)).dtype == "float32"  # weak beside a tensor
