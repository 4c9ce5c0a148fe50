"""backend.kernels.conv_window: the window-by-window kernel gradient of a one-channel 3x3 conv
under a 2x2 max pool against the generic direct kernel it replaces (to float rounding) and
float64 sums, serial and threaded (bit-identical), and which shapes the conv wrapper sends to
it. (The wrapper's own tests in test_kernels_conv*.py run through it for these shapes too.)"""

import numpy as np
import pytest

from backend.kernels import conv_window
from backend.kernels.conv_direct import conv_direct_pool_nhwc
from backend.kernels.conv_direct_grad import conv_filter_pool_direct_nhwc
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(21)


def _case(n, h, w, cout, dtype, nan=False):
    x = rng.standard_normal((n, h, w, 1)).astype(dtype)
    if nan:
        x[0, 3, 4, 0] = np.nan
    k = rng.standard_normal((3, 3, 1, cout)).astype(dtype)
    bias = np.linspace(-1.5, 0.5, cout).astype(dtype)  # some windows all negative
    return x, k, bias


def _pooled_shape(x, cout):
    return (x.shape[0], (x.shape[1] - 2) // 2, (x.shape[2] - 2) // 2, cout)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 28, 28, 32), (2, 9, 12, 5), (17, 4, 5, 1)], ids=str)
def test_kernel_gradient_matches_the_generic_kernel_and_float64(shape, dtype):
    n, h, w, cout = shape
    x, k, bias = _case(n, h, w, cout, dtype)
    pooled = _pooled_shape(x, cout)
    out, argmax = np.empty(pooled, dtype), np.empty(pooled, np.uint8)
    conv_direct_pool_nhwc(x, k, bias, True, 1, 1, 1, 1, 2, 2, out, argmax)
    g = rng.standard_normal(pooled).astype(dtype)
    generic, generic_bias = np.empty(k.shape, dtype), np.empty(cout, dtype)
    with pytest.MonkeyPatch.context() as patch:  # the generic direct kernel, not the window's
        patch.setattr(conv_window, "applies", lambda *args: False)
        conv_filter_pool_direct_nhwc(x, argmax, g, 1, 1, 1, 1, 2, 2, generic, generic_bias)

    def call():
        dk, db = np.full(k.shape, np.nan, dtype), np.full(cout, np.nan, dtype)
        conv_filter_pool_direct_nhwc(x, argmax, g, 1, 1, 1, 1, 2, 2, dk, db)
        return dk, db

    dk, db = same_bits_any_threads(call)
    # float64 sums: each window's gradient times the 3x3 cells under its argmax.
    ref, ref_bias = np.zeros((3, 3, cout)), np.zeros(cout)
    for n_, i, j, o in zip(*np.nonzero(argmax < 4), strict=True):
        r, s = divmod(int(argmax[n_, i, j, o]), 2)
        cells = x[n_, 2 * i + r : 2 * i + r + 3, 2 * j + s : 2 * j + s + 3, 0]
        ref[:, :, o] += float(g[n_, i, j, o]) * cells.astype(np.float64)
        ref_bias[o] += g[n_, i, j, o]
    tol = 1e-4 if dtype == np.float32 else 1e-11
    scale = max(1.0, np.abs(ref).max())
    np.testing.assert_allclose(dk[:, :, 0], ref, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(db, ref_bias, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(dk, generic, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(db, generic_bias, rtol=tol, atol=tol * scale)


def test_which_shapes_take_the_window_kernels(monkeypatch):
    assert conv_window.applies((3, 3, 1, 32), (1, 1), (1, 1), (2, 2), (2, 2))
    for args in [
        ((3, 3, 3, 32), (1, 1), (1, 1), (2, 2), (2, 2)),  # three input channels
        ((5, 5, 1, 32), (1, 1), (1, 1), (2, 2), (2, 2)),
        ((3, 3, 1, 32), (2, 2), (1, 1), (2, 2), (2, 2)),
        ((3, 3, 1, 32), (1, 1), (2, 2), (2, 2), (2, 2)),
        ((3, 3, 1, 32), (1, 1), (1, 1), (3, 3), (3, 3)),
        ((3, 3, 1, 32), (1, 1), (1, 1), (2, 2), (1, 1)),
    ]:
        assert not conv_window.applies(*args)
    calls = []
    real = conv_window.gradient_chunks
    monkeypatch.setattr(conv_window, "gradient_chunks", lambda *a: calls.append(1) or real(*a))
    x, k, bias = _case(1, 8, 8, 4, np.float32)
    for pool, shape in ((2, (1, 3, 3, 4)), (3, (1, 2, 2, 4))):
        out, argmax = np.empty(shape, np.float32), np.empty(shape, np.uint8)
        conv_direct_pool_nhwc(x, k, bias, True, 1, 1, 1, 1, pool, pool, out, argmax)
        dk, db = np.empty(k.shape, np.float32), np.empty(4, np.float32)
        conv_filter_pool_direct_nhwc(x, argmax, np.ones(shape, np.float32), 1, 1, 1, 1, pool,
                                     pool, dk, db)  # fmt: skip
    assert calls == [1]
