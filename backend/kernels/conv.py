"""Convolution kernels around BLAS, NHWC: `im2col_nhwc` gathers every window of a padded
image into rows (so a convolution is one GEMM), `col2im_nhwc` scatters such rows back into
an image, adding where windows overlap (the input gradient of a convolution). The kernels
that convolve without BLAS are in `conv_direct` (direct loops), `conv_window` (a one-channel
first layer with its max pool, window by window), `depthwise` and `winograd`.

`im2col_nhwc` runs threads over (image, output row) pairs, each writing its own rows of
`out`; `col2im_nhwc` over images only, since the windows of one image overlap. So every
output element is summed in the same order whatever the thread count.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import check, float_dtype


@kernel
def _im2col_row(x, b, i, kh, kw, sh, sw, dh, dw, out):
    """out[b, i, j, a, c, :] = x[b, i*sh + a*dh, j*sw + c*dw, :] for every j, a, c."""
    channels = x.shape[3]
    for j in range(out.shape[2]):
        for a in range(kh):
            r = i * sh + a * dh
            for c in range(kw):
                col = j * sw + c * dw
                for ch in range(channels):
                    out[b, i, j, a, c, ch] = x[b, r, col, ch]


@kernel
def _im2col(start, stop, x, kh, kw, sh, sw, dh, dw, out):
    """`_im2col_row` for the (image, output row) pairs q = b * rows + i, start <= q < stop."""
    rows = out.shape[1]
    for q in range(start, stop):
        _im2col_row(x, q // rows, q % rows, kh, kw, sh, sw, dh, dw, out)


@kernel
def _col2im_image(cols, b, kh, kw, sh, sw, dh, dw, out):
    """out[b] = 0, then out[b, i*sh + a*dh, j*sw + c*dw, :] += cols[b, i, j, a, c, :]."""
    channels = out.shape[3]
    for r in range(out.shape[1]):
        for col in range(out.shape[2]):
            for ch in range(channels):
                out[b, r, col, ch] = 0
    for i in range(cols.shape[1]):
        for j in range(cols.shape[2]):
            for a in range(kh):
                r = i * sh + a * dh
                for c in range(kw):
                    col = j * sw + c * dw
                    for ch in range(channels):
                        out[b, r, col, ch] += cols[b, i, j, a, c, ch]


@kernel
def _col2im(start, stop, cols, kh, kw, sh, sw, dh, dw, out):
    """`_col2im_image` for the images start <= b < stop."""
    for b in range(start, stop):
        _col2im_image(cols, b, kh, kw, sh, sw, dh, dw, out)


def _windows(name: str, image_shape: tuple, kh, kw, sh, sw, dh, dw) -> tuple:
    """The (rows, cols) of windows that fit in an image of `image_shape` (N, H, W, C)."""
    for arg, value in (("kh", kh), ("kw", kw), ("stride_h", sh), ("stride_w", sw),
                       ("dil_h", dh), ("dil_w", dw)):  # fmt: skip
        if int(value) < 1:
            raise ValueError(f"{name}: {arg} must be >= 1. Received: {arg}={value}")
    eff_h, eff_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    _, h, w, _ = image_shape
    if eff_h > h or eff_w > w:
        raise ValueError(
            f"{name}: the window ({eff_h}, {eff_w}) (kernel ({kh}, {kw}) with dilation "
            f"({dh}, {dw})) is larger than the image. Received: image shape {image_shape}"
        )
    return (h - eff_h) // sh + 1, (w - eff_w) // sw + 1


def im2col_nhwc(x_padded, kh, kw, stride_h, stride_w, dil_h, dil_w, out) -> None:
    """Gathers the windows of `x_padded` (N, Hp, Wp, C) into `out` (N, Ho, Wo, kh, kw, C):
    `out[n, i, j, a, c] = x_padded[n, i*stride_h + a*dil_h, j*stride_w + c*dil_w]`, with
    `Ho = (Hp - (kh-1)*dil_h - 1) // stride_h + 1` (and `Wo` alike). Reshaped to
    (N*Ho*Wo, kh*kw*C), `out` times a (kh*kw*C, C_out) kernel is the convolution.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> out = np.empty((1, 2, 2, 2, 2, 1), np.float32)
        >>> im2col_nhwc(x, 2, 2, 1, 1, 1, 1, out)
        >>> out[0, 1, 1].ravel()
        array([4., 5., 7., 8.], dtype=float32)
    """
    name = "im2col_nhwc"
    dtype = float_dtype(name, "x_padded", x_padded)
    if x_padded.ndim != 4:
        raise ValueError(f"{name}: x_padded must be 4-D (N, H, W, C). Received: {x_padded.shape}")
    check(name, "x_padded", x_padded, dtype=dtype)
    kh, kw, sh, sw, dh, dw = (int(v) for v in (kh, kw, stride_h, stride_w, dil_h, dil_w))
    ho, wo = _windows(name, x_padded.shape, kh, kw, sh, sw, dh, dw)
    n, _, _, c = x_padded.shape
    check(name, "out", out, dtype=dtype, shape=(n, ho, wo, kh, kw, c), out=True)
    launch(_im2col, out.size, n * ho, x_padded, kh, kw, sh, sw, dh, dw, out)


def col2im_nhwc(cols, kh, kw, stride_h, stride_w, dil_h, dil_w, out) -> None:
    """The transpose of `im2col_nhwc`: sets `out` (N, Hp, Wp, C) to the sum of the windows
    `cols` (N, Ho, Wo, kh, kw, C) at their places, `out[n, i*stride_h + a*dil_h,
    j*stride_w + c*dil_w] += cols[n, i, j, a, c]`, starting from zero (cells no window
    covers stay zero).

    Example:
        >>> cols = np.ones((1, 2, 2, 2, 2, 1), np.float32)
        >>> out = np.empty((1, 3, 3, 1), np.float32)
        >>> col2im_nhwc(cols, 2, 2, 1, 1, 1, 1, out)
        >>> out[0, :, :, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]], dtype=float32)
    """
    name = "col2im_nhwc"
    dtype = float_dtype(name, "cols", cols)
    if out is None or getattr(out, "ndim", 0) != 4:
        raise ValueError(f"{name}: out must be 4-D (N, H, W, C). Received: {np.shape(out)}")
    kh, kw, sh, sw, dh, dw = (int(v) for v in (kh, kw, stride_h, stride_w, dil_h, dil_w))
    ho, wo = _windows(name, out.shape, kh, kw, sh, sw, dh, dw)
    n, _, _, c = out.shape
    check(name, "cols", cols, dtype=dtype, shape=(n, ho, wo, kh, kw, c))
    check(name, "out", out, dtype=dtype, out=True)
    launch(_col2im, cols.size, n, cols, kh, kw, sh, sw, dh, dw, out)
