"""backend.kernels.winograd_grad: the backward transforms against plain numpy (float64), the
whole Winograd input gradient (grad transform, GEMM, input_grad_transform) against a direct
numpy transposed convolution over a grid of sizes and pads, serial and threaded
(bit-identical), and the wrappers' argument checks."""

import itertools

import numpy as np
import pytest

from backend.kernels import winograd, winograd_grad
from backend.testing import conv_transpose_reference, same_bits_any_threads

rng = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
A = np.array([[1, 0], [1, 1], [1, -1], [0, -1]], np.float64)


# ---- naive references (float64) ---------------------------------------------------------------


def dense_from_pool(g, argmax, out_hw):
    """The conv output gradient a 2x2 stride-2 max pool's gradient routes: g[n, i, j] to the
    cell (2i + r, 2j + s) of argmax r*2 + s, nothing for 255."""
    n, ph, pw, c = g.shape
    dy = np.zeros((n, *out_hw, c))
    for i, j, cell in itertools.product(range(ph), range(pw), range(4)):
        r, s = divmod(cell, 2)
        hit = argmax[:, i, j] == cell
        dy[:, 2 * i + r, 2 * j + s][hit] = g[:, i, j][hit]
    return dy


def ref_grad_transform(dy, tiles_h, tiles_w):
    """W[4*k + l, t] = (A dy_t A^T)[k, l] for the first tiles_h x tiles_w tiles of dy."""
    n, ho, wo, c = dy.shape
    padded = np.zeros((n, 2 * tiles_h, 2 * tiles_w, c))
    hh, ww = min(ho, 2 * tiles_h), min(wo, 2 * tiles_w)
    padded[:, :hh, :ww] = dy[:, :hh, :ww]
    tiles = padded.reshape(n, tiles_h, 2, tiles_w, 2, c).transpose(0, 1, 3, 2, 4, 5)
    w = np.einsum("kr,trsc,ls->kltc", A, tiles.reshape(-1, 2, 2, c), A)
    return w.reshape(16, -1, c)


def ref_input_grad_transform(dv, top, left, tiles_h, tiles_w, image_shape):
    """dx = the sum over tiles of B dv_t B^T at the cells the tile reads, the rest dropped."""
    n, h, w, c = image_shape
    dd = np.einsum("ra,rstc,sb->tabc", B_T, dv.astype(np.float64).reshape(4, 4, -1, c), B_T)
    dd = dd.reshape(n, tiles_h, tiles_w, 4, 4, c)
    dx = np.zeros(image_shape)
    for i, j, a, b in itertools.product(range(tiles_h), range(tiles_w), range(4), range(4)):
        row, col = 2 * i + a - top, 2 * j + b - left
        if 0 <= row < h and 0 <= col < w:
            dx[:, row, col] += dd[:, i, j, a, b]
    return dx


def random_argmax(shape):
    argmax = rng.integers(0, 4, shape).astype(np.uint8)
    argmax[rng.random(shape) < 0.3] = winograd_grad.NO_GRADIENT
    return argmax


# ---- W from the pool's gradient ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pooled_shape", [(1, 1, 1, 1), (2, 5, 5, 16), (3, 2, 4, 33)], ids=str)
def test_pooled_grad_transform_is_the_dense_transform(pooled_shape, dtype):
    n, ph, pw, c = pooled_shape
    g = rng.standard_normal(pooled_shape).astype(dtype)
    argmax = random_argmax(pooled_shape)

    def call():
        out = np.full((16, n * ph * pw, c), np.nan, dtype)
        bias = np.full(c, np.nan, dtype)
        winograd_grad.pooled_grad_transform(g, argmax, out, bias)
        return out, bias

    out, bias = same_bits_any_threads(call)
    # An odd conv output (2*ph + 1 rows) has a last row no window covers: no tiles for it.
    dy = dense_from_pool(g.astype(np.float64), argmax, (2 * ph + 1, 2 * pw + 1))
    np.testing.assert_array_equal(out, ref_grad_transform(dy, ph, pw))  # exact: +-g or 0
    expected_bias = dy.sum(axis=(0, 1, 2))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(bias, expected_bias, rtol=tol, atol=tol)
    serial = np.empty_like(out)
    winograd_grad.pooled_grad_transform(g, argmax, serial, threads=False)
    assert serial.tobytes() == out.tobytes()


def test_pooled_grad_transform_equals_grad_transform_of_the_unpooled_gradient():
    # The same W the dense path builds (max_unpool2d, then grad_transform), tile for tile.
    from backend.kernels import pool

    g = rng.standard_normal((2, 5, 5, 8)).astype(np.float32)
    argmax = random_argmax(g.shape)
    dy = np.full((2, 11, 11, 8), np.nan, np.float32)
    pool.max_unpool2d(g, argmax, (2, 2), dy)
    dense = np.empty((16, 2 * 36, 8), np.float32)
    winograd.grad_transform(dy, dense)
    pooled = np.empty((16, 2 * 25, 8), np.float32)
    winograd_grad.pooled_grad_transform(g, argmax, pooled)
    under_windows = dense.reshape(16, 2, 6, 6, 8)[:, :, :5, :5].reshape(16, -1, 8)
    np.testing.assert_array_equal(pooled, under_windows)


def test_pooled_grad_transform_propagates_nan_where_there_is_a_gradient():
    g = np.array([np.nan, np.nan, 2.0], np.float32).reshape(1, 1, 3, 1)
    argmax = np.array([0, 255, 255], np.uint8).reshape(1, 1, 3, 1)
    out = np.empty((16, 3, 1), np.float32)
    bias = np.empty(1, np.float32)
    winograd_grad.pooled_grad_transform(g, argmax, out, bias)
    assert np.isnan(out[0, 0, 0]) and np.isnan(bias[0])
    # No gradient (relu's, at a maximum <= 0): zeros whatever g holds, as the unpooled path.
    assert (out[:, 1:] == 0).all()
    winograd_grad.pooled_grad_transform(g[:, :, 1:], argmax[:, :, 1:], out[:, 1:].copy(), bias)
    assert bias[0] == 0


# ---- the input gradient -------------------------------------------------------------------------

# (image shape, pad_top, pad_left, tiles_h, tiles_w): as test_kernels_winograd.INPUT_CASES,
# tiles inside, overhanging, padded before, cropped before (negative pads), wholly outside.
INPUT_CASES = [
    ((2, 6, 8, 3), 0, 0, 2, 3),
    ((2, 7, 5, 16), 1, 1, 4, 3),
    ((1, 5, 6, 33), 2, 0, 4, 3),
    ((2, 9, 7, 1), -1, -2, 3, 2),
    ((1, 4, 4, 5), 3, 3, 4, 4),
    ((3, 13, 13, 32), 0, 0, 5, 5),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, top, left, tiles_h, tiles_w", INPUT_CASES, ids=str)
def test_input_grad_transform_matches_numpy(shape, top, left, tiles_h, tiles_w, dtype):
    t = shape[0] * tiles_h * tiles_w
    dv = rng.standard_normal((16, t, shape[3])).astype(dtype)

    def call():
        dx = np.full(shape, np.nan, dtype)
        winograd_grad.input_grad_transform(dv, top, left, tiles_h, tiles_w, dx)
        return dx

    dx = same_bits_any_threads(call)
    expected = ref_input_grad_transform(dv, top, left, tiles_h, tiles_w, shape)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol * np.abs(expected).max())
    serial = np.empty(shape, dtype)
    winograd_grad.input_grad_transform(dv, top, left, tiles_h, tiles_w, serial, threads=False)
    assert serial.tobytes() == dx.tobytes()


@pytest.mark.parametrize("shape, top, left, tiles_h, tiles_w", INPUT_CASES, ids=str)
def test_input_grad_transform_is_the_transpose_of_input_transform(shape, top, left, tiles_h,
                                                                  tiles_w):  # fmt: skip
    # <input_transform(x), dv> == <x, input_grad_transform(dv)> for any x and dv.
    x = rng.standard_normal(shape)
    dv = rng.standard_normal((16, shape[0] * tiles_h * tiles_w, shape[3]))
    v = np.empty_like(dv)
    winograd.input_transform(x, top, left, tiles_h, tiles_w, v)
    dx = np.empty_like(x)
    winograd_grad.input_grad_transform(dv, top, left, tiles_h, tiles_w, dx)
    assert np.vdot(v, dv) == pytest.approx(np.vdot(x, dx), rel=1e-12)


CONV_GEOMETRIES = [
    (2, 6, 6, ((0, 0), (0, 0))),
    (2, 7, 9, ((0, 0), (0, 0))),
    (1, 5, 8, ((1, 1), (1, 1))),
    (2, 9, 6, ((1, 1), (1, 1))),
    (1, 6, 7, ((2, 0), (0, 1))),
    (2, 8, 5, ((0, -1), (2, 2))),
    (1, 3, 4, ((2, 2), (1, 2))),
]


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=str)
@pytest.mark.parametrize("channels", [(1, 1), (16, 3), (33, 5)], ids=str)
def test_winograd_input_grad_matches_direct_sums(geometry, channels):
    # W of the output gradient, dV = W @ U^T per position, then the transpose of the input
    # transform: the input gradient of the convolution.
    n, h, w, ((top, bottom), (left, right)) = geometry
    ho, wo = h + top + bottom - 2, w + left + right - 2
    k = rng.standard_normal((3, 3, *channels))
    dy = rng.standard_normal((n, ho, wo, channels[1]))
    pads = ((top, bottom), (left, right))
    expected = conv_transpose_reference(dy, k, (1, 1), (1, 1), pads, (0, 0), 1)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        tiles_h, tiles_w = winograd.tile_counts(ho, wo)
        wt = np.empty((16, n * tiles_h * tiles_w, channels[1]), dtype)
        winograd.grad_transform(dy.astype(dtype), wt)
        u = np.empty((16, *channels), dtype)
        winograd.filter_transform(k.astype(dtype), u)
        dv = np.matmul(wt, u.transpose(0, 2, 1))
        dx = np.full((n, h, w, channels[0]), np.nan, dtype)
        winograd_grad.input_grad_transform(dv, top, left, tiles_h, tiles_w, dx)
        assert np.abs(dx - expected).max() <= tol * np.abs(expected).max()


# ---- wrappers ------------------------------------------------------------------------------------


def test_wrapper_checks():
    g = np.zeros((1, 2, 2, 3), np.float32)
    argmax = np.zeros((1, 2, 2, 3), np.uint8)
    out = np.zeros((16, 4, 3), np.float32)
    with pytest.raises(TypeError, match="pooled_grad_transform: argmax must be uint8"):
        winograd_grad.pooled_grad_transform(g, argmax.astype(np.int32), out)
    with pytest.raises(ValueError, match="pooled_grad_transform: out must have shape"):
        winograd_grad.pooled_grad_transform(g, argmax, np.zeros((16, 3, 3), np.float32))
    with pytest.raises(ValueError, match="pooled_grad_transform: bias_out must have shape"):
        winograd_grad.pooled_grad_transform(g, argmax, out, np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="pooled_grad_transform: out must be float32"):
        winograd_grad.pooled_grad_transform(g, argmax, out.astype(np.float64))
    with pytest.raises(ValueError, match="pooled_grad_transform: g must be a 4-D array"):
        winograd_grad.pooled_grad_transform(g[0], argmax, out)
    dx = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="input_grad_transform: dv must have shape"):
        winograd_grad.input_grad_transform(out[:, :3], 0, 0, 2, 2, dx)
    with pytest.raises(ValueError, match="input_grad_transform: tiles_h and tiles_w"):
        winograd_grad.input_grad_transform(out, 0, 0, 0, 2, dx)
    with pytest.raises(ValueError, match="input_grad_transform: dx must not overlap dv"):
        winograd_grad.input_grad_transform(out, 0, 0, 2, 2, out[:4].reshape(1, 4, 4, 3))


def test_one_signature_per_dtype():
    from backend.kernels import compiled_signature_count

    g = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    argmax = random_argmax(g.shape)
    out = np.empty((16, 18, 4), np.float32)
    winograd_grad.pooled_grad_transform(g, argmax, out, np.empty(4, np.float32))
    dx = np.empty((2, 8, 8, 4), np.float32)
    winograd_grad.input_grad_transform(out, 1, 1, 3, 3, dx)
    before = compiled_signature_count()
    nine = np.empty((16, 9, 4), np.float32)
    winograd_grad.pooled_grad_transform(g[:1], argmax[:1], nine, threads=False)
    winograd_grad.input_grad_transform(nine, 0, 0, 3, 3, np.empty((1, 7, 7, 4), np.float32))
    assert compiled_signature_count() == before


def test_docstring_examples():
    import doctest

    result = doctest.testmod(winograd_grad, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6 and result.failed == 0
