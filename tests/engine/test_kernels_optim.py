"""backend.kernels.optim: SGD, SGD with (Nesterov) momentum and Adam over flat buffers, against
numpy versions of Keras 3's formulas, float32 and float64, serial and threaded, bit-identical
run to run."""

import math

import numpy as np
import pytest

from backend import config
from backend.kernels import optim
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(13)
DTYPES = [np.float32, np.float64]
SIZES = [1, 7, 129, 10_007]  # 10_007: not a multiple of the 64 chunks
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-14}}


def _buffers(n, dtype, count):
    return [rng.standard_normal(n).astype(dtype) for _ in range(count)]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_matches_numpy(dtype, n):
    param, grad = _buffers(n, dtype, 2)

    def call():
        p = param.copy()
        optim.sgd(p, grad, 0.05)
        return (p,)

    (p,) = same_bits_any_threads(call)
    np.testing.assert_allclose(p, param - 0.05 * grad, **TOL[dtype])


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_momentum_matches_keras_formula(dtype, n, nesterov):
    param, velocity, *grads = _buffers(n, dtype, 4)
    lr, momentum = 0.05, 0.9

    def call():
        p, v = param.copy(), velocity.copy()
        for g in grads:
            optim.sgd_momentum(p, g, v, lr, momentum, nesterov)
        return p, v

    p, v = same_bits_any_threads(call)
    p_ref, v_ref = param.astype(np.float64), velocity.astype(np.float64)
    for g in grads:
        v_ref = momentum * v_ref - lr * g
        p_ref = p_ref + (momentum * v_ref - lr * g if nesterov else v_ref)
    np.testing.assert_allclose(v, v_ref, **TOL[dtype])
    np.testing.assert_allclose(p, p_ref, **TOL[dtype])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_matches_keras_formula(dtype, n):
    param, *grads = _buffers(n, dtype, 4)
    lr, beta_1, beta_2, epsilon = 1e-3, 0.9, 0.999, 1e-7

    def call():
        p, m, v = param.copy(), np.zeros_like(param), np.zeros_like(param)
        for step, g in enumerate(grads, start=1):
            optim.adam(p, g, m, v, lr, beta_1, beta_2, epsilon, step)
        return p, m, v

    p, m, v = same_bits_any_threads(call)
    p_ref, m_ref, v_ref = param.astype(np.float64), np.zeros(n), np.zeros(n)
    for t, g in enumerate(grads, start=1):
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m_ref = m_ref + (g - m_ref) * (1 - beta_1)
        v_ref = v_ref + (g * g - v_ref) * (1 - beta_2)
        p_ref = p_ref - alpha * m_ref / (np.sqrt(v_ref) + epsilon)
    np.testing.assert_allclose(m, m_ref, **TOL[dtype])
    np.testing.assert_allclose(v, v_ref, **TOL[dtype])
    np.testing.assert_allclose(p, p_ref, **TOL[dtype])


def test_adam_first_step_moves_each_parameter_by_about_lr():
    param = np.zeros(5, np.float32)
    grad = np.array([-3.0, -0.1, 0.5, 2.0, 40.0], np.float32)
    optim.adam(param, grad, np.zeros(5, np.float32), np.zeros(5, np.float32), 0.01, 0.9, 0.999,
               1e-7, step=1)  # fmt: skip
    np.testing.assert_allclose(param, -0.01 * np.sign(grad), rtol=1e-4)


def test_bad_arguments():
    p = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"sgd: param must be 1-D .* param.shape=\(2, 2\)"):
        optim.sgd(p.reshape(2, 2), p.reshape(2, 2), 0.1)
    with pytest.raises(TypeError, match="sgd: grad must be float32. Received: grad.dtype=float64"):
        optim.sgd(p, np.zeros(4), 0.1)
    with pytest.raises(ValueError, match=r"sgd_momentum: velocity must have shape \(4,\)"):
        optim.sgd_momentum(p, p.copy(), np.zeros(3, np.float32), 0.1, 0.9)
    with pytest.raises(TypeError, match="sgd: lr must be a number. Received: lr='fast'"):
        optim.sgd(p, p.copy(), "fast")
    with pytest.raises(ValueError, match=r"adam: step must be an int >= 1 .* step=0"):
        optim.adam(p, p.copy(), p.copy(), p.copy(), 0.1, 0.9, 0.999, 1e-7, step=0)
    frozen = p.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="adam: m is written to but is read-only"):
        optim.adam(p, p.copy(), frozen, p.copy(), 0.1, 0.9, 0.999, 1e-7, step=1)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(optim, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_threaded_kernels_from_two_python_threads(monkeypatch):
    # Two Python threads launching threaded kernels at once share the worker threads
    # (Numba's workqueue pool, which aborts the process then, is not used).
    import threading

    monkeypatch.setattr(config, "_parallel_threshold", 0)
    params = [np.zeros(4096, np.float32) for _ in range(2)]
    grad = np.ones(4096, np.float32)

    def work(param):
        for _ in range(200):
            optim.sgd(param, grad, 0.5)

    threads = [threading.Thread(target=work, args=(p,)) for p in params]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for param in params:
        np.testing.assert_array_equal(param, -100.0)
