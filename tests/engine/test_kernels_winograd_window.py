"""backend.kernels.winograd_window (a one-channel 3x3 conv + bias + relu + 2x2 max pool by
Winograd F(2x2, 3x3) per pool window) against a float64 numpy convolution and pool, serial
and threaded (bit-identical), odd sizes, NaNs, the argument checks; its argmax (training)
against the float64 cells and the generic direct kernel's; and `conv_pool_into` taking it
with and without an argmax, and a training step's kernel gradient from that argmax."""

import numpy as np
import pytest

from backend.kernels import conv_direct
from backend.kernels import winograd_window as ww
from backend.kernels.conv_window import NO_GRADIENT
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(17)


def _ref(x, k, bias, relu):
    """max_pool(act(conv(x, k) + bias)), "valid" conv and pool, in float64."""
    x, k = x.astype(np.float64), k.astype(np.float64)
    n, h, w, _ = x.shape
    ho, wo = h - 2, w - 2
    y = sum(x[:, a : a + ho, b : b + wo, :1] * k[a, b, 0] for a in range(3) for b in range(3))
    y = y + (0.0 if bias is None else bias)
    y = np.maximum(y, 0) if relu else y
    y = y[:, : ho // 2 * 2, : wo // 2 * 2]
    return y.reshape(n, ho // 2, 2, wo // 2, 2, -1).max(axis=(2, 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hw", [(28, 28), (7, 10), (4, 4), (5, 9)], ids=str)
def test_conv_pool_matches_float64(hw, dtype):
    x = rng.random((3, *hw, 1)).astype(dtype)
    k = rng.standard_normal((3, 3, 1, 21)).astype(dtype)
    for bias in (None, rng.standard_normal(21).astype(dtype)):
        for relu in (False, True):
            want = _ref(x, k, bias, relu)

            def run(bias=bias, relu=relu, shape=want.shape):
                out = np.full(shape, np.nan, dtype)
                ww.conv_pool(x, k, bias, relu, out)
                return out

            got = same_bits_any_threads(run)
            tol = 1e-6 if dtype == np.float32 else 1e-13
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_conv_pool_keeps_nan():
    x = rng.random((1, 6, 6, 1)).astype(np.float32)
    x[0, 0, 0] = np.nan  # read by the top-left conv cell only: window (0, 0)
    out = np.empty((1, 2, 2, 3), np.float32)
    ww.conv_pool(x, np.ones((3, 3, 1, 3), np.float32), None, True, out)
    assert np.isnan(out[0, 0, 0]).all() and not np.isnan(out[0, 1]).any()


def test_argument_checks():
    x = np.zeros((1, 6, 6, 1), np.float32)
    out = np.empty((1, 2, 2, 3), np.float32)
    with pytest.raises(ValueError, match="one input channel"):
        ww.conv_pool(np.zeros((1, 6, 6, 2), np.float32), np.zeros((3, 3, 2, 3), np.float32),
                     None, True, out)  # fmt: skip
    with pytest.raises(ValueError, match="out"):
        ww.conv_pool(x, np.zeros((3, 3, 1, 3), np.float32), None, True, out[:, :1].copy())
    with pytest.raises(ValueError, match="bias"):
        ww.conv_pool(x, np.zeros((3, 3, 1, 3), np.float32), np.zeros(2, np.float32), True, out)


def _cells64(x, k, bias):
    """The four conv cells of every pool window, float64: (N, P, V, 4, C_out), cell r*2 + s."""
    x, k = x.astype(np.float64), k.astype(np.float64)
    n, h, w, _ = x.shape
    ho, wo = (h - 2) // 2 * 2, (w - 2) // 2 * 2
    y = sum(x[:, a : a + ho, b : b + wo, :1] * k[a, b, 0] for a in range(3) for b in range(3))
    y = y + (0.0 if bias is None else bias)
    y = y.reshape(n, ho // 2, 2, wo // 2, 2, -1).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, ho // 2, wo // 2, 4, -1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hw", [(28, 28), (7, 10), (5, 9)], ids=str)
def test_argmax_is_the_winning_cell(hw, dtype):
    x = rng.standard_normal((3, *hw, 1)).astype(dtype)
    k = rng.standard_normal((3, 3, 1, 21)).astype(dtype)
    bias = np.linspace(-2.0, 0.5, 21).astype(dtype)  # some windows all negative
    cells = _cells64(x, k, bias)
    for relu in (False, True):
        shape = cells.shape[:3] + cells.shape[4:]

        def run(relu=relu, shape=shape):
            out, argmax = np.full(shape, np.nan, dtype), np.full(shape, 7, np.uint8)
            ww.conv_pool(x, k, bias, relu, out, argmax)
            return out, argmax

        out, argmax = same_bits_any_threads(run)
        plain = np.empty(shape, dtype)
        ww.conv_pool(x, k, bias, relu, plain)
        assert out.tobytes() == plain.tobytes()  # recording changes no output bit
        best = cells.max(axis=3)
        if relu:
            dead = best <= 0
            assert (argmax[dead] == NO_GRADIENT).all()
            assert (argmax[~dead] < 4).all()
        else:
            dead = np.zeros(shape, bool)
            assert (argmax < 4).all()
        # The recorded cell is the largest, or within float32 rounding of it.
        live = np.nonzero(~dead)
        picked = np.take_along_axis(cells, argmax.astype(np.int64)[:, :, :, None] % 4,
                                    axis=3)[:, :, :, 0]  # fmt: skip
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert (best[live] - picked[live] <= tol * np.abs(cells).max()).all()
        # Against the generic direct kernel's argmax: the same wherever the top two cells
        # are further apart than rounding.
        want, want_at = np.empty(shape, dtype), np.empty(shape, np.uint8)
        conv_direct._conv_direct_pool(0, len(x), x, k, bias, relu, 1, 1, 1, 1, 2, 2, want,
                                      want_at)  # fmt: skip
        top2 = np.sort(cells, axis=3)
        clear = (top2[..., 3, :] - top2[..., 2, :]) > tol * np.abs(cells).max()
        assert (argmax[clear] == want_at[clear]).all()
        assert clear.mean() > 0.99


def test_argmax_with_nan_points_at_the_nan_cell():
    x = rng.random((1, 6, 6, 1)).astype(np.float32)
    x[0, 3, 1] = np.nan  # read by cells (1, 0) and (1, 1) of window (0, 0), and by window (1, 0)
    out, argmax = np.empty((1, 2, 2, 3), np.float32), np.empty((1, 2, 2, 3), np.uint8)
    ww.conv_pool(x, np.ones((3, 3, 1, 3), np.float32), None, False, out, argmax)
    assert np.isnan(out[0, 0, 0]).all() and (argmax[0, 0, 0] == 2).all()  # the first NaN cell
    assert np.isnan(out[0, 1, 0]).all() and (argmax[0, 1, 0] == 0).all()
    assert not np.isnan(out[0, :, 1]).any()


def test_argmax_argument_checks():
    x = np.zeros((1, 6, 6, 1), np.float32)
    k = np.zeros((3, 3, 1, 3), np.float32)
    out = np.empty((1, 2, 2, 3), np.float32)
    with pytest.raises(TypeError, match="argmax must be uint8"):
        ww.conv_pool(x, k, None, True, out, np.empty(out.shape, np.int32))
    with pytest.raises(ValueError, match="argmax must have shape"):
        ww.conv_pool(x, k, None, True, out, np.empty((1, 2, 3, 3), np.uint8))


@pytest.mark.parametrize("with_argmax", [False, True])
def test_conv_pool_into_takes_it(monkeypatch, with_argmax):
    from backend.ops import conv_primitives

    calls, real = [], ww.conv_pool

    def counted(*args):
        calls.append(1)
        real(*args)

    monkeypatch.setattr(ww, "conv_pool", counted)
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    k = rng.standard_normal((3, 3, 1, 32)).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    out = np.empty((4, 13, 13, 32), np.float32)
    argmax = np.empty(out.shape, np.uint8) if with_argmax else None
    assert conv_primitives.conv_pool_into(x, k, out, (1, 1), (1, 1), ((0, 0), (0, 0)), 1,
                                          (2, 2), (2, 2), "valid", {}, bias, True,
                                          argmax)  # fmt: skip
    want = _ref(x, k, bias, True)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
    assert len(calls) == 1


def test_training_kernel_gradient_from_its_argmax():
    """conv_pool_into with an argmax, then conv_pool_filter_grad_into: the kernel and bias
    gradients of sum(g * pooled) against float64 finite differences of that sum."""
    from backend.ops import conv_primitives

    x = rng.random((2, 10, 12, 1))
    k = rng.standard_normal((3, 3, 1, 5))
    bias = np.array([0.3, -0.2, 0.1, -2.0, 0.0])
    g = rng.standard_normal((2, 4, 5, 5))
    x32, k32, b32 = (a.astype(np.float32) for a in (x, k, bias))
    out = np.empty(g.shape, np.float32)
    argmax = np.empty(g.shape, np.uint8)
    args = ((1, 1), (1, 1), ((0, 0), (0, 0)), 1, (2, 2), (2, 2), "valid", {})
    assert conv_primitives.conv_pool_into(x32, k32, out, *args, b32, True, argmax)
    dk, db = np.empty(k.shape, np.float32), np.empty(5, np.float32)
    conv_primitives.conv_pool_filter_grad_into(x32, argmax, g.astype(np.float32), dk, (3, 3),
                                               (1, 1), (1, 1), ((0, 0), (0, 0)), (2, 2), {},
                                               db)  # fmt: skip

    def loss(k_, b_):
        return float((g * _ref(x, k_, b_, True)).sum())

    eps = 1e-6
    num_k = np.zeros(k.shape)
    for idx in np.ndindex(k.shape):
        kp, km = k.copy(), k.copy()
        kp[idx] += eps
        km[idx] -= eps
        num_k[idx] = (loss(kp, bias) - loss(km, bias)) / (2 * eps)
    num_b = np.array([(loss(k, bias + eps * e) - loss(k, bias - eps * e)) / (2 * eps)
                      for e in np.eye(5)])  # fmt: skip
    np.testing.assert_allclose(dk, num_k, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, num_b, rtol=1e-4, atol=1e-4)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(ww, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0
