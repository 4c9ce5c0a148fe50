"""backend.kernels.winograd_f4 (Winograd F(4x4, 3x3) with bias, relu and a 2x2 max pool, for
inference): each transform against its matrices in float64 numpy, the whole convolution
against a float64 convolution + pool at the documented tolerance, the matrices against the
correlation they stand for, serial and threaded (bit-identical), NaNs, odd sizes, pads, and
the argument checks."""

import numpy as np
import pytest

from backend.kernels import winograd_f4 as w4
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]
#: F(4x4, 3x3)'s float32 error, relative to the largest output (docs/internals/kernels.md).
F4_TOL = 1e-5


def test_matrices_compute_a_correlation():
    # In one dimension, A^T [(G g) * (B^T d)] = the 4 outputs of a 3-tap correlation of the
    # 6 inputs d; in two, the same per axis.
    g, d = rng.standard_normal(3), rng.standard_normal(6)
    want = np.array([g @ d[i : i + 3] for i in range(4)])
    np.testing.assert_allclose(w4.A_T @ ((w4.G @ g) * (w4.B_T @ d)), want, rtol=1e-12)


def _tiles(x, top, left, tiles_h, tiles_w):
    """The 6x6 input tiles (T, 6, 6, C) of x, 0 outside the image (float64)."""
    n, h, w, c = x.shape
    pad = 8
    xp = np.zeros((n, h + 2 * pad + 4 * tiles_h, w + 2 * pad + 4 * tiles_w, c))
    xp[:, pad : pad + h, pad : pad + w] = x
    out = np.empty((n, tiles_h, tiles_w, 6, 6, c))
    for i in range(tiles_h):
        for j in range(tiles_w):
            r, s = pad + 4 * i - top, pad + 4 * j - left
            out[:, i, j] = xp[:, r : r + 6, s : s + 6]
    return out.reshape(-1, 6, 6, c)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(2, 13, 13, 5, 0, 0, 3, 3), (1, 7, 9, 3, 1, 1, 2, 3),
                                  (3, 4, 5, 2, 2, -1, 1, 2)], ids=str)  # fmt: skip
def test_input_transform_is_bt_d_b(case, dtype):
    n, h, w, c, top, left, th, tw = case
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    want = np.einsum("ra,tabc,sb->rstc", w4.B_T, _tiles(x, top, left, th, tw), w4.B_T)
    want = want.reshape(36, -1, c)

    def run():
        out = np.full((36, n * th * tw, c), np.nan, dtype)
        w4.input_transform(x, top, left, th, tw, out)
        return out

    got = same_bits_any_threads(run)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_filter_transform_is_g_g_gt(dtype):
    k = rng.standard_normal((3, 3, 4, 7)).astype(dtype)
    want = np.einsum("ra,abco,sb->rsco", w4.G, k.astype(np.float64), w4.G).reshape(36, 4, 7)
    out = np.empty((36, 4, 7), dtype)
    w4.filter_transform(k, out)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())


def _pool_ref(m, bias, relu, pooled_shape):
    """act(bias + A^T m A) of each tile, as the (N, 4*th, 4*tw, C) output, then the 2x2
    stride-2 max pool cut to pooled_shape (float64)."""
    n, ph, pw, c = pooled_shape
    th, tw = w4.tile_counts(ph, pw)
    tiles = m.astype(np.float64).reshape(6, 6, n, th, tw, c)
    y = np.einsum("ka,abntjc,lb->ntkjlc", w4.A_T, tiles, w4.A_T).reshape(n, 4 * th, 4 * tw, c)
    if bias is not None:
        y = y + bias
    if relu:
        y = np.maximum(y, 0)
    y = y.reshape(n, 2 * th, 2, 2 * tw, 2, c).max(axis=(2, 4))
    return y[:, :ph, :pw]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pooled_hw", [(5, 5), (2, 2), (1, 3), (4, 7)], ids=str)
def test_output_pool_transform_is_at_m_a_then_the_pool(pooled_hw, dtype):
    n, c = 3, 11
    th, tw = w4.tile_counts(*pooled_hw)
    m = rng.standard_normal((36, n * th * tw, c)).astype(dtype)
    for bias in (None, rng.standard_normal(c).astype(dtype)):
        for relu in (False, True):
            want = _pool_ref(m, bias, relu, (n, *pooled_hw, c))

            def run(bias=bias, relu=relu):
                out = np.full((n, *pooled_hw, c), np.nan, dtype)
                w4.output_pool_transform(m, bias, relu, out)
                return out

            got = same_bits_any_threads(run)
            tol = 1e-6 if dtype == np.float32 else 1e-13
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_output_pool_transform_keeps_nan():
    m = np.zeros((36, 1, 2), np.float32)
    m[0, 0, 0] = np.nan  # reaches the tile's top-left output only (A^T's column 0)
    out = np.empty((1, 2, 2, 2), np.float32)
    w4.output_pool_transform(m, None, True, out)
    assert np.isnan(out[0, 0, 0, 0])
    assert not np.isnan(out[0, :, :, 1]).any() and not np.isnan(out[0, 1, :, 0]).any()


def _conv_pool_ref(x, k, bias, top, left, out_hw):
    """relu(conv(x, k) + bias) (windows from (-top, -left), 0 outside), 2x2 max pooled."""
    x, k = x.astype(np.float64), k.astype(np.float64)
    n, h, w, _ = x.shape
    ho, wo = out_hw
    xp = np.zeros((n, ho + 2, wo + 2, x.shape[3]))
    rows, cols = min(h, ho + 2 - top), min(w, wo + 2 - left)
    xp[:, top : top + rows, left : left + cols] = x[:, :rows, :cols]
    y = sum(np.einsum("nhwc,co->nhwo", xp[:, a : a + ho, b : b + wo], k[a, b])
            for a in range(3) for b in range(3)) + bias  # fmt: skip
    y = np.maximum(y, 0)[:, : ho // 2 * 2, : wo // 2 * 2]
    return y.reshape(n, ho // 2, 2, wo // 2, 2, -1).max(axis=(2, 4))


@pytest.mark.parametrize("case", [(13, 13, 32, 64, 0, 0, (11, 11)), (8, 8, 16, 8, 1, 1, (8, 8)),
                                  (9, 6, 20, 3, 1, 0, (8, 4))], ids=str)  # fmt: skip
def test_convolution_within_the_float32_tolerance(case):
    # The three steps and the GEMMs in float32 against a float64 convolution + pool: within
    # F4_TOL of the largest output (F(4x4)'s error grows with C_in; the MNIST layer's 32).
    h, w, cin, cout, top, left, out_hw = case
    n = 4
    x = rng.random((n, h, w, cin), dtype=np.float32)
    k = (rng.standard_normal((3, 3, cin, cout)) / np.sqrt(9 * cin)).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32) * 0.1
    ph, pw = out_hw[0] // 2, out_hw[1] // 2
    th, tw = w4.tile_counts(ph, pw)
    v = np.empty((36, n * th * tw, cin), np.float32)
    u = np.empty((36, cin, cout), np.float32)
    w4.filter_transform(k, u)
    w4.input_transform(x, top, left, th, tw, v)
    got = np.empty((n, ph, pw, cout), np.float32)
    w4.output_pool_transform(np.matmul(v, u), bias, True, got)
    want = _conv_pool_ref(x, k, bias, top, left, out_hw)
    assert np.abs(got - want).max() <= F4_TOL * np.abs(want).max()


def test_argument_checks():
    x = np.zeros((1, 6, 6, 2), np.float32)
    with pytest.raises(ValueError, match="out"):
        w4.input_transform(x, 0, 0, 1, 1, np.empty((16, 1, 2), np.float32))
    with pytest.raises(ValueError, match="tiles_h"):
        w4.input_transform(x, 0, 0, 0, 1, np.empty((36, 0, 2), np.float32))
    with pytest.raises(ValueError, match="kernel must be 3x3"):
        w4.filter_transform(np.zeros((5, 5, 1, 1), np.float32), np.empty((36, 1, 1), np.float32))
    with pytest.raises(ValueError, match="m must have shape"):
        w4.output_pool_transform(np.zeros((36, 3, 2), np.float32), None, True,
                                 np.empty((1, 2, 2, 2), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="bias"):
        w4.output_pool_transform(np.zeros((36, 1, 2), np.float32), np.zeros(3, np.float32),
                                 True, np.empty((1, 2, 2, 2), np.float32))  # fmt: skip


def test_docstring_examples():
    import doctest

    result = doctest.testmod(w4, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0


def test_f4_takes_at_most_64_input_channels():
    from backend.ops import conv_winograd as cw

    assert cw.use_f4(np.float32, 64) and not cw.use_f4(np.float32, 65)
    assert not cw.use_f4(np.int32, 32)


@pytest.mark.parametrize("f4", [True, False])
def test_pooled_inference_takes_f4_when_on(monkeypatch, f4):
    # conv_winograd with a pool and no argmax (inference) runs F(4x4) by chunks of images
    # on the worker threads, or F(2x2) with it off: both within tolerance of float64.
    from backend.ops import conv_winograd as cw

    monkeypatch.setattr(cw, "F4_INFERENCE", f4)
    monkeypatch.setattr(cw, "WINOGRAD_CHUNK_BYTES", 60_000)  # several chunks
    calls, transform = [], w4.output_pool_transform

    def counted(*args, **kwargs):
        calls.append(1)
        transform(*args, **kwargs)

    monkeypatch.setattr(w4, "output_pool_transform", counted)
    x = rng.random((9, 13, 13, 32), dtype=np.float32)
    k = (rng.standard_normal((3, 3, 32, 64)) / np.sqrt(288)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32) * 0.1
    out = np.full((9, 5, 5, 64), np.nan, np.float32)
    cw.conv_winograd(x, k, (0, 0), (11, 11), out, {}, bias, True, pooled=True)
    want = _conv_pool_ref(x, k, bias, 0, 0, (11, 11))
    assert np.abs(out - want).max() <= F4_TOL * np.abs(want).max()
    assert (len(calls) > 1) == f4
