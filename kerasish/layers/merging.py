"""Merging layers: combine a list of inputs (Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, Dot)."""

from __future__ import annotations

from backend import config, ops

from .arguments import check_int_axis
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
        """As Keras: a step is kept when any input keeps it (the OR of the masks); no mask
        when some input has none."""
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if len(masks) != len(inputs) or any(m is None for m in masks):
            return None
        out = masks[0]
        for m in masks[1:]:
            out = ops.logical_or(out, m)
        return out


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
        self.axis = check_int_axis("Concatenate", "axis", axis)

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """As Keras: each input's mask (all True for an unmasked input) widened to the
        input's shape, joined along `axis`, then any() over the last axis."""
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if len(masks) != len(inputs) or all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks, strict=True):
            if m is None:
                m = ops.ones_like(x, dtype="bool")
            elif len(m.shape) < len(x.shape):
                m = ops.logical_or(ops.expand_dims(m, -1), ops.zeros_like(x, dtype="bool"))
            full.append(m)
        return ops.any(ops.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two inputs along `axes`, per sample (Keras' `batch_dot`).

    `axes` is an int (the same axis of both) or a pair; axis 0, the batch, is not allowed.
    The output has the first input's remaining axes, then the second's; two 2D inputs give
    `(batch, 1)`. `normalize=True` L2-normalizes both along `axes` first (cosine proximity).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> x, y = np.ones((2, 3, 4)), np.ones((2, 5, 4))
        >>> keras.layers.Dot(axes=(2, 2))([x, y]).shape
        (2, 3, 5)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, list):
            axes = tuple(axes)
        is_int = isinstance(axes, int) and not isinstance(axes, bool)
        if not is_int and not (
            isinstance(axes, tuple)
            and len(axes) == 2
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
        ):
            raise ValueError(f"Dot: `axes` must be an int or two ints. Received: axes={axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _pair(self, ranks) -> tuple:
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return tuple(a % r if -r <= a < r else None for a, r in zip(axes, ranks, strict=True))

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                f"Dot '{self.name}' takes exactly 2 inputs. Received: {len(input_shape)}"
            )
        shape1, shape2 = (tuple(s) for s in input_shape)
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(
                f"Dot '{self.name}' needs inputs of rank >= 2 (batch first). Received: "
                f"input_shape={[shape1, shape2]}"
            )
        axes = self._pair((len(shape1), len(shape2)))
        if None in axes or 0 in axes:
            raise ValueError(
                f"Dot '{self.name}': axes must be non-batch axes of inputs of shapes {shape1} "
                f"and {shape2}. Received: axes={self.axes}"
            )
        d1, d2 = shape1[axes[0]], shape2[axes[1]]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(
                f"Dot '{self.name}': incompatible sizes {d1} (axis {axes[0]}) and {d2} "
                f"(axis {axes[1]}) for inputs of shapes {shape1} and {shape2}."
            )

    def call(self, inputs):
        x, y = inputs
        ndim_x, ndim_y = len(x.shape), len(y.shape)
        axis_x, axis_y = self._pair((ndim_x, ndim_y))
        if self.normalize:
            x, y = _l2_normalize(x, axis_x), _l2_normalize(y, axis_y)
        letters = "abcdefghijklmnopqrstuvwxyz"
        x_sub = ["z"] + [letters[i] for i in range(ndim_x - 1)]
        y_sub = ["z"] + [letters[ndim_x - 1 + i] for i in range(ndim_y - 1)]
        y_sub[axis_y] = x_sub[axis_x] = "y"
        out_sub = ["z"] + [c for c in x_sub[1:] + y_sub[1:] if c != "y"]
        out = ops.einsum(f"{''.join(x_sub)},{''.join(y_sub)}->{''.join(out_sub)}", x, y)
        if ndim_x == 2 and ndim_y == 2:
            out = ops.expand_dims(out, 1)  # as batch_dot: (batch, 1)
        return out

    def compute_mask(self, inputs, mask=None):
        return None  # as Keras: the product has no steps left to mask

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis: int):
    """`x / max(||x||, epsilon)` along `axis` (Keras' `ops.normalize`)."""
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    eps = config.epsilon()
    return ops.divide(x, ops.sqrt(ops.maximum(square_sum, eps * eps)))


# ---- the functional forms: each makes the layer and calls it on `inputs` -----------------------


def add(inputs, **kwargs):
    """The elementwise sum of `inputs`: `Add(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> a, b = keras.Input((3,)), keras.Input((3,))
        >>> keras.layers.add([a, b]).shape
        (None, 3)
        >>> keras.layers.add([np.ones((1, 2)), np.ones((1, 2))]).numpy().tolist()
        [[2.0, 2.0]]
    """
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`inputs[0] - inputs[1]`: `Subtract(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.subtract([np.full((1, 2), 3.0), np.ones((1, 2))]).numpy().tolist()
        [[2.0, 2.0]]
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """The elementwise product of `inputs`: `Multiply(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.multiply([np.full((1, 2), 3.0), np.full((1, 2), 2.0)]).numpy().tolist()
        [[6.0, 6.0]]
    """
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """The elementwise mean of `inputs`: `Average(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.average([np.zeros((1, 2)), np.full((1, 2), 4.0)]).numpy().tolist()
        [[2.0, 2.0]]
    """
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """The elementwise maximum of `inputs`: `Maximum(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.maximum([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])]).numpy().tolist()
        [[3.0, 5.0]]
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """The elementwise minimum of `inputs`: `Minimum(**kwargs)(inputs)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.minimum([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])]).numpy().tolist()
        [[1.0, 2.0]]
    """
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """`inputs` joined along `axis`: `Concatenate(axis=axis, **kwargs)(inputs)`.

    Example:
        >>> import kerasish as keras
        >>> a, b = keras.Input((4,)), keras.Input((3,))
        >>> merged = keras.layers.concatenate([a, b])
        >>> merged.shape
        (None, 7)
        >>> model = keras.Model([a, b], keras.layers.Dense(2)(merged))
        >>> len(model.layers)  # two inputs, the Concatenate, the Dense
        4
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """The per-sample dot product of two inputs along `axes`:
    `Dot(axes=axes, normalize=normalize, **kwargs)(inputs)`; `normalize=True` gives the
    cosine similarity.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> x = np.array([[1.0, 2.0]]); y = np.array([[3.0, 4.0]])
        >>> keras.layers.dot([x, y], axes=1).numpy().tolist()
        [[11.0]]
        >>> round(float(keras.layers.dot([x, x], axes=1, normalize=True)[0, 0]), 6)
        1.0
    """
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
