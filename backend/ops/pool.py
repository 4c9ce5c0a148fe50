"""Pooling: `max_pool` and `average_pool` over 1-D (N, W, C) and 2-D (N, H, W, C) inputs,
channels_last, `padding="valid"|"same"` (TensorFlow's rule: the total padding of an axis is
`max((ceil(in / stride) - 1) * stride + pool - in, 0)`, `total // 2` of it before).

All four ops are primitives over NHWC Numba kernels (`backend.kernels.pool`; a 1-D input is
a 2-D one of height 1). Only the real (unpadded) cells of a window count: a max ignores the
padding and an average divides by the number of real cells, as Keras.

- `max_pool`'s vjp is the primitive `max_pool_grad(x, grad)`, which recomputes each window's
  argmax from `x` (the first maximum in row-major window order) so that it runs in compiled
  Plans, where nothing is saved between ops. Its own vjp (for the gradient of a gradient) is
  `max_pool_gather(x, h)`, `h` read at those argmax cells, whose vjp is `max_pool_grad`.
- `average_pool` is linear: its vjp is the primitive `average_pool_grad` (spreading
  grad / count back), and the vjp of that is `average_pool` again.

Each op's forward allocates its result and calls its `*_into` function, which compiled Plans
call directly with the Plan's output buffer (`max_pool_into`, `max_pool_grad_into`,
`average_pool_into`, `average_pool_grad_into`).
"""

from __future__ import annotations

import numpy as np

from .. import config
from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, convert

__all__ = ["average_pool", "max_pool"]


# ---- geometry ------------------------------------------------------------------------------


def same_padding(size: int, k: int, stride: int) -> tuple:
    """(pad before, pad after, output size) of one axis under TensorFlow's "same" rule."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2, out


def _axis_geometry(op_name: str, size, k: int, stride: int, padding: str):
    """(pad before, output size) of one axis; None for an unknown size."""
    if size is None:
        return None, None
    if padding == "same":
        before, _, out = same_padding(size, k, stride)
        return before, out
    if size < k:
        raise ValueError(
            f"{op_name}: the pool window {k} is larger than the input's spatial size {size} "
            f'with padding="valid".'
        )
    return 0, (size - k) // stride + 1


def _geometry(op_name: str, hw: tuple, pool: tuple, strides: tuple, padding: str):
    """(pads, out_hw) of the 2-D problem for spatial sizes `hw` (entries may be None)."""
    pads, out = [], []
    for size, k, s in zip(hw, pool, strides, strict=True):
        p, o = _axis_geometry(op_name, size, k, s, padding)
        pads.append(p)
        out.append(o)
    return tuple(pads), tuple(out)


def _as_2d(shape: tuple) -> tuple:
    """The NHWC shape of an input: a 1-D input (N, W, C) has height 1."""
    return (shape[0], 1, shape[1], shape[2]) if len(shape) == 3 else tuple(shape)


def _from_2d(shape4: tuple, rank: int) -> tuple:
    return (shape4[0], shape4[2], shape4[3]) if rank == 3 else tuple(shape4)


def _to_4d(a: np.ndarray) -> np.ndarray:
    a = a[:, None] if a.ndim == 3 else a
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    return np.ascontiguousarray(a)


def _check_input(op_name: str, spec: Spec) -> None:
    if len(spec.shape) not in (3, 4):
        raise ValueError(
            f"{op_name}: inputs must be 3-D (batch, steps, channels) for 1-D pooling or 4-D "
            f"(batch, height, width, channels) for 2-D pooling. Received: inputs.shape="
            f"{spec.shape}"
        )
    if not dt.is_float(spec.dtype):
        raise TypeError(f"{op_name} expects a float tensor. Received: dtype={spec.dtype}")


def _out_shape(op_name: str, shape: tuple, pool, strides, padding) -> tuple:
    """The pooled shape of an input of `shape` (3-D or 4-D; entries may be None)."""
    n, h, w, c = _as_2d(shape)
    _, (oh, ow) = _geometry(op_name, (h, w), pool, strides, padding)
    return _from_2d((n, oh, ow, c), len(shape))


def _pool_spec(op_name: str, x: Spec, pool, strides, padding) -> Spec:
    _check_input(op_name, x)
    return Spec(_out_shape(op_name, x.shape, pool, strides, padding), x.dtype)


def _kernel_args(op_name: str, x4: np.ndarray, pool, strides, padding) -> tuple:
    pads, out_hw = _geometry(op_name, x4.shape[1:3], pool, strides, padding)
    return pads, (x4.shape[0], *out_hw, x4.shape[3])


def _write(out: np.ndarray, dtype: np.dtype, kernel) -> None:
    """Runs `kernel(out4)`, which fills a 4-D (NHWC) array of `dtype`: a view of `out` when
    `out` can take the result as it is (C-contiguous, of `dtype`), else a scratch array then
    copied, and cast, into `out` (a float16 result, a strided buffer)."""
    if out.dtype == dtype and out.flags.c_contiguous and out.flags.writeable:
        kernel(out.reshape(_as_2d(out.shape)))
        return
    out4 = np.empty(_as_2d(out.shape), dtype)
    kernel(out4)
    np.copyto(out, out4.reshape(out.shape), casting="unsafe")


# ---- max pool ------------------------------------------------------------------------------


class MaxPoolOp(Op):
    """The max over each window's real cells."""

    name = "max_pool"

    def infer(self, x, *, pool, strides, padding):
        return _pool_spec(self.name, x, pool, strides, padding)

    def forward(self, ctx, x, *, pool, strides, padding):
        out = np.empty(_out_shape(self.name, x.shape, pool, strides, padding), x.dtype)
        max_pool_into(x, out, pool=pool, strides=strides, padding=padding)
        return out

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        return [apply(_MAX_POOL_GRAD, (x, convert(grads[0])), ctx.attrs)]


def max_pool_into(x: np.ndarray, out: np.ndarray, *, pool, strides, padding) -> None:
    """`max_pool`'s forward written into the preallocated `out` (its output shape and dtype),
    for compiled Plans; `pool` and `strides` are the op's 2-D attributes."""
    from ..kernels import pool as kernels

    x4 = _to_4d(x)
    pads, _ = _geometry("max_pool", x4.shape[1:3], pool, strides, padding)
    _write(out, x4.dtype, lambda out4: kernels.max_pool2d(x4, pool, strides, pads, out4))


class MaxPoolGradOp(Op):
    """`grad` (max_pool's output shape) routed to each window's first argmax in `x`; the
    argmax is recomputed from `x`. Not differentiable in `x` (the routing is piecewise
    constant); its vjp in `grad` is `max_pool_gather`."""

    name = "max_pool_grad"

    def infer(self, x, g, *, pool, strides, padding):
        out = _pool_spec(self.name, x, pool, strides, padding)
        if len(g.shape) != len(out.shape) or any(
            a is not None and b is not None and a != b
            for a, b in zip(g.shape, out.shape, strict=True)
        ):
            raise ValueError(
                f"{self.name}: grad must have max_pool's output shape {out.shape}. Received: "
                f"grad.shape={g.shape}"
            )
        return Spec(x.shape, x.dtype)

    def forward(self, ctx, x, g, *, pool, strides, padding):
        out = np.empty(x.shape, x.dtype)
        max_pool_grad_into(x, g, out, pool=pool, strides=strides, padding=padding)
        return out

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        dg = apply(_MAX_POOL_GATHER, (x, convert(grads[0])), ctx.attrs) if 1 in needed else None
        return [None, dg]


def max_pool_grad_into(
    x: np.ndarray, g: np.ndarray, out: np.ndarray, *, pool, strides, padding, relu_mask=False
) -> None:
    """`max_pool_grad`'s forward written into the preallocated `out` (x's shape and dtype),
    for compiled Plans. With `relu_mask`, a window whose maximum is not > 0 routes nothing:
    for `x = relu(z)` that is the gradient with respect to `z`, the relu's gradient fused in.
    """
    from ..kernels import pool as kernels

    x4 = _to_4d(x)
    g4 = _to_4d(g).astype(x4.dtype, copy=False)
    pads, _ = _geometry("max_pool_grad", x4.shape[1:3], pool, strides, padding)
    _write(
        out,
        x4.dtype,
        lambda dx4: kernels.max_pool2d_grad(x4, g4, pool, strides, pads, dx4, relu_mask),
    )


def _back(out4: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A 2-D pooling result in the rank and dtype of `like`."""
    out = out4[:, 0] if like.ndim == 3 else out4
    return out.astype(like.dtype, copy=False)


def _argmax_cells(x4: np.ndarray, pool, strides, pads, out_hw) -> np.ndarray:
    """The flat spatial index (h * W + w) of each window's first maximum, (N, OH, OW, C)."""
    n, height, width, c = x4.shape
    oh, ow = out_hw
    best = np.full((n, oh, ow, c), -np.inf, dtype=np.float64)
    arg = np.full((n, oh, ow, c), -1, dtype=np.int64)
    rows0 = np.arange(oh) * strides[0] - pads[0]
    cols0 = np.arange(ow) * strides[1] - pads[1]
    for i in range(pool[0]):
        rows = rows0 + i
        for j in range(pool[1]):
            cols = cols0 + j
            real = ((rows >= 0) & (rows < height))[:, None] & ((cols >= 0) & (cols < width))
            r, q = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
            vals = x4[:, r[:, None], q[None, :], :].astype(np.float64)
            take = real[None, :, :, None] & ((vals > best) | (arg < 0))
            best = np.where(take, vals, best)
            arg = np.where(take, (r[:, None] * width + q[None, :])[None, :, :, None], arg)
    return arg


class MaxPoolGatherOp(Op):
    """`h` (x's shape) read at each max_pool window's first argmax in `x`: the transpose of
    `max_pool_grad` in its gradient argument (used for gradients of gradients)."""

    name = "max_pool_gather"

    def infer(self, x, h, *, pool, strides, padding):
        return _pool_spec(self.name, x, pool, strides, padding)

    def forward(self, ctx, x, h, *, pool, strides, padding):
        x4, h4 = _to_4d(x), _to_4d(h)
        pads, out_shape = _kernel_args(self.name, x4, pool, strides, padding)
        arg = _argmax_cells(x4, pool, strides, pads, out_shape[1:3])
        flat = h4.reshape(h4.shape[0], -1, h4.shape[3])
        out = np.take_along_axis(flat, arg.reshape(arg.shape[0], -1, arg.shape[3]), axis=1)
        return _back(out.reshape(out_shape), x)

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        dh = apply(_MAX_POOL_GRAD, (x, convert(grads[0])), ctx.attrs) if 1 in needed else None
        return [None, dh]


_MAX_POOL = MaxPoolOp()
_MAX_POOL_GRAD = MaxPoolGradOp()
_MAX_POOL_GATHER = MaxPoolGatherOp()


# ---- average pool --------------------------------------------------------------------------


class AveragePoolOp(Op):
    """The mean over each window's real cells."""

    name = "average_pool"

    def infer(self, x, *, pool, strides, padding):
        return _pool_spec(self.name, x, pool, strides, padding)

    def forward(self, ctx, x, *, pool, strides, padding):
        out = np.empty(_out_shape(self.name, x.shape, pool, strides, padding), x.dtype)
        average_pool_into(x, out, pool=pool, strides=strides, padding=padding)
        return out

    def vjp(self, ctx, grads, needed):
        x = ctx.inputs[0]
        shape = tuple(x.shape)
        if None in _as_2d(shape)[1:3]:
            raise ValueError(
                f"average_pool: the gradient needs known spatial dims. Received: inputs.shape="
                f"{shape}"
            )
        attrs = dict(ctx.attrs, in_shape=shape[1:])
        return [apply(_AVERAGE_POOL_GRAD, (convert(grads[0]),), attrs)]


def average_pool_into(x: np.ndarray, out: np.ndarray, *, pool, strides, padding) -> None:
    """`average_pool`'s forward written into the preallocated `out`, for compiled Plans."""
    from ..kernels import pool as kernels

    x4 = _to_4d(x)
    pads, _ = _geometry("average_pool", x4.shape[1:3], pool, strides, padding)
    _write(out, x4.dtype, lambda out4: kernels.avg_pool2d(x4, pool, strides, pads, out4))


class AveragePoolGradOp(Op):
    """The transpose of `average_pool`: each window's gradient divided by its real cell
    count and spread over them, into an input of shape (batch, *in_shape)."""

    name = "average_pool_grad"

    def infer(self, g, *, pool, strides, padding, in_shape):
        x = Spec((g.shape[0], *in_shape), g.dtype)
        out = _pool_spec(self.name, x, pool, strides, padding)
        if tuple(g.shape[1:]) != tuple(out.shape[1:]):
            raise ValueError(
                f"{self.name}: grad must have average_pool's output shape {out.shape}. "
                f"Received: grad.shape={g.shape}"
            )
        return x

    def forward(self, ctx, g, *, pool, strides, padding, in_shape):
        out = np.empty((g.shape[0], *in_shape), g.dtype)
        average_pool_grad_into(g, out, pool=pool, strides=strides, padding=padding)
        return out

    def vjp(self, ctx, grads, needed):
        attrs = {k: v for k, v in ctx.attrs.items() if k != "in_shape"}
        return [apply(_AVERAGE_POOL, (convert(grads[0]),), attrs)]


def average_pool_grad_into(
    g: np.ndarray, out: np.ndarray, *, pool, strides, padding, in_shape=None
) -> None:
    """`average_pool_grad`'s forward written into the preallocated `out` (the pooled input's
    shape; `in_shape`, the op's attribute, is `out.shape[1:]`), for compiled Plans."""
    from ..kernels import pool as kernels

    g4 = _to_4d(g)
    pads, _ = _geometry("average_pool_grad", _as_2d(out.shape)[1:3], pool, strides, padding)
    _write(out, g4.dtype, lambda dx4: kernels.avg_pool2d_grad(g4, pool, strides, pads, dx4))


_AVERAGE_POOL = AveragePoolOp()
_AVERAGE_POOL_GRAD = AveragePoolGradOp()


# ---- public functions ----------------------------------------------------------------------


def _tuple(op_name: str, arg: str, value, n: int) -> tuple:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(int(v) for v in value)
        except TypeError:
            values = ()
        if len(values) == 1:
            values = values * n
    if len(values) != n or any(v < 1 for v in values):
        raise ValueError(
            f"{op_name}: {arg} must be a positive int or a tuple of {n} positive ints. "
            f"Received: {arg}={value!r}"
        )
    return values


def _prepare(op_name: str, inputs, pool_size, strides, padding, data_format):
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format != "channels_last":
        raise ValueError(
            f"{op_name}: only data_format='channels_last' is supported. Received: "
            f"data_format={data_format!r}"
        )
    x = convert(inputs)
    if not dt.is_float(x.dtype):
        from .elementwise import cast

        x = cast(x, config.floatx())
    _check_input(op_name, Spec(tuple(x.shape), x.dtype))
    n = len(x.shape) - 2
    pool = _tuple(op_name, "pool_size", pool_size, n)
    strides = pool if strides is None else _tuple(op_name, "strides", strides, n)
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(
            f'{op_name}: padding must be "valid" or "same". Received: padding={padding!r}'
        )
    if n == 1:
        pool, strides = (1, pool[0]), (1, strides[0])
    return x, {"pool": pool, "strides": strides, "padding": padding.lower()}


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over the spatial axes of a 3-D (1-D pooling) or 4-D (2-D pooling)
    channels_last input. `pool_size` and `strides` (default: `pool_size`) are ints or
    tuples; `padding` is "valid" or "same" (padding cells never win). Integer inputs are
    pooled as floatx.

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.reshape(keras.ops.arange(4.0), (1, 4, 1))
        >>> keras.ops.max_pool(x, 2).numpy().ravel().tolist()
        [1.0, 3.0]
    """
    x, attrs = _prepare("max_pool", inputs, pool_size, strides, padding, data_format)
    return apply(_MAX_POOL, (x,), attrs)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over the spatial axes of a 3-D (1-D pooling) or 4-D (2-D pooling)
    channels_last input; with `padding="same"` each window is divided by the number of its
    real (unpadded) cells, as Keras.

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.reshape(keras.ops.arange(3.0), (1, 3, 1))
        >>> keras.ops.average_pool(x, 2, padding="same").numpy().ravel().tolist()
        [0.5, 2.0]
    """
    x, attrs = _prepare("average_pool", inputs, pool_size, strides, padding, data_format)
    return apply(_AVERAGE_POOL, (x,), attrs)
