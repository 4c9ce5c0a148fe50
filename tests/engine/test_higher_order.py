"""Gradients of gradients through matmul, conv, activations and reductions, eager and
compiled, against float64 central differences: what a WGAN-GP gradient penalty needs."""

import numpy as np
import pytest

from backend import GradientTape, Tensor, compiler, ops
from backend.testing import numeric_gradient

RNG = np.random.default_rng(0)


def _dense(x, w, b):
    return ops.tanh(ops.add(ops.matmul(x, w), b))


def _dense_max(x, w, b):
    return ops.max(ops.sigmoid(ops.add(ops.matmul(x, w), b)), axis=1, keepdims=True)


def _conv_same(x, k, b):
    return ops.leaky_relu(ops.add(ops.conv(x, k, strides=1, padding="same"), b), 0.2)


def _conv_strided(x, k, b):
    y = ops.elu(ops.add(ops.conv(x, k, strides=2, padding="valid"), b))
    return ops.mean(ops.square(ops.softplus(y)), axis=(1, 2))


CASES = {
    "dense_tanh": (_dense, (3, 4), [(4, 5), (5,)]),
    "dense_sigmoid_max": (_dense_max, (3, 4), [(4, 5), (5,)]),
    "conv_same_leaky_relu": (_conv_same, (2, 5, 5, 2), [(3, 3, 2, 3), (3,)]),
    "conv_strided_elu_softplus_mean": (_conv_strided, (2, 5, 5, 2), [(3, 3, 2, 3), (3,)]),
}


def _penalty(layer, x, params, weights):
    """WGAN-GP's penalty on `layer`: mean over samples of (||d score / d x|| - 1)^2, where
    score = sum(layer(x) * weights)."""
    with GradientTape() as tape:
        tape.watch(x)
        score = ops.sum(ops.multiply(layer(x, *params), weights))
    slopes = tape.gradient(score, x)
    axes = tuple(range(1, len(x.shape)))
    norms = ops.sqrt(ops.sum(ops.square(slopes), axis=axes))
    return ops.mean(ops.square(ops.subtract(norms, 1.0)))


def _penalty_and_grads(layer, x, params, weights):
    """The penalty and its gradients with respect to `x` and each parameter (second order)."""
    with GradientTape() as outer:
        outer.watch([x, *params])
        penalty = _penalty(layer, x, params, weights)
    return [penalty, *outer.gradient(penalty, [x, *params])]


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_order_gradients_match_finite_differences(name):
    layer, x_shape, param_shapes = CASES[name]
    x0 = RNG.normal(size=x_shape)
    params0 = [RNG.normal(scale=0.7, size=s) for s in param_shapes]
    out_shape = np.shape(layer(Tensor(x0), *[Tensor(p) for p in params0]).numpy())
    weights = Tensor(RNG.normal(size=out_shape))

    def penalty_of(arrays):
        x, *params = [Tensor(a) for a in arrays]
        return float(_penalty(layer, x, params, weights).numpy())

    arrays = [x0, *params0]
    eager = _penalty_and_grads(layer, Tensor(x0), [Tensor(p) for p in params0], weights)
    step = compiler.function(lambda x, *ps: _penalty_and_grads(layer, x, list(ps), weights))
    compiled = step(x0, *params0)
    np.testing.assert_allclose(float(eager[0].numpy()), penalty_of(arrays), rtol=1e-12)
    np.testing.assert_allclose(compiled[0], penalty_of(arrays), rtol=1e-12)
    for i in range(len(arrays)):
        expected = numeric_gradient(penalty_of, arrays, i)
        # None where nothing connects (a bias under a piecewise linear activation only moves
        # the kinks): then the differences must vanish too.
        for ours in (eager[i + 1], compiled[i + 1]):
            ours = np.zeros_like(expected) if ours is None else np.asarray(ours)
            np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-7)
