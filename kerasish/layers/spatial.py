"""Layers that reshape the spatial axes (channels_last): ZeroPadding1D/2D, Cropping1D/2D,
UpSampling1D/2D (nearest, bilinear), and SpatialDropout1D/2D (whole channels dropped)."""

from __future__ import annotations

import numbers

from backend import ops
from backend import random as engine_random

from .convolutional import check_rank, standardize_data_format
from .layer import Layer


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pair(owner: str, name: str, value) -> tuple:
    """An int or 2 ints (>= 0) as a pair."""
    if _is_int(value):
        value_ = (value, value)
    else:
        try:
            value_ = tuple(value)
        except TypeError:
            value_ = ()
    if len(value_) != 2 or not all(_is_int(v) and v >= 0 for v in value_):
        raise ValueError(
            f"{owner}: `{name}` must be an int or a tuple of 2 ints >= 0. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in value_)


def _pairs_2d(owner: str, name: str, value) -> tuple:
    """An int, 2 ints (symmetric rows, cols) or 2 pairs as `((top, bottom), (left, right))`."""
    if _is_int(value):
        return (_pair(owner, name, value),) * 2
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) == 2 and all(_is_int(v) for v in items):
        return (_pair(owner, name, items[0]), _pair(owner, name, items[1]))
    if len(items) == 2 and all(not _is_int(v) for v in items):
        try:
            return (_pair(owner, name, items[0]), _pair(owner, name, items[1]))
        except ValueError:
            pass
    raise ValueError(
        f"{owner}: `{name}` must be an int, a tuple of 2 ints, or a tuple of 2 tuples of 2 "
        f"ints (>= 0). Received: {name}={value!r}"
    )


class ZeroPadding1D(Layer):
    """Pads the steps axis with zeros: `padding` is an int or `(left, right)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.ZeroPadding1D((1, 2))(np.ones((2, 3, 4))).shape
        (2, 6, 4)
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair("ZeroPadding1D", "padding", padding)
        self.data_format = standardize_data_format("ZeroPadding1D", data_format)
        self.built = True

    def call(self, inputs):
        check_rank(self, inputs.shape, 1)
        return ops.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros: `padding` is an int, `(rows, cols)` or
    `((top, bottom), (left, right))`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.ZeroPadding2D(((1, 0), (2, 3)))(np.ones((2, 3, 3, 1))).shape
        (2, 4, 8, 1)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs_2d("ZeroPadding2D", "padding", padding)
        self.data_format = standardize_data_format("ZeroPadding2D", data_format)
        self.built = True

    def call(self, inputs):
        check_rank(self, inputs.shape, 2)
        return ops.pad(inputs, ((0, 0), *self.padding, (0, 0)))

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


def _crop(layer, inputs, croppings: tuple):
    shape = tuple(inputs.shape)
    key = [slice(None)]
    for axis, (a, b) in enumerate(croppings, start=1):
        dim = shape[axis]
        if dim is not None and a + b >= dim:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': cropping={layer.cropping} leaves "
                f"nothing of axis {axis}. Received: input_shape={shape}"
            )
        key.append(slice(a, -b if b else None))
    key.append(slice(None))
    return inputs[tuple(key)]


class Cropping1D(Layer):
    """Crops the steps axis: `cropping` is an int or `(start, end)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Cropping1D((1, 2))(np.ones((2, 6, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair("Cropping1D", "cropping", cropping)
        self.built = True

    def call(self, inputs):
        check_rank(self, inputs.shape, 1)
        return _crop(self, inputs, (self.cropping,))

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(Layer):
    """Crops rows and columns: `cropping` is an int, `(rows, cols)` or
    `((top, bottom), (left, right))`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Cropping2D(((1, 0), (1, 2)))(np.ones((2, 5, 5, 1))).shape
        (2, 4, 2, 1)
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs_2d("Cropping2D", "cropping", cropping)
        self.data_format = standardize_data_format("Cropping2D", data_format)
        self.built = True

    def call(self, inputs):
        check_rank(self, inputs.shape, 2)
        return _crop(self, inputs, self.cropping)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "cropping": self.cropping,
            "data_format": self.data_format,
        }


def _positive(owner: str, name: str, value, n: int):
    items = (value,) * n if _is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != n or not all(_is_int(v) and v > 0 for v in items):
        raise ValueError(
            f"{owner}: `{name}` must be a positive int or {n} positive ints. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in items)


class UpSampling1D(Layer):
    """Repeats each step `size` times.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.UpSampling1D(2)(np.array([[[1.0], [2.0]]])).numpy().ravel().tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        (self.size,) = _positive("UpSampling1D", "size", size, 1)
        self.built = True

    def call(self, inputs):
        check_rank(self, inputs.shape, 1)
        return ops.repeat(inputs, self.size, axis=1) if self.size != 1 else inputs

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size}


class UpSampling2D(Layer):
    """Scales rows and columns up by `size`: `"nearest"` repeats each cell; `"bilinear"`
    interpolates (half-pixel centers, as `keras.ops.image.resize`).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.UpSampling2D((2, 3))(np.ones((2, 4, 4, 1))).shape
        (2, 8, 12, 1)
    """

    _interpolations = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = _positive("UpSampling2D", "size", size, 2)
        self.data_format = standardize_data_format("UpSampling2D", data_format)
        if interpolation not in self._interpolations:
            raise ValueError(
                f"UpSampling2D: `interpolation` must be one of {self._interpolations}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation
        self.built = True

    def call(self, inputs):
        shape = check_rank(self, inputs.shape, 2)
        if self.interpolation == "nearest":
            x = inputs
            for axis, s in ((1, self.size[0]), (2, self.size[1])):
                if s != 1:
                    x = ops.repeat(x, s, axis=axis)
            return x
        if shape[1] is None or shape[2] is None:
            raise ValueError(
                f"UpSampling2D '{self.name}': bilinear interpolation needs known rows and "
                f"columns. Received: input_shape={shape}"
            )
        from backend.ops import image

        return image.resize(
            inputs, (shape[1] * self.size[0], shape[2] * self.size[1]), interpolation="bilinear"
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class _SpatialDropout(Layer):
    _rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"{owner}: `rate` must be in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        check_rank(self, inputs.shape, self._rank)
        if training and self.rate > 0:
            # One draw per (sample, channel), shared over the spatial axes.
            noise_shape = (None, *(1,) * self._rank, None)
            return engine_random.dropout(
                inputs, self.rate, noise_shape=noise_shape, seed=self._seed_generator
            )
        return inputs

    def get_config(self) -> dict:
        base = super().get_config()
        return {"rate": self.rate, "seed": self.seed, "name": base["name"], "dtype": base["dtype"]}


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels: in training each `(sample, channel)` of
    `(batch, steps, channels)` is zeroed with probability `rate` over all steps (the rest
    scaled by `1 / (1 - rate)`); the identity in inference.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> y = keras.layers.SpatialDropout1D(0.5, seed=1)(np.ones((2, 4, 3)), training=True)
        >>> bool((y.numpy().std(axis=1) == 0).all())
        True
    """

    _rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of `(batch, rows, cols, channels)` in training.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.SpatialDropout2D(0.5)(np.ones((2, 4, 4, 3))).shape
        (2, 4, 4, 3)
    """

    _rank = 2

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = standardize_data_format("SpatialDropout2D", data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}
