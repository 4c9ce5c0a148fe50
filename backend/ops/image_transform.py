"""`affine_transform`: resamples images through per-image affine maps, as keras.ops.image.

A transform is 8 numbers `[a0, a1, a2, b0, b1, b2, c0, c1]` per image: output pixel `(y, x)`
reads input point `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)` with
`k = c0 x + c1 y + 1` (Keras' random image layers always have `c0 = c1 = 0`). Points between
pixels are interpolated (`"bilinear"`) or rounded half away from zero (`"nearest"`); points
outside the image follow `fill_mode`, as JAX's `map_coordinates` (Keras' JAX backend) does:
`"constant"` reads `fill_value`, `"nearest"` the closest edge pixel, `"wrap"` wraps around,
`"mirror"` reflects about the edge pixels' centers (d c b | a b c d | c b a), `"reflect"`
about the edges (c b a | a b c d | d c b). Each neighbor of a point is placed on its own,
so a bilinear point straddling the edge mixes an image pixel with `fill_value`.

The op is linear in the images, so its gradient is its adjoint: the same weights, scattered
back (`AffineTransformAdjointOp`); the transforms get no gradient.
"""

from __future__ import annotations

import numpy as np

from .. import config
from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, convert

__all__ = ["affine_transform"]

_INTERPOLATIONS = ("nearest", "bilinear")
_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _mirror(index: np.ndarray, size: int) -> np.ndarray:
    if size == 1:
        return np.zeros_like(index)
    s = size - 1
    return np.abs((index + s) % (2 * s) - s)


def _fix(index: np.ndarray, size: int, fill_mode: str) -> np.ndarray:
    """Indices outside [0, size) moved inside as `fill_mode` says ("constant": clipped, the
    caller masks them)."""
    if fill_mode in ("constant", "nearest"):
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "mirror":
        return _mirror(index, size)
    return (_mirror(2 * index + 1, 2 * size + 1) - 1) // 2  # reflect


def _neighbors(coordinate: np.ndarray, interpolation: str):
    """(integer index, weight) pairs along one axis."""
    if interpolation == "nearest":
        rounded = np.sign(coordinate) * np.floor(np.abs(coordinate) + 0.5)
        return [(rounded.astype(np.int64), None)]
    lower = np.floor(coordinate)
    upper_weight = coordinate - lower
    lower = lower.astype(np.int64)
    return [(lower, 1.0 - upper_weight), (lower + 1, upper_weight)]


def _taps(shape: tuple, transform: np.ndarray, interpolation: str, fill_mode: str):
    """For every output pixel, the input pixels it reads: a list of (flat index into the
    (batch * height * width) pixels, weight, inside-the-image mask or None)."""
    batch, height, width = shape[:3]
    transform = np.asarray(transform)
    dtype = transform.dtype if transform.dtype in (np.float32, np.float64) else np.float32
    transform = np.broadcast_to(transform.astype(dtype, copy=False), (batch, 8))
    a0, a1, a2, b0, b1, b2, c0, c1 = (transform[:, i, None, None] for i in range(8))
    y, x = np.meshgrid(np.arange(height, dtype=dtype), np.arange(width, dtype=dtype),
                       indexing="ij")  # fmt: skip
    # In the transform's precision and Keras' order of operations, so that points falling
    # exactly between two pixels round the same way.
    x_in = (y * a1 + x * a0) + a2
    y_in = (y * b1 + x * b0) + b2
    if np.any(c0) or np.any(c1):
        k = c0 * x + c1 * y + 1
        x_in, y_in = x_in / k, y_in / k
    base = (np.arange(batch) * (height * width))[:, None, None]
    taps = []
    for row, row_weight in _neighbors(y_in, interpolation):
        for col, col_weight in _neighbors(x_in, interpolation):
            weight = 1.0
            if row_weight is not None:
                weight = row_weight * col_weight
            inside = None
            if fill_mode == "constant":
                inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
            flat = base + _fix(row, height, fill_mode) * width + _fix(col, width, fill_mode)
            taps.append((flat, np.broadcast_to(weight, flat.shape), inside))
    return taps


class AffineTransformOp(Op):
    name = "affine_transform"

    def infer(self, images, transform, *, interpolation, fill_mode, fill_value):
        return Spec(tuple(images.shape), images.dtype)

    def forward(self, ctx, images, transform, *, interpolation, fill_mode, fill_value):
        channels = images.shape[-1]
        pixels = images.reshape(-1, channels)
        out = np.zeros(images.shape, np.float64)
        for flat, weight, inside in _taps(images.shape, transform, interpolation, fill_mode):
            values = pixels[flat]
            if inside is not None:
                values = np.where(inside[..., None], values, fill_value)
            out += weight[..., None] * values
        return out.astype(images.dtype)

    def vjp(self, ctx, grads, needed):
        transform = ctx.inputs[1]
        return [apply(_ADJOINT, (grads[0], transform), dict(ctx.attrs)), None]


class AffineTransformAdjointOp(Op):
    """The transpose of `affine_transform` in the images: each output pixel's gradient is
    added back to the input pixels it read, with the same weights (`fill_value` reads
    carry none back)."""

    name = "affine_transform_adjoint"

    def infer(self, grads, transform, *, interpolation, fill_mode, fill_value):
        return Spec(tuple(grads.shape), grads.dtype)

    def forward(self, ctx, grads, transform, *, interpolation, fill_mode, fill_value):
        channels = grads.shape[-1]
        size = int(np.prod(grads.shape[:3]))
        out = np.zeros((size, channels), np.float64)
        for flat, weight, inside in _taps(grads.shape, transform, interpolation, fill_mode):
            if inside is not None:
                weight = weight * inside
            index = flat.reshape(-1)
            for c in range(channels):
                out[:, c] += np.bincount(
                    index, weights=(weight * grads[..., c]).reshape(-1), minlength=size
                )
        return out.reshape(grads.shape).astype(grads.dtype)

    def vjp(self, ctx, grads, needed):
        transform = ctx.inputs[1]
        return [apply(_AFFINE, (grads[0], transform), dict(ctx.attrs)), None]


_AFFINE = AffineTransformOp()
_ADJOINT = AffineTransformAdjointOp()


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):  # fmt: skip
    """Resamples `images` (batch, height, width, channels) or (height, width, channels)
    through affine `transform`s: 8 numbers per image (see the module), shape (8,) or
    (batch, 8). Float images keep their dtype; integer ones give floatx.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> image = np.arange(9, dtype="float32").reshape(3, 3, 1)
        >>> shift = [1, 0, 1, 0, 1, 0, 0, 0]  # read one pixel to the right
        >>> keras.ops.image.affine_transform(image, shift)[..., 0].numpy().tolist()
        [[1.0, 2.0, 0.0], [4.0, 5.0, 0.0], [7.0, 8.0, 0.0]]
    """
    data_format = config.image_data_format() if data_format is None else data_format
    if data_format != "channels_last":
        raise ValueError(
            "affine_transform: only data_format='channels_last' is supported. Received: "
            f"data_format={data_format!r}"
        )
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"affine_transform: `interpolation` must be one of {_INTERPOLATIONS}. Received: "
            f"interpolation={interpolation!r}"
        )
    if fill_mode not in _FILL_MODES:
        raise ValueError(
            f"affine_transform: `fill_mode` must be one of {_FILL_MODES}. Received: "
            f"fill_mode={fill_mode!r}"
        )
    x = convert(images)
    rank = len(x.shape)
    if rank not in (3, 4):
        raise ValueError(
            "affine_transform: images must be 3-D (height, width, channels) or 4-D (batch, "
            f"height, width, channels). Received: images.shape={tuple(x.shape)}"
        )
    if not dt.is_float(x.dtype):
        from .elementwise import cast

        x = cast(x, config.floatx())
    transform = convert(transform)
    if not dt.is_float(transform.dtype):
        from .elementwise import cast

        transform = cast(transform, "float32")
    if len(transform.shape) not in (1, 2) or transform.shape[-1] != 8:
        raise ValueError(
            "affine_transform: `transform` must have shape (8,) or (batch, 8). Received: "
            f"transform.shape={tuple(transform.shape)}"
        )
    from .shape import expand_dims, squeeze

    if rank == 3:
        x = expand_dims(x, 0)
    if len(transform.shape) == 1:
        transform = expand_dims(transform, 0)
    attrs = {
        "interpolation": interpolation,
        "fill_mode": fill_mode,
        "fill_value": float(fill_value),
    }
    out = apply(_AFFINE, (x, transform), attrs)
    return squeeze(out, 0) if rank == 3 else out
