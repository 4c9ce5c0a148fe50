"""Direct depthwise convolution over NHWC arrays: `depthwise_conv2d`, its input gradient
`depthwise_conv2d_input_grad` and its kernel gradient `depthwise_conv2d_kernel_grad`.

A depthwise kernel (kh, kw, C, M) gives each input channel c its own M filters, output channel
c*M + m. Windows start at `(i*stride - pad, j*stride - pad)` and cells outside the image count
as zeros (they are skipped, so no padded copy is made); the output's size sets how many
windows there are. The channel loop is innermost and runs over contiguous cells, so it
vectorizes: with M > 1 the kernels work on a planar (M, C) copy of the kernel and of each
interleaved (C*M) pixel, so a multiplier costs no strided loop.

Threads: the forward runs over (image, output row) pairs, each writing its own row; the input
gradient over images, since the windows of one image overlap; the kernel gradient over a fixed
number of chunks of (image, output row) pairs, each summed into its own partial and the
partials merged in order. So every result is bit-identical serial or threaded, whatever the
thread count.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import check, float_dtype

#: The kernel gradient's partial sums: fixed, so its result does not depend on the threads.
KERNEL_GRAD_CHUNKS = 16


@kernel
def _forward_row(x, k, b, i, sh, sw, dh, dw, top, left, out):
    """out[b, i, j, c*M + m] = sum_{a, e} x[b, i*sh + a*dh - top, j*sw + e*dw - left, c]
    * k[a, e, m, c] over the cells inside the image, for every j."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    kh, kw, mult = k.shape[0], k.shape[1], k.shape[2]
    planar = np.empty((mult, channels), out.dtype)
    for j in range(out.shape[2]):
        o = out[b, i, j]
        acc = o.reshape(1, channels) if mult == 1 else planar
        acc[:] = 0
        for a in range(kh):
            r = i * sh + a * dh - top
            if r < 0 or r >= height:
                continue
            for e in range(kw):
                col = j * sw + e * dw - left
                if col < 0 or col >= width:
                    continue
                v = x[b, r, col]
                for m in range(mult):
                    w, s = k[a, e, m], acc[m]
                    for c in range(channels):
                        s[c] += v[c] * w[c]
        if mult > 1:
            _interleave(planar, o)


@kernel
def _interleave(planar, flat):
    """flat[c*M + m] = planar[m, c]."""
    mult, channels = planar.shape
    for c in range(channels):
        for m in range(mult):
            flat[c * mult + m] = planar[m, c]


@kernel
def _deinterleave(flat, planar):
    """planar[m, c] = flat[c*M + m]."""
    mult, channels = planar.shape
    for m in range(mult):
        for c in range(channels):
            planar[m, c] = flat[c * mult + m]


@kernel
def _forward(start, stop, x, k, sh, sw, dh, dw, top, left, out):
    """`_forward_row` for the (image, output row) pairs p = b * rows + i, start <= p < stop."""
    rows = out.shape[1]
    for p in range(start, stop):
        _forward_row(x, k, p // rows, p % rows, sh, sw, dh, dw, top, left, out)


@kernel
def _input_grad_image(g, k, b, sh, sw, dh, dw, top, left, dx):
    """dx[b] = 0, then dx[b, i*sh + a*dh - top, j*sw + e*dw - left, c] +=
    g[b, i, j, c*M + m] * k[a, e, m, c] over m and the cells inside the image."""
    height, width, channels = dx.shape[1], dx.shape[2], dx.shape[3]
    kh, kw, mult = k.shape[0], k.shape[1], k.shape[2]
    planar = np.empty((mult, channels), dx.dtype)
    dx[b] = 0
    for i in range(g.shape[1]):
        for j in range(g.shape[2]):
            if mult == 1:
                gv = g[b, i, j].reshape(1, channels)
            else:
                _deinterleave(g[b, i, j], planar)
                gv = planar
            for a in range(kh):
                r = i * sh + a * dh - top
                if r < 0 or r >= height:
                    continue
                for e in range(kw):
                    col = j * sw + e * dw - left
                    if col < 0 or col >= width:
                        continue
                    d = dx[b, r, col]
                    for m in range(mult):
                        w, gm = k[a, e, m], gv[m]
                        for c in range(channels):
                            d[c] += gm[c] * w[c]


@kernel
def _input_grad(start, stop, g, k, sh, sw, dh, dw, top, left, dx):
    """`_input_grad_image` for the images start <= b < stop."""
    for b in range(start, stop):
        _input_grad_image(g, k, b, sh, sw, dh, dw, top, left, dx)


@kernel
def _kernel_grad_chunk(x, g, start, stop, sh, sw, dh, dw, top, left, part):
    """part[a, e, m, c] = sum x[b, i*sh + a*dh - top, j*sw + e*dw - left, c]
    * g[b, i, j, c*M + m] over the (image b, output row i) pairs numbered [start, stop),
    every j and the cells inside the image."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    kh, kw, mult = part.shape[0], part.shape[1], part.shape[2]
    rows = g.shape[1]
    planar = np.empty((mult, channels), part.dtype)
    part[:] = 0
    for p in range(start, stop):
        b, i = p // rows, p % rows
        for j in range(g.shape[2]):
            if mult == 1:
                gv = g[b, i, j].reshape(1, channels)
            else:
                _deinterleave(g[b, i, j], planar)
                gv = planar
            for a in range(kh):
                r = i * sh + a * dh - top
                if r < 0 or r >= height:
                    continue
                for e in range(kw):
                    col = j * sw + e * dw - left
                    if col < 0 or col >= width:
                        continue
                    v = x[b, r, col]
                    for m in range(mult):
                        d, gm = part[a, e, m], gv[m]
                        for c in range(channels):
                            d[c] += v[c] * gm[c]


@kernel
def _kernel_grad(start, stop, x, g, sh, sw, dh, dw, top, left, parts):
    """The chunks start <= q < stop of the (image, output row) pairs, cut into
    parts.shape[0] chunks, summed into parts[q] (`_kernel_grad_chunk`)."""
    pairs = g.shape[0] * g.shape[1]
    chunks = parts.shape[0]
    for p in range(start, stop):
        _kernel_grad_chunk(x, g, p * pairs // chunks, (p + 1) * pairs // chunks,
                           sh, sw, dh, dw, top, left, parts[p])  # fmt: skip


@kernel
def _merge_kernel_grad(parts, out):
    """out[a, e, c, m] = the sum of parts[q, a, e, m, c] over the chunks q, in order."""
    chunks = parts.shape[0]
    kh, kw, mult, channels = parts.shape[1], parts.shape[2], parts.shape[3], parts.shape[4]
    for a in range(kh):
        for e in range(kw):
            for m in range(mult):
                for c in range(channels):
                    s = parts[0, a, e, m, c]
                    for p in range(1, chunks):
                        s += parts[p, a, e, m, c]
                    out[a, e, c, m] = s


# ---- wrappers ----------------------------------------------------------------------------------


def _geometry(name: str, ksize, strides, dilation, pads, image_hw, out_hw) -> tuple:
    """Validates and returns (sh, sw, dh, dw, top, left): strides and dilations >= 1, pads >= 0,
    and every window starting inside the padded image."""
    strides, dilation, pads = (tuple(int(v) for v in t) for t in (strides, dilation, pads))
    if len(strides) != 2 or len(dilation) != 2 or len(pads) != 2:
        raise ValueError(
            f"{name}: strides, dilation and pads must have 2 entries each. Received: "
            f"strides={strides}, dilation={dilation}, pads={pads}"
        )
    if min(strides) < 1 or min(dilation) < 1 or min(pads) < 0:
        raise ValueError(
            f"{name}: strides and dilation must be >= 1 and pads (top, left) >= 0. Received: "
            f"strides={strides}, dilation={dilation}, pads={pads}"
        )
    if min(ksize) < 1:
        raise ValueError(f"{name}: the kernel must be at least 1x1. Received: {tuple(ksize)}")
    for o, s, p, size in zip(out_hw, strides, pads, image_hw, strict=True):
        if o > 0 and (o - 1) * s - p >= size:
            raise ValueError(
                f"{name}: an output of spatial shape {tuple(out_hw)} has windows past the "
                f"image {tuple(image_hw)}. Received: strides={strides}, pads={pads}"
            )
    return (*strides, *dilation, *pads)


def _check_nhwc(name: str, arg: str, a) -> None:
    if a.ndim != 4:
        raise ValueError(f"{name}: {arg} must be NHWC (4-D). Received: {arg}.shape={a.shape}")


def _check_sides(name: str, image: str, x, kernel, grads: str, g) -> None:
    """The image (N, H, W, C), the kernel (kh, kw, C, M) and the output side (N, Ho, Wo, C*M)
    agree."""
    if kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
        raise ValueError(
            f"{name}: the kernel must be (kh, kw, C, M) with the image's C={x.shape[3]} "
            f"channels. Received: {image}.shape={x.shape}, kernel.shape={kernel.shape}"
        )
    if g.shape[0] != x.shape[0] or g.shape[3] != kernel.shape[2] * kernel.shape[3]:
        raise ValueError(
            f"{name}: {grads} must be (N, Ho, Wo, C*M) with the image's batch and "
            f"{kernel.shape[2] * kernel.shape[3]} channels. Received: {image}.shape={x.shape}, "
            f"kernel.shape={kernel.shape}, {grads}.shape={g.shape}"
        )


def _planar(kernel: np.ndarray) -> np.ndarray:
    """The kernel (kh, kw, C, M) as (kh, kw, M, C), so the channel loops run over contiguous
    cells (no copy when M == 1)."""
    return np.ascontiguousarray(kernel.transpose(0, 1, 3, 2))


def depthwise_conv2d(x: np.ndarray, kernel: np.ndarray, strides, dilation, pads,
                     out: np.ndarray) -> None:  # fmt: skip
    """`out[n, i, j, c*M + m] = sum_{a, b} x[n, i*sh + a*dh - top, j*sw + b*dw - left, c]
    * kernel[a, b, c, m]`, cells outside `x` (N, H, W, C) counting as zeros; `kernel` is
    (kh, kw, C, M), `pads` the (top, left) pads, and `out` (N, Ho, Wo, C*M) sets how many
    windows there are.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> out = np.empty((1, 2, 2, 1), np.float32)
        >>> depthwise_conv2d(x, np.ones((2, 2, 1, 1), np.float32), (1, 1), (1, 1), (0, 0), out)
        >>> out[0, :, :, 0]
        array([[ 8., 12.],
               [20., 24.]], dtype=float32)
    """
    name = "depthwise_conv2d"
    dtype = float_dtype(name, "x", x)
    _check_nhwc(name, "x", x)
    check(name, "x", x, dtype=dtype)
    check(name, "kernel", kernel, dtype=dtype)
    check(name, "out", out, dtype=dtype, out=True)
    _check_nhwc(name, "out", out)
    _check_sides(name, "x", x, kernel, "out", out)
    geometry = _geometry(name, kernel.shape[:2], strides, dilation, pads, x.shape[1:3],
                         out.shape[1:3])  # fmt: skip
    if out.size == 0:
        return
    if x.size == 0 or kernel.size == 0:
        out[...] = 0
        return
    work = out.size * kernel.shape[0] * kernel.shape[1]
    launch(_forward, work, out.shape[0] * out.shape[1], x, _planar(kernel), *geometry, out)


def depthwise_conv2d_input_grad(grads: np.ndarray, kernel: np.ndarray, strides, dilation, pads,
                                out: np.ndarray) -> None:  # fmt: skip
    """The transpose of `depthwise_conv2d` in its input: `out` (N, H, W, C) = 0, then
    `out[n, i*sh + a*dh - top, j*sw + b*dw - left, c] += sum_m grads[n, i, j, c*M + m]
    * kernel[a, b, c, m]` for the cells inside `out` (`grads` is (N, Ho, Wo, C*M)).

    Example:
        >>> g = np.ones((1, 2, 2, 1), np.float32)
        >>> out = np.empty((1, 3, 3, 1), np.float32)
        >>> depthwise_conv2d_input_grad(g, np.ones((2, 2, 1, 1), np.float32), (1, 1), (1, 1),
        ...                             (0, 0), out)
        >>> out[0, :, :, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]], dtype=float32)
    """
    name = "depthwise_conv2d_input_grad"
    dtype = float_dtype(name, "grads", grads)
    _check_nhwc(name, "grads", grads)
    check(name, "grads", grads, dtype=dtype)
    check(name, "kernel", kernel, dtype=dtype)
    check(name, "out", out, dtype=dtype, out=True)
    _check_nhwc(name, "out", out)
    _check_sides(name, "out", out, kernel, "grads", grads)
    geometry = _geometry(name, kernel.shape[:2], strides, dilation, pads, out.shape[1:3],
                         grads.shape[1:3])  # fmt: skip
    if grads.size == 0 or kernel.size == 0:
        out[...] = 0
        return
    work = grads.size * kernel.shape[0] * kernel.shape[1]
    launch(_input_grad, work, out.shape[0], grads, _planar(kernel), *geometry, out)


def depthwise_conv2d_kernel_grad(x: np.ndarray, grads: np.ndarray, strides, dilation, pads,
                                 out: np.ndarray) -> None:  # fmt: skip
    """The gradient of `depthwise_conv2d` in its kernel: `out[a, b, c, m] = sum_{n, i, j}
    x[n, i*sh + a*dh - top, j*sw + b*dw - left, c] * grads[n, i, j, c*M + m]` over the cells
    inside `x`; `out` (kh, kw, C, M) sets the kernel size.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> out = np.empty((2, 2, 1, 1), np.float32)
        >>> depthwise_conv2d_kernel_grad(x, np.ones((1, 2, 2, 1), np.float32), (1, 1), (1, 1),
        ...                              (0, 0), out)
        >>> out[:, :, 0, 0]
        array([[ 8., 12.],
               [20., 24.]], dtype=float32)
    """
    name = "depthwise_conv2d_kernel_grad"
    dtype = float_dtype(name, "x", x)
    _check_nhwc(name, "x", x)
    check(name, "x", x, dtype=dtype)
    check(name, "grads", grads, dtype=dtype)
    check(name, "out", out, dtype=dtype, out=True)
    _check_nhwc(name, "grads", grads)
    _check_sides(name, "x", x, out, "grads", grads)
    geometry = _geometry(name, out.shape[:2], strides, dilation, pads, x.shape[1:3],
                         grads.shape[1:3])  # fmt: skip
    if out.size == 0:
        return
    pairs = grads.shape[0] * grads.shape[1]
    if pairs == 0 or grads.shape[2] == 0 or x.size == 0:
        out[...] = 0
        return
    chunks = min(KERNEL_GRAD_CHUNKS, pairs)
    parts = np.empty((chunks, out.shape[0], out.shape[1], out.shape[3], out.shape[2]), dtype)
    work = grads.size * out.shape[0] * out.shape[1]
    launch(_kernel_grad, work, chunks, x, grads, *geometry, parts)
    _merge_kernel_grad(parts, out)
