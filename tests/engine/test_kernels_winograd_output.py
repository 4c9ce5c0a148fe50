"""backend.kernels.winograd_output.output_pool_transform (Winograd's output transform with a 2x2
max pool) against output_transform then max_pool2d, bit for bit, with its argmax; and
backend.kernels.pool.max_unpool2d against max_pool2d_grad with relu's mask. Serial and
threaded (bit-identical), ties, NaNs, odd sizes, the argument checks."""

import numpy as np
import pytest

from backend.kernels import pool as kpool
from backend.kernels import winograd, winograd_output
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(5)
DTYPES = [np.float32, np.float64]


def _products(n, ho, wo, cout, dtype):
    tiles = winograd.tile_counts(ho, wo)
    return rng.standard_normal((16, n * tiles[0] * tiles[1], cout)).astype(dtype)


def _unfused(m, bias, relu, out_hw):
    """output_transform then max_pool2d: the bits to match; and the activation."""
    n = m.shape[1] // np.prod(winograd.tile_counts(*out_hw))
    y = np.empty((n, *out_hw, m.shape[2]), m.dtype)
    winograd.output_transform(m, bias, relu, y)
    pooled = np.empty((n, out_hw[0] // 2, out_hw[1] // 2, m.shape[2]), m.dtype)
    kpool.max_pool2d(y, (2, 2), (2, 2), (0, 0), pooled)
    return y, pooled


def ref_argmax(y, relu):
    """Each 2x2 window's first maximum (row-major, NaN over numbers) as r*2 + s, or 255 where
    relu and the maximum is not > 0."""
    n, ho, wo, c = y.shape
    cells = y[:, : ho // 2 * 2, : wo // 2 * 2].reshape(n, ho // 2, 2, wo // 2, 2, c)
    cells = cells.transpose(0, 1, 3, 5, 2, 4).reshape(n, ho // 2, wo // 2, c, 4)
    best, at = cells[..., 0].copy(), np.zeros(cells.shape[:-1], np.uint8)
    for i in range(1, 4):
        z = cells[..., i]
        takes = ~(z <= best) & (best == best)
        best, at = np.where(takes, z, best), np.where(takes, np.uint8(i), at)
    return np.where(best > 0, at, np.uint8(255)) if relu else at


def _pool(m, bias, relu, out_hw, shape):
    pooled, argmax = np.full(shape, np.nan, m.dtype), np.full(shape, 7, np.uint8)
    winograd_output.output_pool_transform(m, bias, relu, out_hw, pooled, argmax)
    return pooled, argmax


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_hw", [(11, 11), (2, 2), (8, 5), (3, 7)], ids=str)
def test_output_pool_transform_is_the_transform_then_the_pool(out_hw, dtype):
    m = _products(3, *out_hw, 19, dtype)
    for bias in (None, rng.standard_normal(19).astype(dtype)):
        for relu in (False, True):
            y, want = _unfused(m, bias, relu, out_hw)
            got, argmax = same_bits_any_threads(
                lambda bias=bias, relu=relu, shape=want.shape: _pool(m, bias, relu, out_hw, shape)
            )
            assert got.tobytes() == want.tobytes()
            np.testing.assert_array_equal(argmax, ref_argmax(y, relu))
            plain = np.empty_like(want)  # without an argmax: the same pooled values
            winograd_output.output_pool_transform(m, bias, relu, out_hw, plain, threads=False)
            assert plain.tobytes() == want.tobytes()


@pytest.mark.parametrize("out_hw", [(11, 11), (8, 5), (3, 7)], ids=str)
def test_output_pool_transform_takes_the_windows_tiles_only(out_hw):
    # Products for the pool's windows only (an odd output's last tile row and column
    # dropped): the same pooled bits and argmax as from every tile.
    m = _products(3, *out_hw, 19, np.float32)
    th, tw = winograd.tile_counts(*out_hw)
    ph, pw = out_hw[0] // 2, out_hw[1] // 2
    windows = np.ascontiguousarray(m.reshape(16, 3, th, tw, 19)[:, :, :ph, :pw]).reshape(16, -1, 19)
    bias = rng.standard_normal(19).astype(np.float32)
    want, want_argmax = _pool(m, bias, True, out_hw, (3, ph, pw, 19))
    got, argmax = same_bits_any_threads(lambda: _pool(windows, bias, True, out_hw, want.shape))
    assert got.tobytes() == want.tobytes() and argmax.tobytes() == want_argmax.tobytes()
    with pytest.raises(ValueError, match="output_pool_transform: m must have shape"):
        _pool(windows[:, 1:].copy(), bias, True, out_hw, want.shape)


@pytest.mark.parametrize("relu", [False, True])
def test_output_pool_transform_ties_and_nan(relu):
    # Products on a coarse grid give exact ties between cells; a NaN wins its window.
    m = rng.integers(-1, 2, (16, 2 * 9, 6)).astype(np.float32)
    m[:, 3, 2] = np.nan
    bias = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -3.0], np.float32)
    y, want = _unfused(m, bias, relu, (6, 6))
    got, argmax = _pool(m, bias, relu, (6, 6), want.shape)
    assert got.tobytes() == want.tobytes() and np.isnan(got).any()
    np.testing.assert_array_equal(argmax, ref_argmax(y, relu))
    assert (argmax == winograd_output.NO_GRADIENT).any() == relu


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "pool"), [((3, 11, 12, 5), (2, 2)), ((2, 9, 7, 3), (3, 2))])
def test_max_unpool2d_is_the_masked_pool_gradient(shape, pool, dtype):
    y = np.maximum(rng.standard_normal(shape), 0).astype(dtype)  # a relu's output
    y[0, :4, :4] = 0  # windows wholly zero: relu's gradient is 0 there
    windows = (shape[0], shape[1] // pool[0], shape[2] // pool[1], shape[3])
    g = rng.standard_normal(windows).astype(dtype)
    want = np.empty_like(y)
    kpool.max_pool2d_grad(y, g, pool, pool, (0, 0), want, relu_mask=True)
    cells = y[:, : windows[1] * pool[0], : windows[2] * pool[1]]
    cells = cells.reshape(windows[0], windows[1], pool[0], windows[2], pool[1], shape[3])
    flat = cells.transpose(0, 1, 3, 5, 2, 4).reshape(*windows, -1)
    argmax = np.where(flat.max(-1) > 0, flat.argmax(-1), 255).astype(np.uint8)

    def call():
        dx = np.full(shape, np.nan, dtype)
        kpool.max_unpool2d(g, argmax, pool, dx)
        return dx

    assert same_bits_any_threads(call).tobytes() == want.tobytes()


def test_checks():
    m = _products(1, 4, 4, 3, np.float32)
    pooled, argmax = np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 2, 2, 3), np.uint8)
    name = "output_pool_transform"
    with pytest.raises(ValueError, match=rf"{name}: pooled must have shape \(1, 2, 2, 3\)"):
        winograd_output.output_pool_transform(m, None, True, (4, 4), pooled[:, :1].copy())
    with pytest.raises(ValueError, match=rf"{name}: m must have shape \(16, 4, 3\)"):
        winograd_output.output_pool_transform(m[:, :3].copy(), None, True, (4, 4), pooled)
    with pytest.raises(TypeError, match=f"{name}: argmax must be uint8"):
        winograd_output.output_pool_transform(m, None, True, (4, 4), pooled, pooled.copy())
    with pytest.raises(ValueError, match=rf"{name}: bias must have shape \(3,\)"):
        winograd_output.output_pool_transform(m, np.zeros(2, np.float32), True, (4, 4), pooled)
    with pytest.raises(ValueError, match=f"{name}: pooled must not overlap m"):
        winograd_output.output_pool_transform(m, None, True, (4, 4),
                                            m.reshape(-1)[:12].reshape(1, 2, 2, 3))  # fmt: skip
    with pytest.raises(ValueError, match=f"{name}: pooled must be a 4-D array"):
        winograd_output.output_pool_transform(m, None, True, (4, 4), pooled[0])
    name = "max_unpool2d"
    dx = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(TypeError, match=f"{name}: argmax must be uint8"):
        kpool.max_unpool2d(pooled, pooled, (2, 2), dx)
    with pytest.raises(ValueError, match=f"{name}: g must hold the whole 2x2 windows of dx"):
        kpool.max_unpool2d(pooled, argmax, (2, 2), np.zeros((1, 6, 4, 3), np.float32))
    with pytest.raises(ValueError, match=f"{name}: pool sizes must be >= 1"):
        kpool.max_unpool2d(pooled, argmax, (0, 2), dx)
    with pytest.raises(ValueError, match=f"{name}: dx must not overlap g"):
        kpool.max_unpool2d(pooled, argmax, (1, 1), pooled)


def test_argmax_or_not_one_signature():
    m = _products(1, 4, 4, 3, np.float64)
    pooled = np.empty((1, 2, 2, 3))
    winograd_output.output_pool_transform(m, None, False, (4, 4), pooled)
    count = len(winograd_output._output_pool_transform.signatures)
    for relu in (False, True):
        winograd_output.output_pool_transform(m, np.ones(3), relu, (4, 4), pooled,
                                              np.empty(pooled.shape, np.uint8))  # fmt: skip
    assert len(winograd_output._output_pool_transform.signatures) == count
