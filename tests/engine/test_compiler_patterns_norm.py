"""Batch normalization in training followed by relu (`patterns_trained._batch_norm_relus`):
one call writing relu(y); the numbers (forward and gradients) match the ops run one by one
(eager), and the pair stays apart where y is read elsewhere."""

import numpy as np
import pytest

from backend import GradientTape, Variable, compiler, ops

rng = np.random.default_rng(3)


def _step(gamma, beta, kernels, read_y=False):
    """relu(batch norm) read by one conv per kernel (two: relu's gradient is a sum)."""

    def step(x):
        x = ops.convert_to_tensor(x)
        with GradientTape() as tape:
            tape.watch(x)
            y, mean, var = ops.batch_norm_train(x, gamma, beta, axis=-1, epsilon=1e-3)
            r = ops.relu(y)
            loss = 0.0
            for k in kernels:
                loss = loss + ops.sum(ops.square(ops.conv(r, k, padding="same")))
            if read_y:
                loss = loss + ops.sum(y)
        return [*tape.gradient(loss, [x, gamma, beta]), r, mean, var]

    return step


def _kernels(count, c, dtype):
    return [Variable(rng.standard_normal((3, 3, c, 2)) * 0.3, dtype=dtype) for _ in range(count)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("readers", [1, 2])
def test_batch_norm_relu_fuses_and_matches_eager(dtype, readers):
    c = 6
    gamma = Variable(rng.uniform(0.5, 1.5, c), dtype=dtype)
    beta = Variable(rng.standard_normal(c) * 0.5, dtype=dtype)
    step = _step(gamma, beta, _kernels(readers, c, dtype))
    f = compiler.function(step)
    x = (rng.standard_normal((8, 5, 5, c)) * 2 + 1).astype(dtype)
    got = f(x)
    want = [np.asarray(a) for a in step(x)]
    assert (want[3] == 0).any() and (want[3] > 0).any()  # the mask matters
    tol = 1e-4 if dtype == "float32" else 1e-10
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
    steps = f.plan_for(x).describe()
    assert "batch_norm_train+relu" in steps and "batch_norm_train" not in steps
    assert "fused[relu]" not in steps


def test_batch_norm_relu_stays_apart_when_y_is_read_elsewhere():
    c = 4
    gamma = Variable(rng.uniform(0.5, 1.5, c), dtype="float32")
    beta = Variable(rng.standard_normal(c), dtype="float32")
    step = _step(gamma, beta, _kernels(1, c, "float32"), read_y=True)
    f = compiler.function(step)
    x = rng.standard_normal((6, 3, 3, c)).astype("float32")
    for g, e in zip(f(x), step(x), strict=True):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-4, atol=1e-5)
    steps = f.plan_for(x).describe()
    assert "batch_norm_train+relu" not in steps and "fused[relu]" in steps
