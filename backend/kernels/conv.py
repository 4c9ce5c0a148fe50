"""Convolution kernels, NHWC. Around BLAS: `im2col_nhwc` gathers every window of a padded
image into rows (so a convolution is one GEMM), `col2im_nhwc` scatters such rows back into
an image, adding where windows overlap (the input gradient of a convolution). Without BLAS,
for a small reduction (a first layer: kh*kw*C_in = 9 or 27), where the GEMM is cheap but
im2col is not: `conv_direct_nhwc` (the convolution with its bias and relu fused) and
`conv_filter_direct_nhwc` (the kernel gradient with the bias gradient in the same pass);
`conv_direct_pool_nhwc` is `conv_direct_nhwc` then a non-overlapping max pool in one pass, the
convolution's rows kept in a few KB per pooled row instead of written out (inference: the pool
reads a first layer's activation once: not writing it saves both the write and the read).

`im2col_nhwc` and `conv_direct_nhwc` run threads over (image, output row) pairs, each writing
its own rows of `out` (`conv_direct_pool_nhwc` over (image, pooled row) pairs); `col2im_nhwc`
runs threads over images only, since the windows of one image overlap;
`conv_filter_direct_nhwc` over a fixed number of chunks of the batch, each summed into its own
partial, merged in order. So every output element is summed in the same order whatever the
thread count.

The direct kernels keep the output channels innermost (contiguous: the loop vectorizes) and
add up to `_GROUP` taps (forward) or pixels (kernel gradient) per pass over a row of
`C_out` sums, so a store to the sums serves 8 products. Numba compiles without LLVM's SLP
vectorizer, so sums cannot live in vector registers across passes; grouping is what amortizes
the loads, the store and the loop's set-up, and it does not change the order of the sums.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from . import kernel, launch, parallel_kernel
from ._checks import EMPTY, check, check_apart, float_dtype


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


@parallel_kernel
def _im2col(parallel, x, kh, kw, sh, sw, dh, dw, out):
    n, rows = out.shape[0], out.shape[1]
    if parallel:
        for k in prange(n * rows):
            q = np.int64(k)  # prange counts in uint64; one helper signature for both paths
            _im2col_row(x, q // rows, q % rows, kh, kw, sh, sw, dh, dw, out)
    else:
        for q in range(n * rows):
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


@parallel_kernel
def _col2im(parallel, cols, kh, kw, sh, sw, dh, dw, out):
    n = out.shape[0]
    if parallel:
        for k in prange(n):
            _col2im_image(cols, np.int64(k), kh, kw, sh, sw, dh, dw, out)
    else:
        for b in range(n):
            _col2im_image(cols, np.int64(b), kh, kw, sh, sw, dh, dw, out)


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
    launch(_im2col, out.size, x_padded, kh, kw, sh, sw, dh, dw, out)


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
    launch(_col2im, cols.size, cols, kh, kw, sh, sw, dh, dw, out)


@kernel
def _takes(v, best):
    """`pool._takes`, here again because Numba's cache watches only a kernel's own file (a
    helper imported from pool.py could change under a cached kernel): whether `v` replaces
    the running maximum `best` (larger, or a NaN when `best` is not). The fused conv + pool
    tests compare with the pool kernels bit for bit, ties and NaN included."""
    return (not (v <= best)) & (best == best)


# ---- direct convolution (no im2col, no BLAS) ---------------------------------------------

#: Taps (forward) or pixels (kernel gradient) added per pass over a row of sums; the loop
#: bodies below are written out for 8.
_GROUP = 8

#: The kernel gradient's partial sums: a fixed count, so its result does not depend on the
#: threads.
FILTER_CHUNKS = 16


@kernel
def _tap_offsets(x, kh, kw, dh, dw):
    """offsets[t] = (a*dh*W + b*dw)*C + c for tap t = (a*kw + b)*C + c: where tap t of a
    window lies in the flattened x, counted from the window's corner."""
    width, channels = x.shape[2], x.shape[3]
    offsets = np.empty(kh * kw * channels, np.int64)
    t = 0
    for a in range(kh):
        for b in range(kw):
            for c in range(channels):
                offsets[t] = (a * dh * width + b * dw) * channels + c
                t += 1
    return offsets


@kernel
def _conv_direct_pixels(xf, offsets, k2, bias, relu, corner, step, cols, out2, p0):
    """`cols` pixels of one output row of the convolution, into out2[p0:p0 + cols]:
    out2[p0 + j] = act(bias + sum_t xf[corner + j*step + offsets[t]] * k2[t]), the taps t
    added in order (act = relu or the identity); `corner` is where the first window starts in
    the flattened x, `step` the distance from one window to the next."""
    n_taps, cout = k2.shape
    zero = out2.dtype.type(0)
    if n_taps < _GROUP:
        for j in range(cols):
            for o in range(cout):
                out2[p0 + j, o] = bias[o]
    t = 0
    while t + _GROUP <= n_taps:
        c0, c1 = corner + offsets[t], corner + offsets[t + 1]
        c2, c3 = corner + offsets[t + 2], corner + offsets[t + 3]
        c4, c5 = corner + offsets[t + 4], corner + offsets[t + 5]
        c6, c7 = corner + offsets[t + 6], corner + offsets[t + 7]
        for j in range(cols):
            s = j * step
            x0, x1, x2, x3 = xf[c0 + s], xf[c1 + s], xf[c2 + s], xf[c3 + s]
            x4, x5, x6, x7 = xf[c4 + s], xf[c5 + s], xf[c6 + s], xf[c7 + s]
            p = p0 + j
            if t == 0:  # the first pass starts from the bias: no pass of its own
                for o in range(cout):
                    out2[p, o] = (
                        bias[o] + x0 * k2[0, o] + x1 * k2[1, o] + x2 * k2[2, o]
                        + x3 * k2[3, o] + x4 * k2[4, o] + x5 * k2[5, o] + x6 * k2[6, o]
                        + x7 * k2[7, o]
                    )  # fmt: skip
            else:
                for o in range(cout):
                    out2[p, o] = (
                        out2[p, o] + x0 * k2[t, o] + x1 * k2[t + 1, o] + x2 * k2[t + 2, o]
                        + x3 * k2[t + 3, o] + x4 * k2[t + 4, o] + x5 * k2[t + 5, o]
                        + x6 * k2[t + 6, o] + x7 * k2[t + 7, o]
                    )  # fmt: skip
        t += _GROUP
    while t < n_taps:
        c0 = corner + offsets[t]
        for j in range(cols):
            x0 = xf[c0 + j * step]
            p = p0 + j
            for o in range(cout):
                out2[p, o] = out2[p, o] + x0 * k2[t, o]
        t += 1
    if relu:
        for j in range(cols):
            for o in range(cout):
                z = out2[p0 + j, o]
                out2[p0 + j, o] = zero if z < zero else z


@kernel
def _conv_direct_row(xf, offsets, k2, bias, relu, q, rows, cols, sh, sw, x_shape, out2):
    """Output row q = (image q // rows, row q % rows) of the convolution: pixels
    q*cols + j of out2."""
    height, width, channels = x_shape
    b = q // rows
    i = q - b * rows
    corner = (b * height + i * sh) * width * channels  # of the row's first window
    _conv_direct_pixels(xf, offsets, k2, bias, relu, corner, sw * channels, cols, out2, q * cols)


@kernel
def _bias_or_zeros(bias, cout, like):
    """`bias`, or zeros when it is empty (no bias)."""
    return bias if bias.shape[0] != 0 else np.zeros(cout, like.dtype)


@parallel_kernel
def _conv_direct(parallel, x, kernel, bias, relu, sh, sw, dh, dw, out):
    kh, kw, channels, cout = kernel.shape
    n, rows, cols, _ = out.shape
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    xf = x.reshape(x.size)
    k2 = kernel.reshape(kh * kw * channels, cout)
    out2 = out.reshape(n * rows * cols, cout)
    x_shape = (x.shape[1], x.shape[2], channels)
    bias = _bias_or_zeros(bias, cout, out)
    if parallel:
        for k in prange(n * rows):
            q = np.int64(k)  # prange counts in uint64; one helper signature for both paths
            _conv_direct_row(xf, offsets, k2, bias, relu, q, rows, cols, sh, sw, x_shape, out2)
    else:
        for q in range(n * rows):
            _conv_direct_row(xf, offsets, k2, bias, relu, q, rows, cols, sh, sw, x_shape, out2)


@kernel
def _max_pool_rows(conv_rows, ph, pw, out_row):
    """out_row[v, o] = the max of conv_rows[a, v*pw + c, o] over a < ph, c < pw: the first
    maximum in row-major (a, c) order, NaN winning as in `pool._takes`; conv_rows is
    (ph, cols, C_out), its columns past the last whole window unused."""
    n_windows, cout = out_row.shape
    if ph == 2 and pw == 2:  # the common pool: the window's maximum stays in a register
        top, bottom = conv_rows[0], conv_rows[1]
        for v in range(n_windows):
            j = 2 * v
            for o in range(cout):
                best = top[j, o]
                z = top[j + 1, o]
                best = z if _takes(z, best) else best
                z = bottom[j, o]
                best = z if _takes(z, best) else best
                z = bottom[j + 1, o]
                out_row[v, o] = z if _takes(z, best) else best
        return
    for v in range(n_windows):
        j = v * pw
        best = out_row[v]
        first = conv_rows[0, j]
        for o in range(cout):
            best[o] = first[o]
        for a in range(ph):
            for c in range(pw):
                cell = conv_rows[a, j + c]
                for o in range(cout):
                    z, m = cell[o], best[o]
                    best[o] = z if _takes(z, m) else m


@kernel
def _conv_pool_row(xf, offsets, k2, bias, relu, q, rows, sh, sw, ph, pw, x_shape, out3):
    """Pooled row q = (image q // rows, row q % rows): its ph rows of the convolution (only
    the columns that whole windows cover) into a small work array, then their max pool into
    out3[q] (Q, C_out)."""
    height, width, channels = x_shape
    cout = k2.shape[1]
    b = q // rows
    i0 = (q - b * rows) * ph  # the first convolution row
    cols = out3.shape[1] * pw
    conv_rows = np.empty((ph, cols, cout), out3.dtype)  # a few KB: stays in L1
    flat = conv_rows.reshape(ph * cols, cout)
    for a in range(ph):
        corner = (b * height + (i0 + a) * sh) * width * channels
        _conv_direct_pixels(xf, offsets, k2, bias, relu, corner, sw * channels, cols, flat,
                            a * cols)  # fmt: skip
    _max_pool_rows(conv_rows, ph, pw, out3[q])


@parallel_kernel
def _conv_direct_pool(parallel, x, kernel, bias, relu, sh, sw, dh, dw, ph, pw, out):
    kh, kw, channels, cout = kernel.shape
    n, rows, cols, _ = out.shape
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    xf = x.reshape(x.size)
    k2 = kernel.reshape(kh * kw * channels, cout)
    out3 = out.reshape(n * rows, cols, cout)
    x_shape = (x.shape[1], x.shape[2], channels)
    bias = _bias_or_zeros(bias, cout, out)
    if parallel:
        for k in prange(n * rows):
            q = np.int64(k)  # prange counts in uint64; one helper signature for both paths
            _conv_pool_row(xf, offsets, k2, bias, relu, q, rows, sh, sw, ph, pw, x_shape, out3)
    else:
        for q in range(n * rows):
            _conv_pool_row(xf, offsets, k2, bias, relu, q, rows, sh, sw, ph, pw, x_shape, out3)


@kernel
def _pixel_offsets(rows, cols, sh, sw, width, channels):
    """corners[i*cols + j] = (i*sh*W + j*sw)*C: where the window of output pixel (i, j) starts
    in a flattened image."""
    corners = np.empty(rows * cols, np.int64)
    for i in range(rows):
        for j in range(cols):
            corners[i * cols + j] = (i * sh * width + j * sw) * channels
    return corners


@kernel
def _filter_images(xf, offsets, corners, g2, start, stop, image_size, part, bias_part):
    """part = sum over the pixels p of images start <= b < stop of x_p[t] * g2[p] (x_p[t] =
    xf[b*image_size + corners[p mod H*W] + offsets[t]]) and, when bias_part is not empty,
    bias_part = sum of g2[p]; pixels added in order, up to _GROUP per pass."""
    n_taps, cout = part.shape
    pixels = corners.shape[0]
    with_bias = bias_part.shape[0] != 0
    for t in range(n_taps):
        for o in range(cout):
            part[t, o] = 0
    for o in range(bias_part.shape[0]):
        bias_part[o] = 0
    for b in range(start, stop):
        image = b * image_size
        m = 0
        while m + _GROUP <= pixels:
            p = b * pixels + m
            c0, c1 = image + corners[m], image + corners[m + 1]
            c2, c3 = image + corners[m + 2], image + corners[m + 3]
            c4, c5 = image + corners[m + 4], image + corners[m + 5]
            c6, c7 = image + corners[m + 6], image + corners[m + 7]
            for t in range(n_taps):
                s = offsets[t]
                x0, x1, x2, x3 = xf[c0 + s], xf[c1 + s], xf[c2 + s], xf[c3 + s]
                x4, x5, x6, x7 = xf[c4 + s], xf[c5 + s], xf[c6 + s], xf[c7 + s]
                for o in range(cout):
                    part[t, o] = (
                        part[t, o] + x0 * g2[p, o] + x1 * g2[p + 1, o] + x2 * g2[p + 2, o]
                        + x3 * g2[p + 3, o] + x4 * g2[p + 4, o] + x5 * g2[p + 5, o]
                        + x6 * g2[p + 6, o] + x7 * g2[p + 7, o]
                    )  # fmt: skip
            if with_bias:
                for o in range(cout):
                    bias_part[o] = (
                        bias_part[o] + g2[p, o] + g2[p + 1, o] + g2[p + 2, o] + g2[p + 3, o]
                        + g2[p + 4, o] + g2[p + 5, o] + g2[p + 6, o] + g2[p + 7, o]
                    )  # fmt: skip
            m += _GROUP
        while m < pixels:
            p = b * pixels + m
            c0 = image + corners[m]
            for t in range(n_taps):
                x0 = xf[c0 + offsets[t]]
                for o in range(cout):
                    part[t, o] = part[t, o] + x0 * g2[p, o]
            if with_bias:
                for o in range(cout):
                    bias_part[o] = bias_part[o] + g2[p, o]
            m += 1


@kernel
def _partials(chunks, n_taps, cout, bias_len, like):
    return np.empty((chunks, n_taps, cout), like.dtype), np.empty((chunks, bias_len), like.dtype)


@kernel
def _merge(parts, bias_parts, out_k2, out_bias):
    """out_k2 = parts[0] + parts[1] + ... and out_bias likewise, in chunk order."""
    n_taps, cout = out_k2.shape
    for t in range(n_taps):
        for o in range(cout):
            out_k2[t, o] = 0
    for o in range(out_bias.shape[0]):
        out_bias[o] = 0
    for c in range(parts.shape[0]):
        for t in range(n_taps):
            for o in range(cout):
                out_k2[t, o] += parts[c, t, o]
        for o in range(out_bias.shape[0]):
            out_bias[o] += bias_parts[c, o]


@parallel_kernel
def _conv_filter_direct(parallel, x, grads, sh, sw, dh, dw, out_kernel, out_bias):
    kh, kw, channels, cout = out_kernel.shape
    n, rows, cols, _ = grads.shape
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    corners = _pixel_offsets(rows, cols, sh, sw, x.shape[2], channels)
    xf = x.reshape(x.size)
    g2 = grads.reshape(n * rows * cols, cout)
    image_size = x.shape[1] * x.shape[2] * channels
    chunks = min(n, FILTER_CHUNKS)
    parts, bias_parts = _partials(chunks, offsets.shape[0], cout, out_bias.shape[0], grads)
    if parallel:
        for k in prange(chunks):
            c = np.int64(k)
            _filter_images(xf, offsets, corners, g2, c * n // chunks, (c + 1) * n // chunks,
                           image_size, parts[c], bias_parts[c])  # fmt: skip
    else:
        for c in range(chunks):
            _filter_images(xf, offsets, corners, g2, c * n // chunks, (c + 1) * n // chunks,
                           image_size, parts[c], bias_parts[c])  # fmt: skip
    _merge(parts, bias_parts, out_kernel.reshape(offsets.shape[0], cout), out_bias)


def _check_image(name: str, arg: str, a) -> np.dtype:
    dtype = float_dtype(name, arg, a)
    if a.ndim != 4:
        raise ValueError(f"{name}: {arg} must be 4-D (N, H, W, C). Received: {arg}.shape={a.shape}")
    check(name, arg, a, dtype=dtype)
    return dtype


def conv_direct_nhwc(x_padded, kernel, bias, relu, stride_h, stride_w, dil_h, dil_w, out) -> None:
    """The convolution of `x_padded` (N, Hp, Wp, C_in) with `kernel` (kh, kw, C_in, C_out), its
    bias and relu fused, into `out` (N, Ho, Wo, C_out), by direct loops:
    `out[n, i, j, o] = act(bias[o] + sum_{a, b, c} x_padded[n, i*stride_h + a*dil_h,
    j*stride_w + b*dil_w, c] * kernel[a, b, c, o])`, the terms added in (a, b, c) order after
    the bias. `bias` is a (C_out,) array or None (no bias); `relu` a bool: act(z) = max(z, 0)
    (NaN stays NaN) when true, else z. `Ho`, `Wo` as in `im2col_nhwc`.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> k = np.ones((2, 2, 1, 1), np.float32)
        >>> out = np.empty((1, 2, 2, 1), np.float32)
        >>> conv_direct_nhwc(x, k, np.array([-10.0], np.float32), True, 1, 1, 1, 1, out)
        >>> out[0, :, :, 0]
        array([[ 0.,  2.],
               [10., 14.]], dtype=float32)
    """
    name = "conv_direct_nhwc"
    dtype, bias = _check_conv_inputs(name, x_padded, kernel, bias)
    kh, kw, cin, cout = kernel.shape
    sh, sw, dh, dw = (int(v) for v in (stride_h, stride_w, dil_h, dil_w))
    ho, wo = _windows(name, x_padded.shape, kh, kw, sh, sw, dh, dw)
    check(name, "out", out, dtype=dtype, shape=(x_padded.shape[0], ho, wo, cout), out=True)
    check_apart(name, "out", out, x_padded=x_padded, kernel=kernel, bias=bias)
    launch(_conv_direct, out.size * kh * kw * cin, x_padded, kernel, bias, bool(relu),
           sh, sw, dh, dw, out)  # fmt: skip


def conv_direct_pool_nhwc(x_padded, kernel, bias, relu, stride_h, stride_w, dil_h, dil_w,
                          pool_h, pool_w, out) -> None:  # fmt: skip
    """`conv_direct_nhwc` followed by a max pool of non-overlapping `pool_h` x `pool_w`
    windows (stride = pool, "valid": rows and columns past the last whole window are
    dropped), in one pass that never writes the convolution out: `out[n, p, v, o] = max over
    a < pool_h, c < pool_w of y[n, p*pool_h + a, v*pool_w + c, o]`, `y` what
    `conv_direct_nhwc` computes (the same bits), the max the first in row-major window
    order with NaN winning (as `pool.max_pool2d`). `out` is (N, Ho // pool_h, Wo // pool_w,
    C_out). Threads run over (image, pooled row) pairs, each computing its pool_h rows of the
    convolution into a few KB of work array.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> k = np.ones((2, 2, 1, 1), np.float32)
        >>> out = np.empty((1, 1, 1, 1), np.float32)
        >>> conv_direct_pool_nhwc(x, k, None, False, 1, 1, 1, 1, 2, 2, out)
        >>> out.ravel()  # the conv is [[10, 14, 18], [26, 30, 34], [42, 46, 50]]
        array([30.], dtype=float32)
    """
    name = "conv_direct_pool_nhwc"
    dtype, bias = _check_conv_inputs(name, x_padded, kernel, bias)
    kh, kw, cin, cout = kernel.shape
    sh, sw, dh, dw = (int(v) for v in (stride_h, stride_w, dil_h, dil_w))
    ho, wo = _windows(name, x_padded.shape, kh, kw, sh, sw, dh, dw)
    ph, pw = int(pool_h), int(pool_w)
    if ph < 1 or pw < 1:
        raise ValueError(f"{name}: pool sizes must be >= 1. Received: pool_h={pool_h}, "
                         f"pool_w={pool_w}")  # fmt: skip
    shape = (x_padded.shape[0], ho // ph, wo // pw, cout)
    check(name, "out", out, dtype=dtype, shape=shape, out=True)
    check_apart(name, "out", out, x_padded=x_padded, kernel=kernel, bias=bias)
    if out.size == 0:
        return
    launch(_conv_direct_pool, out.size * ph * pw * kh * kw * cin, x_padded, kernel, bias,
           bool(relu), sh, sw, dh, dw, ph, pw, out)  # fmt: skip


def _check_conv_inputs(name: str, x_padded, kernel, bias) -> tuple:
    """Checks a direct convolution's image, kernel and bias; returns (dtype, bias), bias an
    empty array when None (one compiled signature with and without)."""
    dtype = _check_image(name, "x_padded", x_padded)
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 4:
        raise ValueError(f"{name}: kernel must be a 4-D array (kh, kw, C_in, C_out). Received: "
                         f"kernel.shape={np.shape(kernel)}")  # fmt: skip
    check(name, "kernel", kernel, dtype=dtype)
    cin, cout = kernel.shape[2:]
    if cin != x_padded.shape[3]:
        raise ValueError(
            f"{name}: kernel takes {cin} input channels but x_padded has {x_padded.shape[3]}. "
            f"Received: x_padded.shape={x_padded.shape}, kernel.shape={kernel.shape}"
        )
    if bias is None:
        return dtype, EMPTY[dtype]
    check(name, "bias", bias, dtype=dtype, shape=(cout,))
    return dtype, bias


def conv_filter_direct_nhwc(x_padded, grads, stride_h, stride_w, dil_h, dil_w, out_kernel,
                            out_bias=None) -> None:  # fmt: skip
    """The gradient of `conv_direct_nhwc` in its kernel (and bias), by direct loops, into
    `out_kernel` (kh, kw, C_in, C_out), whose shape gives the kernel size:
    `out_kernel[a, b, c, o] = sum_{n, i, j} x_padded[n, i*stride_h + a*dil_h,
    j*stride_w + b*dil_w, c] * grads[n, i, j, o]` for `grads` (N, Ho, Wo, C_out), and, when
    `out_bias` (C_out,) is given, `out_bias[o] = sum_{n, i, j} grads[n, i, j, o]` in the same
    pass. Sums run in the arrays' dtype over `FILTER_CHUNKS` chunks of the batch, merged in
    order, so the result is the same serial or threaded, with any thread count.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> g = np.ones((1, 2, 2, 1), np.float32)
        >>> dk, db = np.empty((2, 2, 1, 1), np.float32), np.empty(1, np.float32)
        >>> conv_filter_direct_nhwc(x, g, 1, 1, 1, 1, dk, db)
        >>> dk[:, :, 0, 0], db
        (array([[ 8., 12.],
               [20., 24.]], dtype=float32), array([4.], dtype=float32))
    """
    name = "conv_filter_direct_nhwc"
    dtype = _check_image(name, "x_padded", x_padded)
    check(name, "grads", grads, dtype=dtype)
    if not isinstance(out_kernel, np.ndarray) or out_kernel.ndim != 4:
        raise ValueError(f"{name}: out_kernel must be a 4-D array (kh, kw, C_in, C_out). "
                         f"Received: out_kernel.shape={np.shape(out_kernel)}")  # fmt: skip
    kh, kw, cin, cout = out_kernel.shape
    sh, sw, dh, dw = (int(v) for v in (stride_h, stride_w, dil_h, dil_w))
    ho, wo = _windows(name, x_padded.shape, kh, kw, sh, sw, dh, dw)
    n = x_padded.shape[0]
    if grads.shape != (n, ho, wo, cout):
        raise ValueError(
            f"{name}: grads must have shape {(n, ho, wo, cout)} (the windows of x_padded, "
            f"out_kernel's C_out). Received: grads.shape={grads.shape}"
        )
    check(name, "out_kernel", out_kernel, dtype=dtype, shape=(kh, kw, x_padded.shape[3], cout),
          out=True)  # fmt: skip
    if out_bias is None:
        out_bias = EMPTY[dtype]
    else:
        check(name, "out_bias", out_bias, dtype=dtype, shape=(cout,), out=True)
    for out_name, a in (("out_kernel", out_kernel), ("out_bias", out_bias)):
        check_apart(name, out_name, a, x_padded=x_padded, grads=grads)
    launch(_conv_filter_direct, grads.size * kh * kw * cin, x_padded, grads, sh, sw, dh, dw,
           out_kernel, out_bias)  # fmt: skip
