"""Softmax, log-softmax, log-sum-exp, sigmoid, log-sigmoid, softplus and the crossentropies
from logits at extreme inputs (+-1e4): finite values and gradients equal to the float64
reference, eagerly and in a compiled Plan."""

import numpy as np
import pytest

from backend import GradientTape, compiler, ops

X = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], np.float32)
ONE_HOT = np.eye(3, dtype=np.float32)[[1, 0, 2]]
LABELS = np.array([1, 0, 2])


def _log_softmax(z):
    z = z.astype(np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _softplus(z):
    z = z.astype(np.float64)
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


CASES = {
    "softmax": (lambda z: ops.softmax(z), lambda z: np.exp(_log_softmax(z))),
    "log_softmax": (lambda z: ops.log_softmax(z), _log_softmax),
    "logsumexp": (
        lambda z: ops.logsumexp(z, axis=-1),
        lambda z: (z.astype(np.float64) - _log_softmax(z))[:, 0],
    ),
    "sigmoid": (lambda z: ops.sigmoid(z), lambda z: np.exp(-_softplus(-z))),
    "log_sigmoid": (lambda z: ops.log_sigmoid(z), lambda z: -_softplus(-z)),
    "softplus": (lambda z: ops.softplus(z), _softplus),
    "sparse_crossentropy": (
        lambda z: ops.sparse_categorical_crossentropy(LABELS, z, from_logits=True),
        lambda z: -_log_softmax(z)[np.arange(3), LABELS],
    ),
    "categorical_crossentropy": (
        lambda z: ops.categorical_crossentropy(ONE_HOT, z, from_logits=True),
        lambda z: -(ONE_HOT * _log_softmax(z)).sum(-1),
    ),
    "binary_crossentropy": (
        lambda z: ops.binary_crossentropy(ONE_HOT, z, from_logits=True),
        lambda z: ONE_HOT * _softplus(-z) + (1 - ONE_HOT) * _softplus(z),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_finite_and_right_at_extreme_inputs(name):
    fn, reference = CASES[name]
    expected = reference(X)
    t = ops.convert_to_tensor(X)
    with GradientTape() as tape:
        tape.watch(t)
        y = fn(t)
        total = ops.sum(y)
    grad = tape.gradient(total, t).numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(compiler.function(fn)(X), expected, rtol=1e-6, atol=1e-6)
    assert np.isfinite(grad).all()
    # The gradient against the float64 one, by central differences on the exact reference
    # (inputs this large are steps away from anything a float32 difference could resolve).
    eps = 1e-3
    numeric = np.zeros_like(grad, dtype=np.float64)
    base = X.astype(np.float64)
    for idx in np.ndindex(X.shape):
        up, down = base.copy(), base.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (reference(up).sum() - reference(down).sum()) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-5)
