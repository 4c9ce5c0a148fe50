"""Merging layers: combine a list of inputs (Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate)."""

from __future__ import annotations

from backend import ops

from .layer import Layer


class Merge(Layer):
    """Base: `call(inputs)` on a list of at least two tensors of compatible shapes."""

    min_inputs = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not isinstance(input_shape[0], (list, tuple))
        ):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' must be called on a list of inputs. "
                f"Received: input_shape={input_shape}"
            )
        if len(input_shape) < self.min_inputs:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs at least {self.min_inputs} inputs. "
                f"Received: {len(input_shape)}"
            )

    def call(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = self._merge(out, x)
        return out

    def compute_mask(self, inputs, mask=None):
        return None


class Add(Merge):
    """Elementwise sum of the inputs.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Add()([np.ones(2), np.ones(2)]).numpy().tolist()
        [2.0, 2.0]
    """

    def _merge(self, a, b):
        return ops.add(a, b)


class Subtract(Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                f"Subtract '{self.name}' takes exactly 2 inputs. Received: {len(input_shape)}"
            )

    def _merge(self, a, b):
        return ops.subtract(a, b)


class Multiply(Merge):
    """Elementwise product of the inputs."""

    def _merge(self, a, b):
        return ops.multiply(a, b)


class Maximum(Merge):
    """Elementwise maximum of the inputs."""

    def _merge(self, a, b):
        return ops.maximum(a, b)


class Minimum(Merge):
    """Elementwise minimum of the inputs."""

    def _merge(self, a, b):
        return ops.minimum(a, b)


class Average(Merge):
    """Elementwise mean of the inputs."""

    def call(self, inputs):
        return ops.divide(Add.call(self, inputs), float(len(inputs)))

    def _merge(self, a, b):
        return ops.add(a, b)


class Concatenate(Merge):
    """Joins the inputs along `axis` (default -1).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Concatenate()([np.ones((2, 3)), np.ones((2, 1))]).shape
        (2, 4)
    """

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
