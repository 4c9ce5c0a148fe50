"""`Masking`: marks the timesteps whose features all equal `mask_value` as padding."""

from __future__ import annotations

import numbers

from backend import ops

from .layer import Layer


class Masking(Layer):
    """Masks the timesteps of a `(batch, steps, features)` input whose features all equal
    `mask_value`: the output is the input with those steps set to 0, and carries the mask
    `any(inputs != mask_value, axis=-1)` (True for the steps to use), which the layers after
    it read (docs/masking.md).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]], np.float32)
        >>> out = keras.layers.Masking(mask_value=0.0)(x)
        >>> out._mask.numpy().tolist()
        [[True, False, True]]
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise ValueError(f"Masking: `mask_value` must be a number. Received: {mask_value!r}")
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def _keep(self, inputs, keepdims: bool):
        if len(inputs.shape) < 1:
            raise ValueError(
                f"Masking '{self.name}' needs inputs with a features axis. Received: input "
                f"shape {tuple(inputs.shape)}"
            )
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs, keepdims=False)

    def call(self, inputs):
        keep = self._keep(inputs, keepdims=True)
        outputs = ops.where(keep, inputs, 0.0)
        outputs._mask = ops.squeeze(keep, -1)  # set here, so compute_mask need not run again
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}
