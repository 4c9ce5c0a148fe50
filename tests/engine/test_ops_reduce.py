"""Reductions and scans: forward vs numpy, gradients vs float64 central differences,
symbolic inference, ties, zeros in prod, dtypes, errors and double backward."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, gradients, graph, ops
from backend.testing import check_op

rng = np.random.default_rng(7)

# (axis, keepdims) over a (2, 3, 4) input.
AXES = [(None, False), (None, True), (1, False), (-1, True), ((0, 2), False), ((0, -1), True)]


def _np_axis(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


def _x(shape=(2, 3, 4)):
    return rng.standard_normal(shape)


def _logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCTIONS = {
    "sum": (ops.sum, np.sum),
    "mean": (ops.mean, np.mean),
    "max": (ops.max, np.max),
    "min": (ops.min, np.min),
    "var": (ops.var, np.var),
    "std": (ops.std, np.std),
    "logsumexp": (ops.logsumexp, _logsumexp),
}


@pytest.mark.parametrize("axis,keepdims", AXES)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_against_numpy(name, axis, keepdims):
    op, reference = REDUCTIONS[name]
    check_op(
        lambda x: op(x, axis=axis, keepdims=keepdims),
        [_x()],
        lambda x: reference(x, axis=_np_axis(axis), keepdims=keepdims),
    )


@pytest.mark.parametrize("axis,keepdims", AXES)
def test_prod_against_numpy(axis, keepdims):
    x = rng.uniform(0.5, 1.5, (2, 3, 4)) * rng.choice([-1.0, 1.0], (2, 3, 4))
    check_op(
        lambda x: ops.prod(x, axis=axis, keepdims=keepdims),
        [x],
        lambda x: np.prod(x, axis=_np_axis(axis), keepdims=keepdims),
    )


def test_prod_gradient_with_one_zero_is_exact():
    x = np.array([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]])
    check_op(lambda x: ops.prod(x, axis=1), [x], lambda x: np.prod(x, axis=1))
    t = Tensor(x)
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.prod(t, axis=1)
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), [[0, 6, 0], [-1, 0.75, -3]])


def test_prod_gradient_with_two_zeros_is_zero():
    t = Tensor(np.array([0.0, 2.0, 0.0, 3.0]))
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.prod(t)
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), [0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("op", [ops.max, ops.min])
def test_extremum_ties_split_the_gradient_equally(op):
    sign = 1.0 if op is ops.max else -1.0
    x = sign * np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    t = Tensor(x)
    with GradientTape() as tape:
        tape.watch(t)
        y = op(t, axis=1)
    expected = [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), expected)
    # Two-way ties: central differences also give the equal split.
    two_way = sign * np.array([[1.0, 3.0, 3.0], [4.0, 2.0, 4.0]])
    check_op(lambda x: op(x, axis=-1), [two_way], lambda x: (np.max if sign > 0 else np.min)(x, -1))


def test_max_with_initial():
    x = np.array([[1.0, 5.0], [-2.0, -3.0]])
    check_op(
        lambda x: ops.max(x, axis=1, initial=0.0),
        [x],
        lambda x: np.max(x, axis=1, initial=0.0),
    )
    check_op(
        lambda x: ops.min(x, axis=0, keepdims=True, initial=-2.5),
        [x],
        lambda x: np.min(x, axis=0, keepdims=True, initial=-2.5),
    )
    assert float(ops.max(np.zeros((0, 3)), initial=-1.0)) == -1.0


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (-1, True)])
@pytest.mark.parametrize("op,reference", [(ops.argmax, np.argmax), (ops.argmin, np.argmin)])
def test_arg_extrema(op, reference, axis, keepdims):
    check_op(
        lambda x: op(x, axis=axis, keepdims=keepdims),
        [_x()],
        lambda x: reference(x, axis=axis, keepdims=keepdims).astype(np.int32),
        grad_inputs=(),
        expected_dtype="int32",
    )


def test_argmax_of_ints_and_first_of_ties():
    x = np.array([[1, 7, 7], [9, 0, 9]], dtype=np.int64)
    out = ops.argmax(x, axis=1)
    assert out.dtype == "int32" and out.numpy().tolist() == [1, 0]
    assert ops.argmin(x).numpy().item() == 4


def test_argmax_has_no_gradient():
    t = Tensor(_x((3,)))
    with GradientTape() as tape:
        tape.watch(t)
        y = ops.cast(ops.argmax(t), "float64") * ops.sum(t)
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), np.full(3, float(np.argmax(t))))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum(axis):
    check_op(lambda x: ops.cumsum(x, axis=axis), [_x((3, 4))], lambda x: np.cumsum(x, axis=axis))


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_cumprod(axis):
    x = rng.uniform(0.5, 1.5, (3, 4))
    check_op(lambda x: ops.cumprod(x, axis=axis), [x], lambda x: np.cumprod(x, axis=axis))


def test_scans_with_dtype_argument_and_ints():
    x = np.array([[1, 2], [3, 4]], dtype=np.int32)
    check_op(
        lambda x: ops.cumsum(x, axis=0), [x], lambda x: np.cumsum(x, 0), expected_dtype="int32"
    )
    out = ops.cumsum(x, dtype="float32")
    assert out.dtype == "float32" and out.numpy().tolist() == [1.0, 3.0, 6.0, 10.0]
    assert ops.cumsum(np.array([True, True])).dtype == "int32"
    assert ops.cumprod(x, axis=1).numpy().tolist() == [[1, 2], [3, 12]]


INT_DTYPES = [
    (ops.sum, "int32", "int32"),
    (ops.sum, "int8", "int32"),
    (ops.sum, "bool", "int32"),
    (ops.sum, "uint8", "uint32"),
    (ops.prod, "int32", "int32"),
    (ops.max, "int32", "int32"),
    (ops.min, "int64", "int64"),
    (ops.mean, "int32", "float32"),
    (ops.var, "int32", "float32"),
    (ops.std, "int32", "float32"),
    (ops.logsumexp, "int32", "float32"),
]


@pytest.mark.parametrize("op,in_dtype,out_dtype", INT_DTYPES)
def test_integer_and_bool_dtypes(op, in_dtype, out_dtype):
    x = np.array([[1, 0, 2], [3, 1, 1]]).astype(in_dtype)
    numpy_op = {ops.sum: np.sum, ops.prod: np.prod, ops.max: np.max, ops.min: np.min}.get(op)

    def reference(x):
        if numpy_op is not None:
            return numpy_op(x, axis=1).astype(out_dtype)
        x = x.astype(np.float64)
        if op is ops.logsumexp:
            return _logsumexp(x, 1, False)
        return {ops.mean: np.mean, ops.var: np.var, ops.std: np.std}[op](x, axis=1)

    check_op(
        lambda x: op(x, axis=1),
        [x],
        reference,
        grad_inputs=(),
        expected_dtype=out_dtype,
        atol=1e-6,
        rtol=1e-6,
    )


def test_float16_statistics_keep_float16():
    x = np.array([1000.0, 1001.0, 1002.0], dtype=np.float16)
    assert ops.mean(x).dtype == "float16"
    assert ops.var(x).dtype == "float16"
    np.testing.assert_allclose(float(ops.var(x)), 2 / 3, rtol=1e-3)


@pytest.mark.parametrize("op", [ops.sum, ops.mean, ops.max, ops.prod, ops.var, ops.logsumexp])
def test_out_of_range_axis_names_the_op(op):
    name = op.__name__
    with pytest.raises(ValueError, match=name):
        op(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match=name):
        op(np.ones((2, 3)), axis=(0, -3))


@pytest.mark.parametrize("op", [ops.max, ops.min, ops.argmax, ops.argmin])
def test_empty_reductions_raise(op):
    with pytest.raises(ValueError, match=f"{op.__name__}: cannot reduce over an empty axis"):
        op(np.ones((2, 0)), axis=1)
    with pytest.raises(ValueError, match=op.__name__):
        op(np.ones((0,)))
    with pytest.raises(ValueError, match=op.__name__):
        op(SymbolicTensor((None, 0)), axis=-1)


def test_bad_axis_arguments():
    with pytest.raises(ValueError, match="argmax"):
        ops.argmax(np.ones((2, 3)), axis=(0, 1))
    with pytest.raises(ValueError, match="cumsum"):
        ops.cumsum(np.ones((2, 3)), axis=(0,))
    with pytest.raises(ValueError, match="cumsum"):
        ops.cumsum(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="cumprod"):
        ops.cumprod(np.float64(1.0), axis=0)


def test_symbolic_reductions_with_unknown_dims():
    # Two unknown kept dims: the gradient must not need a reshape, and the mean's count is
    # known only at run time.
    x = SymbolicTensor((None, None, 3), "float64")
    for op in (ops.mean, ops.max, ops.var, ops.logsumexp):
        y = op(x, axis=0)
        assert y.shape == (None, 3)
        (g,) = gradients([ops.sum(y * y)], [x])
        assert g.shape == (None, None, 3)
        value = rng.standard_normal((4, 2, 3))
        got_y, got_g = graph.evaluate([y, g], {x: value})
        t = Tensor(value)
        with GradientTape() as tape:
            tape.watch(t)
            eager = op(t, axis=0)
            loss = ops.sum(eager * eager)
        np.testing.assert_allclose(got_y, eager.numpy())
        np.testing.assert_allclose(got_g, tape.gradient(loss, t).numpy())


def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1e9]])
    np.testing.assert_allclose(ops.logsumexp(x, axis=1).numpy(), [1000 + np.log(2), -1000])
    with np.errstate(divide="ignore"):
        assert float(ops.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    check_op(lambda x: ops.logsumexp(x, axis=-1), [x * 0.5], lambda x: _logsumexp(x, -1, False))


def _second_order(f, x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """d/dx of sum(c * df/dx), with nested tapes."""
    t = Tensor(x)
    with GradientTape() as outer:
        outer.watch(t)
        with GradientTape() as inner:
            inner.watch(t)
            y = f(t)
        g = inner.gradient(y, t)
        z = ops.sum(g * Tensor(c))
    return outer.gradient(z, t).numpy()


def test_double_backward_through_sum_of_cubes():
    x = _x((2, 3))
    got = _second_order(lambda t: ops.sum(t**3.0, axis=1), x, np.ones_like(x))
    np.testing.assert_allclose(got, 6 * x)


def test_double_backward_through_logsumexp():
    x, c = _x((2, 4)), _x((2, 4))
    got = _second_order(lambda t: ops.logsumexp(t, axis=-1), x, c)
    s = np.exp(x - _logsumexp(x, -1, True))
    expected = s * c - s * np.sum(s * c, axis=-1, keepdims=True)  # Hessian-vector product
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("op", [ops.prod, ops.var, ops.std, ops.logsumexp, ops.cumprod])
def test_gradients_are_differentiable(op):
    # check_op on the first gradient checks the second derivative against differences.
    x = rng.uniform(0.5, 1.5, (2, 3))

    def grad(t):
        with GradientTape() as tape:
            tape.watch(t)
            y = op(t, axis=-1)
        return tape.gradient(y, t)

    def reference(x):
        eps, out = 1e-6, np.zeros_like(x)
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += eps
            down[i] -= eps
            out[i] = np.sum(np.asarray(op(up, axis=-1)) - np.asarray(op(down, axis=-1)))
        return out / (2 * eps)

    check_op(grad, [x], reference, atol=1e-6, rtol=1e-5, symbolic=False, float32=False)


@pytest.mark.parametrize("op, reference", [(ops.any, np.any), (ops.all, np.all)])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (-1, False), ((0, 2), True)])
def test_any_and_all_are_numpys(op, reference, axis, keepdims):
    x = rng.integers(0, 3, (3, 4, 2)).astype(np.float32)  # zeros, and rows without any
    x[0, 1] = 0.0
    x[2, 3] = np.nan  # nonzero, as in numpy
    check_op(
        lambda t: op(t, axis=axis, keepdims=keepdims),
        [x],
        lambda x: reference(x, axis=axis, keepdims=keepdims),
        grad_inputs=(),  # bool results carry no gradient
        expected_dtype="bool",
    )
    empty = np.zeros((2, 0))
    np.testing.assert_array_equal(op(empty, axis=-1).numpy(), reference(empty, axis=-1))
