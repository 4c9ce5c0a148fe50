"""backend.kernels.winograd_window (a one-channel 3x3 conv + bias + relu + 2x2 max pool by
Winograd F(2x2, 3x3) per pool window, for inference) against a float64 numpy convolution and
pool, serial and threaded (bit-identical), odd sizes, NaNs, the argument checks; and
`conv_pool_into` taking it without an argmax only."""

import numpy as np
import pytest

from backend.kernels import winograd_window as ww
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


@pytest.mark.parametrize("with_argmax", [False, True])
def test_conv_pool_into_takes_it_in_inference_only(monkeypatch, with_argmax):
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
    assert len(calls) == (0 if with_argmax else 1)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(ww, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0
