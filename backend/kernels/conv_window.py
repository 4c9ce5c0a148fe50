"""The kernel gradient of a one-channel 3x3 convolution under a 2x2 max pool, window by
window: a network's first layer on grayscale images (the keras.io MNIST convnet's).

`conv_direct_grad.conv_filter_pool_direct_nhwc` sends this shape here (one input channel, a
3x3 kernel, strides and dilation 1, a 2x2 pool with stride 2); its forward runs on
`winograd_window` (or the generic direct kernel), whose argmax says which of a window's four
convolution cells each output came from. A pool window's four cells read the 16 values of
one 4x4 patch of the image, so each window loads its patch once into scalars and, per output
channel, adds its gradient times the nine values under the argmax cell into the kernel
gradient. Nothing goes through a work array, and the loop over the output channels is the
only inner loop (it vectorizes); the generic direct kernel computed a pixel at a time,
paying each loop's setup per pixel: MNIST batch 128, one thread, 2.35 -> 0.70 ms.

The kernel gradient sums per chunk of images (`conv_direct_grad.FILTER_CHUNKS` of them,
merged in order): bit-identical serial or threaded.
"""

from __future__ import annotations

from ..memory import work_array
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
    """For the chunks start <= c < stop of the batch (cut into parts.shape[0] chunks):
    parts[c][t, o] = the sum over the windows of the chunk's images of g * the patch value
    tap t reads from the argmax cell, g = grads[n, i, j, o] where the argmax is a cell (0
    where it is NO_GRADIENT); bias_parts[c] (when not empty) the sum of those g. (One
    function, its per-chunk and patch helpers written out: each jitted helper a kernel
    calls costs its own typing and lowering in a cold compile.)"""
    n_images, chunks = x.shape[0], parts.shape[0]
    rows, cols, cout = grads.shape[1], grads.shape[2], grads.shape[3]
    zero = parts.dtype.type(0)
    with_bias = bias_parts.shape[1] != 0
    for ch in range(start, stop):
        part, bias_part = parts[ch], bias_parts[ch]
        for t in range(9):
            for o in range(cout):
                part[t, o] = zero
        for o in range(bias_part.shape[0]):
            bias_part[o] = zero
        for n in range(ch * n_images // chunks, (ch + 1) * n_images // chunks):
            for i in range(rows):
                r = 2 * i
                for j in range(cols):
                    c = 2 * j
                    # The window's 4x4 patch x[n, r:r + 4, c:c + 4, 0], row by row.
                    p00, p01 = x[n, r, c, 0], x[n, r, c + 1, 0]
                    p02, p03 = x[n, r, c + 2, 0], x[n, r, c + 3, 0]
                    p10, p11 = x[n, r + 1, c, 0], x[n, r + 1, c + 1, 0]
                    p12, p13 = x[n, r + 1, c + 2, 0], x[n, r + 1, c + 3, 0]
                    p20, p21 = x[n, r + 2, c, 0], x[n, r + 2, c + 1, 0]
                    p22, p23 = x[n, r + 2, c + 2, 0], x[n, r + 2, c + 3, 0]
                    p30, p31 = x[n, r + 3, c, 0], x[n, r + 3, c + 1, 0]
                    p32, p33 = x[n, r + 3, c + 2, 0], x[n, r + 3, c + 3, 0]
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


def gradient_chunks(work: int, x, argmax, grads, out_kernel, out_bias, scratch=None) -> None:
    """The kernel (and bias) gradient into out_kernel (3, 3, 1, C_out) and out_bias: the batch
    cut into `FILTER_CHUNKS` chunks (fewer for a small batch), each summed on its own (on the
    worker threads when `work` pays for them), the partials then added in chunk order (their
    arrays kept in `scratch`, a dict, when given). The caller
    (`conv_direct_grad.conv_filter_pool_direct_nhwc`) has checked the arguments."""
    cout = out_kernel.shape[3]
    chunks = max(1, min(x.shape[0], FILTER_CHUNKS))
    parts = work_array(scratch, "kernel_parts", (chunks, 9, cout), grads.dtype)
    bias_parts = work_array(scratch, "bias_parts", (chunks, out_bias.shape[0]), grads.dtype)
    launch(_gradient, work, chunks, x, argmax, grads, parts, bias_parts)
    _merge_parts(parts, bias_parts, out_kernel.reshape(9, cout), out_bias)
