"""The convolution primitives, NHWC (`channels_last`), and their geometry.

Three primitives, all over 2-D images (a 1-D convolution is a 2-D one over a height-1
image), with explicit pads `((top, bottom), (left, right))` (a bottom/right pad may be
negative: the input rows past the last window are then unused), strides, dilations and
`groups`, and a kernel in the conv layout `(kh, kw, C_in / groups, C_out)`:

- `conv` (`ConvOp`): `y = conv(x, k)`: im2col (`kernels.conv.im2col_nhwc`) + one GEMM
  (a batched GEMM over groups), or direct loops for a small kernel (`_use_direct`: a first
  layer, where im2col costs far more than the GEMM), or Winograd F(2x2, 3x3) for a 3x3
  stride-1 kernel (`use_winograd`: 16 GEMMs over transformed tiles, 4/9 of the multiplies).
- `conv_transpose` (`ConvTransposeOp`): the transpose of `conv` in its input, `x = conv^T(y,
  k)`: one GEMM + col2im, or (stride 1, 3x3) the transpose of the Winograd forward. Its attribute
  `extra` says how many trailing rows/cols past the last window the image has (in
  `[0, stride)`), which fixes the output size.
- `conv_filter_grad` (`ConvFilterOp`): the gradient of `conv` in its kernel,
  `im2col(x)^T @ y`, or direct loops for a small kernel likewise.

Each is linear in each of its two inputs, and each one's vjps are the other two, so the
backward graphs are differentiable again. The public functions (keras.ops names and
arguments) are composites over them, in `conv`. How each runs (the direct, depthwise,
Winograd and im2col paths, chosen by shape) is in `conv_paths` and `conv_winograd`.

A depthwise convolution (one input channel per group) runs all three on the direct loops of
`kernels.depthwise` instead: no im2col and no batched GEMM over tiny matrices.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply
from .conv_paths import (
    _bias_grad,
    _bias_relu,
    _buffer,
    _col2im,
    _conv_direct,
    _conv_filter_direct,
    _delivered,
    _depthwise_filter,
    _depthwise_forward,
    _depthwise_transpose,
    _direct_kernels,
    _effective,
    _extent,
    _im2col,
    _is_depthwise,
    _is_plain_1x1,
    _padded,
    _use_direct,
    _writable,
)
from .conv_winograd import conv_winograd, use_window_winograd, use_winograd, winograd_backward

# ---- sizes -----------------------------------------------------------------------------------


def _out_len(n, k: int, s: int, d: int, lo: int, hi: int):
    """How many windows fit along an axis of length n (None when n is unknown)."""
    if n is None:
        return None
    return (n + lo + hi - _effective(k, d)) // s + 1


def _same_pads(n: int, k: int, s: int, d: int) -> tuple:
    """TF/Keras "same": the output has ceil(n / s) cells; an odd total pad puts the extra
    cell after (bottom/right)."""
    total = max((-(-n // s) - 1) * s + _effective(k, d) - n, 0)
    return total // 2, total - total // 2


def _image_shape(op_name: str, x: Spec, k: Spec, kernel_in: int | None, groups: int):
    """Checks an image (N, H, W, C) and a conv-layout kernel; returns (N, H, W, C)."""
    if len(x.shape) != 4 or len(k.shape) != 4:
        raise ValueError(
            f"{op_name}: expected a 4-D image and a 4-D kernel. Received: "
            f"inputs.shape={x.shape}, kernel.shape={k.shape}"
        )
    if x.dtype != k.dtype or not dt.is_float(x.dtype):
        raise TypeError(
            f"{op_name}: both inputs must have one float dtype (the public function promotes "
            f"them). Received: {x.dtype} and {k.dtype}"
        )
    c = x.shape[3]
    if c is not None and kernel_in is not None and c != kernel_in * groups:
        raise ValueError(
            f"{op_name}: the input has {c} channels but the kernel expects {kernel_in} per "
            f"group x {groups} groups. Received: inputs.shape={x.shape}, kernel.shape={k.shape}"
        )
    return x.shape


def _check_groups(op_name: str, k: Spec, groups: int, x_shape) -> None:
    cout = k.shape[3]
    if cout is not None and cout % groups:
        raise ValueError(
            f"{op_name}: the kernel's {cout} output channels are not divisible by the "
            f"{groups} groups. Received: inputs.shape={tuple(x_shape)}, kernel.shape={k.shape}"
        )


def _conv_forward(x, k, strides, dilation, pads, groups, out=None, scratch=None, bias=None,
                  relu=False):  # fmt: skip
    """The convolution; written into `out` (a C-contiguous output buffer) when given, with
    its work arrays cached in `scratch` (a dict) when given. With `groups == 1` the result is
    `relu(conv + bias)` (`bias` (C_out,) or None, `relu` a bool); other groups ignore them
    (`conv_into` adds them)."""
    n, h, w, cin = x.shape
    kh, kw, cg, cout = k.shape
    out_hw = tuple(
        _out_len(size, ks, s, d, lo, hi)
        for size, ks, s, d, (lo, hi) in zip((h, w), (kh, kw), strides, dilation, pads, strict=True)
    )
    if _is_depthwise(x.dtype, cin, cg, groups):
        return _depthwise_forward(x, k, strides, dilation, pads, out_hw, out, scratch)
    if _use_direct(x.dtype, k.shape, groups):
        return _conv_direct(x, k, strides, dilation, pads, out_hw, out, scratch, bias, relu)
    if use_winograd(x.dtype, k.shape, strides, dilation, groups, out_hw):
        top_left = (pads[0][0], pads[1][0])
        return conv_winograd(x, k, top_left, out_hw, out, scratch, bias, relu)
    cols = _im2col(x, (kh, kw), strides, dilation, pads, out_hw, scratch)
    rows = n * out_hw[0] * out_hw[1]
    if groups == 1:
        a, b = cols.reshape(rows, kh * kw * cin), k.reshape(kh * kw * cin, cout)
        if out is not None and out.flags.c_contiguous:
            np.matmul(a, b, out=out.reshape(rows, cout))
            _bias_relu(out, bias, relu)
            return out
        result = (a @ b).reshape(n, *out_hw, cout)
        _bias_relu(result, bias, relu)
    else:
        og = cout // groups
        a = cols.reshape(rows, kh * kw, groups, cg).transpose(2, 0, 1, 3)
        a = a.reshape(groups, rows, -1)
        b = k.reshape(kh * kw * cg, groups, og).transpose(1, 0, 2)
        result = np.matmul(a, b).transpose(1, 0, 2).reshape(n, *out_hw, cout)  # from (G, R, og)
    if out is not None:
        np.copyto(out, result)
        return out
    return result


def conv_into(x, k, out, strides, dilation, pads, groups, scratch=None, bias=None,
              relu=False) -> None:  # fmt: skip
    """`ConvOp`'s forward written into the preallocated `out` (for compiled Plans), with a
    conv layer's epilogue: `out = relu(conv(x, k) + bias)`, `bias` (C_out,) or None, `relu` a
    bool. Fused into the direct kernel when it runs, else one pass after the GEMM. `scratch`
    (a dict kept by the caller) caches the work arrays between calls."""
    if groups == 1:
        _conv_forward(x, k, strides, dilation, pads, 1, out, scratch, bias, relu)
        return
    _conv_forward(x, k, strides, dilation, pads, groups, out=out, scratch=scratch)
    _bias_relu(out, bias, relu)


def conv_pool_path(
    x_shape, dtype, kernel_shape, strides, dilation, pads, groups, pool, pool_strides, pool_padding
):
    """How `conv_pool_into` runs a conv with a max pool after it in one pass, or None when it
    cannot: `"direct"` when the convolution runs on the direct kernel (`_use_direct`) and the
    pool's windows tile its output (`pool == pool_strides`, "valid", fewer than 255 cells);
    `"winograd"` when it runs on Winograd (`use_winograd`) and the pool is 2x2 with stride 2,
    "valid" (its windows are the output tiles). Either way at least one whole window, every
    size known and `groups == 1`."""
    pool, pool_strides = tuple(map(int, pool)), tuple(map(int, pool_strides))
    if (
        groups != 1
        or pool != pool_strides
        or pool_padding != "valid"
        or len(x_shape) != 4
        or any(s is None for s in x_shape[1:])
        or pool[0] * pool[1] >= 255
    ):
        return None
    dtype = np.dtype(dtype)
    out_hw = _conv_out_hw(x_shape, kernel_shape, strides, dilation, pads)
    if out_hw[0] < pool[0] or out_hw[1] < pool[1]:
        return None
    if _use_direct(dtype, kernel_shape, groups):
        return "direct"
    if pool == (2, 2) and use_winograd(dtype, kernel_shape, strides, dilation, groups, out_hw):
        return "winograd"
    return None


def winograd_grads_path(x_shape, dtype, kernel_shape, strides, dilation, pads, groups) -> tuple:
    """(input gradient, kernel gradient): whether each of a convolution's gradients runs on
    Winograd (`conv_winograd.winograd_backward`) when taken alone, as `conv_transpose` and
    `conv_filter_grad` choose: the input gradient with K = C_out for its GEMM, the kernel
    gradient unless the direct loops take it."""
    dtype = np.dtype(dtype)
    if len(x_shape) != 4 or any(s is None for s in x_shape[1:]):
        return False, False
    out_hw = _conv_out_hw(x_shape, kernel_shape, strides, dilation, pads)
    kh, kw, cin, cout = kernel_shape
    dx = use_winograd(dtype, (kh, kw, cout, cin), strides, dilation, groups, out_hw)
    dk = use_winograd(dtype, kernel_shape, strides, dilation, groups, out_hw) and not _use_direct(
        dtype, kernel_shape, groups, gradient=True
    )
    return dx, dk


def _conv_out_hw(x_shape, kernel_shape, strides, dilation, pads) -> tuple:
    return tuple(
        _out_len(size, ks, s, d, lo, hi)
        for size, ks, s, d, (lo, hi) in zip(
            x_shape[1:3], kernel_shape[:2], strides, dilation, pads, strict=True
        )
    )


def conv_pool_into(x, k, out, strides, dilation, pads, groups, pool, pool_strides,
                   pool_padding, scratch=None, bias=None, relu=False,
                   argmax=None) -> bool:  # fmt: skip
    """`max_pool(relu(conv(x, k) + bias))` written into the preallocated `out` (the pooled
    shape) in one pass, without the activation, when it can (for compiled Plans): on a
    `conv_pool_path`, it runs `kernels.conv_direct.conv_direct_pool_nhwc` or Winograd with the pool
    in its output transform and returns True (the same bits as `conv_into` then
    `pool.max_pool_into`, except where a faster algorithm runs within its float32 tolerance:
    inference without an argmax on Winograd F(4x4, 3x3) (`conv_winograd.use_f4`), and one
    input channel, with or without the argmax, on F(2x2, 3x3) per pool window
    (`use_window_winograd`)); else it does nothing and
    returns False. The conv arguments are
    `conv_into`'s, the pool ones `max_pool`'s attributes `pool`, `strides` and `padding`.
    With `argmax` (uint8, the pooled shape), also records each window's argmax (for
    `conv_pool_filter_grad_into` or `kernels.pool.max_unpool2d`)."""
    path = conv_pool_path(x.shape, x.dtype, k.shape, strides, dilation, pads, groups, pool,
                          pool_strides, pool_padding)  # fmt: skip
    if x.dtype != k.dtype or path is None:
        return False
    kh, kw, _, cout = k.shape
    out_hw = _conv_out_hw(x.shape, k.shape, strides, dilation, pads)
    pool = tuple(map(int, pool))
    pooled = (x.shape[0], out_hw[0] // pool[0], out_hw[1] // pool[1], cout)
    writable = _writable(out) and out.dtype == x.dtype
    y = out if writable else _buffer(scratch, "pooled", pooled, x.dtype)
    bias = None if bias is None else np.ascontiguousarray(bias)
    if path == "winograd":
        conv_winograd(x, k, (pads[0][0], pads[1][0]), out_hw, y, scratch, bias, relu,
                      pooled=True, argmax=argmax)  # fmt: skip
    else:
        xp = _padded(x, pads, _extent(out_hw, (kh, kw), strides, dilation), scratch)
        if use_window_winograd(x.dtype, k.shape, strides, dilation, pool):
            from ..kernels import winograd_window

            winograd_window.conv_pool(xp, np.ascontiguousarray(k), bias, relu, y, argmax)
        else:
            forward, _ = _direct_kernels()
            forward.conv_direct_pool_nhwc(xp, np.ascontiguousarray(k), bias, relu, *strides,
                                          *dilation, *pool, y, argmax)  # fmt: skip
    _delivered(y, out)
    return True


def conv_pool_filter_grad_into(x, argmax, grads, out, kernel_size, strides, dilation, pads,
                               pool, scratch=None, bias_out=None) -> None:  # fmt: skip
    """The kernel gradient (and, with `bias_out`, the bias gradient) of the convolution in a
    `conv_pool_into(..., argmax=argmax)` call, from the pool's output gradient `grads`: what
    `conv_filter_grad_into` gives for the convolution's gradient that the max pool's (and
    relu's) gradients would build, without building it
    (`kernels.conv_direct_grad.conv_filter_pool_direct_nhwc`). Only for a "direct"
    `conv_pool_path`."""
    kh, kw = kernel_size
    cout = grads.shape[3]
    kernel_shape = (kh, kw, x.shape[3], cout)
    out_hw = _conv_out_hw(x.shape, kernel_shape, strides, dilation, pads)
    xp = _padded(x, pads, _extent(out_hw, (kh, kw), strides, dilation), scratch)
    dk = out if _writable(out) else _buffer(scratch, "pool_filter_grad", kernel_shape, x.dtype)
    _, gradient = _direct_kernels()
    gradient.conv_filter_pool_direct_nhwc(xp, argmax, np.ascontiguousarray(grads), *strides,
                                          *dilation, *map(int, pool), dk, bias_out,
                                          scratch=scratch)  # fmt: skip
    _delivered(dk, out)


def _conv_transpose_forward(y, k, strides, dilation, pads, extra, groups, out=None,
                            scratch=None):  # fmt: skip
    n, ho, wo, cout = y.shape
    kh, kw, cg, _ = k.shape
    cin = cg * groups
    image_hw = tuple(
        (o - 1) * s + _effective(ks, d) - lo - hi + r
        for o, ks, s, d, (lo, hi), r in zip(
            (ho, wo), (kh, kw), strides, dilation, pads, extra, strict=True
        )
    )
    if _is_depthwise(y.dtype, cin, cg, groups):
        return _depthwise_transpose(y, k, strides, dilation, pads, image_hw, groups, out, scratch)
    # Winograd when the forward convolution would take it (with K = C_out for dx's GEMM):
    # its transpose over the forward's own tiles (`winograd_backward`).
    if use_winograd(y.dtype, (kh, kw, cout, cin), strides, dilation, groups, (ho, wo)):
        dx = out if _writable(out) else np.empty((n, *image_hw, cin), y.dtype)
        winograd_backward((n, *image_hw, cin), (kh, kw, cin, cout), (pads[0][0], pads[1][0]),
                          (ho, wo), k=k, dy=y, dx=dx, scratch=scratch)  # fmt: skip
        return _delivered(dx, out)
    rows = n * ho * wo
    cols_shape = (n, ho, wo, kh, kw, cin)
    if groups == 1:
        a, b = y.reshape(rows, cout), k.reshape(kh * kw * cin, cout).T
        need = _extent((ho, wo), (kh, kw), strides, dilation)
        if _writable(out) and _is_plain_1x1((kh, kw), strides, pads, image_hw, need):
            np.matmul(a, b, out=out.reshape(rows, cin))  # the columns are the image
            return out
        if out is None:
            cols = a @ b
        else:
            cols = _buffer(scratch, "cols", (rows, kh * kw * cin), y.dtype)
            np.matmul(a, b, out=cols)
    else:
        og = cout // groups
        a = y.reshape(rows, groups, og).transpose(1, 0, 2)
        b = k.reshape(kh * kw * cg, groups, og).transpose(1, 2, 0)
        d = np.matmul(a, b)  # (groups, rows, kh*kw*cg)
        d = d.reshape(groups, rows, kh * kw, cg).transpose(1, 2, 0, 3)
        if out is None:
            cols = d
        else:
            cols = _buffer(scratch, "cols", (rows, kh * kw, groups, cg), y.dtype)
            np.copyto(cols, d)
    cols = np.ascontiguousarray(cols).reshape(cols_shape)
    return _col2im(cols, image_hw, (kh, kw), strides, dilation, pads, out, scratch)


def conv_transpose_into(y, k, out, strides, dilation, pads, extra, groups, scratch=None) -> None:
    """`ConvTransposeOp`'s forward written into the preallocated `out` (for compiled Plans):
    the GEMM into a work array (cached in `scratch`, a dict kept by the caller, when given)
    and col2im straight into `out`."""
    _conv_transpose_forward(y, k, strides, dilation, pads, extra, groups, out, scratch)


def _conv_filter_forward(x, y, kernel_size, strides, dilation, pads, groups, out=None,
                         scratch=None, bias_out=None):  # fmt: skip
    """The kernel gradient; written into `out` when given. With `groups == 1` and `bias_out`
    (C_out,) given, also `bias_out = y.sum(axis=(0, 1, 2))` (other groups ignore it:
    `conv_filter_grad_into` sums it)."""
    n, _, _, cin = x.shape
    _, ho, wo, cout = y.shape
    kh, kw = kernel_size
    if _is_depthwise(x.dtype, cin, cin // groups, groups):
        return _depthwise_filter(x, y, kernel_size, strides, dilation, pads, out, scratch)
    if _use_direct(x.dtype, (kh, kw, cin, cout), groups, gradient=True):
        return _conv_filter_direct(x, y, kernel_size, strides, dilation, pads, out, scratch,
                                   bias_out)  # fmt: skip
    if use_winograd(x.dtype, (kh, kw, cin, cout), strides, dilation, groups, (ho, wo)):
        dk = out if _writable(out) else np.empty((kh, kw, cin, cout), x.dtype)
        winograd_backward(x.shape, dk.shape, (pads[0][0], pads[1][0]), (ho, wo), x=x, dy=y,
                          dk=dk, db=bias_out, scratch=scratch)  # fmt: skip
        return _delivered(dk, out)
    cols = _im2col(x, (kh, kw), strides, dilation, pads, (ho, wo), scratch)
    rows = n * ho * wo
    if groups == 1:
        _bias_grad(y, bias_out)
        a, b = cols.reshape(rows, kh * kw * cin).T, y.reshape(rows, cout)
        if _writable(out):
            np.matmul(a, b, out=out.reshape(kh * kw * cin, cout))
            return out
        dk = (a @ b).reshape(kh, kw, cin, cout)
    else:
        cg, og = cin // groups, cout // groups
        a = cols.reshape(rows, kh * kw, groups, cg).transpose(2, 1, 3, 0).reshape(groups, -1, rows)
        b = y.reshape(rows, groups, og).transpose(1, 0, 2)
        d = np.matmul(a, b)  # (groups, kh*kw*cg, og)
        dk = d.transpose(1, 0, 2).reshape(kh, kw, cg, cout)
    if out is not None:
        np.copyto(out, dk)
        return out
    return dk


def conv_filter_grad_into(x, y, out, kernel_size, strides, dilation, pads, groups,
                          scratch=None, bias_out=None) -> None:  # fmt: skip
    """`ConvFilterOp`'s forward written into the preallocated `out` (for compiled Plans): the
    direct kernel for a small kernel, else im2col into a work array (cached in `scratch`, a
    dict kept by the caller, when given) and one GEMM straight into `out`. With `bias_out`
    (C_out,), also a conv layer's bias gradient `bias_out = y.sum(axis=(0, 1, 2))` (in the
    same pass on the direct kernel)."""
    if groups == 1:
        _conv_filter_forward(x, y, kernel_size, strides, dilation, pads, 1, out, scratch,
                             bias_out)  # fmt: skip
        return
    _conv_filter_forward(x, y, kernel_size, strides, dilation, pads, groups, out, scratch)
    _bias_grad(y, bias_out)


# ---- primitives ---------------------------------------------------------------------------


def _extra_for(op_name: str, image_hw, ksize, strides, dilation, pads) -> tuple:
    """The rows/cols of an image past its last window, for the transpose back to it."""
    if any(n is None for n in image_hw):
        raise ValueError(
            f"{op_name}: the gradient needs the input's spatial size. Received: an input of "
            f"unknown spatial size {tuple(image_hw)}"
        )
    return tuple(
        (n + lo + hi - _effective(k, d)) % s
        for n, k, s, d, (lo, hi) in zip(image_hw, ksize, strides, dilation, pads, strict=True)
    )


class ConvOp(Op):
    """`y[n, i, j, o] = sum x_pad[n, i*sh + a*dh, j*sw + b*dw, g*cg + c] k[a, b, c, o]` over
    a, b, c, with g = o // (C_out / groups)."""

    name = "conv"

    def infer(self, x, k, strides, dilation, pads, groups):
        n, h, w, _ = _image_shape(self.name, x, k, k.shape[2], groups)
        _check_groups(self.name, k, groups, x.shape)
        out_hw = []
        for size, ks, s, d, (lo, hi) in zip((h, w), k.shape[:2], strides, dilation, pads,
                                            strict=True):  # fmt: skip
            out = _out_len(size, ks, s, d, lo, hi)
            if out is not None and out < 1:
                raise ValueError(
                    f"{self.name}: the kernel (dilated to {_effective(ks, d)}) is larger than "
                    f"the padded input ({size + lo + hi}). Received: inputs.shape={x.shape}, "
                    f"kernel.shape={k.shape}"
                )
            out_hw.append(out)
        return Spec((n, *out_hw, k.shape[3]), x.dtype)

    def forward(self, ctx, x, k, strides, dilation, pads, groups):
        return _conv_forward(x, k, strides, dilation, pads, groups)

    def vjp(self, ctx, grads, needed):
        x, k = ctx.inputs
        a = ctx.attrs
        g = grads[0]
        dx = dk = None
        if 0 in needed:
            extra = _extra_for(
                self.name, x.shape[1:3], k.shape[:2], a["strides"], a["dilation"], a["pads"]
            )
            dx = apply(_CONV_TRANSPOSE, (g, k), {**a, "extra": extra})
        if 1 in needed:
            dk = apply(_CONV_FILTER, (x, g), {**a, "kernel_size": tuple(k.shape[:2])})
        return [dx, dk]


class ConvTransposeOp(Op):
    """The transpose of `ConvOp` in its input: `x = conv^T(y, k)` scatters each `y[n, i, j]`
    times the kernel back over its window. The image has `extra` rows/cols past its last
    window."""

    name = "conv_transpose"

    def infer(self, y, k, strides, dilation, pads, extra, groups):
        if len(y.shape) != 4 or len(k.shape) != 4:
            raise ValueError(
                f"{self.name}: expected a 4-D image and a 4-D kernel. Received: "
                f"inputs.shape={y.shape}, kernel.shape={k.shape}"
            )
        if y.dtype != k.dtype or not dt.is_float(y.dtype):
            raise TypeError(
                f"{self.name}: both inputs must have one float dtype. Received: {y.dtype} and "
                f"{k.dtype}"
            )
        if y.shape[3] is not None and k.shape[3] is not None and y.shape[3] != k.shape[3]:
            raise ValueError(
                f"{self.name}: the input has {y.shape[3]} channels but the kernel "
                f"(kh, kw, out, in) takes {k.shape[3]}. Received: inputs.shape={y.shape}, "
                f"kernel.shape={k.shape}"
            )
        _check_groups(self.name, k, groups, y.shape)
        out_hw = []
        for size, ks, s, d, (lo, hi), r in zip(y.shape[1:3], k.shape[:2], strides, dilation,
                                               pads, extra, strict=True):  # fmt: skip
            out = None if size is None else (size - 1) * s + _effective(ks, d) - lo - hi + r
            if out is not None and out < 1:
                raise ValueError(
                    f"{self.name}: the output would be empty ({out}). Received: "
                    f"inputs.shape={y.shape}, kernel.shape={k.shape}"
                )
            out_hw.append(out)
        return Spec((y.shape[0], *out_hw, k.shape[2] * groups), y.dtype)

    def forward(self, ctx, y, k, strides, dilation, pads, extra, groups):
        return _conv_transpose_forward(y, k, strides, dilation, pads, extra, groups)

    def vjp(self, ctx, grads, needed):
        y, k = ctx.inputs
        a = {key: v for key, v in ctx.attrs.items() if key != "extra"}
        g = grads[0]
        dy = apply(_CONV, (g, k), a) if 0 in needed else None
        dk = (
            apply(_CONV_FILTER, (g, y), {**a, "kernel_size": tuple(k.shape[:2])})
            if 1 in needed
            else None
        )
        return [dy, dk]


class ConvFilterOp(Op):
    """The gradient of `ConvOp` in its kernel: `dk = im2col(x)^T @ y`, shaped
    `(kh, kw, C_in / groups, C_out)`."""

    name = "conv_filter_grad"

    def infer(self, x, y, kernel_size, strides, dilation, pads, groups):
        if len(x.shape) != 4 or len(y.shape) != 4:
            raise ValueError(
                f"{self.name}: expected two 4-D images. Received: inputs.shape={x.shape}, "
                f"grads.shape={y.shape}"
            )
        if x.dtype != y.dtype or not dt.is_float(x.dtype):
            raise TypeError(
                f"{self.name}: both inputs must have one float dtype. Received: {x.dtype} and "
                f"{y.dtype}"
            )
        for size, o, ks, s, d, (lo, hi) in zip(x.shape[1:3], y.shape[1:3], kernel_size,
                                               strides, dilation, pads, strict=True):  # fmt: skip
            out = _out_len(size, ks, s, d, lo, hi)
            if out is not None and o is not None and out != o:
                raise ValueError(
                    f"{self.name}: the gradient's spatial size does not match the windows of "
                    f"the input. Received: inputs.shape={x.shape}, grads.shape={y.shape}"
                )
        cin, cout = x.shape[3], y.shape[3]
        if (cin is not None and cin % groups) or (cout is not None and cout % groups):
            raise ValueError(
                f"{self.name}: channels not divisible by {groups} groups. Received: "
                f"inputs.shape={x.shape}, grads.shape={y.shape}"
            )
        return Spec((*kernel_size, None if cin is None else cin // groups, cout), x.dtype)

    def forward(self, ctx, x, y, kernel_size, strides, dilation, pads, groups):
        return _conv_filter_forward(x, y, kernel_size, strides, dilation, pads, groups)

    def vjp(self, ctx, grads, needed):
        x, y = ctx.inputs
        a = {key: v for key, v in ctx.attrs.items() if key != "kernel_size"}
        g = grads[0]  # shaped like the kernel
        dx = dy = None
        if 0 in needed:
            extra = _extra_for(
                self.name, x.shape[1:3], g.shape[:2], a["strides"], a["dilation"], a["pads"]
            )
            dx = apply(_CONV_TRANSPOSE, (y, g), {**a, "extra": extra})
        if 1 in needed:
            dy = apply(_CONV, (x, g), a)
        return [dx, dy]


_CONV = ConvOp()
_CONV_TRANSPOSE = ConvTransposeOp()
_CONV_FILTER = ConvFilterOp()
