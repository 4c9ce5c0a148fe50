"""Convolution layers (channels_last): the shared `BaseConv` plus Conv1D and Conv2D, with
Keras 3's arguments, weight layouts and configs, and the argument helpers that the other
convolution layers (`conv_transpose`, `depthwise_separable`), pooling and spatial layers share.

Every layer checks its arguments when constructed (a `ValueError` ending in
`Received: name=value`) and its input when built (rank, channels, a kernel that does not fit
the padded input), then computes with the engine's `conv`, `depthwise_conv`,
`separable_conv` and `conv_transpose` ops.
"""

from __future__ import annotations

import numbers

from backend import ops

from .. import activations, constraints, initializers, regularizers
from .layer import Layer

# ---- argument helpers (shared with pooling and spatial layers) ---------------------------------


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def standardize_tuple(owner: str, value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """`value` (an int or `n` ints) as a tuple of `n` positive (or >= 0) ints."""
    items = (value,) * n if _is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    low = 0 if allow_zero else 1
    if items is None or len(items) != n or not all(_is_int(v) and v >= low for v in items):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{owner}: `{name}` must be a {kind} int or a tuple of {n} {kind} ints. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in items)


def standardize_padding(owner: str, padding, allow_causal: bool = False) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(
            f"{owner}: `padding` must be one of {allowed}. Received: padding={padding!r}"
        )
    return value


def standardize_data_format(owner: str, data_format) -> str:
    if data_format is None:
        from .. import config

        getter = getattr(config, "image_data_format", None)
        data_format = getter() if getter is not None else "channels_last"
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value != "channels_last":
        raise ValueError(
            f"{owner}: only data_format='channels_last' is supported. "
            f"Received: data_format={data_format!r}"
        )
    return value


def serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)


def check_rank(layer, input_shape, rank: int) -> tuple:
    """The input shape, checked to be `(batch, *spatial, channels)` for `rank` spatial dims."""
    shape = tuple(input_shape)
    if len(shape) != rank + 2:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects inputs of rank {rank + 2} "
            f"(batch, {'spatial dims, ' if rank > 1 else 'steps, '}channels). "
            f"Received: input_shape={shape}"
        )
    return shape


def _effective(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def check_fits(layer, input_shape, kernel_size, dilation_rate, padding) -> None:
    """A kernel must fit the (padded) input: with 'valid' padding each spatial dim must be at
    least the dilated kernel size."""
    if padding != "valid":
        return  # 'same' and 'causal' pad up to the kernel
    spatial = tuple(input_shape)[1:-1]
    for dim, k, d in zip(spatial, kernel_size, dilation_rate, strict=True):
        if dim is not None and _effective(k, d) > dim:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': the kernel (kernel_size="
                f"{tuple(kernel_size)}, dilation_rate={tuple(dilation_rate)}) is larger than "
                f"the padded input (padding='{padding}'). Received: input_shape="
                f"{tuple(input_shape)}"
            )


def _check_channels(layer, inputs, expected: int) -> None:
    got = inputs.shape[-1]
    if got is not None and got != expected:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' was built for {expected} input channels. "
            f"Received: input shape {tuple(inputs.shape)}"
        )


# ---- the shared base -----------------------------------------------------------------------


class BaseConv(Layer):
    """The shared part of the convolution layers: argument validation, bias, activation,
    activity regularization and the config."""

    _has_filters = True
    _allow_causal = False

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        bias_initializer="zeros",
        bias_regularizer=None,
        activity_regularizer=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.rank = rank
        if self._has_filters and (not _is_int(filters) or filters <= 0):
            raise ValueError(
                f"{owner}: `filters` must be a positive integer. Received: filters={filters!r}"
            )
        self.filters = int(filters) if self._has_filters else None
        self.kernel_size = standardize_tuple(owner, kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(owner, strides, rank, "strides")
        self.dilation_rate = standardize_tuple(owner, dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(owner, padding, allow_causal=self._allow_causal)
        self.data_format = standardize_data_format(owner, data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner}: `strides > 1` is not supported together with `dilation_rate > 1`. "
                f"Received: strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.bias_constraint = constraints.get(bias_constraint)

    def _check_input(self, input_shape) -> tuple:
        shape = check_rank(self, input_shape, self.rank)
        if shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the channel dim of its input must be "
                f"known. Received: input_shape={shape}"
            )
        return shape

    def _add_bias(self, units: int) -> None:
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )

    def _finish(self, x):
        if self.bias is not None:
            x = ops.add(x, self.bias)
        x = self.activation(x)
        if self.activity_regularizer is not None:
            batch = x.shape[0] or 1  # unknown only while building a functional graph
            self.add_loss(ops.divide(self.activity_regularizer(x), float(batch)))
        return x

    def _base_config(self) -> dict:
        return super().get_config()  # name, trainable, dtype

    def _tail_config(self) -> dict:
        return {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }

    def _weights_config(self, *prefixes: str) -> dict:
        """The initializer, regularizer and constraint entries of the config, for the kernels
        named by `prefixes` ("kernel", "depthwise", ...) and then the bias."""
        names = (*prefixes, "bias")
        config = {}
        for p in names:
            config[f"{p}_initializer"] = initializers.serialize(getattr(self, f"{p}_initializer"))
        for p in (*names, "activity"):
            config[f"{p}_regularizer"] = serialize_or_none(
                regularizers, getattr(self, f"{p}_regularizer")
            )
        for p in names:
            config[f"{p}_constraint"] = serialize_or_none(
                constraints, getattr(self, f"{p}_constraint")
            )
        return config


class _Conv(BaseConv):
    """Conv1D / Conv2D (the subclasses only set `_rank`): kernel
    `(*kernel_size, in/groups, filters)`, then bias."""

    _rank = None

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            self._rank,
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        owner = type(self).__name__
        if not _is_int(groups) or groups <= 0:
            raise ValueError(
                f"{owner}: `groups` must be a positive integer. Received: groups={groups!r}"
            )
        self.groups = int(groups)
        if self.filters % self.groups != 0:
            raise ValueError(
                f"{owner}: `filters` must be divisible by `groups`. Received: "
                f"groups={self.groups}, filters={self.filters}"
            )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def build(self, input_shape):
        shape = self._check_input(input_shape)
        channels = shape[-1]
        if channels % self.groups != 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the input channels ({channels}) must be "
                f"divisible by groups={self.groups}. Received: input_shape={shape}"
            )
        check_fits(self, shape, self.kernel_size, self.dilation_rate, self.padding)
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self._add_bias(self.filters)
        self._channels = channels

    def call(self, inputs):
        _check_channels(self, inputs, self._channels)
        padding = self.padding
        if padding == "causal":
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            inputs = ops.pad(inputs, ((0, 0), (left, 0), (0, 0)))
            padding = "valid"
        x = ops.conv(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        return self._finish(x)

    def get_config(self) -> dict:
        return {
            **self._base_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            **self._tail_config(),
            **self._weights_config("kernel"),
        }


class Conv1D(_Conv):
    """1-D convolution over `(batch, steps, channels)`; `padding` may also be `"causal"`
    (`dilation_rate * (kernel_size - 1)` zeros on the left). Weights: `kernel`
    `(kernel_size, in/groups, filters)`, then `bias` `(filters,)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Conv1D(4, 3, padding="causal")
        >>> layer(np.ones((2, 10, 3))).shape, layer.kernel.shape
        ((2, 10, 4), (3, 3, 4))
    """

    _rank = 1
    _allow_causal = True


class Conv2D(_Conv):
    """2-D convolution over `(batch, rows, cols, channels)`. Weights: `kernel`
    `(kh, kw, in/groups, filters)`, then `bias` `(filters,)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
        >>> layer(np.ones((2, 5, 5, 3))).shape, layer.kernel.shape
        ((2, 5, 5, 8), (3, 3, 3, 8))
    """

    _rank = 2
