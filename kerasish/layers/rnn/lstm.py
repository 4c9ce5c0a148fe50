"""`LSTMCell` and `LSTM`: long short-term memory, gates i, f, c, o (Keras' layout)."""

from __future__ import annotations

import numpy as np

from ... import activations
from .builtin import BuiltinRNN
from .cell import BaseRNNCell
from .common import own_arguments
from .fused import gate_kernels, lstm_sequence, lstm_step


class _UnitForgetBias:
    """The LSTM bias initializer with `unit_forget_bias`: the forget gate's block is ones,
    the other blocks come from the bias initializer."""

    def __init__(self, initializer, units: int):
        self.initializer = initializer
        self.units = units

    def __call__(self, shape, dtype=None):
        u = self.units
        return np.concatenate(
            [
                np.asarray(self.initializer((u,), dtype=dtype)),
                np.ones((u,), dtype=dtype),
                np.asarray(self.initializer((2 * u,), dtype=dtype)),
            ]
        )


class LSTMCell(BaseRNNCell):
    """One step of an LSTM: the cell that `RNN` (or `LSTM`) runs over a sequence.

    States `[h, c]`, each `(batch, units)`; weights `kernel (input_dim, 4 * units)`,
    `recurrent_kernel (units, 4 * units)` and `bias (4 * units,)`, gate blocks i, f, c, o.
    With `unit_forget_bias` (the default) the forget gate's bias starts at 1. Arguments as
    `LSTM`'s cell arguments.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> rnn = keras.layers.RNN(keras.layers.LSTMCell(4), return_state=True)
        >>> output, h, c = rnn(np.ones((2, 5, 3)))
        >>> output.shape, h.shape, c.shape
        ((2, 4), (2, 4), (2, 4))
    """

    gates = 4
    _activation_args = ("activation", "recurrent_activation")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**own_arguments(locals(), "recurrent_activation", "unit_forget_bias"))
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def _step(self, x_proj, states, recurrent_masks):
        kernels = gate_kernels(self.recurrent_kernel, 4, recurrent_masks)
        h, c = lstm_step(
            x_proj,
            states[0],
            states[1],
            kernels,
            recurrent_masks,
            self.activation,
            self.recurrent_activation,
        )
        return h, [h, c]

    _sequence_adds_input_bias = True

    def _sequence(
        self,
        x_proj,
        states,
        mask,
        recurrent_mask,
        go_backwards,
        zero_output_for_mask,
        input_bias=None,
    ):
        outputs, h, c = lstm_sequence(
            x_proj,
            self.recurrent_kernel,
            states[0],
            states[1],
            mask=mask,
            recurrent_mask=recurrent_mask,
            go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask,
            activation=activations.serialize(self.activation),
            recurrent_activation=activations.serialize(self.recurrent_activation),
            input_bias=input_bias,
        )
        return outputs, [h, c]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }


class LSTM(BuiltinRNN):
    """Long short-term memory over a sequence `(batch, timesteps, features)`, as
    `keras.layers.LSTM`: an `RNN` of one `LSTMCell`.

    Args:
        units: size of the output and of each state.
        activation, recurrent_activation: for the cell input and output (tanh) and the
            gates (sigmoid).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        unit_forget_bias, *_regularizer, *_constraint: as `LSTMCell` (the recurrent kernel
            is orthogonal by default; `unit_forget_bias` starts the forget bias at 1).
        activity_regularizer: a regularizer on the outputs (divided by the batch size).
        dropout, recurrent_dropout: fractions of the inputs and of the recurrent state to
            drop in training; the masks are drawn once per call and reused at every step
            (with `recurrent_dropout`, one mask per gate for each).
        seed: the seed of the dropout masks.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.

    Call arguments: `inputs`, `initial_state` (`[h, c]`), `mask` `(batch, timesteps)`,
    `training`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> lstm = keras.layers.LSTM(4, return_sequences=True, return_state=True)
        >>> sequence, h, c = lstm(np.ones((2, 5, 3)))
        >>> sequence.shape, h.shape, [w.shape for w in lstm.weights]
        ((2, 5, 4), (2, 4), [(3, 16), (4, 16), (16,)])
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        super().__init__(locals())
