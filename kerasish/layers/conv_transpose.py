"""Transposed convolution layers (channels_last): Conv1DTranspose and Conv2DTranspose, one
base parameterized by rank, computing with the engine's `conv_transpose` op."""

from __future__ import annotations

from backend import ops

from .. import constraints, initializers, regularizers
from .convolutional import BaseConv, _check_channels, standardize_tuple


class _ConvTranspose(BaseConv):
    """Conv1DTranspose / Conv2DTranspose (the subclasses only set `_rank`): kernel
    `(*kernel_size, filters, in)`, then bias."""

    _rank = None

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
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
        kwargs.pop("groups", None)  # Keras 2 configs carry groups=1 here
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
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(
                owner, output_padding, self.rank, "output_padding", allow_zero=True
            )
            if any(p >= s for p, s in zip(self.output_padding, self.strides, strict=True)):
                raise ValueError(
                    f"{owner}: `output_padding` must be smaller than `strides`. Received: "
                    f"output_padding={self.output_padding}, strides={self.strides}"
                )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def build(self, input_shape):
        shape = self._check_input(input_shape)
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, self.filters, shape[-1]),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self._add_bias(self.filters)
        self._channels = shape[-1]

    def call(self, inputs):
        _check_channels(self, inputs, self._channels)
        x = ops.conv_transpose(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
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
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            **self._tail_config(),
            **self._weights_config("kernel"),
        }


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution. Weights: `kernel` `(kernel_size, filters, in)`, `bias`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Conv1DTranspose(4, 3, strides=2)(np.ones((2, 5, 3))).shape
        (2, 11, 4)
    """

    _rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution. Weights: `kernel` `(kh, kw, filters, in)`, then `bias`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
        >>> layer(np.ones((2, 5, 5, 3))).shape, layer.kernel.shape
        ((2, 10, 10, 4), (3, 3, 4, 3))
    """

    _rank = 2
