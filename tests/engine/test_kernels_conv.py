"""backend.kernels.conv: im2col_nhwc and col2im_nhwc against plain numpy loops, float32 and
float64, serial and threaded (bit-identical), and the wrappers' argument checks."""

import numpy as np
import pytest

from backend.kernels import conv, conv_direct_grad
from backend.kernels.conv_direct import conv_direct_nhwc, conv_direct_pool_nhwc
from backend.kernels.conv_direct_grad import conv_filter_direct_nhwc
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(3)
DTYPES = [np.float32, np.float64]
# (image shape, kh, kw, stride_h, stride_w, dil_h, dil_w)
CASES = [
    ((2, 5, 5, 3), 3, 3, 1, 1, 1, 1),
    ((2, 6, 7, 2), 3, 2, 2, 1, 1, 2),
    ((1, 9, 8, 1), 2, 3, 3, 2, 2, 1),
    ((3, 4, 4, 4), 1, 1, 1, 1, 1, 1),
    ((2, 5, 6, 1), 5, 6, 1, 1, 1, 1),  # one window
]


def _out_hw(shape, kh, kw, sh, sw, dh, dw):
    return (shape[1] - (kh - 1) * dh - 1) // sh + 1, (shape[2] - (kw - 1) * dw - 1) // sw + 1


def ref_im2col(x, kh, kw, sh, sw, dh, dw):
    ho, wo = _out_hw(x.shape, kh, kw, sh, sw, dh, dw)
    out = np.zeros((x.shape[0], ho, wo, kh, kw, x.shape[3]), x.dtype)
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    out[:, i, j, a, b] = x[:, i * sh + a * dh, j * sw + b * dw]
    return out


def ref_col2im(cols, shape, kh, kw, sh, sw, dh, dw):
    out = np.zeros(shape, cols.dtype)
    for i in range(cols.shape[1]):
        for j in range(cols.shape[2]):
            for a in range(kh):
                for b in range(kw):
                    out[:, i * sh + a * dh, j * sw + b * dw] += cols[:, i, j, a, b]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_im2col_matches_numpy(case, dtype):
    shape, *geometry = case
    x = rng.standard_normal(shape).astype(dtype)
    ho, wo = _out_hw(shape, *geometry)

    def call():
        out = np.full((shape[0], ho, wo, geometry[0], geometry[1], shape[3]), np.nan, dtype)
        conv.im2col_nhwc(x, *geometry, out)
        return out

    np.testing.assert_array_equal(same_bits_any_threads(call), ref_im2col(x, *geometry))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_col2im_matches_numpy(case, dtype):
    shape, *geometry = case
    ho, wo = _out_hw(shape, *geometry)
    cols = rng.standard_normal((shape[0], ho, wo, geometry[0], geometry[1], shape[3]))
    cols = cols.astype(dtype)

    def call():
        out = np.full(shape, np.nan, dtype)  # overwritten: cells no window covers become 0
        conv.col2im_nhwc(cols, *geometry, out)
        return out

    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(
        same_bits_any_threads(call), ref_col2im(cols, shape, *geometry), rtol=tol, atol=tol
    )


def test_col2im_is_the_transpose_of_im2col():
    x = rng.standard_normal((2, 7, 6, 3))
    geometry = (3, 2, 2, 2, 1, 2)
    ho, wo = _out_hw(x.shape, *geometry)
    cols = np.empty((2, ho, wo, 3, 2, 3))
    conv.im2col_nhwc(x, *geometry, cols)
    c = rng.standard_normal(cols.shape)
    back = np.empty(x.shape)
    conv.col2im_nhwc(c, *geometry, back)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


def test_wrapper_checks():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"im2col_nhwc: out must have shape \(1, 2, 2, 3, 3, 2\)"):
        conv.im2col_nhwc(x, 3, 3, 1, 1, 1, 1, np.zeros((1, 3, 3, 3, 3, 2), np.float32))
    with pytest.raises(TypeError, match="im2col_nhwc: out must be float32"):
        conv.im2col_nhwc(x, 3, 3, 1, 1, 1, 1, np.zeros((1, 2, 2, 3, 3, 2), np.float64))
    with pytest.raises(ValueError, match="im2col_nhwc: the window .* larger"):
        conv.im2col_nhwc(x, 3, 3, 1, 1, 2, 1, np.zeros((1, 1, 2, 3, 3, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        conv.im2col_nhwc(np.zeros((1, 4, 8, 2), np.float32)[:, :, ::2], 3, 3, 1, 1, 1, 1,
                         np.zeros((1, 2, 2, 3, 3, 2), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="stride_h must be >= 1"):
        conv.im2col_nhwc(x, 3, 3, 0, 1, 1, 1, np.zeros((1, 2, 2, 3, 3, 2), np.float32))
    with pytest.raises(TypeError, match="col2im_nhwc: cols must be float32 or float64"):
        conv.col2im_nhwc(np.zeros((1, 2, 2, 3, 3, 2), np.int32), 3, 3, 1, 1, 1, 1, x)
    with pytest.raises(ValueError, match=r"col2im_nhwc: cols must have shape"):
        conv.col2im_nhwc(np.zeros((1, 2, 1, 3, 3, 2), np.float32), 3, 3, 1, 1, 1, 1, x)


# ---- direct convolution: conv_direct_nhwc and conv_filter_direct_nhwc -------------------------

# (batch, height, width, kh, kw, stride_h, stride_w, dil_h, dil_w): taps = kh*kw*C_in cover
# fewer than a group of 8 (init pass + single taps), 9 (a group and one), 27, 60.
DIRECT_GEOMETRIES = [
    (2, 7, 9, 3, 3, 1, 1, 1, 1),
    (2, 8, 7, 3, 2, 2, 1, 1, 2),
    (1, 9, 11, 2, 3, 1, 2, 2, 1),
    (3, 5, 6, 1, 1, 2, 2, 1, 1),
    (2, 6, 5, 5, 4, 1, 1, 1, 1),  # few windows
]


def ref_conv_direct(x, k, bias, relu, sh, sw, dh, dw):
    """act(bias + sum over taps), the taps added one at a time in (a, b, c) order."""
    kh, kw, cin, cout = k.shape
    ho, wo = _out_hw(x.shape, kh, kw, sh, sw, dh, dw)
    out = np.zeros((x.shape[0], ho, wo, cout), x.dtype)
    if bias is not None:
        out += bias
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + (ho - 1) * sh + 1, sh)
            cols = slice(b * dw, b * dw + (wo - 1) * sw + 1, sw)
            for c in range(cin):
                out += x[:, rows, cols, c, None] * k[a, b, c]
    return np.maximum(out, 0) if relu else out


def ref_conv_filter(x, g, kh, kw, sh, sw, dh, dw):
    n, ho, wo, cout = g.shape
    dk = np.zeros((kh, kw, x.shape[3], cout))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    dk[a, b] += x[:, i * sh + a * dh, j * sw + b * dw].T.astype(float) @ g[:, i, j]
    return dk


def _direct_case(geometry, cin, cout, dtype):
    n, h, w, kh, kw, sh, sw, dh, dw = geometry
    x = rng.standard_normal((n, h, w, cin)).astype(dtype)
    k = rng.standard_normal((kh, kw, cin, cout)).astype(dtype)
    return x, k, (sh, sw, dh, dw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cout", [1, 5, 32])
@pytest.mark.parametrize("cin", [1, 3])
@pytest.mark.parametrize("geometry", DIRECT_GEOMETRIES, ids=str)
def test_conv_direct_matches_numpy(geometry, cin, cout, dtype):
    x, k, steps = _direct_case(geometry, cin, cout, dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for bias in (None, rng.standard_normal(cout).astype(dtype)):
        for relu in (False, True):
            expected = ref_conv_direct(x, k, bias, relu, *steps)

            def call(bias=bias, relu=relu, shape=expected.shape):
                out = np.full(shape, np.nan, dtype)
                conv_direct_nhwc(x, k, bias, relu, *steps, out)
                return out

            np.testing.assert_allclose(same_bits_any_threads(call), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cout", [1, 5, 32])
@pytest.mark.parametrize("cin", [1, 3])
@pytest.mark.parametrize("geometry", DIRECT_GEOMETRIES, ids=str)
def test_conv_filter_direct_matches_numpy(geometry, cin, cout, dtype):
    x, k, steps = _direct_case(geometry, cin, cout, dtype)
    kh, kw = k.shape[:2]
    g = rng.standard_normal((x.shape[0], *_out_hw(x.shape, kh, kw, *steps), cout)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12

    def call(with_bias):
        dk = np.full(k.shape, np.nan, dtype)
        db = np.full(cout, np.nan, dtype) if with_bias else None
        conv_filter_direct_nhwc(x, g, *steps, dk, db)
        return dk if db is None else np.concatenate([dk.ravel(), db])

    expected = ref_conv_filter(x, g, kh, kw, *steps)
    np.testing.assert_allclose(
        same_bits_any_threads(lambda: call(False)), expected, rtol=tol, atol=tol
    )
    both = same_bits_any_threads(lambda: call(True))
    np.testing.assert_allclose(both[: k.size].reshape(k.shape), expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(both[k.size :], g.sum(axis=(0, 1, 2)), rtol=tol, atol=tol)


def test_conv_filter_direct_chunks_of_the_batch():
    # More images than chunks (uneven chunks), images with 8+ pixels (pixel groups and a
    # remainder): bit-identical serial and threaded, and right.
    x = rng.standard_normal((conv_direct_grad.FILTER_CHUNKS + 5, 6, 7, 2)).astype(np.float32)
    g = rng.standard_normal((x.shape[0], 4, 5, 9)).astype(np.float32)

    def call():
        dk, db = np.empty((3, 3, 2, 9), np.float32), np.empty(9, np.float32)
        conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, dk, db)
        return np.concatenate([dk.ravel(), db])

    got = same_bits_any_threads(call)
    np.testing.assert_allclose(
        got[:-9].reshape(3, 3, 2, 9), ref_conv_filter(x, g, 3, 3, 1, 1, 1, 1), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(got[-9:], g.sum(axis=(0, 1, 2)), rtol=1e-5, atol=1e-4)  # fmt: skip


def test_conv_direct_relu_keeps_nan_and_sums_in_order():
    x = np.ones((1, 3, 3, 1), np.float32)
    x[0, 0, 0, 0] = np.nan
    out = np.empty((1, 2, 2, 1), np.float32)
    conv_direct_nhwc(x, -np.ones((2, 2, 1, 1), np.float32), None, True, 1, 1, 1, 1, out)
    assert np.isnan(out[0, 0, 0, 0]) and (out.ravel()[1:] == 0).all()
    # The forward adds bias then taps one by one in the array dtype, like the reference.
    x, k = rng.standard_normal((2, 9, 9, 3)).astype(np.float32), rng.standard_normal((3, 3, 3, 7))
    k, bias = k.astype(np.float32), rng.standard_normal(7).astype(np.float32)
    out = np.empty((2, 7, 7, 7), np.float32)
    conv_direct_nhwc(x, k, bias, False, 1, 1, 1, 1, out)
    np.testing.assert_array_equal(out, ref_conv_direct(x, k, bias, False, 1, 1, 1, 1))


def test_direct_kernels_compile_once_per_dtype():
    from backend import kernels

    x, k = np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4))
    out, g, dk = np.empty((1, 3, 3, 4)), np.ones((1, 3, 3, 4)), np.empty((3, 3, 2, 4))
    conv_direct_nhwc(x, k, None, False, 1, 1, 1, 1, out)
    conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, dk)
    count = kernels.compiled_signature_count()
    for bias in (None, np.ones(4)):
        for relu in (False, True):
            conv_direct_nhwc(x, k, bias, relu, 2, 1, 1, 2, np.empty((1, 2, 1, 4)))
        conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, dk, None if bias is None else np.empty(4))
    assert kernels.compiled_signature_count() == count


def test_direct_wrapper_checks():
    x, k = np.zeros((1, 5, 5, 2), np.float32), np.zeros((3, 3, 2, 4), np.float32)
    out = np.zeros((1, 3, 3, 4), np.float32)
    name = "conv_direct_nhwc"
    with pytest.raises(TypeError, match=f"{name}: x_padded must be float32 or float64"):
        conv_direct_nhwc(x.astype(np.int32), k, None, False, 1, 1, 1, 1, out)
    with pytest.raises(TypeError, match=f"{name}: kernel must be float32"):
        conv_direct_nhwc(x, k.astype(np.float64), None, False, 1, 1, 1, 1, out)
    with pytest.raises(TypeError, match=f"{name}: bias must be float32"):
        conv_direct_nhwc(x, k, np.zeros(4), False, 1, 1, 1, 1, out)
    with pytest.raises(ValueError, match=rf"{name}: bias must have shape \(4,\)"):
        conv_direct_nhwc(x, k, np.zeros(3, np.float32), False, 1, 1, 1, 1, out)
    with pytest.raises(ValueError, match=rf"{name}: out must have shape \(1, 3, 3, 4\)"):
        conv_direct_nhwc(x, k, None, False, 1, 1, 1, 1, np.zeros((1, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=f"{name}: kernel takes 2 input channels"):
        conv_direct_nhwc(x[..., :1].copy(), k, None, False, 1, 1, 1, 1, out)
    with pytest.raises(ValueError, match=f"{name}: x_padded must be C-contiguous"):
        conv_direct_nhwc(np.zeros((1, 5, 10, 2), np.float32)[:, :, ::2], k, None, False,
                              1, 1, 1, 1, out)  # fmt: skip
    with pytest.raises(ValueError, match=f"{name}: out must be C-contiguous"):
        conv_direct_nhwc(x, k, None, False, 1, 1, 1, 1,
                              np.zeros((1, 3, 3, 8), np.float32)[..., ::2])  # fmt: skip
    with pytest.raises(ValueError, match=f"{name}: out must not overlap x_padded"):
        conv_direct_nhwc(x, k, None, False, 1, 1, 1, 1, x.reshape(-1)[:36].reshape(1, 3, 3, 4))
    with pytest.raises(ValueError, match=f"{name}: the window .* larger"):
        conv_direct_nhwc(x, k, None, False, 1, 1, 3, 1, out)
    name = "conv_filter_direct_nhwc"
    g, dk = np.zeros((1, 3, 3, 4), np.float32), np.zeros((3, 3, 2, 4), np.float32)
    with pytest.raises(TypeError, match=f"{name}: grads must be float32"):
        conv_filter_direct_nhwc(x, g.astype(np.float64), 1, 1, 1, 1, dk)
    with pytest.raises(ValueError, match=rf"{name}: grads must have shape \(1, 2, 3, 4\)"):
        conv_filter_direct_nhwc(x, g, 2, 1, 1, 1, dk)
    with pytest.raises(ValueError, match=rf"{name}: out_kernel must have shape \(3, 3, 2, 4\)"):
        conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, np.zeros((3, 3, 1, 4), np.float32))
    with pytest.raises(ValueError, match=rf"{name}: out_bias must have shape \(4,\)"):
        conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, dk, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=f"{name}: out_kernel must be C-contiguous"):
        conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, np.zeros((4, 2, 3, 3), np.float32).T)
    with pytest.raises(ValueError, match=f"{name}: out_bias is written to but is read-only"):
        read_only = np.zeros(4, np.float32)
        read_only.flags.writeable = False
        conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, dk, read_only)


# ---- conv_direct_pool_nhwc: the direct convolution and a non-overlapping max pool in one --------

POOLS = [(2, 2), (3, 3), (2, 1)]


def ref_conv_pool(x, k, bias, relu, steps, pool):
    """conv_direct_nhwc then the max pool kernel (the unfused path: the bits to match), and
    numpy's max over the windows (the values)."""
    from backend.kernels import pool as kpool

    kh, kw, _, cout = k.shape
    ho, wo = _out_hw(x.shape, kh, kw, *steps)
    y = np.empty((x.shape[0], ho, wo, cout), x.dtype)
    conv_direct_nhwc(x, k, bias, relu, *steps, y)
    (ph, pw), rows, cols = pool, ho // pool[0], wo // pool[1]
    pooled = np.empty((x.shape[0], rows, cols, cout), x.dtype)
    if pooled.size:
        kpool.max_pool2d(y, pool, pool, (0, 0), pooled)
    windows = y[:, : rows * ph, : cols * pw].reshape(x.shape[0], rows, ph, cols, pw, cout)
    return pooled, windows.max(axis=(2, 4))


def _conv_pool(x, k, bias, relu, steps, pool, shape):
    out = np.full(shape, np.nan, x.dtype)
    conv_direct_pool_nhwc(x, k, bias, relu, *steps, *pool, out)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS, ids=str)
@pytest.mark.parametrize("cout", [1, 5, 32])
@pytest.mark.parametrize("cin", [1, 3])
@pytest.mark.parametrize("geometry", [*DIRECT_GEOMETRIES, (2, 28, 28, 3, 3, 1, 1, 1, 1)], ids=str)
def test_conv_direct_pool_is_conv_then_max_pool(geometry, cin, cout, pool, dtype):
    x, k, steps = _direct_case(geometry, cin, cout, dtype)
    for bias in (None, rng.standard_normal(cout).astype(dtype)):
        for relu in (False, True):
            bits, values = ref_conv_pool(x, k, bias, relu, steps, pool)
            got = same_bits_any_threads(
                lambda bias=bias, relu=relu, shape=bits.shape: _conv_pool(
                    x, k, bias, relu, steps, pool, shape
                )
            )
            assert got.tobytes() == bits.tobytes()
            np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS, ids=str)
def test_conv_direct_pool_ties_and_nan_follow_the_pool(pool, dtype):
    # Exact ties and NaNs: the first maximum in row-major window order wins, a NaN over
    # numbers, as in the max pool kernel. Ties that show: zeros of both signs. Channel 0 sums
    # a bias of -0 and -x (x >= 0): -0 where x is 0, below 0 elsewhere, which relu makes +0.
    x = rng.integers(0, 3, (2, 9, 10, 2)).astype(dtype)
    x[:, 2:5, 3:7] = 0
    x[0, 6, 6, 1] = np.nan
    x[1, 0, 0, 0] = np.nan
    k = rng.integers(-1, 2, (2, 2, 2, 6)).astype(dtype)
    k[..., 0], k[..., 1] = -1, 1
    bias = np.array([-0.0, -0.0, 0.0, -0.0, 1.0, -1.0], dtype)
    for b in (None, bias):
        for relu in (False, True):
            bits, values = ref_conv_pool(x, k, b, relu, (1, 1, 1, 1), pool)
            got = same_bits_any_threads(
                lambda b=b, relu=relu, shape=bits.shape: _conv_pool(
                    x, k, b, relu, (1, 1, 1, 1), pool, shape
                )
            )
            assert got.tobytes() == bits.tobytes()
            np.testing.assert_array_equal(got, values)
            assert np.isnan(got).any()
    zeros = got[..., 0][got[..., 0] == 0]  # bias and relu: +0 and -0 tie in some windows
    assert np.signbit(zeros).any() and not np.signbit(zeros).all()


def test_conv_direct_pool_compiles_once_per_dtype():
    from backend import kernels

    x, k = np.ones((1, 7, 7, 2)), np.ones((3, 3, 2, 4))
    conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 2, 2, np.empty((1, 2, 2, 4)))
    count = kernels.compiled_signature_count()
    for bias in (None, np.ones(4)):
        for relu in (False, True):
            for pool, shape in (((2, 2), (1, 2, 2, 4)), ((3, 1), (1, 1, 5, 4))):
                conv_direct_pool_nhwc(x, k, bias, relu, 1, 1, 1, 1, *pool, np.empty(shape))
    assert kernels.compiled_signature_count() == count


def test_conv_direct_pool_wrapper_checks():
    x, k = np.zeros((1, 7, 7, 2), np.float32), np.zeros((3, 3, 2, 4), np.float32)
    out = np.zeros((1, 2, 2, 4), np.float32)
    name = "conv_direct_pool_nhwc"
    with pytest.raises(TypeError, match=f"{name}: x_padded must be float32 or float64"):
        conv_direct_pool_nhwc(x.astype(np.int32), k, None, False, 1, 1, 1, 1, 2, 2, out)
    with pytest.raises(TypeError, match=f"{name}: kernel must be float32"):
        conv_direct_pool_nhwc(x, k.astype(np.float64), None, False, 1, 1, 1, 1, 2, 2, out)
    with pytest.raises(ValueError, match=rf"{name}: bias must have shape \(4,\)"):
        conv_direct_pool_nhwc(x, k, np.zeros(3, np.float32), False, 1, 1, 1, 1, 2, 2, out)
    with pytest.raises(ValueError, match=f"{name}: kernel takes 2 input channels"):
        conv_direct_pool_nhwc(x[..., :1].copy(), k, None, False, 1, 1, 1, 1, 2, 2, out)
    with pytest.raises(ValueError, match=f"{name}: pool sizes must be >= 1"):
        conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 0, 2, out)
    with pytest.raises(ValueError, match=rf"{name}: out must have shape \(1, 1, 1, 4\)"):
        conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 3, 3, out)  # 5 // 3 = 1
    with pytest.raises(ValueError, match=f"{name}: out must be C-contiguous"):
        conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 2, 2,
                                   np.zeros((1, 2, 2, 8), np.float32)[..., ::2])  # fmt: skip
    with pytest.raises(ValueError, match=f"{name}: out must not overlap x_padded"):
        conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 2, 2,
                                   x.reshape(-1)[:16].reshape(1, 2, 2, 4))  # fmt: skip
    with pytest.raises(ValueError, match=f"{name}: the window .* larger"):
        conv_direct_pool_nhwc(x, k, None, False, 1, 1, 4, 1, 2, 2, out)
    read_only = np.zeros((1, 2, 2, 4), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=f"{name}: out is written to but is read-only"):
        conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 2, 2, read_only)
    empty = np.zeros((1, 0, 0, 4), np.float32)  # pools larger than the convolution: nothing
    conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 6, 6, empty)


def test_docstring_examples():
    import doctest

    from backend.kernels import conv_direct

    for module, examples in ((conv, 0), (conv_direct, 5), (conv_direct_grad, 5)):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted >= examples and result.failed == 0, module.__name__
