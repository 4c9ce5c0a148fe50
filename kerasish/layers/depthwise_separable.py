"""Depthwise and separable convolution layers (channels_last): DepthwiseConv2D and
SeparableConv2D, computing with the engine's `depthwise_conv` and `separable_conv` ops."""

from __future__ import annotations

from backend import ops

from .. import constraints, initializers, regularizers
from .convolutional import BaseConv, _check_channels, _is_int, check_fits


def _check_depth_multiplier(owner: str, depth_multiplier) -> int:
    if not _is_int(depth_multiplier) or depth_multiplier <= 0:
        raise ValueError(
            f"{owner}: `depth_multiplier` must be a positive integer. Received: "
            f"depth_multiplier={depth_multiplier!r}"
        )
    return int(depth_multiplier)


class DepthwiseConv2D(BaseConv):
    """Depthwise 2-D convolution: each input channel convolved with its own
    `depth_multiplier` filters. Weights: `kernel` `(kh, kw, in, depth_multiplier)`, then
    `bias` `(in * depth_multiplier,)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
        >>> layer(np.ones((2, 5, 5, 3))).shape, layer.kernel.shape
        ((2, 3, 3, 6), (3, 3, 3, 2))
    """

    _has_filters = False

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        kwargs.pop("groups", None)  # Keras 2 configs
        super().__init__(
            2,
            None,
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
        self.depth_multiplier = _check_depth_multiplier(type(self).__name__, depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)

    def build(self, input_shape):
        shape = self._check_input(input_shape)
        check_fits(self, shape, self.kernel_size, self.dilation_rate, self.padding)
        channels = shape[-1]
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="kernel",
        )
        self._add_bias(channels * self.depth_multiplier)
        self._channels = channels

    def call(self, inputs):
        _check_channels(self, inputs, self._channels)
        x = ops.depthwise_conv(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        return self._finish(x)

    def get_config(self) -> dict:
        return {
            **self._base_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            **self._tail_config(),
            **self._weights_config("depthwise"),
        }


class SeparableConv2D(BaseConv):
    """A depthwise 2-D convolution followed by a pointwise (1x1) one. Weights:
    `depthwise_kernel` `(kh, kw, in, depth_multiplier)`, `pointwise_kernel`
    `(1, 1, in * depth_multiplier, filters)`, then `bias` `(filters,)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.SeparableConv2D(4, 3, padding="same")
        >>> layer(np.ones((2, 5, 5, 3))).shape, layer.pointwise_kernel.shape
        ((2, 5, 5, 4), (1, 1, 3, 4))
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            2,
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
        self.depth_multiplier = _check_depth_multiplier(type(self).__name__, depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        shape = self._check_input(input_shape)
        check_fits(self, shape, self.kernel_size, self.dilation_rate, self.padding)
        channels = shape[-1]
        self.depthwise_kernel = self.add_weight(
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="depthwise_kernel",
        )
        self.pointwise_kernel = self.add_weight(
            shape=(1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
            name="pointwise_kernel",
        )
        self._add_bias(self.filters)
        self._channels = channels

    def call(self, inputs):
        _check_channels(self, inputs, self._channels)
        x = ops.separable_conv(
            inputs,
            self.depthwise_kernel,
            self.pointwise_kernel,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        return self._finish(x)

    def get_config(self) -> dict:
        return {
            **self._base_config(),
            "depth_multiplier": self.depth_multiplier,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            **self._tail_config(),
            **self._weights_config("depthwise", "pointwise"),
        }
