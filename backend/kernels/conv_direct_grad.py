"""Direct kernel gradients of a convolution, NHWC: no im2col and no BLAS, for a small kernel
(a first layer). `conv_filter_direct_nhwc` is the kernel gradient with the bias gradient in
the same pass; `conv_filter_pool_direct_nhwc` the same from a max pool's gradient and the
argmax `conv_direct.conv_direct_pool_nhwc` recorded, rebuilding the convolution's gradient
(the pool's and relu's gradients) a few rows at a time: it never goes to memory. A
one-channel 3x3 convolution with a 2x2 pool goes to `conv_window` instead.

Threads run over a fixed number (`FILTER_CHUNKS`) of chunks of the batch, each summed into its
own partial, merged in order: the same sums whatever the thread count. Each pass adds up to
`_GROUP` pixels into a row of `C_out` sums (the output channels innermost: the loop
vectorizes), so a store to the sums serves 8 products.
"""

from __future__ import annotations

import numpy as np

from ..memory import work_array
from . import conv_window, kernel, launch
from ._checks import EMPTY, check, check_apart
from .conv import _windows
from .conv_direct import _check_argmax, _check_image, _pooled

#: Pixels added per pass over a row of sums; the loop bodies below are written out for 8.
_GROUP = 8

#: The kernel gradient's partial sums: a fixed count, so its result does not depend on the
#: threads.
FILTER_CHUNKS = 16


@kernel
def _tap_offsets(x, kh, kw, dh, dw):
    """offsets[t] = (a*dh*W + b*dw)*C + c for tap t = (a*kw + b)*C + c: where tap t of a
    window lies in the flattened x, counted from the window's corner. (`conv_direct`'s, here
    again: Numba's cache watches only a kernel's own file.)"""
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
def _pixel_offsets(rows, cols, sh, sw, width, channels):
    """corners[i*cols + j] = (i*sh*W + j*sw)*C: where the window of output pixel (i, j) starts
    in a flattened image."""
    corners = np.empty(rows * cols, np.int64)
    for i in range(rows):
        for j in range(cols):
            corners[i * cols + j] = (i * sh * width + j * sw) * channels
    return corners


@kernel
def _filter_block(xf, offsets, corners, c0, base, g2, p0, count, part, bias_part):
    """Adds `count` pixels m to the kernel gradient's sums: part[t] += x_m[t] * g2[p0 + m]
    (x_m[t] = xf[base + corners[c0 + m] + offsets[t]]) and, when bias_part is not empty,
    bias_part += g2[p0 + m]; pixels added in order, up to _GROUP per pass."""
    n_taps, cout = part.shape
    with_bias = bias_part.shape[0] != 0
    m = 0
    while m + _GROUP <= count:
        p = p0 + m
        c = c0 + m
        x0, x1 = base + corners[c], base + corners[c + 1]
        x2, x3 = base + corners[c + 2], base + corners[c + 3]
        x4, x5 = base + corners[c + 4], base + corners[c + 5]
        x6, x7 = base + corners[c + 6], base + corners[c + 7]
        for t in range(n_taps):
            s = offsets[t]
            v0, v1, v2, v3 = xf[x0 + s], xf[x1 + s], xf[x2 + s], xf[x3 + s]
            v4, v5, v6, v7 = xf[x4 + s], xf[x5 + s], xf[x6 + s], xf[x7 + s]
            for o in range(cout):
                part[t, o] = (
                    part[t, o] + v0 * g2[p, o] + v1 * g2[p + 1, o] + v2 * g2[p + 2, o]
                    + v3 * g2[p + 3, o] + v4 * g2[p + 4, o] + v5 * g2[p + 5, o]
                    + v6 * g2[p + 6, o] + v7 * g2[p + 7, o]
                )  # fmt: skip
        if with_bias:
            for o in range(cout):
                bias_part[o] = (
                    bias_part[o] + g2[p, o] + g2[p + 1, o] + g2[p + 2, o] + g2[p + 3, o]
                    + g2[p + 4, o] + g2[p + 5, o] + g2[p + 6, o] + g2[p + 7, o]
                )  # fmt: skip
        m += _GROUP
    while m < count:
        p = p0 + m
        x0 = base + corners[c0 + m]
        for t in range(n_taps):
            v0 = xf[x0 + offsets[t]]
            for o in range(cout):
                part[t, o] = part[t, o] + v0 * g2[p, o]
        if with_bias:
            for o in range(cout):
                bias_part[o] = bias_part[o] + g2[p, o]
        m += 1


@kernel
def _zero_parts(part, bias_part):
    for t in range(part.shape[0]):
        for o in range(part.shape[1]):
            part[t, o] = 0
    for o in range(bias_part.shape[0]):
        bias_part[o] = 0


@kernel
def _filter_images(xf, offsets, corners, g2, start, stop, image_size, part, bias_part):
    """part = sum over the pixels p of images start <= b < stop of x_p[t] * g2[p] (x_p[t] =
    xf[b*image_size + corners[p mod H*W] + offsets[t]]) and, when bias_part is not empty,
    bias_part = sum of g2[p]; pixels added in order, up to _GROUP per pass."""
    pixels = corners.shape[0]
    _zero_parts(part, bias_part)
    for b in range(start, stop):
        _filter_block(xf, offsets, corners, 0, b * image_size, g2, b * pixels, pixels, part,
                      bias_part)  # fmt: skip


@kernel
def _filter_pooled_images(xf, offsets, corners, idx3, g3, rows, start, stop, image_size, ph,
                          pw, cols, part, bias_part):  # fmt: skip
    """`_filter_images` for a convolution followed by a max pool, from the pool's output
    gradient g3 (N*rows, V, C_out) and its argmax idx3 (`_max_pool_rows`): the convolution's
    gradient is rebuilt one pooled row at a time (its ph rows, `cols` wide, each window's
    gradient at its argmax and 0 elsewhere, as the pool and relu gradients would write it)
    in a small work array, then added as `_filter_images` adds those rows; rows no window
    covers have no gradient and are skipped."""
    windows, cout = idx3.shape[1], idx3.shape[2]
    _zero_parts(part, bias_part)
    covered = windows * pw
    zero = g3.dtype.type(0)
    block = np.empty((ph * cols, cout), g3.dtype)  # a few KB: stays in L1
    for a in range(ph):  # columns no window covers stay 0
        for j in range(covered, cols):
            for o in range(cout):
                block[a * cols + j, o] = zero
    for b in range(start, stop):
        for r in range(rows):
            q = b * rows + r
            for at in range(ph * pw):
                a = at // pw
                c = at - a * pw
                code = np.uint8(at)
                for v in range(windows):
                    dst = a * cols + v * pw + c
                    for o in range(cout):
                        block[dst, o] = g3[q, v, o] if idx3[q, v, o] == code else zero
            _filter_block(xf, offsets, corners, r * ph * cols, b * image_size, block, 0,
                          ph * cols, part, bias_part)  # fmt: skip


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


@kernel
def _conv_filter_direct(start, stop, x, grads, kh, kw, sh, sw, dh, dw, parts, bias_parts):
    """The chunks start <= c < stop of the batch (cut into parts.shape[0] chunks) summed
    into parts[c] and bias_parts[c] (`_filter_images`)."""
    n, rows, cols, cout = grads.shape
    channels = x.shape[3]
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    corners = _pixel_offsets(rows, cols, sh, sw, x.shape[2], channels)
    xf = x.reshape(x.size)
    g2 = grads.reshape(n * rows * cols, cout)
    image_size = x.shape[1] * x.shape[2] * channels
    chunks = parts.shape[0]
    for c in range(start, stop):
        _filter_images(xf, offsets, corners, g2, c * n // chunks, (c + 1) * n // chunks,
                       image_size, parts[c], bias_parts[c])  # fmt: skip


@kernel
def _conv_filter_pooled(start, stop, x, argmax, grads, kh, kw, sh, sw, dh, dw, ph, pw, parts,
                        bias_parts):  # fmt: skip
    """`_conv_filter_direct` for a convolution followed by a max pool
    (`_filter_pooled_images`)."""
    n, rows, windows, cout = grads.shape
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    conv_rows = (height - (kh - 1) * dh - 1) // sh + 1
    conv_cols = (width - (kw - 1) * dw - 1) // sw + 1
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    corners = _pixel_offsets(conv_rows, conv_cols, sh, sw, width, channels)
    xf = x.reshape(x.size)
    g3 = grads.reshape(n * rows, windows, cout)
    idx3 = argmax.reshape(n * rows, windows, cout)
    image_size = height * width * channels
    chunks = parts.shape[0]
    for c in range(start, stop):
        _filter_pooled_images(xf, offsets, corners, idx3, g3, rows, c * n // chunks,
                              (c + 1) * n // chunks, image_size, ph, pw, conv_cols, parts[c],
                              bias_parts[c])  # fmt: skip


def _run_chunks(dispatcher, work: int, scratch, x_padded, out_kernel, out_bias, *args) -> None:
    """Runs a kernel gradient over `FILTER_CHUNKS` chunks of the batch (fewer for a small
    batch), each into its own partial sums (kept in `scratch`, a dict, when given), then adds
    the partials in chunk order."""
    kh, kw, cin, cout = out_kernel.shape
    chunks = min(x_padded.shape[0], FILTER_CHUNKS)
    dtype = out_kernel.dtype
    parts = work_array(scratch, "kernel_parts", (chunks, kh * kw * cin, cout), dtype)
    bias_parts = work_array(scratch, "bias_parts", (chunks, out_bias.shape[0]), dtype)
    launch(dispatcher, work, chunks, *args, parts, bias_parts)
    _merge(parts, bias_parts, out_kernel.reshape(kh * kw * cin, cout), out_bias)


def _kernel_shape(name: str, out_kernel) -> tuple:
    if not isinstance(out_kernel, np.ndarray) or out_kernel.ndim != 4:
        raise ValueError(f"{name}: out_kernel must be a 4-D array (kh, kw, C_in, C_out). "
                         f"Received: out_kernel.shape={np.shape(out_kernel)}")  # fmt: skip
    return out_kernel.shape


def _check_filter_outs(name: str, dtype, x_padded, grads, out_kernel, out_bias):
    """Checks a kernel gradient's outputs; returns `out_bias`, an empty array when None."""
    kh, kw, _, cout = out_kernel.shape
    check(name, "out_kernel", out_kernel, dtype=dtype, shape=(kh, kw, x_padded.shape[3], cout),
          out=True)  # fmt: skip
    if out_bias is None:
        out_bias = EMPTY[dtype]
    else:
        check(name, "out_bias", out_bias, dtype=dtype, shape=(cout,), out=True)
    for out_name, a in (("out_kernel", out_kernel), ("out_bias", out_bias)):
        check_apart(name, out_name, a, x_padded=x_padded, grads=grads)
    return out_bias


def conv_filter_direct_nhwc(x_padded, grads, stride_h, stride_w, dil_h, dil_w, out_kernel,
                            out_bias=None, scratch=None) -> None:  # fmt: skip
    """The gradient of `conv_direct_nhwc` in its kernel (and bias), by direct loops, into
    `out_kernel` (kh, kw, C_in, C_out), whose shape gives the kernel size:
    `out_kernel[a, b, c, o] = sum_{n, i, j} x_padded[n, i*stride_h + a*dil_h,
    j*stride_w + b*dil_w, c] * grads[n, i, j, o]` for `grads` (N, Ho, Wo, C_out), and, when
    `out_bias` (C_out,) is given, `out_bias[o] = sum_{n, i, j} grads[n, i, j, o]` in the same
    pass. Sums run in the arrays' dtype over `FILTER_CHUNKS` chunks of the batch, merged in
    order, so the result is the same serial or threaded, with any thread count. `scratch` (a
    dict), when given, keeps the chunks' partial sums from call to call.

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
    kh, kw, cin, cout = _kernel_shape(name, out_kernel)
    sh, sw, dh, dw = (int(v) for v in (stride_h, stride_w, dil_h, dil_w))
    ho, wo = _windows(name, x_padded.shape, kh, kw, sh, sw, dh, dw)
    n = x_padded.shape[0]
    if grads.shape != (n, ho, wo, cout):
        raise ValueError(
            f"{name}: grads must have shape {(n, ho, wo, cout)} (the windows of x_padded, "
            f"out_kernel's C_out). Received: grads.shape={grads.shape}"
        )
    out_bias = _check_filter_outs(name, dtype, x_padded, grads, out_kernel, out_bias)
    _run_chunks(_conv_filter_direct, grads.size * kh * kw * cin, scratch, x_padded, out_kernel,
                out_bias, x_padded, grads, kh, kw, sh, sw, dh, dw)  # fmt: skip


def conv_filter_pool_direct_nhwc(x_padded, argmax, grads, stride_h, stride_w, dil_h, dil_w,
                                 pool_h, pool_w, out_kernel, out_bias=None,
                                 scratch=None) -> None:  # fmt: skip
    """The kernel (and bias) gradient of `conv_direct_pool_nhwc`'s convolution, from the
    pool's output gradient `grads` (N, P, V, C_out) and the `argmax` that call recorded
    (uint8, the same shape): `conv_filter_direct_nhwc` of the convolution's gradient, which
    is grads[n, p, v, o] at the window's argmax and 0 elsewhere (and 0 everywhere in a window
    whose argmax is `NO_GRADIENT`), rebuilt a few KB at a time so it never goes to memory.
    Sums as `conv_filter_direct_nhwc`: `FILTER_CHUNKS` chunks of the batch merged in order,
    so the result is the same serial or threaded (the rows no window covers are skipped:
    they add only zeros).

    Example:
        >>> from backend.kernels.conv_direct import conv_direct_pool_nhwc
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> k = np.ones((3, 3, 1, 1), np.float32)
        >>> pooled = np.empty((1, 1, 1, 1), np.float32)
        >>> argmax = np.empty((1, 1, 1, 1), np.uint8)
        >>> conv_direct_pool_nhwc(x, k, None, True, 1, 1, 1, 1, 2, 2, pooled, argmax)
        >>> argmax.ravel()  # the conv is [[45, 54], [81, 90]]: the max is the 4th cell
        array([3], dtype=uint8)
        >>> dk = np.empty((3, 3, 1, 1), np.float32)
        >>> conv_filter_pool_direct_nhwc(x, argmax, np.ones_like(pooled), 1, 1, 1, 1, 2, 2, dk)
        >>> dk[:, :, 0, 0]  # the window of conv cell (1, 1)
        array([[ 5.,  6.,  7.],
               [ 9., 10., 11.],
               [13., 14., 15.]], dtype=float32)
    """
    name = "conv_filter_pool_direct_nhwc"
    dtype = _check_image(name, "x_padded", x_padded)
    kh, kw, cin, cout = _kernel_shape(name, out_kernel)
    sh, sw, dh, dw = (int(v) for v in (stride_h, stride_w, dil_h, dil_w))
    ph, pw, shape = _pooled(name, x_padded, out_kernel.shape, (sh, sw, dh, dw), pool_h, pool_w)
    check(name, "grads", grads, dtype=dtype, shape=shape)
    _check_argmax(name, argmax, ph, pw, shape)
    out_bias = _check_filter_outs(name, dtype, x_padded, grads, out_kernel, out_bias)
    work = grads.size * ph * pw * kh * kw * cin
    if conv_window.applies(out_kernel.shape, (sh, sw), (dh, dw), (ph, pw), (ph, pw)):
        conv_window.gradient_chunks(work, x_padded, argmax, grads, out_kernel, out_bias,
                                    scratch)  # fmt: skip
        return
    _run_chunks(_conv_filter_pooled, work, scratch, x_padded, out_kernel, out_bias, x_padded,
                argmax, grads, kh, kw, sh, sw, dh, dw, ph, pw)  # fmt: skip
