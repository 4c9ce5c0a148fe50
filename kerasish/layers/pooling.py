"""Pooling layers (channels_last): MaxPooling1D/2D, AveragePooling1D/2D and the global
poolings, with Keras 3's arguments and configs. `AveragePooling` with `padding="same"`
divides each window by its real (not padded) cells, as Keras."""

from __future__ import annotations

from backend import ops

from .arguments import check_bool
from .convolutional import check_rank, standardize_data_format, standardize_padding
from .convolutional import standardize_tuple as _tuple
from .layer import Layer


class _Pooling(Layer):
    _mode = "max"
    _rank = 2

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = _tuple(owner, pool_size, self._rank, "pool_size")
        self.strides = (
            self.pool_size if strides is None else _tuple(owner, strides, self._rank, "strides")
        )
        self.padding = standardize_padding(owner, padding)
        self.data_format = standardize_data_format(owner, data_format)
        self.built = True

    def call(self, inputs):
        shape = check_rank(self, inputs.shape, self._rank)
        if self.padding == "valid":
            for dim, p in zip(shape[1:-1], self.pool_size, strict=True):
                if dim is not None and p > dim:
                    raise ValueError(
                        f"{type(self).__name__} '{self.name}': pool_size={self.pool_size} is "
                        f"larger than the input (padding='valid'). Received: input_shape={shape}"
                    )
        pool = ops.max_pool if self._mode == "max" else ops.average_pool
        return pool(
            inputs,
            pool_size=self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }


class MaxPooling1D(_Pooling):
    """The maximum over windows of `pool_size` steps, every `strides` (default: pool_size).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.MaxPooling1D()(np.arange(8.0).reshape(1, 4, 2)).numpy()[0].tolist()
        [[2.0, 3.0], [6.0, 7.0]]
    """

    _mode, _rank = "max", 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """The maximum over `pool_size` windows of rows and columns.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.MaxPooling2D()(np.ones((2, 5, 5, 3))).shape
        (2, 2, 2, 3)
    """

    _mode, _rank = "max", 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """The mean over windows of `pool_size` steps (real cells only with 'same' padding).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.AveragePooling1D(2)(np.arange(4.0).reshape(1, 4, 1)).numpy().ravel()
        array([0.5, 2.5], dtype=float32)
    """

    _mode, _rank = "average", 1

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling):
    """The mean over `pool_size` windows of rows and columns (real cells only with 'same').

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.AveragePooling2D(2)(np.ones((2, 4, 4, 3))).shape
        (2, 2, 2, 3)
    """

    _mode, _rank = "average", 2

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling(Layer):
    _mode = "average"
    _rank = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(type(self).__name__, data_format)
        self.keepdims = check_bool(type(self).__name__, "keepdims", keepdims)
        self.built = True

    def call(self, inputs):
        check_rank(self, inputs.shape, self._rank)
        axes = tuple(range(1, self._rank + 1))
        reduce = ops.mean if self._mode == "average" else ops.max
        return reduce(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "data_format": self.data_format,
            "keepdims": self.keepdims,
        }


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps axis: `(batch, steps, channels)` -> `(batch, channels)`
    (`(batch, 1, channels)` with `keepdims=True`).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.GlobalAveragePooling1D()(np.ones((2, 5, 3))).shape
        (2, 3)
    """

    _mode, _rank = "average", 1

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        # As Keras: the mean over the unmasked steps (masked ones read as 0, so a NaN or inf
        # there does not leak in); a sample with no unmasked step gives 0 / 0.
        check_rank(self, inputs.shape, 1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        total = ops.sum(ops.where(keep, inputs, 0.0), axis=1, keepdims=self.keepdims)
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1, keepdims=self.keepdims)
        return ops.divide(total, count)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over rows and columns: `(batch, h, w, c)` -> `(batch, c)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.GlobalAveragePooling2D(keepdims=True)(np.ones((2, 4, 4, 3))).shape
        (2, 1, 1, 3)
    """

    _mode, _rank = "average", 2


class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over the steps axis.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.GlobalMaxPooling1D()(np.ones((2, 5, 3))).shape
        (2, 3)
    """

    _mode, _rank = "max", 1


class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum over rows and columns.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.GlobalMaxPooling2D()(np.ones((2, 4, 4, 3))).shape
        (2, 3)
    """

    _mode, _rank = "max", 2
