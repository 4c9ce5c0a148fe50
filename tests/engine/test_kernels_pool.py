"""backend.kernels.pool and backend.kernels.norm against numpy references, float32 and
float64, serial and threaded (bit-identical run to run), and their argument checks."""

import numpy as np
import pytest

from backend.kernels import norm, pool
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(29)
DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
# (H, W), pool, strides, pads (top, left), output (OH, OW)
GEOMETRY = [
    ((5, 6), (2, 2), (2, 2), (0, 0), (2, 3)),
    ((5, 5), (3, 3), (2, 2), (1, 1), (3, 3)),
    ((4, 7), (3, 2), (1, 2), (1, 0), (4, 4)),
    ((1, 9), (1, 3), (1, 1), (0, 1), (1, 9)),
    ((6, 4), (2, 2), (2, 2), (0, 0), (3, 2)),  # windows tile the input exactly
    ((5, 5), (2, 2), (2, 2), (1, 1), (3, 3)),  # tiling with a pad
    ((7, 8), (2, 2), (3, 3), (1, 0), (3, 3)),  # stride > pool: uncovered rows and columns
]


def _cells(hw, k, s, p, out_hw):
    """[(rows, cols)] real cells of each window, row-major."""
    wins = []
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            r0, c0 = oh * s[0] - p[0], ow * s[1] - p[1]
            rows = range(max(r0, 0), min(r0 + k[0], hw[0]))
            cols = range(max(c0, 0), min(c0 + k[1], hw[1]))
            wins.append((oh, ow, rows, cols))
    return wins


def _refs(x, g, k, s, p, out_hw):
    n, h, w, c = x.shape
    mx = np.empty((n, *out_hw, c), x.dtype)
    av = np.empty_like(mx)
    dmax, davg = np.zeros_like(x), np.zeros_like(x)
    for oh, ow, rows, cols in _cells((h, w), k, s, p, out_hw):
        win = x[:, rows.start : rows.stop, cols.start : cols.stop]
        mx[:, oh, ow] = win.max(axis=(1, 2))
        av[:, oh, ow] = win.mean(axis=(1, 2))
        davg[:, rows.start : rows.stop, cols.start : cols.stop] += g[:, oh, ow, None, None] / (
            len(rows) * len(cols)
        )
        for b in range(n):
            for ch in range(c):
                flat = win[b, :, :, ch].ravel()
                a = int(np.argmax(flat))  # numpy: the first maximum, row-major
                i, j = rows.start + a // len(cols), cols.start + a % len(cols)
                dmax[b, i, j, ch] += g[b, oh, ow, ch]
    return mx, av, dmax, davg


@pytest.mark.parametrize("geometry", GEOMETRY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_kernels_match_numpy(dtype, geometry):
    hw, k, s, p, out_hw = geometry
    x = rng.standard_normal((3, *hw, 4)).astype(dtype)
    x[0, 0, :2] = 1.5  # ties
    g = rng.standard_normal((3, *out_hw, 4)).astype(dtype)

    def call():
        outs = [np.empty((3, *out_hw, 4), dtype) for _ in range(2)]
        outs += [np.full_like(x, np.nan) for _ in range(2)]
        pool.max_pool2d(x, k, s, p, outs[0])
        pool.avg_pool2d(x, k, s, p, outs[1])
        pool.max_pool2d_grad(x, g, k, s, p, outs[2])
        pool.avg_pool2d_grad(g, k, s, p, outs[3])
        return outs

    for got, want in zip(same_bits_any_threads(call), _refs(x, g, k, s, p, out_hw), strict=True):
        np.testing.assert_allclose(got, want, **TOL[dtype])


def test_pool_kernel_argument_checks():
    x = np.zeros((1, 4, 4, 1), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        pool.max_pool2d(x.astype(np.int32), (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 1)))
    with pytest.raises(TypeError, match="out must be float32"):
        pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 1)))
    with pytest.raises(ValueError, match="C-contiguous"):
        pool.avg_pool2d(np.zeros((1, 4, 4, 2), np.float32)[..., :1], (2, 2), (2, 2), (0, 0),
                        np.empty((1, 2, 2, 1), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="pads in"):
        pool.max_pool2d(x, (2, 2), (2, 2), (2, 0), np.empty((1, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match="past the"):
        pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), np.empty((1, 3, 2, 1), np.float32))
    with pytest.raises(ValueError, match="same batch and channels"):
        pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="NHWC"):
        pool.max_pool2d(x[0], (2, 2), (2, 2), (0, 0), np.empty((1, 2, 2, 1), np.float32))


# ---- batch norm ------------------------------------------------------------------------------


def _bn_refs(x, gamma, beta, axis, eps, gy, gmean, gvar):
    x64 = x.astype(np.float64)
    axes = tuple(i for i in range(x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    count = x.size / x.shape[axis]
    mean, var = x64.mean(axis=axes), x64.var(axis=axes)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x64 - mean.reshape(shape)) * rstd.reshape(shape)
    y = xhat * gamma.reshape(shape) + beta.reshape(shape)
    gy = gy.astype(np.float64)
    dbeta = gy.sum(axis=axes)
    dgamma = (gy * xhat).sum(axis=axes)
    dx = (gamma * rstd).reshape(shape) * (
        gy - (dbeta / count).reshape(shape) - xhat * (dgamma / count).reshape(shape)
    )
    dx += (gmean / count).reshape(shape) + 2 * (gvar / count).reshape(shape) * (
        x64 - mean.reshape(shape)
    )
    return y, mean, var, dx, dgamma, dbeta


@pytest.mark.parametrize(
    "shape,axis", [((7, 3), 1), ((300, 5), 1), ((2, 3, 4, 5), 3), ((4, 3, 5), 1)]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_kernels_match_numpy(dtype, shape, axis):
    c = shape[axis]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma, beta = rng.uniform(0.5, 1.5, c).astype(dtype), rng.standard_normal(c).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    gmean, gvar = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)

    def call():
        y, mean, var = np.empty_like(x), np.empty(c, dtype), np.empty(c, dtype)
        norm.batch_norm_train(x, gamma, beta, axis, 1e-3, y, mean, var)
        dx, dgamma, dbeta = np.empty_like(x), np.empty(c, dtype), np.empty(c, dtype)
        norm.batch_norm_train_grad(x, gamma, mean, var, gy, gmean, gvar, axis, 1e-3, dx, dgamma,
                                   dbeta)  # fmt: skip
        return y, mean, var, dx, dgamma, dbeta

    got = same_bits_any_threads(call)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else TOL[dtype]
    for a, b in zip(got, _bn_refs(x, gamma, beta, axis, 1e-3, gy, gmean, gvar), strict=True):
        np.testing.assert_allclose(a, b, **tol)


def test_batch_norm_kernel_argument_checks():
    x = np.ones((4, 3), np.float32)
    c = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="gamma must have shape"):
        norm.batch_norm_train(x, np.ones(2, np.float32), c, 1, 1e-3, np.empty_like(x), c.copy(),
                              c.copy())  # fmt: skip
    with pytest.raises(ValueError, match="axis"):
        norm.batch_norm_train(x, c, c, 2, 1e-3, np.empty_like(x), c.copy(), c.copy())
    with pytest.raises(ValueError, match="no elements"):
        e = np.ones((0, 3), np.float32)
        norm.batch_norm_train(e, c, c, 1, 1e-3, np.empty_like(e), c.copy(), c.copy())
    with pytest.raises(TypeError, match="float32"):
        norm.batch_norm_train(x, c.astype(np.float64), c, 1, 1e-3, np.empty_like(x), c.copy(),
                              c.copy())  # fmt: skip


# ---- the max pool's one-pass 2x2 path, relu_mask, ties and NaN ---------------------------------


def _max_pool_refs(x, k, s, p, out_hw, relu_mask):
    """max_pool2d and max_pool2d_grad (g = ones * 1..) by loops over windows: numpy's argmax is
    the first maximum in row-major order, and the first NaN when there is one."""
    n, h, w, c = x.shape
    g = np.arange(1, n * out_hw[0] * out_hw[1] * c + 1, dtype=x.dtype).reshape(n, *out_hw, c)
    mx = np.empty((n, *out_hw, c), x.dtype)
    dx = np.zeros_like(x)
    for oh, ow, rows, cols in _cells((h, w), k, s, p, out_hw):
        win = x[:, rows.start : rows.stop, cols.start : cols.stop]
        for b in range(n):
            for ch in range(c):
                flat = win[b, :, :, ch].ravel()
                a = int(np.argmax(flat))
                mx[b, oh, ow, ch] = flat[a]
                if relu_mask and not flat[a] > 0:
                    continue
                i, j = rows.start + a // len(cols), cols.start + a % len(cols)
                dx[b, i, j, ch] += g[b, oh, ow, ch]
    return g, mx, dx


# Whole 2x2 windows (odd sizes leave a row and a column uncovered), 2x2 windows cut by "same"
# padding, overlapping 2x2 windows, and other shapes next to them; channel counts that are not
# multiples of a vector width.
FAST_GEOMETRY = [
    ((6, 6), (2, 2), (2, 2), (0, 0), (3, 3)),
    ((7, 5), (2, 2), (2, 2), (0, 0), (3, 2)),
    ((5, 5), (2, 2), (2, 2), (0, 0), (3, 3)),  # "same": the last row and column are cut
    ((5, 4), (2, 2), (1, 1), (0, 0), (4, 3)),  # overlapping
    ((5, 5), (3, 3), (2, 2), (1, 1), (3, 3)),
    ((1, 8), (1, 2), (1, 2), (0, 0), (1, 4)),  # a 1-D pool
]


@pytest.mark.parametrize("relu_mask", [False, True])
@pytest.mark.parametrize("channels", [1, 5, 33])
@pytest.mark.parametrize("geometry", FAST_GEOMETRY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_ties_nan_and_relu_mask_match_numpy(dtype, geometry, channels, relu_mask):
    hw, k, s, p, out_hw = geometry
    # Few distinct values: many ties, many windows whose maximum is 0 or negative.
    x = rng.integers(-2, 2, (3, *hw, channels)).astype(dtype)
    x[1, 0, 0] = np.nan  # a NaN wins its windows ...
    x[1, -1, -1, ::2] = np.nan
    x[2, 0, 1:3] = np.nan  # ... the first NaN of a window
    x[2, -1, 1:4] = [[np.nan], [5.0], [np.nan]]
    g, want_max, want_dx = _max_pool_refs(x, k, s, p, out_hw, relu_mask)

    def call():
        out, dx = np.empty((3, *out_hw, channels), dtype), np.full_like(x, np.nan)
        pool.max_pool2d(x, k, s, p, out)
        pool.max_pool2d_grad(x, g, k, s, p, dx, relu_mask=relu_mask)
        return out, dx

    got_max, got_dx = same_bits_any_threads(call)
    np.testing.assert_array_equal(got_max, want_max)
    np.testing.assert_array_equal(got_dx, want_dx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_first_of_equal_maxima_wins_even_for_signed_zeros(dtype):
    x = np.array([-0.0, 0.0, 0.0, -0.0], dtype).reshape(1, 2, 2, 1)
    out, dx = np.empty((1, 1, 1, 1), dtype), np.empty_like(x)
    pool.max_pool2d(x, (2, 2), (2, 2), (0, 0), out)
    pool.max_pool2d_grad(x, np.ones_like(out), (2, 2), (2, 2), (0, 0), dx)
    assert np.signbit(out.ravel()[0])
    np.testing.assert_array_equal(dx.ravel(), [1, 0, 0, 0])


def test_max_pool_grad_relu_mask_is_relu_gradient_of_the_pool_gradient():
    # For x = relu(z): max_pool_grad(x, g, relu_mask=True) == where(x > 0, max_pool_grad(x, g), 0).
    x = np.maximum(rng.standard_normal((4, 26, 26, 32)), 0).astype(np.float32)
    x[0, :4, :4] = 0  # whole windows of zeros
    g = rng.standard_normal((4, 13, 13, 32)).astype(np.float32)

    def call():
        plain, masked = np.empty_like(x), np.empty_like(x)
        pool.max_pool2d_grad(x, g, (2, 2), (2, 2), (0, 0), plain)
        pool.max_pool2d_grad(x, g, (2, 2), (2, 2), (0, 0), masked, relu_mask=True)
        return plain, masked

    plain, masked = same_bits_any_threads(call)
    np.testing.assert_array_equal(masked, np.where(x > 0, plain, 0))
    assert not masked[0, :4, :4].any() and plain[0, :4, :4].any()


def test_pool_docstring_examples():
    import doctest

    result = doctest.testmod(pool, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# ---- max pool recording its argmax ---------------------------------------------------------


@pytest.mark.parametrize("relu_mask", [False, True])
@pytest.mark.parametrize("pool_hw", [(2, 2), (3, 2), (1, 4)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_argmax_is_the_pool_and_unpools_to_its_gradient(dtype, pool_hw, relu_mask):
    # Ties (small integers), a NaN, odd sizes (rows and columns no window has): the pooled
    # values are max_pool2d's bits; unpooling a gradient by the argmax is max_pool2d_grad's.
    ph, pw = pool_hw
    x = rng.integers(-2, 3, (3, 7, 9, 5)).astype(dtype)
    x[1, 2, 3, 4] = np.nan
    shape = (3, 7 // ph, 9 // pw, 5)
    want = np.empty(shape, dtype)
    pool.max_pool2d(x, pool_hw, pool_hw, (0, 0), want)

    def call():
        out, argmax = np.full(shape, np.nan, dtype), np.full(shape, 7, np.uint8)
        pool.max_pool2d_argmax(x, pool_hw, out, argmax, relu_mask=relu_mask)
        return out, argmax

    out, argmax = same_bits_any_threads(call)
    assert out.tobytes() == want.tobytes()
    g = rng.standard_normal(shape).astype(dtype)
    routed, expected = np.full(x.shape, np.nan, dtype), np.empty(x.shape, dtype)
    pool.max_unpool2d(g, argmax, pool_hw, routed)
    pool.max_pool2d_grad(x, g, pool_hw, pool_hw, (0, 0), expected, relu_mask=relu_mask)
    np.testing.assert_array_equal(routed, expected)


def test_max_pool_argmax_checks():
    x = np.zeros((1, 4, 4, 2), np.float32)
    out, argmax = np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.uint8)
    with pytest.raises(ValueError, match="max_pool2d_argmax: pool sizes must be >= 1"):
        pool.max_pool2d_argmax(x, (0, 2), out, argmax)
    with pytest.raises(ValueError, match="max_pool2d_argmax: pool sizes .* at most 255"):
        pool.max_pool2d_argmax(x, (16, 16), out, argmax)
    with pytest.raises(ValueError, match=r"max_pool2d_argmax: out must have shape \(1, 1, 1, 2\)"):
        pool.max_pool2d_argmax(x, (3, 3), out, argmax)
    with pytest.raises(TypeError, match="max_pool2d_argmax: argmax must be uint8"):
        pool.max_pool2d_argmax(x, (2, 2), out, argmax.astype(np.int32))
