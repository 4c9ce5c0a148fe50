"""backend.kernels.gemm: the bias + activation epilogue and the activation gradient, against
plain-numpy references, float32 and float64, serial and threaded, bit-identical run to run."""

import numpy as np
import pytest

from backend import kernels
from backend.kernels import gemm
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(3)
DTYPES = [np.float32, np.float64]
ROWS = [1, 7, 129]
ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh"]
TOL = {np.float32: {"rtol": 2e-6, "atol": 2e-7}, np.float64: {"rtol": 1e-14, "atol": 1e-15}}


def _act(z, name):
    """Plain-numpy reference activations."""
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    return z


def _act_grad(dy, y, name):
    """dL/dz from dL/dy and the activation's output y."""
    if name == "relu":
        return dy * (y > 0)
    if name == "sigmoid":
        return dy * y * (1 - y)
    if name == "tanh":
        return dy * (1 - y * y)
    return dy


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_activation_matches_numpy(dtype, rows, activation):
    h = (rng.standard_normal((rows, 33)) * 3).astype(dtype)
    bias = rng.standard_normal(33).astype(dtype)

    def call():
        out = h.copy()
        gemm.bias_activation(out, bias, activation)
        return out

    np.testing.assert_allclose(
        same_bits_any_threads(call), _act(h + bias, activation), **TOL[dtype]
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_grad_matches_numpy(dtype, rows, activation):
    y = _act(rng.standard_normal((rows, 19)), activation).astype(dtype)
    dy = rng.standard_normal((rows, 19)).astype(dtype)

    def call():
        out = np.empty_like(dy)
        gemm.activation_grad(dy, y, activation, out)
        return out

    np.testing.assert_allclose(
        same_bits_any_threads(call), _act_grad(dy, y, activation), **TOL[dtype]
    )


def test_bias_activation_takes_leading_axes_and_none():
    h = rng.standard_normal((2, 3, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    out = h.copy()
    gemm.bias_activation(out, bias, None)
    np.testing.assert_allclose(out, h + bias, rtol=1e-6)


def test_extremes_stay_finite_and_nan_propagates():
    h = np.array([[-1000.0, 1000.0, 0.0, np.nan]], np.float32)
    zero = np.zeros(4, np.float32)
    sig = h.copy()
    gemm.bias_activation(sig, zero, "sigmoid")
    np.testing.assert_array_equal(sig[0, :3], [0.0, 1.0, 0.5])
    relu = h.copy()
    gemm.bias_activation(relu, zero, "relu")
    np.testing.assert_array_equal(relu, [[0.0, 1000.0, 0.0, np.nan]])


def test_activation_grad_may_write_over_dy():
    y = np.array([0.0, 2.0, 3.0], np.float32)
    dy = np.array([5.0, 6.0, 7.0], np.float32)
    gemm.activation_grad(dy, y, "relu", dy)
    np.testing.assert_array_equal(dy, [0.0, 6.0, 7.0])


def test_no_recompile_for_a_new_batch_size():
    bias = np.zeros(8, np.float32)
    gemm.bias_activation(np.ones((3, 8), np.float32), bias, "relu")
    before = kernels.compiled_signature_count()
    for rows in (1, 64, 1000):
        for activation in ACTIVATIONS:
            gemm.bias_activation(np.ones((rows, 8), np.float32), bias, activation)
    assert kernels.compiled_signature_count() == before


def test_bad_arguments_name_the_kernel_and_what_was_received():
    h = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"bias_activation: bias must be float32.*float64"):
        gemm.bias_activation(h, np.ones(3), "relu")
    with pytest.raises(TypeError, match=r"bias_activation: h must be float32 or float64"):
        gemm.bias_activation(np.ones((2, 3), np.int64), np.ones(3), "relu")
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\). Received: bias.shape"):
        gemm.bias_activation(h, np.ones(4, np.float32), "relu")
    with pytest.raises(ValueError, match="h must be C-contiguous"):
        gemm.bias_activation(np.ones((3, 2), np.float32).T, np.ones(3, np.float32), "relu")
    with pytest.raises(ValueError, match=r"activation must be one of .* activation='gelu'"):
        gemm.bias_activation(h, np.ones(3, np.float32), "gelu")
    frozen = h.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        gemm.bias_activation(frozen, np.ones(3, np.float32), "relu")
    with pytest.raises(ValueError, match=r"activation_grad: out must have shape \(2, 3\)"):
        gemm.activation_grad(h, h, "tanh", np.empty((3, 2), np.float32))


def test_docstring_examples():
    import doctest

    result = doctest.testmod(gemm, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
