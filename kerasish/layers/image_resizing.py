"""Image size layers: Resizing, CenterCrop and RandomCrop (channels last)."""

from __future__ import annotations

import numpy as np

from backend import ops
from backend import random as engine_random
from backend.ops import base as ops_base
from backend.ops.image import resize

from .image_augmentation import _check_data_format, _check_images, _check_seed
from .layer import Layer

_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area")


def _check_size(layer: str, height, width) -> None:
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{layer}: `{name}` must be an int >= 1. Received: {name}={value!r}")


def _image_size(layer: str, inputs) -> tuple:
    _check_images(layer, inputs)
    height, width = inputs.shape[-3], inputs.shape[-2]
    if height is None or width is None:
        raise ValueError(
            f"{layer}: the images' height and width must be known. "
            f"Received: inputs.shape={tuple(inputs.shape)}"
        )
    return height, width


def _window(x, top: int, left: int, height: int, width: int):
    """`x[..., top:top + height, left:left + width, :]` (clipped to the image)."""
    rows, cols = slice(top, top + height), slice(left, left + width)
    return x[:, rows, cols, :] if len(x.shape) == 4 else x[rows, cols, :]


class Resizing(Layer):
    """Resizes images to `(height, width)`, as `keras.layers.Resizing`: with
    `interpolation` (`"bilinear"` by default); `crop_to_aspect_ratio` first crops the
    largest centered box of the target's aspect ratio, `pad_to_aspect_ratio` pads with
    `fill_value` instead, so the image is not distorted.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Resizing(4, 4)(np.zeros((2, 8, 6, 3))).shape
        (2, 4, 4, 3)
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        _check_size("Resizing", height, width)
        _check_data_format("Resizing", data_format)
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"Resizing: `interpolation` must be one of {_INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Resizing: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can "
                "be True."
            )
        if fill_mode != "constant":
            raise ValueError(
                f"Resizing: only fill_mode='constant' is supported. Received: "
                f"fill_mode={fill_mode!r}"
            )
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)
        self.data_format = "channels_last"
        self.built = True

    def call(self, inputs):
        _image_size("Resizing", inputs)
        out = resize(
            ops.cast(inputs, self.dtype), (self.height, self.width),
            interpolation=self.interpolation, antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_value=self.fill_value,
        )  # fmt: skip
        return ops.cast(out, self.dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(), "height": self.height, "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
            "fill_value": self.fill_value, "antialias": self.antialias,
            "data_format": self.data_format,
        }  # fmt: skip


class CenterCrop(Layer):
    """Crops the central `(height, width)` window of images; an image smaller than that is
    first resized, keeping its aspect ratio (its largest centered box of the target's
    aspect ratio is scaled up), as Keras does. Training and inference alike.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> image = np.arange(16.0).reshape(4, 4, 1)
        >>> keras.layers.CenterCrop(2, 2)(image).numpy()[..., 0].tolist()
        [[5.0, 6.0], [9.0, 10.0]]
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_size("CenterCrop", height, width)
        _check_data_format("CenterCrop", data_format)
        self.height, self.width = int(height), int(width)
        self.data_format = "channels_last"
        self.built = True

    def call(self, inputs):
        height, width = _image_size("CenterCrop", inputs)
        x = ops.cast(inputs, self.dtype)
        if height >= self.height and width >= self.width:
            top, left = (height - self.height) // 2, (width - self.width) // 2
            return _window(x, top, left, self.height, self.width)
        return resize(x, (self.height, self.width), crop_to_aspect_ratio=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}  # fmt: skip


class RandomCrop(Layer):
    """Crops a random `(height, width)` window in training (one position per batch, as
    Keras), and the central one in inference. In training, images not larger than the
    window in both directions give Keras' fixed crop instead (the centered box of the
    window's aspect ratio, resized to the window when smaller); so do images smaller than
    the window in inference.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RandomCrop(2, 2, seed=0)
        >>> layer(np.zeros((3, 5, 5, 1)), training=True).shape
        (3, 2, 2, 1)
        >>> layer(np.arange(25.0).reshape(5, 5, 1)).numpy()[..., 0].tolist()  # centered
        [[6.0, 7.0], [11.0, 12.0]]
    """

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        _check_size("RandomCrop", height, width)
        _check_seed("RandomCrop", seed)
        _check_data_format("RandomCrop", data_format)
        self.height, self.width = int(height), int(width)
        self.seed = seed
        self.data_format = "channels_last"
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.built = True

    def _offset(self, limit: int):
        """A random int32 start in [0, limit], drawn per run."""
        attrs = {"shape": (), "dtype": "int32", "seed": self._seed_generator,
                 "minval": 0, "maxval": int(limit) + 1}  # fmt: skip
        return ops_base.apply(engine_random._RANDINT, (), attrs)

    def call(self, inputs, training=None):
        height, width = _image_size("RandomCrop", inputs)
        x = ops.cast(inputs, self.dtype)
        row_axis = len(x.shape) - 3
        if training and height > self.height and width > self.width:
            top = self._offset(height - self.height)
            left = self._offset(width - self.width)
            rows = ops.add(top, ops.arange(self.height, dtype="int32"))
            cols = ops.add(left, ops.arange(self.width, dtype="int32"))
            return ops.take(ops.take(x, rows, axis=row_axis), cols, axis=row_axis + 1)
        if not training and height >= self.height and width >= self.width:
            top, left = (height - self.height) // 2, (width - self.width) // 2
            return _window(x, top, left, self.height, self.width)
        # Keras' box when the images are not larger than the window both ways: centered, of
        # the window's aspect ratio; cut to the window's size and resized if need be.
        box_height = max(min(height, int(width * self.height / self.width)), 1)
        box_width = max(min(width, int(height * self.width / self.height)), 1)
        top, left = int((height - box_height) / 2), int((width - box_width) / 2)
        x = _window(x, top, left, self.height, self.width)
        if tuple(x.shape[row_axis : row_axis + 2]) != (self.height, self.width):
            x = ops.cast(resize(x, (self.height, self.width)), self.dtype)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "seed": self.seed, "data_format": self.data_format}  # fmt: skip
