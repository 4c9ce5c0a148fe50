"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax."""

from __future__ import annotations

import warnings

from backend import ops

from .. import initializers
from .layer import Layer


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_non_negative(layer: str, arg: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not _is_number(value) or value < 0:
        raise ValueError(f"{layer}: `{arg}` must be a number >= 0. Received: {arg}={value!r}")


class ReLU(Layer):
    """Rectified linear unit: `max_value` above it, `x` for `threshold < x < max_value`,
    `negative_slope * (x - threshold)` below.

    Example:
        >>> import kerasish as keras
        >>> keras.layers.ReLU(max_value=2.0)([-1.0, 1.0, 3.0]).numpy().tolist()
        [0.0, 1.0, 2.0]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        _check_non_negative("ReLU", "max_value", max_value, allow_none=True)
        _check_non_negative("ReLU", "negative_slope", negative_slope)
        _check_non_negative("ReLU", "threshold", threshold)
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        x = inputs
        if self.threshold != 0:
            out = ops.where(ops.greater(x, self.threshold), x, ops.zeros_like(x))
        else:
            out = ops.relu(x)
        if self.max_value is not None:
            out = ops.minimum(out, ops.cast(self.max_value, out.dtype))
        if self.negative_slope != 0:
            out = ops.subtract(
                out, ops.multiply(self.negative_slope, ops.relu(ops.subtract(self.threshold, x)))
            )
        return out

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """`x` for `x >= 0`, `negative_slope * x` below (default slope 0.3, as Keras' layer;
    Keras 2's name for it, `alpha`, is accepted too).

    Example:
        >>> import kerasish as keras
        >>> [round(v, 2) for v in keras.layers.LeakyReLU()([-1.0, 2.0]).numpy().tolist()]
        [-0.3, 2.0]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            warnings.warn("LeakyReLU: `alpha` is deprecated; use `negative_slope`.", stacklevel=2)
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        _check_non_negative("LeakyReLU", "negative_slope", negative_slope)
        self.negative_slope = negative_slope
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Parametric ReLU: `x` for `x >= 0`, `alpha * x` below, with a learned `alpha` of
    shape `input_shape[1:]` (1 on the `shared_axes`, 1-based like the input's axes).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.PReLU(shared_axes=[1])
        >>> layer(np.ones((2, 5, 3))).shape, layer.alpha.shape
        ((2, 5, 3), (1, 3))
    """

    def __init__(
        self,
        alpha_initializer="zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = alpha_regularizer
        self.alpha_constraint = alpha_constraint
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        if shared_axes is not None and not all(
            isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in shared_axes
        ):
            raise ValueError(
                "PReLU: `shared_axes` must be ints >= 1 (axis 0 is the batch). "
                f"Received: shared_axes={shared_axes!r}"
            )
        self.shared_axes = None if shared_axes is None else list(shared_axes)
        self.supports_masking = True

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(param_shape):
                raise ValueError(
                    f"PReLU '{self.name}': shared axis {axis} is out of range for inputs of "
                    f"shape {tuple(input_shape)}. Received: shared_axes={self.shared_axes}"
                )
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"PReLU '{self.name}': non-batch dims must be known (or shared). Received: "
                f"input_shape={tuple(input_shape)}"
            )
        self.alpha = self.add_weight(
            shape=param_shape,
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            name="alpha",
        )

    def call(self, inputs):
        return ops.subtract(
            ops.relu(inputs), ops.multiply(self.alpha, ops.relu(ops.negative(inputs)))
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": None,
            "alpha_constraint": None,
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` below.

    Example:
        >>> import kerasish as keras
        >>> [round(v, 4) for v in keras.layers.ELU()([-1.0, 2.0]).numpy().tolist()]
        [-0.6321, 2.0]
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if not _is_number(alpha):
            raise ValueError(f"ELU: `alpha` must be a number. Received: alpha={alpha!r}")
        self.alpha = alpha
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.elu(inputs, alpha=self.alpha)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over `axis` (an int or a tuple of ints). With a `mask` (True: keep),
    masked positions get ~0 probability: as Keras, -1e9 is added to them before the
    softmax and the output is multiplied by the mask (a fully masked row gives 0s).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> x = np.array([[1.0, 1.0, 5.0]], "float32")
        >>> keras.layers.Softmax()(x, mask=np.array([[True, True, False]])).numpy().tolist()
        [[0.5, 0.5, 0.0]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, list):
            axis = tuple(axis)
        valid_int = isinstance(axis, int) and not isinstance(axis, bool)
        if not valid_int and not (
            isinstance(axis, tuple) and axis and all(isinstance(a, int) for a in axis)
        ):
            raise ValueError(f"Softmax: `axis` must be an int or ints. Received: axis={axis!r}")
        self.axis = axis
        self.supports_masking = True
        self.built = True

    def call(self, inputs, mask=None):
        x = inputs
        if mask is not None:
            keep = ops.cast(mask, x.dtype)
            large_negative = -3e4 if x.dtype == "float16" else -1e9
            x = ops.add(x, ops.multiply(ops.subtract(1.0, keep), large_negative))
        if isinstance(self.axis, int):
            out = ops.softmax(x, axis=self.axis)
        else:
            out = ops.exp(ops.subtract(x, ops.logsumexp(x, axis=self.axis, keepdims=True)))
        if mask is not None:
            out = ops.multiply(out, keep)
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
