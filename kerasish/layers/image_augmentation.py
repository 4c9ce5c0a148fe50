"""Random image augmentation layers: RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomContrast.

They change images only when called with `training=True` (inside `fit`), and are the
identity otherwise (`predict`, `evaluate`, a plain call), as in Keras. Each draws its
random numbers per image from its own `SeedGenerator`, so a `seed` makes a run repeatable,
and each training step (a run of the compiled step) draws new ones. Inputs are images
`(batch, height, width, channels)` or one image `(height, width, channels)`, channels last;
outputs are in the layer's dtype (float32). The geometric ones resample through
`ops.image.affine_transform` with Keras' transforms, so a given angle, zoom or shift gives
Keras' pixels, and gradients flow through them to earlier layers.
"""

from __future__ import annotations

import math

import numpy as np

from backend import ops
from backend import random as engine_random
from backend.ops import base as ops_base
from backend.ops.image_transform import affine_transform
from backend.tensor import Spec

from .layer import Layer

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")


def _check_seed(layer: str, seed) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"{layer}: `seed` must be None or an int >= 0. Received: seed={seed!r}")


def _factor_range(layer: str, name: str, factor, low: float, high: float, low_open=False):
    """(lower, upper) from a number `f` (meaning (-f, f)) or a pair, each within bounds."""

    def bad():
        return ValueError(
            f"{layer}: `{name}` must be a number or a pair of numbers in "
            f"{'(' if low_open else '['}{low}, {high}]. Received: {name}={factor!r}"
        )

    if isinstance(factor, (list, tuple)):
        if len(factor) != 2:
            raise bad()
        values = list(factor)
    elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
        values = [-abs(factor), abs(factor)]
    else:
        raise bad()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if value > high or value < low or (low_open and value == low):
            raise bad()
    lower, upper = sorted(float(v) for v in values)
    return lower, upper


def _check_choice(layer: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{layer}: `{name}` must be one of {choices}. Received: {name}={value!r}")


def _check_data_format(layer: str, data_format) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{layer}: only data_format='channels_last' is supported. "
            f"Received: data_format={data_format!r}"
        )


def _check_images(layer: str, inputs):
    if len(inputs.shape) not in (3, 4):
        raise ValueError(
            f"{layer}: expected images of shape (batch, height, width, channels) or (height, "
            f"width, channels). Received: inputs.shape={tuple(inputs.shape)}"
        )


def _per_image_shape(inputs) -> tuple:
    """(None, 1, 1, 1) for a batch, (1, 1, 1) for one image: one draw per image."""
    return (None, 1, 1, 1) if len(inputs.shape) == 4 else (1, 1, 1)


def _uniform_per_image(inputs, minval, maxval, seed_generator):
    attrs = {"shape": _per_image_shape(inputs), "dtype": "float32", "seed": seed_generator,
             "minval": float(minval), "maxval": float(maxval)}  # fmt: skip
    return ops_base.apply(engine_random._UNIFORM, (inputs,), attrs)


# ---- the transforms Keras builds (output pixel -> input point), one row per image --------


def _rotation(rng, batch, height, width, lower, upper):
    angle = rng.uniform(lower * 360.0, upper * 360.0, batch).astype(np.float32)
    angle = angle * np.float32(math.pi / 180.0)
    cos, sin = np.cos(angle), np.sin(angle)
    cx, cy = np.float32(0.5 * (width - 1)), np.float32(0.5 * (height - 1))
    zeros = np.zeros(batch, np.float32)
    return np.stack([cos, -sin, cx - cx * cos + cy * sin,
                     sin, cos, cy - cx * sin - cy * cos, zeros, zeros], axis=1)  # fmt: skip


def _zoom(rng, batch, height, width, height_range, width_range):
    zoom_y = rng.uniform(1.0 + height_range[0], 1.0 + height_range[1], batch)
    zoom_x = zoom_y if width_range is None else (
        rng.uniform(1.0 + width_range[0], 1.0 + width_range[1], batch)
    )  # fmt: skip
    zoom_x, zoom_y = zoom_x.astype(np.float32), zoom_y.astype(np.float32)
    zeros = np.zeros(batch, np.float32)
    return np.stack([zoom_x, zeros, np.float32((width - 1) / 2.0) * (1 - zoom_x),
                     zeros, zoom_y, np.float32((height - 1) / 2.0) * (1 - zoom_y),
                     zeros, zeros], axis=1)  # fmt: skip


def _translation(rng, batch, height, width, height_range, width_range):
    dy = (rng.uniform(*height_range, batch) * height).astype(np.float32)
    dx = (rng.uniform(*width_range, batch) * width).astype(np.float32)
    ones, zeros = np.ones(batch, np.float32), np.zeros(batch, np.float32)
    return np.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)


_TRANSFORMS = {"rotation": _rotation, "zoom": _zoom, "translation": _translation}


class RandomTransformOp(ops_base.Op):
    """Draws one affine transform per image (no gradient), keyed by the seed at run time."""

    name = "random_image_transform"
    differentiable = False

    def infer(self, images, *, kind, params, seed):
        return Spec((images.shape[0], 8), "float32")

    def forward(self, ctx, images, *, kind, params, seed):
        batch, height, width = images.shape[:3]
        return _TRANSFORMS[kind](engine_random._rng(seed), batch, height, width, *params)


_RANDOM_TRANSFORM = RandomTransformOp()


class _RandomAffineLayer(Layer):
    """What RandomRotation, RandomZoom and RandomTranslation share: fill and interpolation
    arguments, the seed, and resampling through a random transform in training."""

    _kind = ""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        name = type(self).__name__
        _check_choice(name, "fill_mode", fill_mode, _FILL_MODES)
        _check_choice(name, "interpolation", interpolation, _INTERPOLATIONS)
        _check_seed(name, seed)
        _check_data_format(name, data_format)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.seed = seed
        self.fill_value = fill_value
        self.data_format = "channels_last"
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.built = True

    def _params(self) -> tuple:
        raise NotImplementedError

    def call(self, inputs, training=None):
        _check_images(type(self).__name__, inputs)
        x = ops.cast(inputs, self.dtype)
        if not training:
            return x
        single = len(x.shape) == 3
        if single:
            x = ops.expand_dims(x, 0)
        attrs = {"kind": self._kind, "params": self._params(), "seed": self._seed_generator}
        transform = ops_base.apply(_RANDOM_TRANSFORM, (x,), attrs)
        out = affine_transform(x, transform, interpolation=self.interpolation,
                               fill_mode=self.fill_mode, fill_value=self.fill_value)  # fmt: skip
        return ops.squeeze(out, 0) if single else out

    def get_config(self) -> dict:
        return {
            **super().get_config(), "fill_mode": self.fill_mode,
            "interpolation": self.interpolation, "seed": self.seed,
            "fill_value": self.fill_value, "data_format": self.data_format,
        }  # fmt: skip


class RandomRotation(_RandomAffineLayer):
    """Rotates each image by a random angle in training: `factor` is a fraction of a full
    turn, a number `f` for angles in [-f, f] * 360 degrees or a pair `(lower, upper)`
    (positive turns counter-clockwise). Pixels from outside the image follow `fill_mode`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RandomRotation(0.1, seed=0)
        >>> images = np.random.default_rng(0).random((2, 8, 8, 3))
        >>> bool(np.allclose(layer(images).numpy(), images))  # inference: unchanged
        True
        >>> layer(images, training=True).shape
        (2, 8, 8, 3)
    """

    _kind = "rotation"

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_range("RandomRotation", "factor", factor, -1.0, 1.0)

    def _params(self) -> tuple:
        return self.factor

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_RandomAffineLayer):
    """Zooms each image in or out by a random amount in training. `height_factor` is a
    fraction: a number `f` for heights scaled by a factor in [1 - f, 1 + f] of the view
    (positive values zoom out, negative in), or a pair `(lower, upper)`, each in (-1, 1].
    `width_factor` is the same for widths; None keeps the aspect ratio (one draw for both).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RandomZoom((-0.2, -0.2), seed=0)  # always 20% in
        >>> layer(np.ones((1, 6, 6, 1)), training=True).shape
        (1, 6, 6, 1)
    """

    _kind = "zoom"

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = _factor_range(
            "RandomZoom", "height_factor", height_factor, -1.0, 1.0, low_open=True
        )
        self.width_factor = None if width_factor is None else _factor_range(
            "RandomZoom", "width_factor", width_factor, -1.0, 1.0, low_open=True
        )  # fmt: skip

    def _params(self) -> tuple:
        return (self.height_factor, self.width_factor)

    def get_config(self) -> dict:
        width = None if self.width_factor is None else list(self.width_factor)
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": width}  # fmt: skip


class RandomTranslation(_RandomAffineLayer):
    """Shifts each image by a random offset in training: `height_factor` and
    `width_factor` are fractions of the height and width, a number `f` for shifts in
    [-f, f] or a pair `(lower, upper)`, each in [-1, 1] (positive: down and right).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RandomTranslation(0.0, (0.5, 0.5), fill_mode="constant")
        >>> layer(np.arange(4.0).reshape(1, 1, 4, 1), training=True).numpy().ravel().tolist()
        [0.0, 0.0, 0.0, 1.0]
    """

    _kind = "translation"

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = _factor_range(
            "RandomTranslation", "height_factor", height_factor, -1.0, 1.0
        )
        self.width_factor = _factor_range(
            "RandomTranslation", "width_factor", width_factor, -1.0, 1.0
        )

    def _params(self) -> tuple:
        return (self.height_factor, self.width_factor)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": list(self.width_factor)}  # fmt: skip


_HORIZONTAL, _VERTICAL, _BOTH = "horizontal", "vertical", "horizontal_and_vertical"


class RandomFlip(Layer):
    """Flips each image with probability 1/2 in training: left-right (`"horizontal"`),
    top-bottom (`"vertical"`), or both at once (`"horizontal_and_vertical"`, the default:
    as Keras, one draw per image decides both flips).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RandomFlip("horizontal", seed=3)
        >>> out = layer(np.arange(3.0).reshape(1, 1, 3, 1), training=True).numpy().ravel()
        >>> out.tolist() in ([0.0, 1.0, 2.0], [2.0, 1.0, 0.0])
        True
    """

    def __init__(self, mode=_BOTH, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_choice("RandomFlip", "mode", mode, (_HORIZONTAL, _VERTICAL, _BOTH))
        _check_seed("RandomFlip", seed)
        _check_data_format("RandomFlip", data_format)
        self.mode = mode
        self.seed = seed
        self.data_format = "channels_last"
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=None):
        _check_images("RandomFlip", inputs)
        x = ops.cast(inputs, self.dtype)
        if not training:
            return x
        flips = ops.less_equal(_uniform_per_image(x, 0.0, 1.0, self._seed_generator), 0.5)
        rank = len(x.shape)
        out = x
        if self.mode in (_HORIZONTAL, _BOTH):
            out = ops.where(flips, ops.flip(out, axis=rank - 2), out)
        if self.mode in (_VERTICAL, _BOTH):
            out = ops.where(flips, ops.flip(out, axis=rank - 3), out)
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "seed": self.seed,
                "data_format": self.data_format}  # fmt: skip


class RandomContrast(Layer):
    """Scales each image's contrast by a random factor in training: every pixel moves away
    from (or towards) the image's per-channel mean, `(x - mean) * f + mean`, then is
    clipped to `value_range`. `factor` is a number `f` for factors in [1 - f, 1 + f], or a
    pair `(lower, upper)` for [1 - lower, 1 + upper], each in [0, 1].

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RandomContrast(0.5, seed=0)
        >>> out = layer(np.array([[[[100.0], [200.0]]]]), training=True).numpy().ravel()
        >>> bool(abs(out.mean() - 150.0) < 1e-3)  # the mean stays
        True
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(factor, (list, tuple)):
            pair = factor
        elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
            pair = (factor, factor)
        else:
            pair = None
        if (
            pair is None
            or len(pair) != 2
            or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1
                for v in pair
            )
        ):
            raise ValueError(
                "RandomContrast: `factor` must be a number or a pair of numbers in [0, 1]. "
                f"Received: factor={factor!r}"
            )
        if (not isinstance(value_range, (list, tuple)) or len(value_range) != 2
                or not value_range[0] < value_range[1]):  # fmt: skip
            raise ValueError(
                "RandomContrast: `value_range` must be a pair (low, high) with low < high. "
                f"Received: value_range={value_range!r}"
            )
        _check_seed("RandomContrast", seed)
        self.factor = factor
        self._lower, self._upper = float(pair[0]), float(pair[1])
        self.value_range = tuple(value_range)
        self.seed = seed
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=None):
        _check_images("RandomContrast", inputs)
        x = ops.cast(inputs, self.dtype)
        if not training:
            return x
        rank = len(x.shape)
        factor = _uniform_per_image(x, 1.0 - self._lower, 1.0 + self._upper,
                                    self._seed_generator)  # fmt: skip
        mean = ops.mean(x, axis=(rank - 3, rank - 2), keepdims=True)
        out = ops.add(ops.multiply(ops.subtract(x, mean), factor), mean)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self) -> dict:
        factor = list(self.factor) if isinstance(self.factor, tuple) else self.factor
        return {**super().get_config(), "factor": factor,
                "value_range": list(self.value_range), "seed": self.seed}  # fmt: skip
