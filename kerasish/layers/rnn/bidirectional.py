"""`Bidirectional`: a recurrent layer run forwards and backwards, outputs merged."""

from __future__ import annotations

from backend import nest, ops

from ...saving import serialization
from ..layer import Layer
from .common import build_sublayer, plain_config

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _classes_in(layer: Layer) -> dict:
    """The classes of a layer and its sublayers, so a copy made through its config finds
    user classes (a custom cell) without registration."""
    found = {type(layer).__name__: type(layer)}
    for sub in layer._layers:
        found.update(_classes_in(sub))
    return found


def _copy(layer: Layer, name: str, **changes) -> Layer:
    config = serialization.serialize(layer)
    config["config"] = {**config["config"], "name": name, **changes}
    return serialization.deserialize(config, _classes_in(layer))


def _renamed(prefix: str, name: str) -> str:
    return prefix + name.removeprefix(prefix)


class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and a copy of it backwards, and
    merges their outputs, as `keras.layers.Bidirectional`.

    Args:
        layer: an RNN layer (LSTM, GRU, SimpleRNN, RNN, or a layer with `go_backwards`,
            `return_sequences` and `return_state`). It is copied through its config into
            `forward_layer`; its own weights are not used.
        merge_mode: "concat" (the default), "sum", "mul", "ave", or None for a list
            `[forward_output, backward_output]`.
        backward_layer: the backward layer, else a copy of `layer` with `go_backwards=True`.
            It must agree with `layer` on `stateful`, `return_sequences` and `return_state`
            and differ on `go_backwards`.

    With `return_sequences`, the backward outputs are flipped back to time order before the
    merge, and masked steps output zeros in both directions. With `return_state`, the forward
    layer's final states follow the output(s), then the backward layer's. An `initial_state`
    list gives its first half to the forward layer, its second half to the backward one.
    Weights: the forward layer's, then the backward layer's.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
        >>> layer(np.ones((2, 5, 3))).shape, len(layer.weights)
        ((2, 5, 8), 6)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        for name, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is None and name == "backward_layer":
                continue
            if not isinstance(value, Layer) or not all(
                hasattr(value, a) for a in ("go_backwards", "return_sequences", "return_state")
            ):
                raise ValueError(
                    f"Bidirectional: `{name}` must be a recurrent Layer (with `go_backwards`, "
                    f"`return_sequences` and `return_state`). Received: {name}={value!r}"
                )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Bidirectional: `merge_mode` must be one of {MERGE_MODES}. Received: "
                f"merge_mode={merge_mode!r}"
            )
        super().__init__(**kwargs)
        self.forward_layer = _copy(layer, _renamed("forward_", layer.name))
        if backward_layer is None:
            backward_layer = _copy(layer, _renamed("backward_", layer.name), go_backwards=True)
        self.backward_layer = backward_layer
        self._check_pair()
        for sub in (self.forward_layer, self.backward_layer):
            if hasattr(sub, "zero_output_for_mask"):
                # As Keras: masked steps output zeros, so the flipped outputs line up.
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self._initial_weights = weights

    def _check_pair(self) -> None:
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "Bidirectional: the forward and backward layers must differ in `go_backwards`. "
                f"Received: go_backwards={forward.go_backwards} for both"
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            a, b = getattr(forward, attribute, None), getattr(backward, attribute, None)
            if a != b:
                raise ValueError(
                    f"Bidirectional: the forward and backward layers must have the same "
                    f"`{attribute}`. Received: {a} (forward) and {b} (backward)"
                )

    def build(self, sequences_shape, initial_state_shape=None):
        build_sublayer(self.forward_layer, sequences_shape)
        build_sublayer(self.backward_layer, sequences_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    @property
    def states(self):
        forward, backward = self.forward_layer.states, self.backward_layer.states
        return tuple(forward + backward) if forward and backward else None

    def reset_state(self) -> None:
        if not self.stateful:
            raise AttributeError(f"Bidirectional '{self.name}' is not stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        self.reset_state()

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return ops.add(y, y_rev)
        if self.merge_mode == "ave":
            return ops.divide(ops.add(y, y_rev), 2.0)
        if self.merge_mode == "mul":
            return ops.multiply(y, y_rev)
        return [y, y_rev]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_kwargs, backward_kwargs = {}, {}
        if initial_state is not None:
            states = nest.flatten(initial_state)
            if len(states) % 2:
                raise ValueError(
                    f"Bidirectional '{self.name}': `initial_state` must hold the forward "
                    f"layer's states then the backward layer's (an even count). Received: "
                    f"{len(states)} tensor(s)"
                )
            half = len(states) // 2
            forward_kwargs["initial_state"] = states[:half]
            backward_kwargs["initial_state"] = states[half:]
        for kwargs, sub in (
            (forward_kwargs, self.forward_layer),
            (backward_kwargs, self.backward_layer),
        ):
            if sub._call_takes_mask:
                kwargs["mask"] = mask
        y = self.forward_layer(sequences, training=training, **forward_kwargs)
        y_rev = self.backward_layer(sequences, training=training, **backward_kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        output = self._merge(y, y_rev)
        if not self.return_state:
            return output
        return (output if self.merge_mode is None else [output]) + states

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        masks = [output_mask] * (2 if self.merge_mode is None else 1)
        if self.return_state:
            masks += [None] * (2 * len(self.forward_layer._flat_sizes()))
        return masks if len(masks) > 1 else masks[0]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialization.serialize(self.forward_layer),
            "backward_layer": serialization.serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = plain_config(config)
        layer = serialization.deserialize(config.pop("layer"), custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = serialization.deserialize(backward, custom_objects)
        return cls(layer, backward_layer=backward, **config)
