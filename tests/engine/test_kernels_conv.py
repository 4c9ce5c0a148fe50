"""backend.kernels.conv: im2col_nhwc and col2im_nhwc against plain numpy loops, float32 and
float64, serial and threaded (bit-identical), and the wrappers' argument checks."""

import numpy as np
import pytest

from backend import config
from backend.kernels import conv

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


def _runs(call):
    """`call()` twice serially and twice threaded; all four must be bit-identical."""
    old = config.parallel_threshold()
    results = []
    try:
        for threshold in (2**62, 2**62, 0, 0):
            config.set_parallel_threshold(threshold)
            results.append(call())
    finally:
        config.set_parallel_threshold(old)
    for other in results[1:]:
        assert other.tobytes() == results[0].tobytes()
    return results[0]


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

    np.testing.assert_array_equal(_runs(call), ref_im2col(x, *geometry))


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
    np.testing.assert_allclose(_runs(call), ref_col2im(cols, shape, *geometry), rtol=tol, atol=tol)


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
