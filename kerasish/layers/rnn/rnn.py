"""`RNN`: runs a cell over the time steps of a sequence, as `keras.layers.RNN`.

The loop is unrolled when the layer is called, over the concrete number of time steps (a
Python loop of cell steps written with ops, so it is traced, compiled and differentiated
like any other graph). A built-in cell whose recurrence is not overridden computes the
whole sequence at once (`BaseRNNCell.fused_sequence`); any other cell (`StackedRNNCells`,
a user's cell) is called step by step. Both follow Keras' JAX backend for masks: a masked
step carries the state through and outputs the previous output (zeros with
`zero_output_for_mask`); `go_backwards` returns the outputs in processing order.
"""

from __future__ import annotations

import numpy as np

from backend import nest, ops
from backend.dtypes import is_float
from backend.tensor import SymbolicTensor
from backend.variables import Variable

from ... import regularizers
from ...saving import serialization
from ..arguments import check_bool
from ..convolutional import serialize_or_none
from ..layer import Layer, layer_path
from .cell import BaseRNNCell
from .common import as_list, build_sublayer, building_functional_graph, plain_config
from .stacked_rnn_cells import StackedRNNCells
from .time_loop import unrolled_loop


def reset_dropout_masks(cell) -> None:
    """Forgets the dropout masks a cell (or a stack of cells) drew during one call."""
    if isinstance(cell, BaseRNNCell):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
    for inner in getattr(cell, "cells", None) or []:
        reset_dropout_masks(inner)


class RNN(Layer):
    """Runs an RNN cell over a sequence `(batch, timesteps, ...)`, as `keras.layers.RNN`.

    Args:
        cell: a cell, or a list of cells (stacked with `StackedRNNCells`). A cell is a Layer
            with `state_size` (an int or a list of ints, one per state), optionally
            `output_size`, a `call(inputs, states[, training])` returning
            `(output, new_states)`, and optionally `get_initial_state(batch_size)`.
        return_sequences: return the output of every step `(batch, timesteps, units)`,
            else only the last `(batch, units)`.
        return_state: also return the final states: `[output, *states]`.
        go_backwards: process the sequence from its end; the returned sequence is in that
            (reversed) order.
        stateful: keep the final states in non-trainable Variables and start the next call
            (the next batch) from them; needs a fixed batch size. `reset_state()` zeros them.
        unroll: accepted for Keras compatibility; the loop is always unrolled.
        zero_output_for_mask: output zeros at masked steps instead of the previous output.

    Call arguments: `sequences`, `initial_state` (a list of tensors, one per state),
    `mask` (bool `(batch, timesteps)`, usually from a Masking or Embedding layer before),
    `training` (passed to the cell: dropout).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.RNN(keras.layers.SimpleRNNCell(4), return_sequences=True)
        >>> layer(np.ones((2, 5, 3))).shape
        (2, 5, 4)
    """

    _exact_rank = None  # the built-in layers take exactly (batch, timesteps, features)

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        activity_regularizer=None,
        **kwargs,
    ):
        if kwargs.pop("time_major", False):
            raise ValueError(f"{type(self).__name__}: only time_major=False is supported.")
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not isinstance(cell, Layer):
            raise TypeError(
                f"{type(self).__name__}: `cell` must be a Layer with `call` and `state_size` "
                f"(or a list of them). Received: cell={cell!r}"
            )
        _check_state_size(type(self).__name__, cell)
        super().__init__(**kwargs)
        self.cell = cell
        owner = type(self).__name__
        self.return_sequences = check_bool(owner, "return_sequences", return_sequences)
        self.return_state = check_bool(owner, "return_state", return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.supports_masking = True
        self.states = None
        self._step_shape = None

    # ---- states ------------------------------------------------------------------------------

    @property
    def state_size(self) -> list:
        return as_list(self.cell.state_size)

    def _state_template(self) -> list:
        """The nesting of the states: one list of sizes per cell of a stack, else flat."""
        if isinstance(self.cell, StackedRNNCells):
            return [as_list(c.state_size) for c in self.cell.cells]
        return as_list(self.cell.state_size)

    def _flat_sizes(self) -> list:
        return [int(s) for s in nest.flatten(self._state_template())]

    def _describe(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def get_initial_state(self, batch_size) -> list:
        """The states a call starts from without `initial_state`: the cell's
        `get_initial_state`, or zeros `(batch_size, size)` for each state."""
        get = getattr(self.cell, "get_initial_state", None)
        if get is not None:
            return as_list(get(batch_size=batch_size))
        return [ops.zeros((batch_size, size), dtype=self.dtype) for size in self._flat_sizes()]

    def reset_state(self) -> None:
        """Sets the states of a stateful layer back to zeros."""
        for variable in self.states or []:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    def reset_states(self, states=None) -> None:
        """`reset_state()`, or with `states` (arrays, one per state) sets them to those."""
        if states is None:
            self.reset_state()
            return
        if not self.states:
            raise ValueError(f"{self._describe()} is not stateful (or not built yet).")
        values = nest.flatten(states)
        if len(values) != len(self.states):
            raise ValueError(
                f"{self._describe()} has {len(self.states)} state(s). Received: "
                f"{len(values)} value(s)"
            )
        for variable, value in zip(self.states, values, strict=True):
            variable.assign(np.asarray(value))

    def _create_state_variables(self, batch_size) -> None:
        if batch_size is None:
            raise ValueError(
                f"{self._describe()}: a stateful RNN needs a fixed batch size: give the "
                "model's Input a `batch_size` (or `batch_shape`). Received: batch size None"
            )
        self.states = []
        for size in self._flat_sizes():
            variable = Variable(
                np.zeros((batch_size, size)), dtype=self.dtype, trainable=False, name="rnn_state"
            )
            variable.path = f"{self.name}/rnn_state"
            self.states.append(variable)

    # ---- building ----------------------------------------------------------------------------

    def _check_rank(self, shape: tuple) -> None:
        rank = len(shape)
        if (self._exact_rank is not None and rank != self._exact_rank) or rank < 3:
            raise ValueError(
                f"{self._describe()} expects inputs of shape (batch, timesteps, features)"
                f"{'' if self._exact_rank else ' (or more dims)'}. Received: input shape "
                f"{shape}"
            )

    def build(self, sequences_shape, initial_state_shape=None):
        if (
            isinstance(sequences_shape, list)
            and sequences_shape
            and isinstance(sequences_shape[0], (list, tuple))
        ):
            sequences_shape = sequences_shape[0]  # a Keras 2 style [sequences, *states] input
        shape = tuple(sequences_shape)
        self._check_rank(shape)
        self._step_shape = (shape[0], *shape[2:])
        build_sublayer(self.cell, self._step_shape)
        if self.stateful and self.states is None:
            self._create_state_variables(shape[0])

    # ---- calling -----------------------------------------------------------------------------

    def _check_input(self, sequences) -> None:
        shape = tuple(sequences.shape)
        self._check_rank(shape)
        built = self._step_shape[1:] if self._step_shape else None
        if built is not None and any(
            b is not None and s is not None and b != s
            for b, s in zip(built, shape[2:], strict=False)
        ):
            raise ValueError(
                f"{self._describe()} was built for inputs (batch, timesteps, "
                f"{', '.join(map(str, built))}). Received: input shape {shape}"
            )

    def _as_state_tensor(self, value):
        if isinstance(value, (SymbolicTensor, Variable)):
            return value
        tensor = ops.convert_to_tensor(value)
        if is_float(tensor.dtype) and tensor.dtype != self.dtype:
            tensor = ops.cast(tensor, self.dtype)
        return tensor

    def _check_states(self, states: list, batch, what: str) -> None:
        sizes = self._flat_sizes()
        expected = [(batch, size) for size in sizes]
        received = [tuple(s.shape) for s in states]
        ok = len(states) == len(sizes) and all(
            len(r) == 2 and r[1] == e[1] and (r[0] is None or batch is None or r[0] == batch)
            for r, e in zip(received, expected, strict=True)
        )
        if not ok:
            raise ValueError(
                f"{self._describe()}: {what} must be {len(sizes)} tensor(s) of shapes "
                f"{expected}. Received: {len(states)} tensor(s) of shapes {received}"
            )

    def _initial_states(self, sequences, initial_state) -> list:
        batch = sequences.shape[0]
        if initial_state is not None:
            states = [self._as_state_tensor(s) for s in nest.flatten(initial_state)]
            self._check_states(states, batch, "`initial_state`")
            return states
        if self.stateful:
            if batch is not None and batch != self.states[0].shape[0]:
                raise ValueError(
                    f"{self._describe()} is stateful with batch size "
                    f"{self.states[0].shape[0]}; every batch must have that size. "
                    f"Received: input shape {tuple(sequences.shape)}"
                )
            return list(self.states)
        if batch is not None and hasattr(self.cell, "get_initial_state"):
            states = [self._as_state_tensor(s) for s in nest.flatten(self.get_initial_state(batch))]
            self._check_states(states, batch, "the cell's `get_initial_state`")
            return states
        # Zeros shaped by the input, so an unknown batch size works too.
        first = ops.zeros_like(sequences[:, 0, ...])
        column = ops.reshape(first, (-1, int(np.prod(first.shape[1:]))))[:, :1]
        return [ops.repeat(column, size, axis=1) for size in self._flat_sizes()]

    def _standardize_mask(self, mask, sequences):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is None:
            return None
        if not isinstance(mask, SymbolicTensor):
            mask = ops.convert_to_tensor(mask)
        shape, expected = tuple(mask.shape), tuple(sequences.shape[:2])
        if len(shape) != 2 or any(
            a is not None and b is not None and a != b for a, b in zip(shape, expected, strict=True)
        ):
            raise ValueError(
                f"{self._describe()}: the mask must be (batch, timesteps) = {expected}. "
                f"Received: mask shape {shape}"
            )
        return mask if mask.dtype == "bool" else ops.not_equal(mask, 0)

    def _fusable(self) -> bool:
        return isinstance(self.cell, BaseRNNCell) and self.cell.can_fuse()

    def _carried_state(self) -> int:
        """The flat index of the state a masked step outputs (the last cell's first)."""
        template = self._state_template()
        if isinstance(self.cell, StackedRNNCells):
            return len(nest.flatten(template[:-1]))
        return 0

    def _cell_step(self, training):
        cell = self.cell
        kwargs = {"training": training} if cell._call_takes_training else {}
        template = self._state_template()

        def step(x_t, flat_states):
            output, new_states = cell.call(x_t, nest.pack(template, iter(flat_states)), **kwargs)
            return output, nest.flatten(as_list(new_states))

        return step

    def _run(self, sequences, states, mask, training):
        """(outputs or None, last output, final flat states) over all the steps."""
        if self._fusable():
            outputs, final = self.cell.fused_sequence(
                sequences,
                states,
                mask=mask,
                training=training,
                go_backwards=self.go_backwards,
                zero_output_for_mask=self.zero_output_for_mask,
            )
            # The carried h is the last output unless a masked last step outputs zeros; the
            # backward through time then needs no gradient for the sequence it did not return.
            last = outputs[:, -1, :] if self.zero_output_for_mask else final[0]
            return outputs, last, final
        with layer_path(self.cell.name):
            outputs, final = unrolled_loop(
                self._cell_step(training),
                ops.unstack(sequences, axis=1),
                states,
                mask,
                self.go_backwards,
                self.zero_output_for_mask,
                self._carried_state(),
            )
        stacked = ops.stack(outputs, axis=1) if self.return_sequences else None
        return stacked, outputs[-1], final

    def _shape_only(self, sequences, states, training):
        """Outputs with the right shapes while a model is built on inputs with an unknown
        number of steps (nothing is computed then): one cell step checks the cell, and
        placeholders stand for the results."""
        try:
            with layer_path(self.cell.name):
                output, final = self._cell_step(training)(sequences[:, 0, ...], states)
        finally:
            reset_dropout_masks(self.cell)
        if not self.return_sequences:
            return output, final
        return SymbolicTensor((sequences.shape[0], None, *output.shape[1:]), output.dtype), final

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if isinstance(sequences, (list, tuple)):  # Keras 2 style: [sequences, *states]
            sequences, extra = sequences[0], list(sequences[1:])
            if extra and initial_state is None:
                initial_state = extra
        self._check_input(sequences)
        states = self._initial_states(sequences, initial_state)
        mask = self._standardize_mask(mask, sequences)
        timesteps = sequences.shape[1]
        if timesteps is None and building_functional_graph(sequences):
            output, final = self._shape_only(sequences, states, training)
        elif timesteps is None or timesteps == 0:
            raise ValueError(
                f"{self._describe()} unrolls over the time steps, so their number must be "
                f"known (and > 0) when it runs. Received: input shape {tuple(sequences.shape)}"
            )
        else:
            try:
                outputs, last, final = self._run(sequences, states, mask, training)
            finally:
                reset_dropout_masks(self.cell)
            output = outputs if self.return_sequences else last
        if self.stateful and not building_functional_graph(sequences):
            for variable, value in zip(self.states, final, strict=True):
                variable.assign(value)
        result = [output, *nest.pack(self._state_template(), iter(final))]
        if self.activity_regularizer is not None:
            for value in nest.flatten(result if self.return_state else output):
                batch = value.shape[0] or 1
                self.add_loss(ops.divide(self.activity_regularizer(value), float(batch)))
        return result if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = None
        if mask is not None and self.return_sequences:
            output_mask = mask if isinstance(mask, SymbolicTensor) else ops.convert_to_tensor(mask)
        if self.return_state:
            return [output_mask] + [None] * len(self._flat_sizes())
        return output_mask

    # ---- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": serialization.serialize(self.cell),
        }
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_or_none(
                regularizers, self.activity_regularizer
            )
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = plain_config(config)
        cell = serialization.deserialize(config.pop("cell"), custom_objects)
        return cls(cell, **config)


def _check_state_size(owner: str, cell) -> None:
    size = getattr(cell, "state_size", None)
    flat = nest.flatten(size) if isinstance(size, (list, tuple)) else [size]
    if (
        size is None
        or not flat
        or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in flat
        )
    ):
        raise ValueError(
            f"{owner}: the cell must have a `state_size`: a positive int, or a list of them "
            f"(one per state). Received: state_size={size!r} on {type(cell).__name__}"
        )
