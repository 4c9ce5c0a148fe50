"""Direct convolution kernels, NHWC: no im2col and no BLAS, for a small reduction (a first
layer: kh*kw*C_in = 9 or 27), where the GEMM is cheap but im2col is not.
`conv_direct_nhwc` is the convolution with its bias and relu fused, `conv_filter_direct_nhwc`
the kernel gradient with the bias gradient in the same pass; `conv_direct_pool_nhwc` is
`conv_direct_nhwc` then a non-overlapping max pool in one pass, the convolution's rows kept in
a few KB per pooled row instead of written out (inference: the pool reads a first layer's
activation once: not writing it saves both the write and the read). In training it also
records each window's argmax (a byte per pooled value), from which
`conv_filter_pool_direct_nhwc` computes the kernel gradient, rebuilding the convolution's
gradient (the pool's and relu's gradients) a few rows at a time: the activation and its
gradient never go to memory. A one-channel 3x3 convolution with a 2x2 pool runs its forward
on `winograd_window` (from `ops.conv_primitives`) and its kernel gradient on `conv_window`
(window by window, faster).

`conv_direct_nhwc` runs threads over (image, output row) pairs, each writing its own rows of
`out` (`conv_direct_pool_nhwc` over images); `conv_filter_direct_nhwc` over a fixed number of
chunks of the batch, each summed into its own partial, merged in order. So every output
element is summed in the same order whatever the thread count.

The kernels keep the output channels innermost (contiguous: the loop vectorizes) and add up
to `_GROUP` taps (forward) or pixels (kernel gradient) per pass over a row of `C_out` sums,
so a store to the sums serves 8 products. Numba compiles without LLVM's SLP vectorizer, so
sums cannot live in vector registers across passes; grouping is what amortizes the loads,
the store and the loop's set-up, and it does not change the order of the sums.
"""

from __future__ import annotations

import numpy as np

from . import kernel, launch
from ._checks import EMPTY, check, check_apart, float_dtype
from .conv import _windows


@kernel
def _takes(v, best):
    """`pool._takes`, here again because Numba's cache watches only a kernel's own file (a
    helper imported from pool.py could change under a cached kernel): whether `v` replaces
    the running maximum `best` (larger, or a NaN when `best` is not). The fused conv + pool
    tests compare with the pool kernels bit for bit, ties and NaN included."""
    return (not (v <= best)) & (best == best)


# ---- direct convolution (no im2col, no BLAS) ---------------------------------------------

#: Taps added per pass over a row of sums; the loop bodies below are written out for 8.
_GROUP = 8


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
    if n_taps == 9:  # a 3x3 kernel on one channel: one pass, the activation in its store
        c0, c1, c2 = corner + offsets[0], corner + offsets[1], corner + offsets[2]
        c3, c4, c5 = corner + offsets[3], corner + offsets[4], corner + offsets[5]
        c6, c7, c8 = corner + offsets[6], corner + offsets[7], corner + offsets[8]
        for j in range(cols):
            s = j * step
            x0, x1, x2 = xf[c0 + s], xf[c1 + s], xf[c2 + s]
            x3, x4, x5 = xf[c3 + s], xf[c4 + s], xf[c5 + s]
            x6, x7, x8 = xf[c6 + s], xf[c7 + s], xf[c8 + s]
            p = p0 + j
            if relu:
                for o in range(cout):
                    z = (
                        bias[o] + x0 * k2[0, o] + x1 * k2[1, o] + x2 * k2[2, o]
                        + x3 * k2[3, o] + x4 * k2[4, o] + x5 * k2[5, o] + x6 * k2[6, o]
                        + x7 * k2[7, o] + x8 * k2[8, o]
                    )  # fmt: skip
                    out2[p, o] = zero if z < zero else z
            else:
                for o in range(cout):
                    out2[p, o] = (
                        bias[o] + x0 * k2[0, o] + x1 * k2[1, o] + x2 * k2[2, o]
                        + x3 * k2[3, o] + x4 * k2[4, o] + x5 * k2[5, o] + x6 * k2[6, o]
                        + x7 * k2[7, o] + x8 * k2[8, o]
                    )  # fmt: skip
        return
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


@kernel
def _conv_direct(start, stop, x, kernel, bias, relu, sh, sw, dh, dw, out):
    """Output rows start <= q < stop of the convolution, q = (image q // rows, row q %
    rows)."""
    kh, kw, channels, cout = kernel.shape
    n, rows, cols, _ = out.shape
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    xf = x.reshape(x.size)
    k2 = kernel.reshape(kh * kw * channels, cout)
    out2 = out.reshape(n * rows * cols, cout)
    x_shape = (x.shape[1], x.shape[2], channels)
    bias = _bias_or_zeros(bias, cout, out)
    for q in range(start, stop):
        _conv_direct_row(xf, offsets, k2, bias, relu, q, rows, cols, sh, sw, x_shape, out2)


#: `conv_direct_pool_nhwc`'s argmax for a window whose gradient is 0 (relu's, at a max <= 0).
NO_GRADIENT = 255


@kernel
def _max_pool_rows(conv_rows, ph, pw, relu, out_row, idx3, q):
    """out_row[v, o] = the max of conv_rows[a, v*pw + c, o] over a < ph, c < pw: the first
    maximum in row-major (a, c) order, NaN winning as in `pool._takes`; conv_rows is
    (ph, cols, C_out), its columns past the last whole window unused. When idx3 is not
    empty, idx3[q, v, o] = a*pw + c of that maximum, or NO_GRADIENT when `relu` and it is
    not positive."""
    n_windows, cout = out_row.shape
    record = idx3.shape[0] != 0
    none = np.uint8(NO_GRADIENT)
    zero = out_row.dtype.type(0)
    if ph == 2 and pw == 2:  # the common pool: the window's maximum stays in a register
        top, bottom = conv_rows[0], conv_rows[1]
        for v in range(n_windows):
            j = 2 * v
            if record:
                at_row = idx3[q, v]
                for o in range(cout):
                    best, at = top[j, o], np.uint8(0)
                    z = top[j + 1, o]
                    t = _takes(z, best)
                    at = np.uint8(1) if t else at
                    best = z if t else best
                    z = bottom[j, o]
                    t = _takes(z, best)
                    at = np.uint8(2) if t else at
                    best = z if t else best
                    z = bottom[j + 1, o]
                    t = _takes(z, best)
                    at = np.uint8(3) if t else at
                    best = z if t else best
                    out_row[v, o] = best
                    at_row[o] = none if relu and not (best > zero) else at
                continue
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
        if record:
            at_row = idx3[q, v]
            for o in range(cout):
                at_row[o] = 0
        for a in range(ph):
            for c in range(pw):
                cell = conv_rows[a, j + c]
                if record:
                    at = np.uint8(a * pw + c)
                    for o in range(cout):
                        if _takes(cell[o], best[o]):
                            best[o] = cell[o]
                            at_row[o] = at
                else:
                    for o in range(cout):
                        z, m = cell[o], best[o]
                        best[o] = z if _takes(z, m) else m
        if record and relu:
            for o in range(cout):
                if not (best[o] > zero):
                    at_row[o] = none


@kernel
def _conv_pool_rows(xf, offsets, k2, bias, relu, first, last, rows, sh, sw, ph, pw, x_shape, out3,
                    idx3):  # fmt: skip
    """Pooled rows first <= q < last, q = (image q // rows, row q % rows): each one's ph rows
    of the convolution (only the columns that whole windows cover) into a small work array,
    then their max pool into out3[q] (Q, C_out) and, when idx3 is not empty, the argmax into
    idx3[q]."""
    height, width, channels = x_shape
    cout = k2.shape[1]
    cols = out3.shape[1] * pw
    conv_rows = np.empty((ph, cols, cout), out3.dtype)  # a few KB: stays in L1
    flat = conv_rows.reshape(ph * cols, cout)
    for q in range(first, last):
        b = q // rows
        i0 = (q - b * rows) * ph  # the first convolution row
        for a in range(ph):
            corner = (b * height + (i0 + a) * sh) * width * channels
            _conv_direct_pixels(xf, offsets, k2, bias, relu, corner, sw * channels, cols, flat,
                                a * cols)  # fmt: skip
        _max_pool_rows(conv_rows, ph, pw, relu, out3[q], idx3, q)


@kernel
def _conv_direct_pool(start, stop, x, kernel, bias, relu, sh, sw, dh, dw, ph, pw, out, argmax):
    """The pooled rows of the images start <= b < stop (`_conv_pool_rows`)."""
    kh, kw, channels, cout = kernel.shape
    n, rows, cols, _ = out.shape
    offsets = _tap_offsets(x, kh, kw, dh, dw)
    xf = x.reshape(x.size)
    k2 = kernel.reshape(kh * kw * channels, cout)
    out3 = out.reshape(n * rows, cols, cout)
    idx3 = argmax.reshape(argmax.shape[0] * argmax.shape[1], argmax.shape[2], argmax.shape[3])
    x_shape = (x.shape[1], x.shape[2], channels)
    bias = _bias_or_zeros(bias, cout, out)
    _conv_pool_rows(xf, offsets, k2, bias, relu, start * rows, stop * rows, rows, sh, sw, ph, pw,
                    x_shape, out3, idx3)  # fmt: skip


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
    launch(_conv_direct, out.size * kh * kw * cin, out.shape[0] * out.shape[1], x_padded, kernel,
           bias, bool(relu), sh, sw, dh, dw, out)  # fmt: skip


def conv_direct_pool_nhwc(x_padded, kernel, bias, relu, stride_h, stride_w, dil_h, dil_w,
                          pool_h, pool_w, out, argmax=None) -> None:  # fmt: skip
    """`conv_direct_nhwc` followed by a max pool of non-overlapping `pool_h` x `pool_w`
    windows (stride = pool, "valid": rows and columns past the last whole window are
    dropped), in one pass that never writes the convolution out: `out[n, p, v, o] = max over
    a < pool_h, c < pool_w of y[n, p*pool_h + a, v*pool_w + c, o]`, `y` what
    `conv_direct_nhwc` computes (the same bits), the max the first in row-major window
    order with NaN winning (as `pool.max_pool2d`). `out` is (N, Ho // pool_h, Wo // pool_w,
    C_out). Threads run over images, each computing its pool_h rows at a time of the
    convolution into a few KB of work array.

    With `argmax` (uint8, `out`'s shape), also records where each window's maximum lies,
    `a*pool_w + c`, or `NO_GRADIENT` (255) when `relu` and the maximum is not positive (relu's
    gradient is 0 there): all `conv_filter_pool_direct_nhwc` needs for the training step's
    kernel gradient, so the activation is not kept for it either (pool_h*pool_w < 255).

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
    ph, pw, shape = _pooled(name, x_padded, kernel.shape, (sh, sw, dh, dw), pool_h, pool_w)
    check(name, "out", out, dtype=dtype, shape=shape, out=True)
    check_apart(name, "out", out, x_padded=x_padded, kernel=kernel, bias=bias)
    if argmax is None:
        argmax = _NO_ARGMAX
    else:
        _check_argmax(name, argmax, ph, pw, shape)
        if not argmax.flags.writeable:
            raise ValueError(f"{name}: argmax is written to but is read-only.")
        check_apart(name, "argmax", argmax, pooled=out, x_padded=x_padded)
    if out.size == 0:
        return
    work = out.size * ph * pw * kh * kw * cin
    launch(_conv_direct_pool, work, len(out), x_padded, kernel, bias, bool(relu), sh, sw, dh, dw,
           ph, pw, out, argmax)  # fmt: skip


#: "No argmax wanted": one compiled signature with and without.
_NO_ARGMAX = np.empty((0, 0, 0, 0), np.uint8)


def _check_argmax(name: str, argmax, ph: int, pw: int, shape: tuple) -> None:
    if ph * pw >= NO_GRADIENT:
        raise ValueError(f"{name}: an argmax needs pool windows of fewer than {NO_GRADIENT} "
                         f"cells. Received: pool_h={ph}, pool_w={pw}")  # fmt: skip
    check(name, "argmax", argmax, dtype=np.dtype(np.uint8), shape=shape)


def _pooled(name: str, x_padded, kernel_shape, steps, pool_h, pool_w) -> tuple:
    """(pool_h, pool_w, the pooled shape) of a conv + non-overlapping max pool."""
    kh, kw, _, cout = kernel_shape
    ho, wo = _windows(name, x_padded.shape, kh, kw, *steps)
    ph, pw = int(pool_h), int(pool_w)
    if ph < 1 or pw < 1:
        raise ValueError(f"{name}: pool sizes must be >= 1. Received: pool_h={pool_h}, "
                         f"pool_w={pool_w}")  # fmt: skip
    return ph, pw, (x_padded.shape[0], ho // ph, wo // pw, cout)


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
