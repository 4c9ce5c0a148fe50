"""The batch normalization kernel with relu fused in writes relu of the plain kernel's y."""

import numpy as np
import pytest

from backend.kernels import norm

rng = np.random.default_rng(5)


def _inputs(shape, axis, dtype):
    c = shape[axis]
    x = (rng.standard_normal(shape) * 1.5 + 0.3).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    return x, gamma, beta


@pytest.mark.parametrize("shape,axis", [((64, 5, 5, 8), 3), ((6, 4, 3, 3), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_forward_is_relu_of_the_plain_forward(shape, axis, dtype):
    x, gamma, beta = _inputs(shape, axis, dtype)
    c = shape[axis]
    y, r = np.empty_like(x), np.empty_like(x)
    stats = [np.empty(c, dtype) for _ in range(4)]
    norm.batch_norm_train(x, gamma, beta, axis, 1e-3, y, *stats[:2])
    norm.batch_norm_train(x, gamma, beta, axis, 1e-3, r, *stats[2:], relu=True)
    assert r.tobytes() == np.maximum(y, dtype(0)).tobytes()  # +0 below 0, not -0.0
    np.testing.assert_array_equal(stats[0], stats[2])
    assert (y < 0).any() and (y > 0).any()
