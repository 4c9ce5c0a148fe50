"""backend.kernels.softmax: softmax and its gradient over rows against numpy, float32 (the
polynomial exp) and float64, serial and threaded (same bits), at extreme and non-finite
inputs, and for bad arguments."""

import numpy as np
import pytest

from backend.kernels import softmax as kernels
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(5)
TOL = {np.float32: {"rtol": 2e-6, "atol": 1e-7}, np.float64: {"rtol": 1e-13, "atol": 1e-15}}
# Row lengths around the eight accumulator lanes, and attention-sized ones.
LENGTHS = [1, 3, 8, 9, 17, 128, 515]


def _softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_matches_numpy(dtype, n):
    x = (rng.standard_normal((37, n)) * 5).astype(dtype)

    def call():
        out = np.empty_like(x)
        kernels.softmax_rows(x, out)
        return out

    out = same_bits_any_threads(call)
    np.testing.assert_allclose(out, _softmax(x), **TOL[dtype])


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_grad_matches_numpy(dtype, n):
    y = _softmax(rng.standard_normal((37, n)) * 3).astype(dtype)
    g = rng.standard_normal((37, n)).astype(dtype)

    def call():
        out = np.empty_like(y)
        kernels.softmax_grad_rows(y, g, out)
        return out

    out = same_bits_any_threads(call)
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    expected = y64 * (g64 - np.sum(g64 * y64, -1, keepdims=True))
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype]["rtol"], atol=1e-6 if
                               dtype == np.float32 else 1e-15)  # fmt: skip


def test_polynomial_exp_is_within_two_ulp_of_exact():
    # Row [0, t]: softmax's second entry is exp(t) / (1 + exp(t)); with t <= -17, 1 + exp(t)
    # rounds to 1 in float32, so the kernel's output is its exp(t) itself.
    t = np.concatenate([np.linspace(-87.0, -17.0, 200_001), -rng.uniform(17, 87, 100_000)])
    x = np.stack([np.zeros_like(t), t], axis=1).astype(np.float32)
    out = np.empty_like(x)
    kernels.softmax_rows(x, out)
    exact = np.exp(x[:, 1].astype(np.float64))
    ulps = np.abs(out[:, 1] - exact) / (exact * 2.0**-23)
    assert ulps.max() < 2.0, ulps.max()
    np.testing.assert_array_equal(out[:, 0], 1.0)


def test_extreme_inputs_are_exact_and_finite():
    x = np.array(
        [[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [-1e4, 1e4, 1e4], [3e38, -3e38, 0.0],
         [-100.0, 0.0, -88.0]], np.float32)  # fmt: skip
    out = np.empty_like(x)
    kernels.softmax_rows(x, out)
    expected = [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0.5, 0.5], [1, 0, 0], [0, 1, 0]]
    np.testing.assert_allclose(out, expected, rtol=1e-7, atol=0)
    assert (out[4, [0, 2]] == 0).all()  # below float32's normal range: exactly 0


def test_non_finite_rows_follow_the_composite():
    # The max shift is 0 when the max is infinite: exp(+inf) / inf is NaN, the rest 0.
    x = np.array(
        [[np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0],
         [0.0, -np.inf, 1.0]], np.float32)  # fmt: skip
    for dtype in (np.float32, np.float64):
        out = np.empty(x.shape, dtype)
        kernels.softmax_rows(x.astype(dtype), out)
        np.testing.assert_array_equal(out[0], [np.nan, 0, 0])
        assert np.isnan(out[1]).all() and np.isnan(out[2]).all()
        np.testing.assert_allclose(out[3], _softmax(x[3:4])[0], rtol=1e-6)


def test_in_place_and_leading_axes():
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    expected = _softmax(x)
    kernels.softmax_rows(x, x)
    np.testing.assert_allclose(x, expected, rtol=2e-6)
    g = rng.standard_normal(x.shape).astype(np.float32)
    expected_grad = x * (g - np.sum(g * x, -1, keepdims=True))
    kernels.softmax_grad_rows(x, g, g)
    np.testing.assert_allclose(g, expected_grad, rtol=1e-5, atol=1e-7)


def test_bad_arguments_are_named():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"softmax_rows: the last axis of x must not be empty"):
        kernels.softmax_rows(np.ones((2, 0), np.float32), np.ones((2, 0), np.float32))
    with pytest.raises(TypeError, match=r"softmax_rows: x must be float32 or float64"):
        kernels.softmax_rows(x.astype(np.int32), x)
    with pytest.raises(ValueError, match=r"softmax_rows: out must have shape \(2, 3\)"):
        kernels.softmax_rows(x, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"softmax_grad_rows: g must be C-contiguous"):
        kernels.softmax_grad_rows(x, np.ones((3, 2), np.float32).T, x.copy())
    with pytest.raises(TypeError, match=r"softmax_grad_rows: g must be float32"):
        kernels.softmax_grad_rows(x, x.astype(np.float64), x.copy())


def test_docstring_examples():
    import doctest

    result = doctest.testmod(kernels, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
