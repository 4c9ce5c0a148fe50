"""Elementwise ops: forward vs numpy, gradients vs float64 central differences, symbolic
inference, dtype promotion and errors."""

import math

import numpy as np
import pytest

from backend import ops
from backend.tensor import SymbolicTensor, Tensor
from backend.testing import check_op

rng = np.random.default_rng(1)


def _erf(x):
    return np.vectorize(math.erf)(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# (op, numpy reference, input sampler); samplers keep away from kinks and domain edges.
def away_from_zero(shape):
    x = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return x


def positive(shape):
    return rng.uniform(0.3, 3.0, shape)


def anywhere(shape):
    return rng.standard_normal(shape)


UNARY = [
    (ops.negative, np.negative, anywhere),
    (ops.exp, np.exp, anywhere),
    (ops.log, np.log, positive),
    (ops.log1p, np.log1p, positive),
    (ops.sqrt, np.sqrt, positive),
    (ops.tanh, np.tanh, anywhere),
    (ops.sigmoid, _sigmoid, anywhere),
    (ops.relu, lambda x: np.maximum(x, 0), away_from_zero),
    (ops.abs, np.abs, away_from_zero),
    (ops.erf, _erf, anywhere),
    (ops.square, np.square, anywhere),
    (ops.relu6, lambda x: np.clip(x, 0, 6), lambda s: away_from_zero(s) * 4),
    (ops.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), away_from_zero),
    (
        ops.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1)),
        away_from_zero,
    ),
    (
        ops.gelu,
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
        anywhere,
    ),
    (lambda x: ops.gelu(x, approximate=False), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
     anywhere),
    (ops.silu, lambda x: x * _sigmoid(x), anywhere),
    (ops.softplus, lambda x: np.log1p(np.exp(x)), anywhere),
    (ops.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), away_from_zero),
    (lambda x: ops.leaky_relu(x, negative_slope=0.5), lambda x: np.where(x > 0, x, 0.5 * x),
     away_from_zero),
]  # fmt: skip


@pytest.mark.parametrize("op, reference, sampler", UNARY)
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 2)])
def test_unary(op, reference, sampler, shape):
    check_op(op, [np.asarray(sampler(shape))], reference)


def test_sign_has_zero_gradient():
    check_op(ops.sign, [away_from_zero((5,))], np.sign)


BINARY = [
    (ops.add, np.add, anywhere, anywhere),
    (ops.subtract, np.subtract, anywhere, anywhere),
    (ops.multiply, np.multiply, anywhere, anywhere),
    (ops.divide, np.divide, anywhere, away_from_zero),
    (ops.power, np.power, positive, anywhere),
    (ops.maximum, np.maximum, anywhere, anywhere),
    (ops.minimum, np.minimum, anywhere, anywhere),
]

BROADCAST_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 4), (3, 1)), ((), (2, 2)), ((4, 1), ())]


@pytest.mark.parametrize("op, reference, sample_a, sample_b", BINARY)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES)
def test_binary_broadcasting(op, reference, sample_a, sample_b, shapes):
    a, b = sample_a(shapes[0]), sample_b(shapes[1])
    check_op(op, [np.asarray(a), np.asarray(b)], reference)


def test_maximum_minimum_ties_send_gradient_to_first_argument():
    a = Tensor(np.array([1.0, 2.0]))
    b = Tensor(np.array([1.0, 3.0]))
    from backend import GradientTape

    with GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        hi = ops.sum(ops.maximum(a, b))
        lo = ops.sum(ops.minimum(a, b))
    ga, gb = tape.gradient(hi, [a, b])
    np.testing.assert_array_equal(ga.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(gb.numpy(), [0.0, 1.0])
    ga, gb = tape.gradient(lo, [a, b])
    np.testing.assert_array_equal(ga.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(gb.numpy(), [0.0, 0.0])


def test_power_gradient_for_exponent_is_zero_at_nonpositive_base():
    from backend import GradientTape

    a = Tensor(np.array([0.0, -2.0, 2.0]))
    b = Tensor(np.array([2.0, 2.0, 2.0]))
    with GradientTape() as tape:
        tape.watch(b)
        y = ops.sum(ops.power(a, b))
    gb = tape.gradient(y, b).numpy()
    assert np.all(np.isfinite(gb))
    np.testing.assert_allclose(gb, [0.0, 0.0, 4.0 * np.log(2.0)])


def test_where_and_clip():
    cond = rng.standard_normal((3, 4)) > 0
    x1, x2 = anywhere((3, 4)), anywhere((4,))
    check_op(ops.where, [cond, x1, x2], np.where)
    x = anywhere((10,)) * 3
    x[np.abs(np.abs(x) - 1.0) < 0.1] = 0.3  # keep away from the clip points
    check_op(lambda t: ops.clip(t, -1.0, 1.0), [x], lambda a: np.clip(a, -1.0, 1.0))


def test_elu_gradient_is_finite_for_large_inputs():
    from backend import GradientTape

    x = Tensor(np.array([1000.0, -1000.0], dtype=np.float32))
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.elu(x))
    g = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(g, [1.0, 0.0], atol=1e-6)


def test_sigmoid_and_softplus_do_not_overflow():
    x = np.array([-1000.0, 0.0, 1000.0], dtype=np.float32)
    np.testing.assert_allclose(ops.sigmoid(x).numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ops.softplus(x).numpy(), [0.0, np.log(2.0), 1000.0], rtol=1e-6)


COMPARISONS = [
    (ops.equal, np.equal), (ops.not_equal, np.not_equal), (ops.less, np.less),
    (ops.less_equal, np.less_equal), (ops.greater, np.greater),
    (ops.greater_equal, np.greater_equal), (ops.logical_and, np.logical_and),
    (ops.logical_or, np.logical_or),
]  # fmt: skip


@pytest.mark.parametrize("op, reference", COMPARISONS)
def test_comparisons_are_bool_without_gradient(op, reference):
    a = rng.integers(-2, 3, (3, 4)).astype(np.float64)
    b = rng.integers(-2, 3, (4,)).astype(np.float64)
    check_op(op, [a, b], reference, grad_inputs=(), expected_dtype="bool")


def test_logical_not():
    x = np.array([0.0, 1.0, -2.0])
    check_op(ops.logical_not, [x], np.logical_not, grad_inputs=(), expected_dtype="bool")


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (np.float32(1), 2.0, "float32"),
        (np.ones(2, np.float32), np.ones(2, np.float64), "float64"),
        (np.ones(2, np.int32), 2.5, "float32"),
        (np.ones(2, np.int32), 2, "int32"),
        (np.ones(2, np.int8), 2, "int8"),
        (np.ones(2, np.int32), np.ones(2, np.float16), "float16"),
        (np.ones(2, np.uint8), np.ones(2, np.int8), "int16"),
        (np.ones(2, bool), 1, "int32"),
        (3, 4, "int32"),
        (3.0, 4, "float32"),
    ],
)
def test_add_dtype_promotion(a, b, expected):
    assert ops.add(a, b).dtype == expected
    assert ops.add(b, a).dtype == expected


def test_integer_division_gives_floatx_and_float_ops_cast_ints():
    assert ops.divide(np.array([1, 2], np.int32), 2).dtype == "float32"
    np.testing.assert_allclose(ops.divide([1, 3], 2).numpy(), [0.5, 1.5])
    assert ops.exp(np.array([0, 1], np.int32)).dtype == "float32"
    assert ops.relu(np.array([-1, 2], np.int32)).dtype == "int32"
    assert ops.floor_divide(7, 2).numpy() == 3
    assert ops.mod(7, 3).numpy() == 1


def test_cast_gradient_flows_back_in_input_dtype():
    from backend import GradientTape

    x = Tensor(np.array([1.0, 2.0], np.float64))
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.cast(x, "float32") * 3.0)
    g = tape.gradient(y, x)
    assert g.dtype == "float64"
    np.testing.assert_allclose(g.numpy(), [3.0, 3.0])
    assert ops.cast(np.array([1.7, -1.2]), "int32").numpy().tolist() == [1, -1]


def test_bad_shapes_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        ops.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match="multiply"):
        ops.multiply(SymbolicTensor((None, 3)), SymbolicTensor((None, 4)))


def test_bad_dtypes_raise_type_error():
    from backend.ops.base import apply
    from backend.ops.elementwise import _WHERE

    with pytest.raises(TypeError, match="where: condition"):
        apply(_WHERE, (Tensor(np.ones(2)), Tensor(np.ones(2)), Tensor(np.ones(2))))
    with pytest.raises(TypeError, match="Cannot convert"):
        ops.add(np.array(["a", "b"]), 1)
    with pytest.raises(TypeError, match="dtype"):
        ops.cast(np.ones(2), "complex128")


def test_symbolic_unknown_batch_dim_inference():
    x = SymbolicTensor((None, 3))
    y = ops.add(x, np.ones((1, 3), np.float32))
    assert y.shape == (None, 3) and y.dtype == "float32"
    z = ops.where(ops.greater(x, 0.0), x, ops.zeros((3,)))
    assert z.shape == (None, 3)
    assert ops.gelu(x).shape == (None, 3)
