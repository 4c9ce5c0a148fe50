"""Batch normalization: the fused training primitive `batch_norm_train` (three outputs and
their gradients for x, gamma and beta, axis -1 and 1) and the composite
`batch_normalization`, against numpy references; errors."""

import numpy as np
import pytest

from backend import GradientTape, SymbolicTensor, Tensor, ops
from backend.testing import check_op

rng = np.random.default_rng(17)


def _bn_train_ref(x, gamma, beta, axis, epsilon):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    shape = [1] * x.ndim
    shape[axis] = -1
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)  # biased, as ops.moments and Keras' BatchNormalization
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon)
    y = y * gamma.reshape(shape) + beta.reshape(shape)
    return y.astype(x.dtype), mean.astype(x.dtype), var.astype(x.dtype)


@pytest.mark.parametrize(
    "shape,axis",
    [((6, 3), -1), ((2, 3, 2, 3), -1), ((2, 3, 2, 2), 1), ((3, 2, 4), 1), ((40, 2), 1)],
)
def test_batch_norm_train(shape, axis):
    c = shape[axis]
    x = rng.standard_normal(shape) * 2.0 + 0.5
    gamma = rng.uniform(0.5, 1.5, c)
    beta = rng.standard_normal(c)
    check_op(
        lambda a, g, b: ops.batch_norm_train(a, g, b, axis=axis, epsilon=1e-3),
        [x, gamma, beta],
        lambda a, g, b: _bn_train_ref(a, g, b, axis, 1e-3),
        grad_atol=1e-5,
    )


def test_batch_norm_train_gradient_of_y_only():
    """The usual training case: only y is used, mean/variance feed Variable updates."""
    x = rng.standard_normal((5, 2, 3))
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    check_op(
        lambda a, g, b: ops.batch_norm_train(a, g, b, epsilon=1e-2)[0],
        [x, gamma, beta],
        lambda a, g, b: _bn_train_ref(a, g, b, -1, 1e-2)[0],
    )


def test_batch_norm_train_defaults_and_large_rows():
    # No gamma/beta; many rows (several reduction chunks); float32 statistics stay accurate.
    x = (rng.standard_normal((3000, 4)) * 3 + 100).astype(np.float32)
    y, mean, var = ops.batch_norm_train(x)
    ref = _bn_train_ref(x.astype(np.float64), np.ones(4), np.zeros(4), -1, 1e-3)
    assert (y.dtype, mean.dtype, var.dtype) == ("float32",) * 3
    np.testing.assert_allclose(mean.numpy(), ref[1], rtol=1e-6)
    np.testing.assert_allclose(var.numpy(), ref[2], rtol=1e-5)
    np.testing.assert_allclose(y.numpy(), ref[0], atol=2e-5)


def test_batch_norm_train_symbolic_batch():
    x = SymbolicTensor((None, 4, 3), "float32")
    y, mean, var = ops.batch_norm_train(x, axis=-1)
    assert y.shape == (None, 4, 3) and mean.shape == (3,) and var.shape == (3,)


def test_batch_norm_train_second_order_is_a_clear_error():
    x = Tensor(rng.standard_normal((4, 2)))
    with GradientTape(persistent=True) as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.square(ops.batch_norm_train(x)[0]))
        g = ops.sum(inner.gradient(y, x))
    with pytest.raises(NotImplementedError, match="second order"):
        outer.gradient(g, x)


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("with_affine", [True, False])
def test_batch_normalization(axis, with_affine):
    shape = (2, 3, 4)
    c = shape[axis]
    x = rng.standard_normal(shape)
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    offset, scale = rng.standard_normal(c), rng.uniform(0.5, 1.5, c)
    bshape = [1, 1, 1]
    bshape[axis] = -1

    def reference(a, m, v, o=None, s=None):
        y = (a - m.reshape(bshape)) / np.sqrt(v.reshape(bshape) + 1e-3)
        if s is not None:
            y = y * s.reshape(bshape)
        return y + (o.reshape(bshape) if o is not None else 0.0)

    if with_affine:
        check_op(
            lambda a, m, v, o, s: ops.batch_normalization(a, m, v, axis, offset=o, scale=s),
            [x, mean, var, offset, scale],
            reference,
        )
    else:
        check_op(lambda a, m, v: ops.batch_normalization(a, m, v, axis), [x, mean, var], reference)


def test_batch_normalization_matches_train_output_with_batch_statistics():
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    gamma, beta = np.float32([1.0, 2.0, 0.5]), np.float32([0.0, -1.0, 3.0])
    y, mean, var = ops.batch_norm_train(x, gamma, beta)
    y2 = ops.batch_normalization(x, mean, var, -1, offset=beta, scale=gamma)
    np.testing.assert_allclose(y.numpy(), y2.numpy(), atol=1e-6)


def test_batch_norm_train_errors():
    with pytest.raises(ValueError, match="gamma"):
        ops.batch_norm_train(np.ones((2, 3), np.float32), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="axis"):
        ops.batch_norm_train(np.ones((2, 3), np.float32), axis=2)


@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_norm_train_far_mean_small_spread(axis):
    # The variance comes from one pass of sums of x - (a value of x) and its square: with a
    # mean 1e4 times the spread, sums of x and x**2 in float32 or float64 about 0 would lose
    # it; the shifted sums match numpy's float64 two-pass variance.
    x = (rng.standard_normal((64, 5, 5, 3)) * 0.01 + 100.0).astype(np.float32)
    x[0] += np.float32(0.05)  # the shift itself off the mean
    c = x.shape[axis]
    gamma, beta = np.ones(c, np.float32), np.zeros(c, np.float32)
    y, mean, var = (t.numpy() for t in ops.batch_norm_train(x, gamma, beta, axis=axis))
    y_ref, mean_ref, var_ref = _bn_train_ref(x.astype(np.float64), gamma, beta, axis, 1e-3)
    np.testing.assert_allclose(var, var_ref, rtol=1e-5)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-7)
    # y = x * inv + (beta - mean * inv) in float32 (Keras' formula) with inv ~ 100: ~1e-3.
    np.testing.assert_allclose(y, y_ref, atol=2e-3)
