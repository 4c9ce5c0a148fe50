"""backend.kernels.depthwise: the depthwise convolution, its input gradient and its kernel
gradient against plain numpy over a grid of strides, dilations, pads, channels and multipliers,
float32 and float64, serial and threaded (bit-identical), and the wrappers' argument checks."""

import itertools

import numpy as np
import pytest

from backend import kernels
from backend.kernels import depthwise
from backend.testing import same_bits_any_threads

rng = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


def _same(n, k, s, d):
    """TF "same" pads (before, after) along one axis."""
    eff = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


# (N, H, W, C, M, (kh, kw), (sh, sw), (dh, dw), ((top, bottom), (left, right)))
GRID = [
    (2, 7, 5, c, m, (3, 2), (s, s), (d, d), (_same(7, 3, s, d), _same(5, 2, s, d)))
    for s, d, c, m in itertools.product((1, 2), (1, 2), (1, 3, 8), (1, 2))
]
EXTRA = [
    (3, 6, 6, 4, 1, (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),  # valid
    (1, 9, 7, 3, 3, (2, 3), (2, 3), (1, 2), ((1, 0), (2, 1))),  # uneven strides and dilations
    (2, 5, 5, 3, 2, (1, 1), (2, 2), (1, 1), ((0, 0), (0, 0))),  # 1x1, strided
    (2, 8, 7, 2, 2, (3, 3), (2, 2), (1, 1), ((1, -1), (0, -1))),  # negative end pads
    (2, 5, 4, 5, 1, (5, 4), (1, 1), (1, 1), ((0, 0), (0, 0))),  # one window
]
CASES = GRID + EXTRA


def _out_hw(h, w, ksize, strides, dilation, pads):
    return tuple(
        (n + lo + hi - (k - 1) * d - 1) // s + 1
        for n, k, s, d, (lo, hi) in zip((h, w), ksize, strides, dilation, pads, strict=True)
    )


def _windows(xp, ksize, strides, dilation, out_hw):
    """Yields (a, b, the (N, Ho, Wo, C) cells of xp that kernel tap (a, b) meets)."""
    (sh, sw), (dh, dw), (ho, wo) = strides, dilation, out_hw
    for a in range(ksize[0]):
        for b in range(ksize[1]):
            rows = slice(a * dh, a * dh + (ho - 1) * sh + 1, sh)
            cols = slice(b * dw, b * dw + (wo - 1) * sw + 1, sw)
            yield a, b, (slice(None), rows, cols)


def _padded_shape(x_shape, ksize, strides, dilation, pads, out_hw):
    n, h, w, c = x_shape
    (top, _), (left, _) = pads
    geometry = zip(out_hw, ksize, strides, dilation, strict=True)
    need = [(o - 1) * s + (k - 1) * d + 1 for o, k, s, d in geometry]
    return n, max(need[0], top + h), max(need[1], left + w), c


def ref_forward(x, k, strides, dilation, pads, out_hw):
    n, h, w, c = x.shape
    kh, kw, _, m = k.shape
    (top, _), (left, _) = pads
    xp = np.zeros(_padded_shape(x.shape, (kh, kw), strides, dilation, pads, out_hw), x.dtype)
    xp[:, top : top + h, left : left + w] = x
    out = np.zeros((n, *out_hw, c, m), x.dtype)
    for a, b, cells in _windows(xp, (kh, kw), strides, dilation, out_hw):
        out += xp[cells][..., None] * k[a, b]
    return out.reshape(n, *out_hw, c * m)


def ref_input_grad(g, k, strides, dilation, pads, x_shape):
    n, h, w, c = x_shape
    kh, kw, _, m = k.shape
    (top, _), (left, _) = pads
    out_hw = g.shape[1:3]
    dxp = np.zeros(_padded_shape(x_shape, (kh, kw), strides, dilation, pads, out_hw), g.dtype)
    g = g.reshape(n, *out_hw, c, m)
    for a, b, cells in _windows(dxp, (kh, kw), strides, dilation, out_hw):
        dxp[cells] += (g * k[a, b]).sum(-1)
    return dxp[:, top : top + h, left : left + w]


def ref_kernel_grad(x, g, ksize, strides, dilation, pads):
    n, h, w, c = x.shape
    (top, _), (left, _) = pads
    out_hw = g.shape[1:3]
    m = g.shape[3] // c
    xp = np.zeros(_padded_shape(x.shape, ksize, strides, dilation, pads, out_hw), x.dtype)
    xp[:, top : top + h, left : left + w] = x
    g = g.reshape(n, *out_hw, c, m)
    dk = np.zeros((*ksize, c, m), x.dtype)
    for a, b, cells in _windows(xp, ksize, strides, dilation, out_hw):
        dk[a, b] = np.einsum("nijc,nijcm->cm", xp[cells], g)
    return dk


def _case(case, dtype):
    n, h, w, c, m, ksize, strides, dilation, pads = case
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    k = rng.standard_normal((*ksize, c, m)).astype(dtype)
    out_hw = _out_hw(h, w, ksize, strides, dilation, pads)
    g = rng.standard_normal((n, *out_hw, c * m)).astype(dtype)
    return x, k, g, strides, dilation, pads, out_hw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_matches_numpy(case, dtype):
    x, k, _, strides, dilation, pads, out_hw = _case(case, dtype)

    def call():
        out = np.full((x.shape[0], *out_hw, k.shape[2] * k.shape[3]), np.nan, dtype)
        depthwise.depthwise_conv2d(x, k, strides, dilation, (pads[0][0], pads[1][0]), out)
        return out

    expected = ref_forward(x, k, strides, dilation, pads, out_hw)
    np.testing.assert_allclose(same_bits_any_threads(call), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_input_grad_matches_numpy(case, dtype):
    x, k, g, strides, dilation, pads, _ = _case(case, dtype)

    def call():
        out = np.full(x.shape, np.nan, dtype)  # overwritten: cells no window meets become 0
        depthwise.depthwise_conv2d_input_grad(g, k, strides, dilation,
                                              (pads[0][0], pads[1][0]), out)  # fmt: skip
        return out

    expected = ref_input_grad(g, k, strides, dilation, pads, x.shape)
    np.testing.assert_allclose(same_bits_any_threads(call), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel_grad_matches_numpy(case, dtype):
    x, k, g, strides, dilation, pads, _ = _case(case, dtype)

    def call():
        out = np.full(k.shape, np.nan, dtype)
        depthwise.depthwise_conv2d_kernel_grad(x, g, strides, dilation,
                                               (pads[0][0], pads[1][0]), out)  # fmt: skip
        return out

    expected = ref_kernel_grad(x, g, k.shape[:2], strides, dilation, pads)
    np.testing.assert_allclose(same_bits_any_threads(call), expected, **TOL[dtype])


def test_kernel_grad_with_more_rows_than_chunks_is_bit_identical_threaded():
    # 40 (image, row) pairs over the fixed chunks: uneven chunks, every partial merged in order.
    x = rng.standard_normal((5, 8, 6, 3)).astype(np.float32)
    g = rng.standard_normal((5, 8, 6, 6)).astype(np.float32)

    def call():
        out = np.empty((3, 3, 3, 2), np.float32)
        depthwise.depthwise_conv2d_kernel_grad(x, g, (1, 1), (1, 1), (1, 1), out)
        return out

    pads = ((1, 1), (1, 1))
    expected = ref_kernel_grad(x, g, (3, 3), (1, 1), (1, 1), pads)
    np.testing.assert_allclose(same_bits_any_threads(call), expected, **TOL[np.float32])


def test_the_three_kernels_are_adjoint():
    # <conv(x, k), g> = <x, input_grad(g, k)> = <k, kernel_grad(x, g)>
    x = rng.standard_normal((2, 9, 8, 3))
    k = rng.standard_normal((3, 2, 3, 2))
    strides, dilation, pads = (2, 1), (1, 2), ((1, 1), (1, 0))
    out_hw = _out_hw(9, 8, (3, 2), strides, dilation, pads)
    g = rng.standard_normal((2, *out_hw, 6))
    y, dx, dk = np.empty(g.shape), np.empty(x.shape), np.empty(k.shape)
    depthwise.depthwise_conv2d(x, k, strides, dilation, (1, 1), y)
    depthwise.depthwise_conv2d_input_grad(g, k, strides, dilation, (1, 1), dx)
    depthwise.depthwise_conv2d_kernel_grad(x, g, strides, dilation, (1, 1), dk)
    np.testing.assert_allclose(np.sum(y * g), np.sum(x * dx), rtol=1e-12)
    np.testing.assert_allclose(np.sum(y * g), np.sum(k * dk), rtol=1e-12)


def test_one_compiled_signature_per_dtype():
    def run_all(n, c, m, s):
        x = np.ones((n, 6, 5, c), np.float32)
        k = np.ones((3, 3, c, m), np.float32)
        hw = _out_hw(6, 5, (3, 3), (s, s), (1, 1), ((1, 1), (1, 1)))
        g = np.ones((n, *hw, c * m), np.float32)
        depthwise.depthwise_conv2d(x, k, (s, s), (1, 1), (1, 1), np.empty(g.shape, np.float32))
        depthwise.depthwise_conv2d_input_grad(g, k, (s, s), (1, 1), (1, 1), np.empty_like(x))
        depthwise.depthwise_conv2d_kernel_grad(x, g, (s, s), (1, 1), (1, 1), np.empty_like(k))

    run_all(2, 3, 1, 1)
    before = kernels.compiled_signature_count()
    for n, c, m, s in ((1, 3, 2, 2), (7, 8, 1, 1), (3, 1, 4, 2)):
        run_all(n, c, m, s)
    assert kernels.compiled_signature_count() == before


def test_wrapper_checks():
    x = np.zeros((1, 5, 5, 2), np.float32)
    k = np.zeros((3, 3, 2, 2), np.float32)
    out = np.zeros((1, 3, 3, 4), np.float32)
    geo = ((1, 1), (1, 1), (0, 0))
    with pytest.raises(TypeError, match="depthwise_conv2d: x must be float32 or float64"):
        depthwise.depthwise_conv2d(x.astype(np.int32), k, *geo, out)
    with pytest.raises(TypeError, match="depthwise_conv2d: kernel must be float32"):
        depthwise.depthwise_conv2d(x, k.astype(np.float64), *geo, out)
    with pytest.raises(TypeError, match="out must be float32"):
        depthwise.depthwise_conv2d(x, k, *geo, out.astype(np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        depthwise.depthwise_conv2d(np.zeros((1, 5, 10, 2), np.float32)[:, :, ::2], k, *geo, out)
    with pytest.raises(ValueError, match=r"x must be NHWC \(4-D\)"):
        depthwise.depthwise_conv2d(x[0], k, *geo, out)
    with pytest.raises(ValueError, match=r"kernel must be \(kh, kw, C, M\) with the image's C=2"):
        depthwise.depthwise_conv2d(x, np.zeros((3, 3, 3, 2), np.float32), *geo, out)
    with pytest.raises(ValueError, match=r"out must be \(N, Ho, Wo, C\*M\).*4 channels"):
        depthwise.depthwise_conv2d(x, k, *geo, np.zeros((1, 3, 3, 2), np.float32))
    with pytest.raises(ValueError, match="strides and dilation must be >= 1"):
        depthwise.depthwise_conv2d(x, k, (0, 1), (1, 1), (0, 0), out)
    with pytest.raises(ValueError, match=r"pads \(top, left\) >= 0"):
        depthwise.depthwise_conv2d(x, k, (1, 1), (1, 1), (-1, 0), out)
    with pytest.raises(ValueError, match="2 entries"):
        depthwise.depthwise_conv2d(x, k, (1,), (1, 1), (0, 0), out)
    with pytest.raises(ValueError, match="windows past the image"):
        depthwise.depthwise_conv2d(x, k, *geo, np.zeros((1, 6, 3, 4), np.float32))
    with pytest.raises(ValueError, match="is written to but is read-only"):
        ro = np.zeros((1, 3, 3, 4), np.float32)
        ro.flags.writeable = False
        depthwise.depthwise_conv2d(x, k, *geo, ro)
    with pytest.raises(TypeError, match="depthwise_conv2d_input_grad: grads must be float32"):
        depthwise.depthwise_conv2d_input_grad(out.astype(np.int64), k, *geo, x)
    with pytest.raises(ValueError, match=r"depthwise_conv2d_input_grad: grads must be \(N, Ho"):
        depthwise.depthwise_conv2d_input_grad(np.zeros((2, 3, 3, 4), np.float32), k, *geo, x)
    with pytest.raises(ValueError, match="depthwise_conv2d_kernel_grad: out must be C-contig"):
        depthwise.depthwise_conv2d_kernel_grad(x, out, *geo,
                                               np.zeros((3, 3, 2, 2), np.float32).T)  # fmt: skip
    with pytest.raises(ValueError, match="depthwise_conv2d_kernel_grad: the kernel must be"):
        depthwise.depthwise_conv2d_kernel_grad(x, out, *geo, np.zeros((3, 3, 1, 4), np.float32))
