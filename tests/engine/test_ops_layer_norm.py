"""ops.layer_normalization (the fused primitive over trailing axes, Keras' composite
elsewhere and with rms_scaling) and ops.normalize: numpy references, float64 finite
differences (at extreme inputs too), compiled Plans against eager, dtypes and errors."""

import numpy as np
import pytest

from backend import GradientTape, Tensor, compiler, ops
from backend.testing import check_op

rng = np.random.default_rng(4)


def _layer_norm(x, gamma, beta, axes, epsilon=1e-3):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    return (x - mean) / np.sqrt(var + epsilon) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("axis", [-1, [1, 2], [1], [0, 2]])
def test_layer_norm_matches_numpy_with_gradients(axis):
    x = rng.standard_normal((3, 4, 5)) * 2 + 1
    axes = tuple(sorted(a % 3 for a in ([axis] if isinstance(axis, int) else axis)))
    shape = tuple(x.shape[a] for a in axes)
    gamma, beta = 1 + 0.3 * rng.standard_normal(shape), rng.standard_normal(shape)
    check_op(
        lambda a, g, b: ops.layer_normalization(a, g, b, axis=axis, epsilon=1e-3),
        [x, gamma, beta],
        lambda a, g, b: _layer_norm(a, g, b, axes),
    )


def test_extreme_inputs_have_finite_exact_gradients():
    x = np.array([[1e4, -1e4, 1e4 - 1.0, 0.5], [1e4 + 1.0, 1e4, 1e4 - 2.0, 1e4 + 0.5]])
    gamma, beta = np.array([1.0, 2.0, 0.5, -1.0]), np.array([0.0, 0.1, 0.2, 0.3])
    check_op(
        lambda a, g, b: ops.layer_normalization(a, g, b, epsilon=1e-3),
        [x, gamma, beta],
        lambda a, g, b: _layer_norm(a, g, b, (1,)),
        grad_atol=1e-4,
    )


def test_rms_scaling_and_missing_parameters():
    x = rng.standard_normal((4, 6)) + 0.5
    gamma = 1 + 0.3 * rng.standard_normal(6)

    def rms(a, g):  # Keras' deprecated rms_scaling: x scaled by the variance, not centered
        return a / np.sqrt(a.var(-1, keepdims=True) + 1e-3) * g

    check_op(lambda a, g: ops.layer_normalization(a, g, axis=-1, epsilon=1e-3,
                                                  rms_scaling=True), [x, gamma], rms)  # fmt: skip
    plain = ops.layer_normalization(x, epsilon=1e-3).numpy()
    np.testing.assert_allclose(plain, _layer_norm(x, np.ones(6), np.zeros(6), (1,)), rtol=1e-12)
    default_eps = ops.layer_normalization(x).numpy()  # config.epsilon(), 1e-7
    np.testing.assert_allclose(default_eps, _layer_norm(x, np.ones(6), np.zeros(6), (1,), 1e-7),
                               rtol=1e-12)  # fmt: skip


def test_compiled_training_step_runs_the_fused_primitives():
    x = rng.standard_normal((8, 5)).astype(np.float32)
    gamma, beta = np.ones(5, np.float32), np.zeros(5, np.float32)
    c = rng.standard_normal((8, 5)).astype(np.float32)

    def step(a, g, b):
        with GradientTape() as tape:
            for t in (a, g, b):
                tape.watch(t)
            loss = ops.sum(ops.layer_normalization(a, g, b, epsilon=1e-3) * c)
        return tape.gradient(loss, [a, g, b])

    fn = compiler.function(step)
    compiled = fn(x, gamma, beta)
    names = fn.plan_for(x, gamma, beta).describe()
    assert "layer_norm" in names and "layer_norm_grad" in names, names
    eager = step(Tensor(x), Tensor(gamma), Tensor(beta))
    for a, b in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-6)


def test_dtypes_and_second_order_error():
    half = ops.layer_normalization(np.array([[1.0, 3.0]], np.float16), epsilon=0.0)
    assert half.dtype == "float16"
    np.testing.assert_array_equal(half.numpy(), [[-1.0, 1.0]])
    x = Tensor(rng.standard_normal((2, 3)))
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.square(ops.layer_normalization(x)))
        total = ops.sum(inner.gradient(y, x))
    with pytest.raises(NotImplementedError, match="layer_norm: gradients of its gradient"):
        outer.gradient(total, x)


def test_errors_name_the_argument():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"layer_normalization: gamma must have the shape of "
                                         r"the normalized dims \(3,\)"):  # fmt: skip
        ops.layer_normalization(x, np.ones(4))
    with pytest.raises(ValueError, match=r"layer_normalization: axis 2 is out of range"):
        ops.layer_normalization(x, axis=2)
    with pytest.raises(ValueError, match=r"normalize: `order` must be an int >= 1"):
        ops.normalize(x, order=0)


@pytest.mark.parametrize("order", [2, 1, 3])
def test_normalize_matches_numpy(order):
    x = rng.standard_normal((3, 4))
    check_op(
        lambda a: ops.normalize(a, axis=-1, order=order, epsilon=1e-12),
        [x],
        lambda a: a / np.maximum(np.linalg.norm(a, ord=order, axis=-1, keepdims=True), 1e-12),
    )
    zeros = Tensor(np.zeros((1, 3), np.float32))
    with GradientTape() as tape:
        tape.watch(zeros)
        out = ops.normalize(zeros, order=order)
        total = ops.sum(out)
    np.testing.assert_array_equal(out.numpy(), np.zeros((1, 3)))
    if order == 2:  # an all-zero slice: 0s and a finite gradient
        assert np.isfinite(tape.gradient(total, zeros).numpy()).all()
