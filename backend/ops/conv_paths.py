"""How a convolution runs: the array paths behind the primitives of `conv_primitives`.

`conv_primitives` picks one path per call by shape: direct loops for a small kernel
(`_use_direct`), the depthwise kernels for one input channel per group (`_is_depthwise`),
Winograd F(2x2, 3x3) for a 3x3 stride-1 kernel (`conv_winograd`), else im2col + BLAS
(`_im2col`, `_col2im`). This module holds those paths (but Winograd's) and their work-array
helpers (`_buffer`: `memory.work_array`, scratch arrays kept per Plan node);
docs/internals/kernels.md has the measurements behind each choice.
"""

from __future__ import annotations

import numpy as np

from ..memory import work_array as _buffer


def _effective(k: int, d: int) -> int:
    return (k - 1) * d + 1


# ---- array helpers (numpy + kernels) ------------------------------------------------------


def _kernels():
    from ..kernels import conv as kconv  # importing Numba is deferred to the first run

    return kconv


def _direct_kernels():
    from ..kernels import conv_direct, conv_direct_grad

    return conv_direct, conv_direct_grad


def _extent(out_hw, ksize, strides, dilation) -> tuple:
    """The rows/cols of the padded image the windows reach."""
    return tuple((o - 1) * s + _effective(k, d) for o, k, s, d in
                 zip(out_hw, ksize, strides, dilation, strict=True))  # fmt: skip


def _is_plain_1x1(ksize, strides, pads, x_hw, need) -> bool:
    return (
        ksize == (1, 1)
        and strides == (1, 1)
        and pads[0][0] == 0
        and pads[1][0] == 0
        and tuple(x_hw) == tuple(need)
    )


def _padded(x: np.ndarray, pads, need, scratch=None) -> np.ndarray:
    """`x` zero-padded before by (top, left) and cut or padded after to `need` (rows, cols)."""
    n, h, w, c = x.shape
    (top, _), (left, _) = pads
    if top == 0 and left == 0 and (h, w) == tuple(need):
        return np.ascontiguousarray(x)
    # Cached: only the same interior cells are written on every call, so the border stays 0.
    xp = _buffer(scratch, "padded", (n, need[0], need[1], c), x.dtype, zero=True)
    hh, ww = min(h, need[0] - top), min(w, need[1] - left)
    xp[:, top : top + hh, left : left + ww] = x[:, :hh, :ww]
    return xp


def _im2col(x: np.ndarray, ksize, strides, dilation, pads, out_hw, scratch=None) -> np.ndarray:
    """The windows of `x` as (N, Ho, Wo, kh, kw, C) (in a `scratch` buffer when given)."""
    n, h, w, c = x.shape
    need = _extent(out_hw, ksize, strides, dilation)
    if _is_plain_1x1(ksize, strides, pads, (h, w), need):
        return np.ascontiguousarray(x).reshape(n, h, w, 1, 1, c)
    xp = _padded(x, pads, need, scratch)
    cols = _buffer(scratch, "im2col", (n, *out_hw, *ksize, c), x.dtype)
    _kernels().im2col_nhwc(xp, *ksize, *strides, *dilation, cols)
    return cols


def _col2im(cols: np.ndarray, image_hw, ksize, strides, dilation, pads, out=None,
            scratch=None) -> np.ndarray:  # fmt: skip
    """The transpose of `_im2col`: windows (N, Ho, Wo, kh, kw, C) summed into (N, H, W, C);
    written into `out` when given (col2im straight into it when no crop is needed)."""
    n, ho, wo, _, _, c = cols.shape
    h, w = image_hw
    need = _extent((ho, wo), ksize, strides, dilation)
    if _is_plain_1x1(ksize, strides, pads, (h, w), need):
        x = cols.reshape(n, h, w, c)
        if out is not None:
            if not np.shares_memory(x, out):
                np.copyto(out, x)
            return out
        return x
    cols = np.ascontiguousarray(cols)
    (top, _), (left, _) = pads
    uncropped = top == 0 and left == 0 and (h, w) == tuple(need)
    if uncropped and out is not None and out.flags.c_contiguous and out.flags.writeable:
        _kernels().col2im_nhwc(cols, *ksize, *strides, *dilation, out)
        return out
    xp = _buffer(scratch, "col2im", (n, need[0], need[1], c), cols.dtype)
    _kernels().col2im_nhwc(cols, *ksize, *strides, *dilation, xp)
    if uncropped:
        if out is not None:
            np.copyto(out, xp)
            return out
        return xp
    hh, ww = min(h, need[0] - top), min(w, need[1] - left)
    if out is None:
        x = np.zeros((n, h, w, c), cols.dtype)
    else:
        x = out
        x[:, hh:] = 0
        x[:, :hh, ww:] = 0
    x[:, :hh, :ww] = xp[:, top : top + hh, left : left + ww]
    return x


# ---- depthwise: one input channel per group, on direct kernels (no im2col, no padded copy) --


def _depthwise_kernels():
    from ..kernels import depthwise as kdw

    return kdw


def _is_depthwise(dtype, cin: int, cg: int, groups: int) -> bool:
    """A grouped convolution with one input channel per group (the kernel (kh, kw, 1, C*M) is
    a depthwise (kh, kw, C, M) one), in a dtype the direct kernels take."""
    return groups > 1 and cg == 1 and cin == groups and dtype in (np.float32, np.float64)


def _direct_out(shape, dtype, out, scratch) -> np.ndarray:
    """Where a direct kernel writes: `out` when it is writable in place, else a work array."""
    return out if _writable(out) else _buffer(scratch, "depthwise", shape, dtype)


def _delivered(result: np.ndarray, out) -> np.ndarray:
    if out is None or result is out:
        return result
    np.copyto(out, result)
    return out


def _depthwise_forward(x, k, strides, dilation, pads, out_hw, out, scratch):
    n, _, _, c = x.shape
    kh, kw, _, cout = k.shape
    y = _direct_out((n, *out_hw, cout), x.dtype, out, scratch)
    _depthwise_kernels().depthwise_conv2d(
        np.ascontiguousarray(x), np.ascontiguousarray(k).reshape(kh, kw, c, cout // c),
        strides, dilation, (pads[0][0], pads[1][0]), y,
    )  # fmt: skip
    return _delivered(y, out)


def _depthwise_transpose(y, k, strides, dilation, pads, image_hw, groups, out, scratch):
    kh, kw, _, cout = k.shape
    dx = _direct_out((y.shape[0], *image_hw, groups), y.dtype, out, scratch)
    _depthwise_kernels().depthwise_conv2d_input_grad(
        np.ascontiguousarray(y), np.ascontiguousarray(k).reshape(kh, kw, groups, cout // groups),
        strides, dilation, (pads[0][0], pads[1][0]), dx,
    )  # fmt: skip
    return _delivered(dx, out)


def _depthwise_filter(x, y, kernel_size, strides, dilation, pads, out, scratch):
    c, cout = x.shape[3], y.shape[3]
    dk = _direct_out((*kernel_size, 1, cout), x.dtype, out, scratch)
    _depthwise_kernels().depthwise_conv2d_kernel_grad(
        np.ascontiguousarray(x), np.ascontiguousarray(y), strides, dilation,
        (pads[0][0], pads[1][0]), dk.reshape(*kernel_size, c, cout // c),
    )  # fmt: skip
    return _delivered(dk, out)


# ---- direct: a small kernel (a first layer) on direct loops, no im2col and no GEMM -----------

#: The largest kernels (kh*kw*C_in*C_out) that `_use_direct` sends to the direct kernels.
_DIRECT_FORWARD_MAX = 1024
_DIRECT_FILTER_MAX = 8192


def _use_direct(dtype, kernel_shape, groups: int, gradient: bool = False) -> bool:
    """Whether a `groups == 1` convolution (or, with `gradient`, its kernel gradient) runs on
    the direct kernels (`kernels.conv_direct.conv_direct_nhwc` /
    `conv_direct_grad.conv_filter_direct_nhwc`) instead
    of im2col + one GEMM: when its kernel (kh, kw, C_in, C_out) has at most 1024 weights
    (forward) or 8192 (gradient: its partial sums then fit in a 32 KB L1 at float32).

    im2col costs per (pixel, tap) whatever C_in, and for a few input channels it costs far
    more than the GEMM after it; the direct loops cost per (pixel, tap, C_out / 16) vector, so
    they win while kh*kw*C_in*C_out is small. Measured (ms per call, float32, stride 1, valid,
    2 threads on a shared 2-core Zen4, best of several runs; im2col+GEMM / direct; the forward
    with bias + relu on both paths (a `bias_activation` pass after the GEMM), the kernel
    gradient with the bias gradient (numpy's sum after the GEMM)):

        x, kernel                        forward        kernel gradient
        (128,28,28,1), (3,3,1,32)       2.6 / 1.0        4.0 / 1.0
        (512,28,28,1), (3,3,1,32)       8.8 / 3.5       16.4 / 3.6
        (64,32,32,3), (3,3,3,16)        1.7 / 1.5        3.6 / 0.9
        (128,13,13,32), (3,3,32,64)     5.1 / 8.2        5.2 / 6.2   both stay on the GEMM
        (64,28,28,1), (3,3,1,128)       1.9 / 1.9        3.7 / 1.5   forward: GEMM
        (64,28,28,3), (3,3,3,64)        1.9 / 2.6        4.3 / 1.3   forward: GEMM
        (64,28,28,4), (3,3,4,32)        1.5 / 1.8        2.9 / 2.6   forward: GEMM
        (16,40,40,3), (7,7,3,64)        3.7 / 6.2        4.1 / 3.8   both: GEMM (a tie)
    """
    if groups != 1 or dtype not in (np.float32, np.float64):
        return False
    size = int(np.prod(kernel_shape))
    return size <= (_DIRECT_FILTER_MAX if gradient else _DIRECT_FORWARD_MAX)


def _bias_relu(y: np.ndarray, bias, relu: bool) -> None:
    """In place, `y = relu(y + bias)` over y's last axis (each part only when asked): one pass
    of the `bias_activation` kernel over a C-contiguous y, numpy otherwise."""
    if bias is not None and y.flags.c_contiguous and y.dtype in (np.float32, np.float64):
        from ..kernels import gemm

        gemm.bias_activation(y, np.ascontiguousarray(bias), "relu" if relu else "linear")
        return
    if bias is not None:
        np.add(y, bias, out=y)
    if relu:
        np.maximum(y, 0, out=y)


def _bias_grad(y: np.ndarray, bias_out) -> None:
    """`bias_out = y.sum(axis=(0, 1, 2))` when `bias_out` is given."""
    if bias_out is not None:
        np.sum(y.reshape(-1, y.shape[-1]), axis=0, out=bias_out)


def _conv_direct(x, k, strides, dilation, pads, out_hw, out, scratch, bias, relu):
    n, cout = x.shape[0], k.shape[3]
    xp = _padded(x, pads, _extent(out_hw, k.shape[:2], strides, dilation), scratch)
    y = out if _writable(out) else _buffer(scratch, "direct", (n, *out_hw, cout), x.dtype)
    bias = None if bias is None else np.ascontiguousarray(bias)
    forward, _ = _direct_kernels()
    forward.conv_direct_nhwc(xp, np.ascontiguousarray(k), bias, relu, *strides, *dilation, y)
    return _delivered(y, out)


def _conv_filter_direct(x, y, kernel_size, strides, dilation, pads, out, scratch, bias_out):
    cin, cout = x.shape[3], y.shape[3]
    xp = _padded(x, pads, _extent(y.shape[1:3], kernel_size, strides, dilation), scratch)
    dk = out if _writable(out) else np.empty((*kernel_size, cin, cout), x.dtype)
    db = bias_out if bias_out is None or _writable(bias_out) else np.empty(cout, x.dtype)
    _, gradient = _direct_kernels()
    gradient.conv_filter_direct_nhwc(xp, np.ascontiguousarray(y), *strides, *dilation, dk, db,
                                     scratch=scratch)  # fmt: skip
    if db is not bias_out:
        np.copyto(bias_out, db)
    return _delivered(dk, out)


def _writable(out) -> bool:
    return out is not None and out.flags.c_contiguous and out.flags.writeable
