"""Convolutions, NHWC (`channels_last`): conv, depthwise_conv, separable_conv, conv_transpose.

The public functions (keras.ops names and arguments) are composites over the three primitives
of `conv_primitives` (`ConvOp`, `ConvTransposeOp`, `ConvFilterOp`; see there): `conv` is the
conv primitive with Keras' padding, `depthwise_conv` a conv with one group per input channel,
`separable_conv` a depthwise conv then a 1x1 conv, `conv_transpose` the transpose primitive
with Keras' output size and padding (those of its JAX backend).
"""

from __future__ import annotations

import math

import numpy as np

from .base import apply, promote
from .conv_primitives import (  # noqa: F401  (Op classes, singletons: as before the split)
    _CONV,
    _CONV_FILTER,
    _CONV_TRANSPOSE,
    ConvFilterOp,
    ConvOp,
    ConvTransposeOp,
    _effective,
    _same_pads,
    conv_into,
)
from .shape import expand_dims, reshape, squeeze

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv"]


def _check_data_format(op_name: str, data_format) -> None:
    if data_format is None:
        from ..config import image_data_format

        data_format = image_data_format()
    if data_format == "channels_first":
        raise ValueError(
            f"{op_name}: data_format='channels_first' is not supported; kerasish runs "
            f"convolutions channels_last (NHWC). Received: data_format={data_format!r}"
        )
    if data_format != "channels_last":
        raise ValueError(
            f"{op_name}: data_format must be 'channels_last'. Received: data_format={data_format!r}"
        )


def _int_tuple(op_name: str, arg: str, value, rank: int) -> tuple:
    values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != rank or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise ValueError(
            f"{op_name}: {arg} must be a positive int or a tuple of {rank} positive ints. "
            f"Received: {arg}={value}"
        )
    return tuple(int(v) for v in values)


def _padding(op_name: str, padding) -> str:
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(
            f"{op_name}: padding must be 'valid' or 'same'. Received: padding={padding!r}"
        )
    return mode


def _prepare(op_name: str, inputs, kernel, strides, padding, data_format, dilation_rate):
    """Common argument handling: returns (x, k, rank, strides, dilation, mode)."""
    _check_data_format(op_name, data_format)
    x, k = promote(inputs, kernel, to_float=True)
    rank = len(x.shape) - 2
    if rank not in (1, 2) or len(k.shape) != rank + 2:
        raise ValueError(
            f"{op_name}: expected inputs (N, W, C) with a 3-D kernel or (N, H, W, C) with a "
            f"4-D kernel. Received: inputs.shape={tuple(x.shape)}, "
            f"kernel.shape={tuple(k.shape)}"
        )
    strides = _int_tuple(op_name, "strides", strides, rank)
    dilation = _int_tuple(op_name, "dilation_rate", dilation_rate, rank)
    return x, k, rank, strides, dilation, _padding(op_name, padding)


def _as_2d(x, k, rank: int, strides, dilation):
    """A 1-D problem as a 2-D one over a height-1 image."""
    if rank == 2:
        return x, k, strides, dilation
    return expand_dims(x, 1), expand_dims(k, 0), (1, *strides), (1, *dilation)


def _conv2d(op_name, x, k, strides, dilation, mode, groups, shapes):
    pads = []
    for size, ks, s, d in zip(x.shape[1:3], k.shape[:2], strides, dilation, strict=True):
        if mode == "valid":
            pads.append((0, 0))
        elif s == 1:
            total = _effective(ks, d) - 1
            pads.append((total // 2, total - total // 2))
        elif size is None:
            raise ValueError(
                f"{op_name}: padding='same' with strides > 1 needs the input's spatial size. "
                f"Received: inputs.shape={shapes[0]}, kernel.shape={shapes[1]}"
            )
        else:
            pads.append(_same_pads(size, ks, s, d))
        eff = _effective(ks, d)
        if size is not None and size + sum(pads[-1]) < eff:
            raise ValueError(
                f"{op_name}: the kernel (size {ks}, dilated to {eff}) is larger than the padded "
                f"input ({size + sum(pads[-1])}). Received: inputs.shape={shapes[0]}, "
                f"kernel.shape={shapes[1]}"
            )
    attrs = {"strides": strides, "dilation": dilation, "pads": tuple(pads), "groups": groups}
    return apply(_CONV, (x, k), attrs)


def _groups(op_name: str, cin, kin, cout, shapes) -> int:
    if cin is None or kin is None:
        raise ValueError(
            f"{op_name}: the input and kernel channel counts must be known. Received: "
            f"inputs.shape={shapes[0]}, kernel.shape={shapes[1]}"
        )
    if kin < 1 or cin % kin:
        raise ValueError(
            f"{op_name}: the input's {cin} channels must be a multiple of the kernel's {kin} "
            f"input channels. Received: inputs.shape={shapes[0]}, kernel.shape={shapes[1]}"
        )
    groups = cin // kin
    if cout is not None and cout % groups:
        raise ValueError(
            f"{op_name}: the kernel's {cout} output channels must be divisible by the "
            f"{groups} groups (input channels / kernel input channels). Received: "
            f"inputs.shape={shapes[0]}, kernel.shape={shapes[1]}"
        )
    return groups


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """A 1-D or 2-D convolution (cross-correlation, as Keras), channels_last.

    `inputs` (N, W, C) with `kernel` (k, C / groups, C_out), or (N, H, W, C) with
    (kh, kw, C / groups, C_out); groups is C over the kernel's input channels. `padding` is
    "valid" or "same" (TF's: an odd total pad puts the extra cell after).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.conv(keras.ops.ones((2, 5, 5, 3)), keras.ops.ones((3, 3, 3, 4))).shape
        (2, 3, 3, 4)
    """
    x, k, rank, strides, dilation, mode = _prepare(
        "conv", inputs, kernel, strides, padding, data_format, dilation_rate
    )
    shapes = (tuple(x.shape), tuple(k.shape))
    groups = _groups("conv", x.shape[-1], k.shape[-2], k.shape[-1], shapes)
    x2, k2, strides, dilation = _as_2d(x, k, rank, strides, dilation)
    out = _conv2d("conv", x2, k2, strides, dilation, mode, groups, shapes)
    return out if rank == 2 else squeeze(out, 1)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """A depthwise 1-D or 2-D convolution: `kernel` (k, C, M) or (kh, kw, C, M) convolves
    each input channel c with its own M filters, giving C*M channels (channel c*M + m).

    Example:
        >>> import kerasish as keras
        >>> x, k = keras.ops.ones((2, 5, 5, 3)), keras.ops.ones((3, 3, 3, 2))
        >>> keras.ops.depthwise_conv(x, k, padding="same").shape
        (2, 5, 5, 6)
    """
    name = "depthwise_conv"
    x, k, rank, strides, dilation, mode = _prepare(
        name, inputs, kernel, strides, padding, data_format, dilation_rate
    )
    shapes = (tuple(x.shape), tuple(k.shape))
    c, kc, mult = x.shape[-1], k.shape[-2], k.shape[-1]
    if c is None or kc is None or mult is None or c != kc:
        raise ValueError(
            f"{name}: the kernel (..., C, multiplier) must have the input's {c} channels. "
            f"Received: inputs.shape={shapes[0]}, kernel.shape={shapes[1]}"
        )
    k = reshape(k, (*k.shape[:-2], 1, c * mult))
    x2, k2, strides, dilation = _as_2d(x, k, rank, strides, dilation)
    out = _conv2d(name, x2, k2, strides, dilation, mode, c, shapes)
    return out if rank == 2 else squeeze(out, 1)


def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
):
    """A depthwise convolution followed by a 1x1 convolution with `pointwise_kernel`
    ((1, C*M, C_out) in 1-D, (1, 1, C*M, C_out) in 2-D).

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.ones((2, 5, 5, 3))
        >>> dk, pk = keras.ops.ones((3, 3, 3, 2)), keras.ops.ones((1, 1, 6, 4))
        >>> keras.ops.separable_conv(x, dk, pk).shape
        (2, 3, 3, 4)
    """
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    p = promote(pointwise_kernel)[0]
    if len(p.shape) != len(y.shape) or any(d != 1 for d in p.shape[:-2]):
        raise ValueError(
            f"separable_conv: the pointwise kernel must be (1, C*M, C_out) or "
            f"(1, 1, C*M, C_out). Received: inputs.shape={tuple(y.shape)} after the depthwise "
            f"step, pointwise_kernel.shape={tuple(p.shape)}"
        )
    if p.shape[-2] != y.shape[-1]:
        raise ValueError(
            f"separable_conv: the pointwise kernel takes {p.shape[-2]} channels but the "
            f"depthwise step gives {y.shape[-1]}. Received: "
            f"depthwise_kernel.shape={tuple(depthwise_kernel.shape)}, "
            f"pointwise_kernel.shape={tuple(p.shape)}"
        )
    return conv(y, p, 1, "valid", data_format)


def _transpose_pads(n, k: int, s: int, d: int, mode: str, output_padding):
    """Keras' conv_transpose geometry (its JAX backend) along one axis, as the pads of the
    forward conv it transposes: returns ((lo, hi), output length)."""
    eff = _effective(k, d)
    if mode == "valid":
        op = max(eff, s) - eff if output_padding is None else output_padding
        left, right = eff - 1, eff - 1 + op
    else:
        if output_padding is None:
            pad_len = s + eff - 2
        else:
            pad_len = eff + eff % 2 - 2 + output_padding
        left = min(pad_len // 2 + pad_len % 2, eff - 1)
        right = pad_len - left
    lo, hi = eff - 1 - left, eff - 1 - right
    out = None if n is None else (n - 1) * s + eff - lo - hi
    return (lo, hi), out


def conv_transpose(
    inputs,
    kernel,
    strides,
    padding="valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
):
    """A 1-D or 2-D transposed convolution (the gradient of a convolution in its input),
    channels_last, with Keras' kernel layout (k, C_out, C_in) or (kh, kw, C_out, C_in) and
    Keras' output size: "valid" gives `(n - 1) * stride + max(k, stride)`, "same" gives
    `n * stride`; with `output_padding`, `(n - 1) * stride + k - 2 * pad + output_padding`
    (`pad` 0 for "valid", `k // 2` for "same"; `k` dilated).

    Example:
        >>> import kerasish as keras
        >>> x, k = keras.ops.ones((2, 4, 4, 3)), keras.ops.ones((3, 3, 5, 3))
        >>> keras.ops.conv_transpose(x, k, 2, padding="same").shape
        (2, 8, 8, 5)
    """
    name = "conv_transpose"
    x, k, rank, strides, dilation, mode = _prepare(
        name, inputs, kernel, strides, padding, data_format, dilation_rate
    )
    shapes = (tuple(x.shape), tuple(k.shape))
    if x.shape[-1] is not None and k.shape[-1] is not None and x.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"{name}: the input's {x.shape[-1]} channels must match the kernel's last dim "
            f"(kernel layout (..., C_out, C_in)). Received: inputs.shape={shapes[0]}, "
            f"kernel.shape={shapes[1]}"
        )
    if output_padding is None:
        out_pad = (None,) * rank
    else:
        out_pad = (
            (output_padding,) * rank
            if isinstance(output_padding, (int, np.integer))
            else tuple(output_padding)
        )
        if len(out_pad) != rank or not all(
            isinstance(v, (int, np.integer)) and v >= 0 for v in out_pad
        ):
            raise ValueError(
                f"{name}: output_padding must be None, a non-negative int or a tuple of "
                f"{rank}. Received: output_padding={output_padding}"
            )
    x2, k2, strides2, dilation2 = _as_2d(x, k, rank, strides, dilation)
    out_pad2 = out_pad if rank == 2 else (0, *out_pad)
    pads = []
    for size, ks, s, d, op in zip(x2.shape[1:3], k2.shape[:2], strides2, dilation2, out_pad2,
                                  strict=True):  # fmt: skip
        if rank == 1 and len(pads) == 0:
            pads.append((0, 0))  # the height-1 axis
            continue
        p, out = _transpose_pads(size, ks, s, d, mode, op)
        if out is not None and out < 1:
            raise ValueError(
                f"{name}: the output would be empty (length {out}). Received: "
                f"inputs.shape={shapes[0]}, kernel.shape={shapes[1]}, "
                f"output_padding={output_padding}"
            )
        pads.append(p)
    attrs = {
        "strides": strides2,
        "dilation": dilation2,
        "pads": tuple(pads),
        "extra": (0, 0),
        "groups": 1,
    }
    out = apply(_CONV_TRANSPOSE, (x2, k2), attrs)
    return out if rank == 2 else squeeze(out, 1)


def conv_output_length(n, kernel_size: int, stride: int, padding: str, dilation: int = 1):
    """The output length of `conv` along one axis (None when `n` is unknown)."""
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / stride)
    return (n - _effective(kernel_size, dilation)) // stride + 1
