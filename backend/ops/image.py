"""`ops.image`: image ops (channels_last). `resize` follows `jax.image.resize`, which is what
Keras' JAX backend calls: half-pixel centers; "nearest" reads input cell
`floor((i + 0.5) * in / out)`; "bilinear" (and "bicubic", "lanczos3", "lanczos5") sample the
kernel at `(i + 0.5) * in / out - 0.5`, weights renormalized at the borders; with
`antialias=True` a downscale widens the kernel by the scale factor.

`resize` is a composite: for each spatial axis the interpolation is a fixed (out, in) weight
matrix built in numpy from the static sizes, so the result is two matmuls,
`out = A_h @ x @ A_w^T` per image and channel, and its gradient comes for free.
"""

from __future__ import annotations

import numpy as np

from .. import config
from .. import dtypes as dt
from .base import convert

__all__ = ["resize"]

_METHODS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")


def _triangle(x):
    return np.maximum(0.0, 1.0 - x)


def _keys_cubic(x):
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = np.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return np.where(x >= 2.0, 0.0, out)


def _lanczos(radius):
    def kernel(x):
        y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(x > 1e-3, y / np.where(x != 0, np.pi**2 * x**2, 1), 1.0)
        return np.where(x > radius, 0.0, out)

    return kernel


_KERNELS = {
    "bilinear": _triangle,
    "bicubic": _keys_cubic,
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
}


def interpolation_matrix(in_size: int, out_size: int, method: str, antialias: bool) -> np.ndarray:
    """The (out_size, in_size) float64 matrix that resizes one axis, as jax.image.resize."""
    if method == "nearest":
        # floor((i + 0.5) * in / out) in exact integer arithmetic.
        src = ((2 * np.arange(out_size) + 1) * in_size) // (2 * out_size)
        m = np.zeros((out_size, in_size))
        m[np.arange(out_size), np.minimum(src, in_size - 1)] = 1.0
        return m
    inv_scale = in_size / out_size
    kernel_scale = max(inv_scale, 1.0) if antialias else 1.0
    sample = (np.arange(out_size) + 0.5) * inv_scale - 0.5
    dist = np.abs(sample[:, None] - np.arange(in_size)[None, :]) / kernel_scale
    weights = _KERNELS[method](dist)
    total = weights.sum(axis=1, keepdims=True)
    ok = np.abs(total) > 1000.0 * float(np.finfo(np.float32).eps)
    weights = np.where(ok, weights / np.where(total != 0, total, 1.0), 0.0)
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return np.where(inside[:, None], weights, 0.0)


def _check_size(size) -> tuple:
    try:
        values = tuple(size)
    except TypeError:
        values = ()
    if len(values) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values
    ):
        raise ValueError(
            f"resize: `size` must be a tuple of 2 positive integers. Received: size={size!r}"
        )
    return tuple(int(v) for v in values)


def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format=None,
):
    """Resizes (batch, height, width, channels) or (height, width, channels) `images` to
    `size = (height, width)`, as keras.ops.image.resize (JAX semantics; see the module).
    `crop_to_aspect_ratio` crops the centered largest box of the target aspect ratio first;
    `pad_to_aspect_ratio` pads with `fill_value` instead. Integer images give floatx results
    (nearest: the input dtype).

    Example:
        >>> import kerasish as keras
        >>> x = keras.ops.reshape(keras.ops.convert_to_tensor([0.0, 1.0]), (1, 2, 1))
        >>> keras.ops.image.resize(x, (1, 4)).numpy().ravel().tolist()
        [0.0, 0.25, 0.75, 1.0]
    """
    from .elementwise import add, cast
    from .linalg import matmul
    from .shape import expand_dims, reshape, squeeze

    data_format = config.image_data_format() if data_format is None else data_format
    if data_format != "channels_last":
        raise ValueError(
            "resize: only data_format='channels_last' is supported. Received: "
            f"data_format={data_format!r}"
        )
    if interpolation not in _METHODS:
        raise ValueError(
            f"resize: `interpolation` must be one of {_METHODS}. Received: "
            f"interpolation={interpolation!r}"
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "resize: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True."
        )
    if fill_mode != "constant":
        raise ValueError(f"resize: only fill_mode='constant' is supported. Received: {fill_mode!r}")
    out_h, out_w = _check_size(size)
    x = convert(images)
    rank = len(x.shape)
    if rank not in (3, 4):
        raise ValueError(
            "resize: images must be 3-D (height, width, channels) or 4-D (batch, height, "
            f"width, channels). Received: images.shape={tuple(x.shape)}"
        )
    height, width, channels = x.shape[-3:]
    if height is None or width is None or channels is None:
        raise ValueError(
            f"resize: the height, width and channels must be known. Received: images.shape="
            f"{tuple(x.shape)}"
        )
    in_dtype = x.dtype
    if not dt.is_float(in_dtype):
        x = cast(x, config.floatx())
    if rank == 3:
        x = expand_dims(x, 0)

    # Crop or pad (as Keras computes the box), folded into the interpolation matrices.
    rows, cols = (0, height, height), (0, width, width)  # (first real cell, count, full size)
    if crop_to_aspect_ratio:
        crop_h = max(min(height, int(float(width * out_h) / out_w)), 1)
        crop_w = max(min(width, int(float(height * out_w) / out_h)), 1)
        rows = (int(float(height - crop_h) / 2), crop_h, crop_h)
        cols = (int(float(width - crop_w) / 2), crop_w, crop_w)
    elif pad_to_aspect_ratio:
        pad_h = max(height, int(float(width * out_h) / out_w))
        pad_w = max(width, int(float(height * out_w) / out_h))
        start_h, start_w = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
        if start_h > 0:
            rows = (-start_h, height, height + 2 * start_h)
        elif start_w > 0:
            cols = (-start_w, width, width + 2 * start_w)

    def axis_matrix(first, _count, full, in_size, out_size):
        """The (out, in) matrix over the real cells of the cropped or padded axis `full` cells
        long (cell k is input cell first + k when that exists), its row sums over all cells
        and over the real ones (the difference is the weight on the fill)."""
        m = interpolation_matrix(full, out_size, interpolation, bool(antialias))
        real = np.zeros((full, in_size))
        for k in range(full):
            if 0 <= first + k < in_size:
                real[k, first + k] = 1.0
        on_real = m @ real
        return on_real, m.sum(axis=1), on_real.sum(axis=1)

    ah, ah_all, ah_real = axis_matrix(*rows, height, out_h)
    aw, aw_all, aw_real = axis_matrix(*cols, width, out_w)
    dtype = x.dtype

    n = -1 if x.shape[0] is None else x.shape[0]
    out = x
    if not (out_h == height and np.array_equal(ah, np.eye(height))):
        out = reshape(out, (n, height, width * channels))
        out = matmul(convert(ah, dtype), out)  # (n, out_h, width * channels)
    out = reshape(out, (-1, width, channels))
    if not (out_w == width and np.array_equal(aw, np.eye(width))):
        out = matmul(convert(aw, dtype), out)  # (n * out_h, out_w, channels)
    out = reshape(out, (n, out_h, out_w, channels))
    if pad_to_aspect_ratio and float(fill_value) != 0.0:
        fill = np.outer(ah_all, aw_all) - np.outer(ah_real, aw_real)
        if np.any(fill != 0):
            out = add(out, convert((float(fill_value) * fill)[:, :, None], dtype))
    if rank == 3:
        out = squeeze(out, 0)
    if interpolation == "nearest" and dt.standardize_dtype(in_dtype) != out.dtype:
        out = cast(out, in_dtype)
    return out


from .image_transform import affine_transform  # noqa: E402,F401  (ops.image.affine_transform)
