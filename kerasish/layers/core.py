"""Core layers: Input/InputLayer, Dense, Activation, Dropout, Flatten, Identity."""

from __future__ import annotations

import math

import numpy as np

from backend import ops
from backend import random as engine_random
from backend.tensor import SymbolicTensor

from .. import activations, constraints, initializers, regularizers
from .arguments import check_bool
from .layer import Layer


class InputLayer(Layer):
    """The layer behind `Input`: it holds the symbolic tensor a model starts from.

    Example:
        >>> import kerasish as keras
        >>> keras.layers.InputLayer(shape=(3,)).output.shape
        (None, 3)
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        batch_shape=None,
        name=None,
        sparse=None,
        **kwargs,
    ):
        batch_input_shape = kwargs.pop("batch_input_shape", None)  # Keras 2 configs
        kwargs.pop("input_shape", None)
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            batch_shape = batch_input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer needs `shape` or `batch_shape`. Received neither.")
            if isinstance(shape, int):
                shape = (shape,)
            _check_dims("shape", shape)
            _check_dims("batch_size", (batch_size,))
            batch_shape = (batch_size, *shape)
        _check_dims("batch_shape", batch_shape)
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.batch_shape = batch_shape
        self.output = SymbolicTensor(batch_shape, self.dtype, name=self.name)
        self.output._history = (self, 0, 0)
        self.built = True

    def get_config(self) -> dict:
        return {
            "batch_shape": self.batch_shape,
            "dtype": self.dtype,
            "name": self.name,
            "sparse": False,
        }


def _check_dims(name: str, dims) -> None:
    """A ValueError naming `name` unless `dims` is a tuple or list of ints >= 0 (or None)."""
    ok = isinstance(dims, (tuple, list)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0)
        for d in dims
    )
    if not ok:
        shown = dims[0] if name == "batch_size" else dims
        wanted = (
            "an int >= 0 or None"
            if name == "batch_size"
            else "a tuple of ints >= 0 (None for an unknown dim)"
        )
        raise ValueError(f"InputLayer: `{name}` must be {wanted}. Received: {name}={shown!r}")


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **kwargs):
    """A symbolic input tensor to build a functional model from, as `keras.Input`.

    Example:
        >>> import kerasish as keras
        >>> x = keras.Input(shape=(784,))
        >>> x.shape, x.dtype
        ((None, 784), 'float32')
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        name=name,
        batch_shape=batch_shape,
        **kwargs,
    )
    return layer.output


class Dense(Layer):
    """`activation(inputs @ kernel + bias)` over the last axis; N-D inputs keep their other
    axes. Weights: `kernel` `(input_dim, units)`, then `bias` `(units,)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Dense(4, activation="relu")
        >>> layer(np.ones((2, 3))).shape, layer.kernel.shape
        ((2, 4), (3, 4))
    """

    def __init__(
        self,
        units,
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
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"Dense: `units` must be a positive integer. Received: units={units!r}"
            )
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = check_bool("Dense", "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, tuple):
            raise TypeError(
                f"Dense '{self.name}' takes one tensor. Received: inputs of structure "
                f"{type(input_shape).__name__} {input_shape}"
            )
        if not input_shape:
            raise ValueError(
                f"Dense '{self.name}' needs inputs of rank >= 1 (..., features). Received: "
                f"input_shape={input_shape}"
            )
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Dense '{self.name}': the last dim of its input must be known. Received: "
                f"input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        self._input_dim = input_dim

    def call(self, inputs):
        if inputs.shape[-1] != self._input_dim:
            raise ValueError(
                f"Dense '{self.name}' expects inputs with last dim {self._input_dim}. "
                f"Received: input shape {tuple(inputs.shape)}"
            )
        x = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        x = self.activation(x)
        if self.activity_regularizer is not None:
            # As Keras: the regularization of the outputs, averaged over the batch.
            batch = x.shape[0] or 1  # unknown only while building a functional graph
            self.add_loss(ops.divide(self.activity_regularizer(x), float(batch)))
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": _serialize_or_none(regularizers, self.bias_regularizer),
            "activity_regularizer": _serialize_or_none(regularizers, self.activity_regularizer),
            "kernel_constraint": _serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": _serialize_or_none(constraints, self.bias_constraint),
        }


class Activation(Layer):
    """Applies an activation function.

    Example:
        >>> import kerasish as keras
        >>> keras.layers.Activation("relu")([-1.0, 1.0]).numpy().tolist()
        [0.0, 1.0]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Sets a fraction `rate` of inputs to 0 in training, scaling the rest by
    `1 / (1 - rate)`; the identity in inference.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Dropout(0.5)(np.ones(4)).numpy().tolist()  # inference by default
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: `rate` must be in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        if noise_shape is not None and not isinstance(noise_shape, (tuple, list)):
            raise TypeError(
                "Dropout: `noise_shape` must be a tuple or list (None for a dim of the input). "
                f"Received: noise_shape={noise_shape!r}"
            )
        self.noise_shape = noise_shape
        self.seed = seed
        self._seed_generator = engine_random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        if training and self.rate > 0:
            return engine_random.dropout(
                inputs, self.rate, noise_shape=self.noise_shape, seed=self._seed_generator
            )
        return inputs

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }


class Flatten(Layer):
    """Flattens all axes but the batch axis.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Flatten()(np.ones((2, 3, 4))).shape
        (2, 12)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "Flatten: only data_format='channels_last' is supported. Received: "
                f"data_format={data_format!r}"
            )
        self.built = True

    def call(self, inputs):
        rest = inputs.shape[1:]
        if any(d is None for d in rest):
            raise ValueError(
                f"Flatten '{self.name}': non-batch dims must be known. Received: {inputs.shape}"
            )
        return ops.reshape(inputs, (-1, math.prod(rest)))

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": "channels_last"}


class Identity(Layer):
    """Returns its input unchanged."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs


def _serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)
