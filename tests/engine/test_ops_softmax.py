"""The fused softmax primitive and its gradient primitive: float64 finite differences (at
extreme inputs too), gradients of gradients, compiled Plans (one call each, writing into
their buffers) against eager, dtypes and errors. test_ops_nn.py checks softmax over every
axis layout through the op harness."""

import numpy as np
import pytest

from backend import GradientTape, Tensor, compiler, ops
from backend.testing import check_op, numeric_gradient

rng = np.random.default_rng(3)


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 1])
def test_extreme_inputs_have_exact_values_and_gradients(axis):
    # +-1e4 with neighbours 1 apart: saturated entries and live ones in the same rows.
    x = np.array([[1e4, 1e4 - 1.0, -1e4, 0.0], [-1e4, -1e4 + 0.5, -1e4, -1e4 + 2.0]])
    x = x if axis == -1 else x.T.copy()
    check_op(lambda t: ops.softmax(t, axis=axis), [x], lambda a: _softmax(a, axis=axis))
    out = ops.softmax(x.astype(np.float32), axis=axis).numpy()
    assert np.isfinite(out).all()


def test_gradient_of_the_gradient_matches_finite_differences():
    x = rng.standard_normal((3, 5))
    w = rng.standard_normal((3, 5))

    def grad_of_loss(t):
        with GradientTape() as tape:
            tape.watch(t)
            loss = ops.sum(ops.square(ops.softmax(t)) * w)
        return tape.gradient(loss, t)

    def reference(a):
        return numeric_gradient(lambda arrays: np.sum(_softmax(arrays[0]) ** 2 * w), [a], 0)

    # The harness differentiates `grad_of_loss` again: softmax_grad's own vjp.
    check_op(grad_of_loss, [x], reference, atol=1e-7, rtol=1e-6, grad_atol=1e-4,
             symbolic=False)  # fmt: skip


def test_compiled_plan_runs_one_call_each_way():
    x = rng.standard_normal((4, 6)).astype(np.float32)
    c = rng.standard_normal((4, 6)).astype(np.float32)

    def step(a):
        with GradientTape() as tape:
            tape.watch(a)
            y = ops.softmax(a)
            loss = ops.sum(y * c)
        return y, tape.gradient(loss, a)

    fn = compiler.function(step)
    y, dx = fn(x)
    names = fn.plan_for(x).describe()
    assert names.count("softmax") == 1 and names.count("softmax_grad") == 1, names
    expected = _softmax(x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=2e-6)
    np.testing.assert_allclose(dx, expected * (c - np.sum(c * expected, -1, keepdims=True)),
                               rtol=1e-5, atol=1e-7)  # fmt: skip


def test_compiled_softmax_of_a_transposed_view_over_a_middle_axis():
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)

    def f(a):
        return ops.softmax(ops.transpose(a, (0, 2, 1)), axis=1)

    compiled = compiler.function(f)(x)
    np.testing.assert_allclose(compiled, _softmax(x.transpose(0, 2, 1), axis=1), rtol=2e-6)
    np.testing.assert_array_equal(compiled, f(Tensor(x)).numpy())


def test_dtypes():
    assert ops.softmax(np.array([1, 2], np.int32)).dtype == "float32"
    half = ops.softmax(np.array([[0.0, 1.0]], np.float16))
    assert half.dtype == "float16"
    np.testing.assert_allclose(half.numpy(), _softmax(np.array([[0.0, 1.0]])), rtol=1e-3)
    np.testing.assert_allclose(ops.softmax(np.zeros((2, 0))).numpy(), np.zeros((2, 0)))


def test_errors_name_the_op():
    with pytest.raises(ValueError, match=r"softmax: axis 2 is out of range"):
        ops.softmax(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"softmax: x must have rank >= 1"):
        ops.softmax(np.float32(1.0))
    from backend.ops.base import apply
    from backend.ops.softmax import _SOFTMAX_GRAD

    with pytest.raises(ValueError, match=r"softmax_grad: the gradient must match the output"):
        apply(_SOFTMAX_GRAD, (Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))), {"axis": 1})
