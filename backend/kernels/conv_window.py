"""A one-channel 3x3 convolution with a 2x2 max pool, window by window: a network's first
layer on grayscale images (the keras.io MNIST convnet's), forward and kernel gradient.

`conv_direct.conv_direct_pool_nhwc` and `conv_direct_grad.conv_filter_pool_direct_nhwc` send
this shape here
(one input channel, a 3x3 kernel, strides and dilation 1, a 2x2 pool with stride 2). A pool
window's four convolution cells read the 16 values of one 4x4 patch of the image, so each
window loads its patch once into scalars and, per output channel, computes the four cells,
their relu and their maximum (the forward), or adds its gradient times the nine values under
the argmax cell into the kernel gradient (the backward). Nothing goes through a work array,
and the loop over the output channels is the only inner loop (it vectorizes); the generic
direct kernels computed a pixel at a time, paying each loop's setup per pixel. MNIST batch
128, one thread (min of 40 interleaved calls): forward 3.16 -> 1.51 ms, kernel gradient
2.35 -> 0.70 ms.

The forward sums each cell exactly as `conv_direct.conv_direct_nhwc` does (the bias, then the taps
in (a, b) order) and pools as `pool.max_pool2d` (the first maximum in row-major order, NaN
winning), so its bits are the generic path's. The kernel gradient sums per chunk of images
(`conv_direct_grad.FILTER_CHUNKS` of them, merged in order): bit-identical serial or threaded.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch

#: The argmax of a window whose gradient is 0 (conv_direct.NO_GRADIENT).
NO_GRADIENT = 255

#: The kernel gradient's partial sums (conv_direct_grad.FILTER_CHUNKS): a fixed count, so the
#: result does not depend on the threads.
FILTER_CHUNKS = 16


def applies(kernel_shape, strides, dilation, pool, pool_strides) -> bool:
    """Whether a direct conv + max pool has the shape these kernels take."""
    kh, kw, cin, _ = kernel_shape
    return ((kh, kw, cin) == (3, 3, 1) and tuple(strides) == (1, 1)
            and tuple(dilation) == (1, 1) and tuple(pool) == (2, 2)
            and tuple(pool_strides) == (2, 2))  # fmt: skip


@kernel
def _patch(x, n, r, c):
    """The 16 values x[n, r:r + 4, c:c + 4, 0], row by row: a window's 4x4 patch."""
    return (x[n, r, c, 0], x[n, r, c + 1, 0], x[n, r, c + 2, 0], x[n, r, c + 3, 0],
            x[n, r + 1, c, 0], x[n, r + 1, c + 1, 0], x[n, r + 1, c + 2, 0], x[n, r + 1, c + 3, 0],
            x[n, r + 2, c, 0], x[n, r + 2, c + 1, 0], x[n, r + 2, c + 2, 0], x[n, r + 2, c + 3, 0],
            x[n, r + 3, c, 0], x[n, r + 3, c + 1, 0], x[n, r + 3, c + 2, 0],
            x[n, r + 3, c + 3, 0])  # fmt: skip


@kernel
def _forward_images(x, k2, bias, relu, first, last, out, argmax):
    """out[n, i, j, o] = the max of act(bias[o] + sum_t patch * k2[t, o]) over the 2x2 cells
    of window (i, j), for the images first <= n < last; argmax (when not empty) the cell r*2
    + s of that max, NO_GRADIENT where relu and it is not positive."""
    rows, cols, cout = out.shape[1], out.shape[2], out.shape[3]
    zero = out.dtype.type(0)
    none = np.uint8(NO_GRADIENT)
    record = argmax.shape[0] != 0
    for n in range(first, last):
        for i in range(rows):
            r = 2 * i
            for j in range(cols):
                c = 2 * j
                (p00, p01, p02, p03, p10, p11, p12, p13,
                 p20, p21, p22, p23, p30, p31, p32, p33) = _patch(x, n, r, c)  # fmt: skip
                pooled = out[n, i, j]
                for o in range(cout):
                    k0, k1, k2_, k3, k4 = k2[0, o], k2[1, o], k2[2, o], k2[3, o], k2[4, o]
                    k5, k6, k7, k8, b = k2[5, o], k2[6, o], k2[7, o], k2[8, o], bias[o]
                    z0 = (
                        b
                        + p00 * k0
                        + p01 * k1
                        + p02 * k2_
                        + p10 * k3
                        + p11 * k4
                        + p12 * k5
                        + p20 * k6
                        + p21 * k7
                        + p22 * k8
                    )
                    z1 = (
                        b
                        + p01 * k0
                        + p02 * k1
                        + p03 * k2_
                        + p11 * k3
                        + p12 * k4
                        + p13 * k5
                        + p21 * k6
                        + p22 * k7
                        + p23 * k8
                    )
                    z2 = (
                        b
                        + p10 * k0
                        + p11 * k1
                        + p12 * k2_
                        + p20 * k3
                        + p21 * k4
                        + p22 * k5
                        + p30 * k6
                        + p31 * k7
                        + p32 * k8
                    )
                    z3 = (
                        b
                        + p11 * k0
                        + p12 * k1
                        + p13 * k2_
                        + p21 * k3
                        + p22 * k4
                        + p23 * k5
                        + p31 * k6
                        + p32 * k7
                        + p33 * k8
                    )
                    if relu:
                        z0 = zero if z0 < zero else z0
                        z1 = zero if z1 < zero else z1
                        z2 = zero if z2 < zero else z2
                        z3 = zero if z3 < zero else z3
                    # The first maximum in row-major order, NaN winning (pool._takes).
                    best, at = z0, np.uint8(0)
                    t = (not (z1 <= best)) & (best == best)
                    at = np.uint8(1) if t else at
                    best = z1 if t else best
                    t = (not (z2 <= best)) & (best == best)
                    at = np.uint8(2) if t else at
                    best = z2 if t else best
                    t = (not (z3 <= best)) & (best == best)
                    at = np.uint8(3) if t else at
                    best = z3 if t else best
                    pooled[o] = best
                    if record:
                        argmax[n, i, j, o] = none if relu and not (best > zero) else at


@kernel
def _bias_or_zeros(bias, cout, like):
    """`bias`, or zeros when it is empty (no bias: `_checks.EMPTY`)."""
    return bias if bias.shape[0] != 0 else np.zeros(cout, like.dtype)


@kernel
def _forward(start, stop, x, kernel, bias, relu, out, argmax):
    """`_forward_images` for the images start <= n < stop."""
    cout = kernel.shape[3]
    k2 = kernel.reshape(9, cout)
    bias = _bias_or_zeros(bias, cout, out)
    _forward_images(x, k2, bias, relu, start, stop, out, argmax)


@kernel
def _gradient_images(x, argmax, grads, first, last, part, bias_part):
    """part[t, o] = the sum over the windows of images first <= n < last of g * the patch
    value tap t reads from the argmax cell, g = grads[n, i, j, o] where the argmax is a cell
    (0 where it is NO_GRADIENT); bias_part (when not empty) the sum of those g."""
    rows, cols, cout = grads.shape[1], grads.shape[2], grads.shape[3]
    zero = part.dtype.type(0)
    with_bias = bias_part.shape[0] != 0
    for t in range(9):
        for o in range(cout):
            part[t, o] = zero
    for o in range(bias_part.shape[0]):
        bias_part[o] = zero
    for n in range(first, last):
        for i in range(rows):
            r = 2 * i
            for j in range(cols):
                c = 2 * j
                (p00, p01, p02, p03, p10, p11, p12, p13,
                 p20, p21, p22, p23, p30, p31, p32, p33) = _patch(x, n, r, c)  # fmt: skip
                g = grads[n, i, j]
                cells = argmax[n, i, j]
                for o in range(cout):
                    m = cells[o]
                    v = g[o] if m < 4 else zero
                    s1, s2, s3 = m == 1, m == 2, m == 3
                    if with_bias:
                        bias_part[o] += v
                    # Tap (a, b) of cell (r, s) = divmod(m, 2) reads patch (r + a, s + b).
                    part[0, o] += v * (p11 if s3 else (p10 if s2 else (p01 if s1 else p00)))
                    part[1, o] += v * (p12 if s3 else (p11 if s2 else (p02 if s1 else p01)))
                    part[2, o] += v * (p13 if s3 else (p12 if s2 else (p03 if s1 else p02)))
                    part[3, o] += v * (p21 if s3 else (p20 if s2 else (p11 if s1 else p10)))
                    part[4, o] += v * (p22 if s3 else (p21 if s2 else (p12 if s1 else p11)))
                    part[5, o] += v * (p23 if s3 else (p22 if s2 else (p13 if s1 else p12)))
                    part[6, o] += v * (p31 if s3 else (p30 if s2 else (p21 if s1 else p20)))
                    part[7, o] += v * (p32 if s3 else (p31 if s2 else (p22 if s1 else p21)))
                    part[8, o] += v * (p33 if s3 else (p32 if s2 else (p23 if s1 else p22)))


@kernel
def _merge_parts(parts, bias_parts, out_k2, out_bias):
    """out_k2 = parts[0] + parts[1] + ..., out_bias likewise: in chunk order."""
    for t in range(out_k2.shape[0]):
        for o in range(out_k2.shape[1]):
            total = parts[0, t, o]
            for c in range(1, parts.shape[0]):
                total += parts[c, t, o]
            out_k2[t, o] = total
    for o in range(out_bias.shape[0]):
        total = bias_parts[0, o]
        for c in range(1, bias_parts.shape[0]):
            total += bias_parts[c, o]
        out_bias[o] = total


@kernel
def _gradient(start, stop, x, argmax, grads, parts, bias_parts):
    """The chunks start <= c < stop of the batch (cut into parts.shape[0] chunks) summed into
    parts[c] and bias_parts[c] (`_gradient_images`)."""
    n, chunks = x.shape[0], parts.shape[0]
    for c in range(start, stop):
        _gradient_images(x, argmax, grads, c * n // chunks, (c + 1) * n // chunks, parts[c],
                         bias_parts[c])  # fmt: skip


def gradient_chunks(work: int, x, argmax, grads, out_kernel, out_bias) -> None:
    """The kernel (and bias) gradient into out_kernel (3, 3, 1, C_out) and out_bias: the batch
    cut into `FILTER_CHUNKS` chunks (fewer for a small batch), each summed on its own (on the
    worker threads when `work` pays for them), the partials then added in chunk order. The
    caller (`conv_direct_grad.conv_filter_pool_direct_nhwc`) has checked the arguments."""
    cout = out_kernel.shape[3]
    chunks = max(1, min(x.shape[0], FILTER_CHUNKS))
    parts = np.empty((chunks, 9, cout), grads.dtype)
    bias_parts = np.empty((chunks, out_bias.shape[0]), grads.dtype)
    launch(_gradient, work, chunks, x, argmax, grads, parts, bias_parts)
    _merge_parts(parts, bias_parts, out_kernel.reshape(9, cout), out_bias)
