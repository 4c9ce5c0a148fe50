"""backend.kernels.winograd: the three F(2x2, 3x3) transforms against plain numpy, the whole
Winograd convolution (transforms + batched GEMM) against a direct numpy convolution over a
grid of sizes, pads and channels, float32 and float64, serial and threaded (bit-identical),
and the wrappers' argument checks."""

import itertools

import numpy as np
import pytest

from backend.kernels import winograd, winograd_output
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(7)
DTYPES = [np.float32, np.float64]

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)


# ---- naive references (float64) ---------------------------------------------------------------


def ref_filter_transform(k):
    """U[4*r + s, c, o] = (G k[:, :, c, o] G^T)[r, s]."""
    u = np.einsum("ra,abco,sb->rsco", G, k.astype(np.float64), G)
    return u.reshape(16, *k.shape[2:])


def ref_tiles(x, top, left, tiles_h, tiles_w):
    """d[t] (4, 4, C) for tile t = (n*tiles_h + i)*tiles_w + j: the cells x[n, 2i + r - top,
    2j + s - left], 0 outside the image."""
    n, h, w, c = x.shape
    d = np.zeros((n, tiles_h, tiles_w, 4, 4, c))
    for i, j, r, s in itertools.product(range(tiles_h), range(tiles_w), range(4), range(4)):
        row, col = 2 * i + r - top, 2 * j + s - left
        if 0 <= row < h and 0 <= col < w:
            d[:, i, j, r, s] = x[:, row, col]
    return d.reshape(-1, 4, 4, c)


def ref_input_transform(x, top, left, tiles_h, tiles_w):
    d = ref_tiles(x, top, left, tiles_h, tiles_w)
    v = np.einsum("ra,tabc,sb->rstc", B_T, d, B_T)
    return v.reshape(16, d.shape[0], x.shape[3])


def ref_output_transform(m, out_shape, bias=None, relu=False):
    n, ho, wo, cout = out_shape
    tiles_h, tiles_w = (ho + 1) // 2, (wo + 1) // 2
    y = np.einsum("ra,abto,sb->trso", A_T, m.astype(np.float64).reshape(4, 4, -1, cout), A_T)
    y = y.reshape(n, tiles_h, tiles_w, 2, 2, cout).transpose(0, 1, 3, 2, 4, 5)
    y = y.reshape(n, 2 * tiles_h, 2 * tiles_w, cout)[:, :ho, :wo]
    if bias is not None:
        y = y + bias
    return np.maximum(y, 0) if relu else y


def ref_conv(x, k, top, left, ho, wo):
    """out[n, i, j, o] = sum_{a, b, c} x[n, i + a - top, j + b - left, c] k[a, b, c, o], cells
    outside x read as 0 (a negative pad crops)."""
    n, h, w, c = x.shape
    xp = np.zeros((n, ho + 2, wo + 2, c))
    for i in range(ho + 2):
        for j in range(wo + 2):
            row, col = i - top, j - left
            if 0 <= row < h and 0 <= col < w:
                xp[:, i, j] = x[:, row, col]
    out = np.zeros((n, ho, wo, k.shape[3]))
    for a in range(3):
        for b in range(3):
            out += xp[:, a : a + ho, b : b + wo] @ k[a, b].astype(np.float64)
    return out


def winograd_conv(x, k, top, left, ho, wo, bias=None, relu=False):
    """The whole convolution: filter and input transforms, one batched GEMM, the output
    transform."""
    dtype = x.dtype
    tiles_h, tiles_w = winograd.tile_counts(ho, wo)
    t = x.shape[0] * tiles_h * tiles_w
    u = np.full((16, *k.shape[2:]), np.nan, dtype)
    winograd.filter_transform(k, u)
    v = np.full((16, t, x.shape[3]), np.nan, dtype)
    winograd.input_transform(x, top, left, tiles_h, tiles_w, v)
    m = np.matmul(v, u)
    out = np.full((x.shape[0], ho, wo, k.shape[3]), np.nan, dtype)
    winograd.output_transform(m, bias, relu, out)
    return out


# ---- the transforms ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [(1, 1), (3, 16), (33, 5)], ids=str)
def test_filter_transform_matches_numpy(channels, dtype):
    k = rng.standard_normal((3, 3, *channels)).astype(dtype)

    def call():
        out = np.full((16, *channels), np.nan, dtype)
        winograd.filter_transform(k, out)
        return out

    tol = 1e-6 if dtype == np.float32 else 1e-14
    expected = ref_filter_transform(k)
    np.testing.assert_allclose(same_bits_any_threads(call), expected, rtol=tol, atol=tol)


# (image shape, pad_top, pad_left, tiles_h, tiles_w): tiles inside, overhanging the bottom and
# right, padded before, cropped before (negative pads), and tiles wholly outside the image.
INPUT_CASES = [
    ((2, 6, 8, 3), 0, 0, 2, 3),
    ((2, 7, 5, 16), 1, 1, 4, 3),
    ((1, 5, 6, 33), 2, 0, 4, 3),
    ((2, 9, 7, 1), -1, -2, 3, 2),
    ((1, 4, 4, 5), 3, 3, 4, 4),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, top, left, tiles_h, tiles_w", INPUT_CASES, ids=str)
def test_input_transform_matches_numpy(shape, top, left, tiles_h, tiles_w, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    t = shape[0] * tiles_h * tiles_w

    def call():
        out = np.full((16, t, shape[3]), np.nan, dtype)
        winograd.input_transform(x, top, left, tiles_h, tiles_w, out)
        return out

    tol = 1e-6 if dtype == np.float32 else 1e-14
    expected = ref_input_transform(x, top, left, tiles_h, tiles_w)
    np.testing.assert_allclose(same_bits_any_threads(call), expected, rtol=tol, atol=tol)
    out = np.empty((16, t, shape[3]), dtype)
    winograd.input_transform(x, top, left, tiles_h, tiles_w, out, threads=False)
    assert out.tobytes() == call().tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_shape", [(2, 4, 6, 3), (2, 5, 7, 16), (1, 1, 1, 33), (3, 3, 2, 1)],
                         ids=str)  # fmt: skip
@pytest.mark.parametrize("with_bias, relu", [(False, False), (True, False), (True, True),
                                             (False, True)])  # fmt: skip
def test_output_transform_matches_numpy(out_shape, with_bias, relu, dtype):
    n, ho, wo, cout = out_shape
    tiles = n * ((ho + 1) // 2) * ((wo + 1) // 2)
    m = rng.standard_normal((16, tiles, cout)).astype(dtype)
    bias = rng.standard_normal(cout).astype(dtype) if with_bias else None

    def call():
        out = np.full(out_shape, np.nan, dtype)
        winograd.output_transform(m, bias, relu, out)
        return out

    got = same_bits_any_threads(call)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, ref_output_transform(m, out_shape, bias, relu), rtol=tol,
                               atol=tol)  # fmt: skip
    assert (got == 0).any() == relu  # relu cut something, and nothing else makes zeros
    out = np.empty(out_shape, dtype)
    winograd.output_transform(m, bias, relu, out, threads=False)
    assert out.tobytes() == got.tobytes()


def test_output_relu_keeps_nan():
    m = np.zeros((16, 1, 2), np.float32)
    m[5, 0, 0] = np.nan
    m[5, 0, 1] = -1.0
    out = np.empty((1, 2, 2, 2), np.float32)
    winograd.output_transform(m, None, True, out)
    assert np.isnan(out[..., 0]).all() and (out[..., 1] == 0).all()


# ---- the whole convolution -------------------------------------------------------------------

# (batch, height, width, pads ((top, bottom), (left, right))): odd and even sizes; valid, same,
# asymmetric and negative (cropping) pads.
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
@pytest.mark.parametrize("channels", [(1, 1), (3, 16), (16, 3), (33, 33)], ids=str)
def test_winograd_conv_matches_direct_conv(geometry, channels):
    n, h, w, ((top, bottom), (left, right)) = geometry
    ho, wo = h + top + bottom - 2, w + left + right - 2
    x = rng.standard_normal((n, h, w, channels[0]))
    k = rng.standard_normal((3, 3, *channels))
    expected = ref_conv(x, k, top, left, ho, wo)
    got64 = winograd_conv(x, k, top, left, ho, wo)
    np.testing.assert_allclose(got64, expected, rtol=1e-12, atol=1e-12)
    got32 = winograd_conv(x.astype(np.float32), k.astype(np.float32), top, left, ho, wo)
    assert got32.dtype == np.float32
    scale = np.abs(expected).max()
    assert np.abs(got32 - got64).max() <= 2e-5 * scale


def test_float32_error_is_about_a_direct_sums():
    # Unit-scale data over 64 input channels: Winograd's float32 error stays near that of the
    # direct sum (the transforms add a few roundings, the products are exact in 1/2 steps).
    x = rng.standard_normal((4, 12, 12, 64))
    k = rng.standard_normal((3, 3, 64, 32)) / 24
    expected = ref_conv(x, k, 1, 1, 12, 12)
    got = winograd_conv(x.astype(np.float32), k.astype(np.float32), 1, 1, 12, 12)
    assert np.abs(got - expected).max() / np.abs(expected).max() < 2e-6


@pytest.mark.parametrize("dtype", DTYPES)
def test_winograd_conv_with_bias_and_relu(dtype):
    x = rng.standard_normal((2, 7, 8, 16)).astype(dtype)
    k = rng.standard_normal((3, 3, 16, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    expected = np.maximum(ref_conv(x, k, 1, 1, 7, 8) + bias, 0)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    got = same_bits_any_threads(lambda: winograd_conv(x, k, 1, 1, 7, 8, bias, True))
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_one_signature_per_dtype():
    for dtype in DTYPES:
        winograd_conv(np.ones((1, 5, 6, 2), dtype), np.ones((3, 3, 2, 3), dtype), 1, 0, 5, 4)
        winograd_conv(np.ones((3, 9, 4, 5), dtype), np.ones((3, 3, 5, 1), dtype), 0, 1, 7, 4,
                      np.ones(1, dtype), True)  # fmt: skip
    for kernel in (winograd._input_tile_rows, winograd_output._output_transform):
        assert len(kernel.signatures) == 2


# ---- argument checks ---------------------------------------------------------------------------


def test_wrapper_checks():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"filter_transform: kernel must be 3x3"):
        winograd.filter_transform(np.zeros((2, 3, 2, 2), np.float32), np.zeros((16, 2, 2)))
    with pytest.raises(ValueError, match=r"filter_transform: out must have shape \(16, 2, 3\)"):
        winograd.filter_transform(np.zeros((3, 3, 2, 3), np.float32),
                                  np.zeros((16, 3, 2), np.float32))  # fmt: skip
    with pytest.raises(TypeError, match="filter_transform: out must be float32"):
        winograd.filter_transform(np.zeros((3, 3, 2, 3), np.float32), np.zeros((16, 2, 3)))
    with pytest.raises(TypeError, match="input_transform: x must be float32 or float64"):
        winograd.input_transform(x.astype(np.int32), 0, 0, 1, 1, np.zeros((16, 1, 2)))
    with pytest.raises(ValueError, match=r"input_transform: x must be a 4-D array"):
        winograd.input_transform(x[0], 0, 0, 1, 1, np.zeros((16, 1, 2), np.float32))
    with pytest.raises(ValueError, match=r"input_transform: out must have shape \(16, 4, 2\)"):
        winograd.input_transform(x, 0, 0, 2, 2, np.zeros((16, 1, 2), np.float32))
    with pytest.raises(ValueError, match="input_transform: tiles_h and tiles_w must be >= 1"):
        winograd.input_transform(x, 0, 0, 0, 2, np.zeros((16, 0, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        winograd.input_transform(np.zeros((1, 4, 8, 2), np.float32)[:, :, ::2], 0, 0, 1, 1,
                                 np.zeros((16, 1, 2), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="read-only"):
        out = np.zeros((16, 1, 2), np.float32)
        out.flags.writeable = False
        winograd.input_transform(x, 0, 0, 1, 1, out)
    with pytest.raises(ValueError, match=r"output_transform: m must have shape \(16, 4, 3\)"):
        winograd.output_transform(np.zeros((16, 2, 3), np.float32), None, False,
                                  np.zeros((1, 3, 4, 3), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match=r"output_transform: bias must have shape \(3,\)"):
        winograd.output_transform(np.zeros((16, 1, 3), np.float32), np.zeros(2, np.float32),
                                  False, np.zeros((1, 2, 2, 3), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="output_transform: out must not overlap m"):
        m = np.zeros((16, 1, 1), np.float32)
        winograd.output_transform(m, None, False, m[:4].reshape(1, 2, 2, 1))


def test_docstring_examples():
    import doctest

    result = doctest.testmod(winograd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 9 and result.failed == 0


# ---- the kernel gradient, F(3x3, 2x2) ------------------------------------------------------------

A = A_T.T  # (4, 2)


def ref_grad_transform(g):
    """W[4*k + l, t] = (A g_t A^T)[k, l], g_t the tile's 2x2 cells (0 past the edge)."""
    n, ho, wo, c = g.shape
    tiles_h, tiles_w = (ho + 1) // 2, (wo + 1) // 2
    padded = np.zeros((n, 2 * tiles_h, 2 * tiles_w, c))
    padded[:, :ho, :wo] = g
    tiles = padded.reshape(n, tiles_h, 2, tiles_w, 2, c).transpose(0, 1, 3, 2, 4, 5)
    w = np.einsum("kr,trsc,ls->kltc", A, tiles.reshape(-1, 2, 2, c), A)
    return w.reshape(16, -1, c)


def ref_filter_grad(x, g, top, left):
    """dk[a, b, c, o] = sum_{n, i, j} x[n, i + a - top, j + b - left, c] g[n, i, j, o]."""
    n, ho, wo, _ = g.shape
    h, w = x.shape[1:3]
    xp = np.zeros((n, ho + 2, wo + 2, x.shape[3]))
    for i in range(ho + 2):
        for j in range(wo + 2):
            if 0 <= i - top < h and 0 <= j - left < w:
                xp[:, i, j] = x[:, i - top, j - left]
    dk = np.zeros((3, 3, x.shape[3], g.shape[3]))
    for a in range(3):
        for b in range(3):
            dk[a, b] = np.einsum("nijc,nijo->co", xp[:, a : a + ho, b : b + wo], g)
    return dk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 2, 2, 1), (2, 5, 4, 3), (1, 3, 7, 33)], ids=str)
def test_grad_transform_matches_numpy(shape, dtype):
    g = rng.standard_normal(shape).astype(dtype)
    tiles = ((shape[1] + 1) // 2) * ((shape[2] + 1) // 2) * shape[0]
    out = np.full((16, tiles, shape[3]), np.nan, dtype)
    same_bits_any_threads(lambda: (winograd.grad_transform(g, out), out.copy())[1])
    expected = ref_grad_transform(g.astype(np.float64))  # sums of 2-4 cells: one rounding
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=str)
@pytest.mark.parametrize("channels", [(1, 1), (16, 3), (33, 5)], ids=str)
def test_winograd_filter_grad_matches_direct_sums(geometry, channels):
    # V of the input and W of the output gradient, one GEMM per position summed over tiles,
    # then G^T (.) G: the kernel gradient of the convolution.
    n, h, w, ((top, bottom), (left, right)) = geometry
    ho, wo = h + top + bottom - 2, w + left + right - 2
    x = rng.standard_normal((n, h, w, channels[0]))
    g = rng.standard_normal((n, ho, wo, channels[1]))
    expected = ref_filter_grad(x, g, top, left)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        tiles_h, tiles_w = winograd.tile_counts(ho, wo)
        t = n * tiles_h * tiles_w
        v = np.empty((16, t, channels[0]), dtype)
        wt = np.empty((16, t, channels[1]), dtype)
        winograd.input_transform(x.astype(dtype), top, left, tiles_h, tiles_w, v)
        winograd.grad_transform(g.astype(dtype), wt)
        dk = np.full((3, 3, *channels), np.nan, dtype)
        winograd.filter_grad_from_products(np.matmul(v.transpose(0, 2, 1), wt), dk)
        assert np.abs(dk - expected).max() <= tol * np.abs(expected).max()


def test_grad_transform_checks():
    g = np.zeros((1, 3, 3, 2), np.float32)
    with pytest.raises(ValueError, match="grad_transform: out must have shape"):
        winograd.grad_transform(g, np.zeros((16, 3, 2), np.float32))
    with pytest.raises(TypeError, match="grad_transform: g must be float32 or float64"):
        winograd.grad_transform(g.astype(np.int32), np.zeros((16, 4, 2), np.float32))
    with pytest.raises(ValueError, match="filter_grad_from_products: m must be"):
        winograd.filter_grad_from_products(np.zeros((9, 2, 2)), np.zeros((3, 3, 2, 2)))
