"""backend.kernels.layer_norm: layer normalization over rows and its gradients against numpy,
float32 and float64, serial and threaded (same bits), at extreme inputs, for bad arguments."""

import numpy as np
import pytest

from backend.kernels import layer_norm as kernels
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(8)
LENGTHS = [1, 7, 8, 9, 33, 512]
TOL = {np.float32: {"rtol": 1e-5, "atol": 2e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}


def _reference(x, gamma, beta, g, epsilon):
    x, gamma, beta, g = (a.astype(np.float64) for a in (x, gamma, beta, g))
    mean = x.mean(-1, keepdims=True)
    r = 1.0 / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + epsilon)
    xhat = (x - mean) * r
    a = g * gamma
    dx = r * (a - a.mean(-1, keepdims=True) - xhat * (a * xhat).mean(-1, keepdims=True))
    rows = xhat.reshape(-1, x.shape[-1])
    return xhat * gamma + beta, dx, (g.reshape(rows.shape) * rows).sum(0), g.reshape(
        rows.shape).sum(0)  # fmt: skip


def _run(x, gamma, beta, g, epsilon):
    dtype = x.dtype
    y, dx = np.empty_like(x), np.empty_like(x)
    dgamma, dbeta = np.empty(x.shape[-1], dtype), np.empty(x.shape[-1], dtype)
    kernels.layer_norm_rows(x, gamma, beta, epsilon, y)
    kernels.layer_norm_grad_rows(x, gamma, g, epsilon, dx, dgamma, dbeta)
    return y, dx, dgamma, dbeta


@pytest.mark.parametrize("rows", [3, 300])
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_gradients_match_numpy(dtype, n, rows):
    x = (rng.standard_normal((rows, n)) * 2 + 0.5).astype(dtype)
    gamma = (1 + 0.2 * rng.standard_normal(n)).astype(dtype)
    beta = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal((rows, n)).astype(dtype)
    results = same_bits_any_threads(lambda: _run(x, gamma, beta, g, 1e-3))
    for ours, expected in zip(results, _reference(x, gamma, beta, g, 1e-3), strict=True):
        np.testing.assert_allclose(ours, expected, rtol=TOL[dtype]["rtol"],
                                   atol=TOL[dtype]["atol"] * np.sqrt(rows))  # fmt: skip


def test_extreme_and_constant_rows():
    # Offsets of 1e4 with unit spread (a two-pass variance keeps them exact), +-1e4 rows, and
    # a constant row (variance 0: the output is beta, the gradient finite).
    x = np.array(
        [[1e4 + 1.0, 1e4 - 1.0, 1e4, 1e4], [1e4, -1e4, 1e4, -1e4], [5.0, 5.0, 5.0, 5.0]],
        np.float32,
    )
    gamma, beta = np.full(4, 2.0, np.float32), np.full(4, 0.5, np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y, dx, dgamma, dbeta = _run(x, gamma, beta, g, 1e-3)
    for ours, expected in zip((y, dx, dgamma, dbeta), _reference(x, gamma, beta, g, 1e-3),
                              strict=True):  # fmt: skip
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y[2], beta)
    assert np.isfinite(dx).all()


def test_leading_axes_and_scratch():
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    gamma, beta = np.ones(5, np.float32), np.zeros(5, np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    dx, dgamma, dbeta = np.empty_like(x), np.empty(5, np.float32), np.empty(5, np.float32)
    scratch = np.full((2, kernels.n_chunks(6), 5), np.nan, np.float32)
    kernels.layer_norm_grad_rows(x, gamma, g, 1e-3, dx, dgamma, dbeta, scratch)
    expected = _reference(x, gamma, beta, g, 1e-3)
    np.testing.assert_allclose(dx, expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dgamma, expected[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dbeta, expected[3], rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_named():
    x = np.ones((2, 3), np.float32)
    one = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"layer_norm_rows: gamma must have shape \(3,\)"):
        kernels.layer_norm_rows(x, np.ones(4, np.float32), one, 1e-3, x.copy())
    with pytest.raises(TypeError, match=r"layer_norm_rows: beta must be float32"):
        kernels.layer_norm_rows(x, one, one.astype(np.float64), 1e-3, x.copy())
    with pytest.raises(ValueError, match=r"layer_norm_rows: the last axis of x must not be"):
        kernels.layer_norm_rows(np.ones((2, 0), np.float32), one[:0], one[:0], 1e-3,
                                np.ones((2, 0), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match=r"layer_norm_grad_rows: scratch must have shape"):
        kernels.layer_norm_grad_rows(x, one, x, 1e-3, x.copy(), one.copy(), one.copy(),
                                     np.empty((2, 5, 3), np.float32))  # fmt: skip


def test_docstring_examples():
    import doctest

    result = doctest.testmod(kernels, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
