"""`StackedRNNCells`: several cells acting as one, each feeding the next."""

from __future__ import annotations

from backend import nest, ops

from ...saving import serialization
from ..layer import Layer
from .common import as_list, build_sublayer, plain_config


def _output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    return size if size is not None else nest.flatten(as_list(cell.state_size))[0]


class StackedRNNCells(Layer):
    """A stack of RNN cells used as one cell: at each step, each cell's output is the next
    cell's input. Its states are one list per cell; its output is the last cell's.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> cells = [keras.layers.LSTMCell(8), keras.layers.GRUCell(4)]
        >>> layer = keras.layers.RNN(keras.layers.StackedRNNCells(cells), return_state=True)
        >>> output, (h1, c1), (h2,) = layer(np.ones((2, 5, 3)))
        >>> output.shape, c1.shape, h2.shape
        ((2, 4), (2, 8), (2, 4))
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(
                f"StackedRNNCells: `cells` must be a non-empty list of cells. Received: "
                f"cells={cells!r}"
            )
        cells = list(cells)
        for cell in cells:
            if not isinstance(cell, Layer) or getattr(cell, "state_size", None) is None:
                raise ValueError(
                    "StackedRNNCells: every cell must be a Layer with `call` and `state_size`. "
                    f"Received: cells={cells!r}"
                )
        self.cells = cells

    @property
    def state_size(self) -> list:
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self) -> int:
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None) -> list:
        states = []
        for cell in self.cells:
            get = getattr(cell, "get_initial_state", None)
            if get is not None:
                states.append(as_list(get(batch_size=batch_size)))
            else:
                sizes = nest.flatten(as_list(cell.state_size))
                states.append([ops.zeros((batch_size, s), dtype=self.dtype) for s in sizes])
        return states

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            build_sublayer(cell, shape)
            shape = (shape[0], _output_size(cell))

    def call(self, inputs, states, training=None):
        new_states = []
        for cell, cell_states in zip(self.cells, states, strict=True):
            kwargs = {"training": training} if cell._call_takes_training else {}
            inputs, cell_new = cell.call(inputs, as_list(cell_states), **kwargs)
            new_states.append(as_list(cell_new))
        return inputs, new_states

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "cells": [serialization.serialize(cell) for cell in self.cells],
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = plain_config(config)
        cells = [serialization.deserialize(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)
