"""backend.kernels.conv in training: `conv_direct_pool_nhwc`'s argmax and
`conv_filter_pool_direct_nhwc`, the kernel gradient from it, against the unfused kernels (the
pool's gradient with relu's mask, then the direct kernel gradient) and float64 numpy sums;
serial and threaded (bit-identical); ties, NaNs, uncovered rows and columns; the checks."""

import numpy as np
import pytest

from backend.kernels import conv_direct
from backend.kernels import pool as kpool
from backend.kernels.conv_direct import conv_direct_nhwc, conv_direct_pool_nhwc
from backend.kernels.conv_direct_grad import conv_filter_direct_nhwc, conv_filter_pool_direct_nhwc
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]
# (n, h, w, kh, kw, stride_h, stride_w, dil_h, dil_w)
GEOMETRIES = [
    (2, 28, 28, 3, 3, 1, 1, 1, 1),  # the MNIST first layer
    (3, 9, 8, 3, 3, 1, 1, 1, 1),  # a conv of 7x6: the last row is no window's
    (2, 11, 12, 3, 2, 2, 1, 1, 2),  # strides and dilations
    (17, 6, 7, 2, 2, 1, 1, 1, 1),  # more images than the kernel gradient's chunks
]
POOLS = [(2, 2), (3, 3), (2, 1)]


def _conv_hw(x, kh, kw, sh, sw, dh, dw):
    return (x.shape[1] - (kh - 1) * dh - 1) // sh + 1, (x.shape[2] - (kw - 1) * dw - 1) // sw + 1


def _case(geometry, cin, cout, dtype):
    n, h, w, kh, kw, *steps = geometry
    x = rng.standard_normal((n, h, w, cin)).astype(dtype)
    k = rng.standard_normal((kh, kw, cin, cout)).astype(dtype)
    bias = (rng.standard_normal(cout) * 0.5).astype(dtype)
    return x, k, bias, tuple(steps)


def _activation(x, k, bias, relu, steps):
    kh, kw, _, cout = k.shape
    y = np.empty((x.shape[0], *_conv_hw(x, kh, kw, *steps), cout), x.dtype)
    conv_direct_nhwc(x, k, bias, relu, *steps, y)
    return y


def ref_argmax(y, pool, relu):
    """Each window's first maximum (row-major, a NaN over numbers), as a*pool_w + c, or 255
    where relu and the maximum is not > 0; and the pooled values."""
    ph, pw = pool
    n, ho, wo, c = y.shape
    rows, cols = ho // ph, wo // pw
    cells = y[:, : rows * ph, : cols * pw].reshape(n, rows, ph, cols, pw, c)
    cells = cells.transpose(0, 1, 3, 5, 2, 4).reshape(n, rows, cols, c, ph * pw)
    best, at = cells[..., 0].copy(), np.zeros(cells.shape[:-1], np.uint8)
    for i in range(1, ph * pw):
        z = cells[..., i]
        takes = ~(z <= best) & (best == best)
        best = np.where(takes, z, best)
        at = np.where(takes, np.uint8(i), at)
    if relu:
        at = np.where(best > 0, at, np.uint8(conv_direct.NO_GRADIENT))
    return at, best


def _fused_forward(x, k, bias, relu, steps, pool, shape):
    out = np.full(shape, np.nan, x.dtype)
    argmax = np.full(shape, 7, np.uint8)
    conv_direct_pool_nhwc(x, k, bias, relu, *steps, *pool, out, argmax)
    return out, argmax


def _unfused_conv_grad(y, g, pool, relu):
    """The pool's gradient (and relu's, as the Plan fuses them) of the activation `y`."""
    dy = np.empty_like(y)
    kpool.max_pool2d_grad(np.ascontiguousarray(y), g, pool, pool, (0, 0), dy, relu_mask=relu)
    return dy


def ref_filter(x, dy, kh, kw, sh, sw, dh, dw):
    n, ho, wo, cout = dy.shape
    dk = np.zeros((kh, kw, x.shape[3], cout))
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + (ho - 1) * sh + 1, sh)
            window = x[:, rows, b * dw : b * dw + (wo - 1) * sw + 1 : sw]
            dk[a, b] = np.einsum("nhwc,nhwo->co", window.astype(np.float64), dy.astype(np.float64))
    return dk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS, ids=str)
@pytest.mark.parametrize("cin, cout", [(1, 32), (3, 5)])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_argmax_and_kernel_gradient_match_the_unfused_kernels(geometry, cin, cout, pool, dtype):
    x, k, bias, steps = _case(geometry, cin, cout, dtype)
    kh, kw = k.shape[:2]
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for b, relu in ((bias, True), (None, True), (bias, False)):
        y = _activation(x, k, b, relu, steps)
        want_at, want_max = ref_argmax(y, pool, relu)
        shape = want_at.shape
        out, argmax = same_bits_any_threads(
            lambda b=b, relu=relu, shape=shape: _fused_forward(x, k, b, relu, steps, pool, shape)
        )
        np.testing.assert_array_equal(argmax, want_at)
        assert out.tobytes() == want_max.astype(dtype).tobytes()  # the conv's bits, pooled

        g = rng.standard_normal(shape).astype(dtype)
        dy = _unfused_conv_grad(y, g, pool, relu)

        def call(argmax=argmax, g=g):
            dk, db = np.full(k.shape, np.nan, dtype), np.full(cout, np.nan, dtype)
            conv_filter_pool_direct_nhwc(x, argmax, g, *steps, *pool, dk, db)
            return dk, db

        dk, db = same_bits_any_threads(call)
        np.testing.assert_allclose(dk, ref_filter(x, dy, kh, kw, *steps), rtol=tol, atol=tol)
        np.testing.assert_allclose(db, dy.astype(np.float64).sum(axis=(0, 1, 2)), rtol=tol,
                                   atol=tol)  # fmt: skip
        # Without the bias gradient: the same kernel gradient.
        alone = np.full(k.shape, np.nan, dtype)
        conv_filter_pool_direct_nhwc(x, argmax, g, *steps, *pool, alone)
        assert alone.tobytes() == dk.tobytes()


@pytest.mark.parametrize("relu", [False, True])
def test_ties_and_nan_route_as_the_pool_gradient(relu):
    # Integer data: exact ties everywhere (the first in the window wins), zero and negative
    # windows (relu's mask), and NaNs (a NaN wins its window; relu's mask drops it).
    x = rng.integers(-1, 2, (2, 9, 10, 2)).astype(np.float32)
    x[:, 2:5, 3:7] = 0
    x[0, 6, 6, 1] = np.nan
    k = rng.integers(-1, 2, (2, 2, 2, 6)).astype(np.float32)
    bias = np.array([-0.0, 0.0, -1.0, 1.0, 0.5, -0.5], np.float32)
    y = _activation(x, k, bias, relu, (1, 1, 1, 1))
    want_at, _ = ref_argmax(y, (2, 2), relu)
    out, argmax = _fused_forward(x, k, bias, relu, (1, 1, 1, 1), (2, 2), want_at.shape)
    np.testing.assert_array_equal(argmax, want_at)
    assert np.isnan(out).any() and (argmax == conv_direct.NO_GRADIENT).any() == relu
    # The kernel gradient from the argmax equals the unfused one over the same gradient rows:
    # compare on the images' finite part (a NaN input poisons every sum it enters).
    g = rng.integers(-2, 3, out.shape).astype(np.float32)
    clean = np.nan_to_num(x)
    dk, dk_ref = np.empty(k.shape, np.float32), np.empty(k.shape, np.float32)
    conv_filter_pool_direct_nhwc(clean, argmax, g, 1, 1, 1, 1, 2, 2, dk)
    dy = _unfused_conv_grad(y, g, (2, 2), relu)
    conv_filter_direct_nhwc(clean, dy, 1, 1, 1, 1, dk_ref)
    np.testing.assert_array_equal(dk, dk_ref)  # small integers: exact in any order


def test_argmax_compiles_no_new_signature():
    from backend import kernels

    x, k = np.ones((1, 7, 7, 1)), np.ones((3, 3, 1, 4))
    out, argmax = np.empty((1, 2, 2, 4)), np.empty((1, 2, 2, 4), np.uint8)
    conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 2, 2, out)
    conv_filter_pool_direct_nhwc(x, argmax, out, 1, 1, 1, 1, 2, 2, np.empty(k.shape))
    count = kernels.compiled_signature_count()
    for relu in (False, True):
        conv_direct_pool_nhwc(x, k, np.ones(4), relu, 1, 1, 1, 1, 2, 2, out, argmax)
        conv_filter_pool_direct_nhwc(x, argmax, out, 1, 1, 1, 1, 2, 2, np.empty(k.shape),
                                          np.empty(4))  # fmt: skip
    assert kernels.compiled_signature_count() == count


def test_wrapper_checks():
    x, k = np.zeros((1, 7, 7, 2), np.float32), np.zeros((3, 3, 2, 4), np.float32)
    out, argmax = np.zeros((1, 2, 2, 4), np.float32), np.zeros((1, 2, 2, 4), np.uint8)
    name = "conv_direct_pool_nhwc"
    with pytest.raises(TypeError, match=f"{name}: argmax must be uint8"):
        conv_direct_pool_nhwc(x, k, None, True, 1, 1, 1, 1, 2, 2, out, argmax.astype(int))
    with pytest.raises(ValueError, match=rf"{name}: argmax must have shape \(1, 2, 2, 4\)"):
        conv_direct_pool_nhwc(x, k, None, True, 1, 1, 1, 1, 2, 2, out, argmax[..., :2])
    with pytest.raises(ValueError, match=f"{name}: an argmax needs pool windows of fewer"):
        big = np.zeros((1, 40, 40, 2), np.float32)
        conv_direct_pool_nhwc(big, k, None, True, 1, 1, 1, 1, 16, 16,
                                   np.zeros((1, 2, 2, 4), np.float32), argmax)  # fmt: skip
    read_only = argmax.copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=f"{name}: argmax is written to but is read-only"):
        conv_direct_pool_nhwc(x, k, None, True, 1, 1, 1, 1, 2, 2, out, read_only)
    inside_out = out.view(np.uint8).reshape(-1)[:16].reshape(1, 2, 2, 4)
    with pytest.raises(ValueError, match=f"{name}: argmax must not overlap pooled"):
        conv_direct_pool_nhwc(x, k, None, True, 1, 1, 1, 1, 2, 2, out, inside_out)
    name = "conv_filter_pool_direct_nhwc"
    dk = np.zeros(k.shape, np.float32)
    with pytest.raises(ValueError, match=rf"{name}: grads must have shape \(1, 2, 2, 4\)"):
        conv_filter_pool_direct_nhwc(x, argmax, out[:, :1].copy(), 1, 1, 1, 1, 2, 2, dk)
    with pytest.raises(TypeError, match=f"{name}: grads must be float32"):
        conv_filter_pool_direct_nhwc(x, argmax, out.astype(np.float64), 1, 1, 1, 1, 2, 2,
                                          dk)  # fmt: skip
    with pytest.raises(TypeError, match=f"{name}: argmax must be uint8"):
        conv_filter_pool_direct_nhwc(x, out, out, 1, 1, 1, 1, 2, 2, dk)
    with pytest.raises(ValueError, match=f"{name}: pool sizes must be >= 1"):
        conv_filter_pool_direct_nhwc(x, argmax, out, 1, 1, 1, 1, 0, 2, dk)
    with pytest.raises(ValueError, match=rf"{name}: out_kernel must have shape \(3, 3, 2, 4\)"):
        conv_filter_pool_direct_nhwc(x, argmax, out, 1, 1, 1, 1, 2, 2, dk[:, :, :1].copy())
    shared = np.zeros(72, np.float32)
    with pytest.raises(ValueError, match=f"{name}: out_kernel must not overlap grads"):
        conv_filter_pool_direct_nhwc(x, argmax, shared[:16].reshape(1, 2, 2, 4), 1, 1, 1, 1,
                                          2, 2, shared.reshape(3, 3, 2, 4))  # fmt: skip
