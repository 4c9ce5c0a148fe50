"""Preprocessing layers: Rescaling and Normalization (with `adapt`)."""

from __future__ import annotations

import numpy as np

from backend import config as engine_config
from backend import ops
from backend.tensor import SymbolicTensor, Tensor

from .layer import Layer


def _scalar_or_list(layer: str, arg: str, value):
    """A number, or a list of numbers (per channel, the last axis); as stored in configs."""
    if isinstance(value, bool):
        value = None  # falls through to the error
    elif isinstance(value, (int, float)):
        return value
    elif isinstance(value, (list, tuple, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.kind in "iuf" and array.size:
            return array.tolist()
    raise ValueError(f"{layer}: `{arg}` must be a number or numbers. Received: {arg}={value!r}")


class Rescaling(Layer):
    """`inputs * scale + offset`, computed and returned in the layer's dtype (so uint8
    images come out as float32). `scale` and `offset` may be per-channel lists.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Rescaling(1 / 127.5, offset=-1)(np.array([0, 255], "uint8")).numpy()
        array([-1.,  1.], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _scalar_or_list("Rescaling", "scale", scale)
        self.offset = _scalar_or_list("Rescaling", "offset", offset)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, self.dtype)
        scale = ops.convert_to_tensor(np.asarray(self.scale, dtype=self.dtype))
        offset = ops.convert_to_tensor(np.asarray(self.offset, dtype=self.dtype))
        return ops.add(ops.multiply(x, scale), offset)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Standardizes features: `(x - mean) / max(sqrt(variance), epsilon)`, with statistics
    kept per index of `axis` (default -1: per feature) and reduced over the other axes.
    `invert=True` maps back: `mean + x * max(sqrt(variance), epsilon)`.

    The statistics come from `mean` and `variance` given here (no weights, as Keras), or
    from `adapt(data)`, stored as Keras 3 stores them: non-trainable weights `mean`,
    `variance` and `count` (the number of samples adapted on). Calling a layer on data
    before either is a `ValueError`; a layer whose weights were set (`set_weights`, a
    loaded file) counts as adapted. Calling it on symbolic `Input`s before `adapt` is
    allowed, so a model can be built first and adapted after (the weights are read at run
    time).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Normalization()
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
        >>> layer(np.array([[1.0, 20.0]])).numpy().tolist()
        [[0.0, 0.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int) and not isinstance(axis, bool):
            axis = (axis,)
        elif isinstance(axis, (list, tuple)) and all(
            isinstance(a, int) and not isinstance(a, bool) for a in axis
        ):
            axis = tuple(axis)
        else:
            raise ValueError(
                f"Normalization: `axis` must be an int, ints or None. Received: axis={axis!r}"
            )
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization: give both `mean` and `variance`, or neither. Received: "
                f"mean={mean!r}, variance={variance!r}"
            )
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self._adapted = False
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(
                f"Normalization '{self.name}': each axis must be in [-{ndim}, {ndim}) for "
                f"inputs of shape {tuple(input_shape)}. Received: axis={self.axis}"
            )
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(
                    f"Normalization '{self.name}': the kept axes must have known sizes. "
                    f"Received: axis={self.axis}, input_shape={tuple(input_shape)}"
                )
        self._reduce_axis = tuple(a for a in range(ndim) if a not in self._keep_axis)
        self._build_shape = tuple(input_shape)
        self._broadcast_shape = tuple(
            input_shape[a] if a in self._keep_axis else 1 for a in range(ndim)
        )
        stats_shape = tuple(input_shape[a] for a in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(
                name="mean", shape=stats_shape, initializer="zeros", trainable=False
            )
            self.adapt_variance = self.add_weight(
                name="variance", shape=stats_shape, initializer="ones", trainable=False
            )
            # Keras keeps the number of samples adapted on too (its files carry it).
            self.count = self.add_weight(
                name="count", shape=(), dtype="int64", initializer="zeros", trainable=False
            )
        else:
            try:
                mean = np.broadcast_to(np.asarray(self.input_mean, self.dtype), stats_shape)
                variance = np.broadcast_to(np.asarray(self.input_variance, self.dtype), stats_shape)
            except ValueError:
                raise ValueError(
                    f"Normalization '{self.name}': `mean` and `variance` must broadcast to "
                    f"{stats_shape}. Received: mean={self.input_mean!r}, "
                    f"variance={self.input_variance!r}"
                ) from None
            self._given_stats = (
                mean.reshape(self._broadcast_shape),
                variance.reshape(self._broadcast_shape),
            )
        self.built = True  # also when `build` is called directly, as `adapt` does

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Computes the mean and variance of `data` over every axis but `axis`.

        `data` is an array, or an iterable of array batches (of which at most `steps` are
        read). `batch_size` is accepted for Keras 2 code and changes nothing (the result is
        the same for any batching). The statistics are exact over all the data (float64).
        """
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization '{self.name}' was given `mean` and `variance`; it cannot also "
                "be adapted."
            )
        if steps is not None and (not isinstance(steps, int) or steps <= 0):
            raise ValueError(f"adapt: `steps` must be a positive int. Received: steps={steps!r}")
        if isinstance(data, (np.ndarray, Tensor, list)):
            try:
                batches = [np.asarray(ops.convert_to_numpy(ops.convert_to_tensor(data)))]
            except (TypeError, ValueError) as error:
                raise type(error)(f"Normalization '{self.name}': adapt(): {error}") from None
        else:
            batches = (np.asarray(b) for b in data)
        # Chan et al.'s pairwise update of (count, mean, sum of squared deviations): exact
        # for any batching, and stable when the mean is large next to the spread.
        count, mean, m2 = 0, 0.0, 0.0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            batch = batch.astype(np.float64)
            if not self.built:
                self.build(batch.shape)
            self._check_adapt_shape(batch.shape)
            n = int(np.prod([batch.shape[a] for a in self._reduce_axis]))
            if n == 0:
                continue
            batch_mean = batch.mean(axis=self._reduce_axis, keepdims=True)
            batch_m2 = np.square(batch - batch_mean).sum(axis=self._reduce_axis)
            batch_mean = batch_mean.reshape(batch_m2.shape)
            delta = batch_mean - mean
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + batch_m2 + np.square(delta) * (count * n / total)
            count = total
        if not count:
            raise ValueError(f"Normalization '{self.name}': adapt() received no data.")
        variance = m2 / count
        self.adapt_mean.assign(mean.astype(self.dtype))
        self.adapt_variance.assign(variance.astype(self.dtype))
        self.count.assign(np.int64(count))
        self._adapted = True

    def _check_adapt_shape(self, shape) -> None:
        if len(shape) != len(self._build_shape) or any(
            shape[a] != self._build_shape[a] for a in self._keep_axis
        ):
            raise ValueError(
                f"Normalization '{self.name}' was built for inputs of shape "
                f"{self._build_shape}; adapt() received data of shape {tuple(shape)}."
            )

    def set_weights(self, weights: list) -> None:
        super().set_weights(weights)
        self._adapted = True

    def _statistics(self, inputs):
        if self.input_mean is not None:
            mean, variance = self._given_stats
            return ops.convert_to_tensor(mean), ops.convert_to_tensor(variance)
        if not self._adapted and not isinstance(inputs, SymbolicTensor):
            # Weights still at their initial values mean nothing was adapted or loaded.
            if not self.adapt_mean.numpy().any() and (self.adapt_variance.numpy() == 1).all():
                raise ValueError(
                    f"Normalization '{self.name}' has no statistics yet: call adapt(data) "
                    "first, or pass `mean` and `variance`."
                )
            self._adapted = True
        mean = ops.reshape(self.adapt_mean, self._broadcast_shape)
        variance = ops.reshape(self.adapt_variance, self._broadcast_shape)
        return mean, variance

    def call(self, inputs):
        x = ops.cast(inputs, self.dtype)
        mean, variance = self._statistics(x)
        std = ops.maximum(ops.sqrt(variance), engine_config.epsilon())
        if self.invert:
            return ops.add(mean, ops.multiply(x, std))
        return ops.divide(ops.subtract(x, mean), std)

    def get_config(self) -> dict:
        def listed(value):
            return None if value is None else np.asarray(value).tolist()

        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": listed(self.input_mean),
            "variance": listed(self.input_variance),
        }
