"""`TimeDistributed`: a layer applied to every time step of a sequence."""

from __future__ import annotations

from backend import ops
from backend.tensor import SymbolicTensor

from ...saving import serialization
from ..layer import Layer
from .common import build_sublayer, building_functional_graph, plain_config


class TimeDistributed(Layer):
    """Applies `layer` to every time slice of inputs `(batch, timesteps, ...)`, as
    `keras.layers.TimeDistributed`: the same weights for every step.

    The time axis is folded into the batch axis, so `layer` runs once on
    `(batch * timesteps, ...)`. (Keras calls it once per step instead; the results agree
    for layers that treat samples independently. A BatchNormalization inside computes its
    training statistics over all steps at once here, per step in Keras.) An input mask
    `(batch, timesteps)` is passed on, folded the same way, to a layer whose `call` takes a
    `mask`, and is the output's mask.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.TimeDistributed(keras.layers.Dense(4))
        >>> layer(np.ones((2, 5, 3))).shape, layer.layer.kernel.shape
        ((2, 5, 4), (3, 4))
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"TimeDistributed: `layer` must be a Layer instance. Received: layer={layer!r}"
            )
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _check_shape(self, shape: tuple) -> None:
        if len(shape) < 3 or any(d is None for d in shape[2:]):
            raise ValueError(
                f"TimeDistributed '{self.name}' expects inputs (batch, timesteps, ...) of rank "
                f">= 3 with known dims after the time axis. Received: input shape {shape}"
            )

    def build(self, input_shape):
        shape = tuple(input_shape)
        self._check_shape(shape)
        build_sublayer(self.layer, (shape[0], *shape[2:]))

    def _folded_mask(self, mask, shape: tuple):
        mask_shape = tuple(mask.shape)
        if len(mask_shape) < 2 or any(
            a is not None and b is not None and a != b
            for a, b in zip(mask_shape, shape[:2], strict=False)
        ):
            raise ValueError(
                f"TimeDistributed '{self.name}': the mask must start with (batch, timesteps) = "
                f"{shape[:2]}. Received: mask shape {mask_shape}"
            )
        return ops.reshape(mask, (-1, *mask_shape[2:]))

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._check_shape(shape)
        kwargs = {}
        if mask is not None and self.layer._call_takes_mask:
            kwargs["mask"] = self._folded_mask(ops.convert_to_tensor(mask), shape)
        folded = self.layer(ops.reshape(inputs, (-1, *shape[2:])), training=training, **kwargs)
        if not hasattr(folded, "shape"):
            raise ValueError(
                f"TimeDistributed '{self.name}' supports layers with one output. Received: "
                f"{type(folded).__name__} from {type(self.layer).__name__}"
            )
        batch, steps, rest = shape[0], shape[1], tuple(folded.shape[1:])
        if steps is not None:
            return ops.reshape(folded, (-1, steps, *rest))
        if batch is not None:
            return ops.reshape(folded, (batch, -1, *rest))
        if building_functional_graph(inputs):
            return SymbolicTensor((None, None, *rest), folded.dtype)  # shapes only, as built
        raise ValueError(
            f"TimeDistributed '{self.name}' needs the batch size or the number of time steps "
            f"to be known when it runs. Received: input shape {shape}"
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": serialization.serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = plain_config(config)
        layer = serialization.deserialize(config.pop("layer"), custom_objects)
        return cls(layer, **config)
