"""backend.kernels.nn: log-softmax and the softmax crossentropies (sparse and dense,
loss and logits gradient) against numpy, float32 and float64, serial and threaded,
bit-identical run to run."""

import numpy as np
import pytest

from backend.kernels import nn
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(11)
ROWS = [1, 7, 129]
CLASSES = 10
# (logits dtype, labels dtype): int32 and int64 labels each compile their own kernels, so
# float64 (used for gradient checks) is tested with one of them only.
SPARSE_CASES = [(np.float32, np.int32), (np.float32, np.int64), (np.float64, np.int64)]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}


def _log_softmax(z):
    shifted = z - z.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _softmax(z):
    return np.exp(_log_softmax(z))


def _one_hot(labels, classes, dtype):
    return (labels[..., None] == np.arange(classes)).astype(dtype)


def _logits(rows, dtype, scale=4.0):
    return (rng.standard_normal((rows, CLASSES)) * scale).astype(dtype)


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype,label_dtype", SPARSE_CASES)
def test_sparse_softmax_xent_and_grads_match_numpy(dtype, label_dtype, rows):
    z = _logits(rows, dtype)
    labels = rng.integers(0, CLASSES, rows).astype(label_dtype)
    g = rng.uniform(0.5, 2.0, rows).astype(dtype)

    def call():
        loss, grad = np.empty(rows, dtype), np.empty((rows, CLASSES), dtype)
        fused_loss, fused_grad = np.empty_like(loss), np.empty_like(grad)
        nn.sparse_softmax_xent(z, labels, loss)
        nn.sparse_softmax_xent_grad(z, labels, g, grad)
        nn.sparse_softmax_xent_with_grad(z, labels, g, fused_loss, fused_grad)
        return loss, grad, fused_loss, fused_grad

    loss, grad, fused_loss, fused_grad = same_bits_any_threads(call)
    expected_loss = -np.take_along_axis(_log_softmax(z), labels[:, None].astype(np.intp), -1)[:, 0]
    expected_grad = g[:, None] * (_softmax(z) - _one_hot(labels, CLASSES, dtype))
    np.testing.assert_allclose(loss, expected_loss, **TOL[dtype])
    np.testing.assert_allclose(grad, expected_grad, **TOL[dtype])
    np.testing.assert_array_equal(fused_grad, grad)
    np.testing.assert_allclose(fused_loss, expected_loss, **TOL[dtype])


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_softmax_xent_and_grad_match_numpy(dtype, rows):
    z = _logits(rows, dtype)
    # Soft targets whose rows do not sum to one, so the sum(t) factor is exercised.
    t = rng.uniform(0.0, 1.0, (rows, CLASSES)).astype(dtype)
    g = rng.uniform(0.5, 2.0, rows).astype(dtype)

    def call():
        loss, grad = np.empty(rows, dtype), np.empty((rows, CLASSES), dtype)
        nn.softmax_xent(z, t, loss)
        nn.softmax_xent_grad(z, t, g, grad)
        return loss, grad

    loss, grad = same_bits_any_threads(call)
    expected_grad = g[:, None] * (_softmax(z) * t.sum(-1, keepdims=True) - t)
    np.testing.assert_allclose(loss, -(t * _log_softmax(z)).sum(-1), **TOL[dtype])
    np.testing.assert_allclose(grad, expected_grad, **TOL[dtype])


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_matches_numpy(dtype, rows):
    x = _logits(rows, dtype)

    def call():
        log_soft = np.empty_like(x)
        nn.log_softmax_last(x, log_soft)
        return log_soft

    np.testing.assert_allclose(same_bits_any_threads(call), _log_softmax(x), **TOL[dtype])


def test_huge_logits_stay_finite():
    z = np.array([[1e4, 0.0, -1e4], [-3e38, 3e38, 0.0]], np.float32)
    labels = np.array([1, 1], np.int32)
    loss, grad = np.empty(2, np.float32), np.empty((2, 3), np.float32)
    nn.sparse_softmax_xent_with_grad(z, labels, np.ones(2, np.float32), loss, grad)
    np.testing.assert_allclose(loss, [1e4, 0.0])
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    log_soft = np.empty_like(z)
    nn.log_softmax_last(z, log_soft)
    expected = np.array([[0.0, -1e4, -2e4], [-np.inf, 0.0, -3e38]], np.float32)
    np.testing.assert_array_equal(log_soft, expected)


def test_leading_axes():
    z = rng.standard_normal((2, 3, CLASSES)).astype(np.float32)
    labels = rng.integers(0, CLASSES, (2, 3)).astype(np.int32)
    loss = np.empty((2, 3), np.float32)
    nn.sparse_softmax_xent(z, labels, loss)
    expected = -np.take_along_axis(_log_softmax(z), labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


@pytest.mark.parametrize("bad", [CLASSES, -1])
def test_out_of_range_labels_are_named(bad):
    z = _logits(3, np.float32)
    labels = np.array([0, bad, 2], np.int32)
    message = rf"labels must be in \[0, 10\).*label {bad} at index \(1,\)"
    with pytest.raises(ValueError, match=message):
        nn.sparse_softmax_xent(z, labels, np.empty(3, np.float32))
    with pytest.raises(ValueError, match=rf"sparse_softmax_xent_grad: .*label {bad}"):
        nn.sparse_softmax_xent_grad(z, labels, np.ones(3, np.float32), np.empty_like(z))


def test_bad_arguments():
    z = _logits(3, np.float32)
    with pytest.raises(TypeError, match=r"labels must be int32 or int64. Received: labels.dtype"):
        nn.sparse_softmax_xent(z, np.zeros(3), np.empty(3, np.float32))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        nn.sparse_softmax_xent(z, np.zeros(4, np.int32), np.empty(3, np.float32))
    with pytest.raises(TypeError, match=r"softmax_xent: targets must be float32"):
        nn.softmax_xent(z, z.astype(np.float64), np.empty(3, np.float32))
    with pytest.raises(ValueError, match=r"log_softmax_last: the last axis of x must not be empty"):
        nn.log_softmax_last(np.ones((2, 0), np.float32), np.ones((2, 0), np.float32))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(3, 10\)"):
        nn.sparse_softmax_xent_with_grad(
            z, np.zeros(3, np.int32), np.ones(3, np.float32), np.empty(3, np.float32), z[:, :2]
        )


def test_docstring_examples():
    import doctest

    result = doctest.testmod(nn, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
