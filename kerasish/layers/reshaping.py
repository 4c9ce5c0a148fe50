"""Reshaping layers: Reshape, Permute, RepeatVector (the batch axis is never touched)."""

from __future__ import annotations

import math

from backend import ops

from .layer import Layer


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch axis stays); one entry may be -1,
    inferred from the sample's size.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Reshape((3, -1))(np.ones((2, 12))).shape
        (2, 3, 4)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(target_shape, (tuple, list))
            or not all(_is_int(d) and (d > 0 or d == -1) for d in target_shape)
            or list(target_shape).count(-1) > 1
        ):
            raise ValueError(
                "Reshape: `target_shape` must be a tuple of positive ints, with at most one "
                f"-1. Received: target_shape={target_shape!r}"
            )
        self.target_shape = tuple(target_shape)
        self.built = True

    def _resolved_target(self, input_shape) -> tuple:
        sample = input_shape[1:]
        if any(d is None for d in sample):
            return self.target_shape  # only a -1-free target can be checked at run time
        size = math.prod(sample)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            fits = known > 0 and size % known == 0
            target = tuple(size // known if d == -1 else d for d in self.target_shape)
        else:
            fits, target = known == size, self.target_shape
        if not fits:
            raise ValueError(
                f"Reshape '{self.name}': cannot reshape samples of shape {tuple(sample)} "
                f"({size} values) to target_shape={self.target_shape}."
            )
        return target

    def call(self, inputs):
        target = self._resolved_target(tuple(inputs.shape))
        if -1 in target:
            batch = inputs.shape[0]
            if batch is None:
                raise ValueError(
                    f"Reshape '{self.name}': a -1 in target_shape needs known sample dims. "
                    f"Received: input shape {tuple(inputs.shape)}"
                )
            return ops.reshape(inputs, (batch, *target))
        return ops.reshape(inputs, (-1, *target))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the non-batch axes: `dims` is 1-based (`(2, 1)` swaps axes 1 and 2).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.Permute((2, 1))(np.ones((4, 10, 64))).shape
        (4, 64, 10)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (tuple, list)) or sorted(
            d if _is_int(d) else -1 for d in dims
        ) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Permute: `dims` must be a permutation of 1..n (the non-batch axes, "
                f"1-based). Received: dims={dims!r}"
            )
        self.dims = tuple(dims)

    def build(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(
                f"Permute '{self.name}': dims={self.dims} needs inputs of rank "
                f"{len(self.dims) + 1}. Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        return ops.transpose(inputs, (0, *self.dims))

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> keras.layers.RepeatVector(3)(np.ones((2, 5))).shape
        (2, 3, 5)
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n) or n <= 0:
            raise ValueError(f"RepeatVector: `n` must be a positive int. Received: n={n!r}")
        self.n = n

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"RepeatVector '{self.name}' takes 2D inputs (batch, features). Received: "
                f"input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}
