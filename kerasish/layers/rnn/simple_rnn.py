"""`SimpleRNNCell` and `SimpleRNN`: `h' = activation(x @ kernel + h @ recurrent_kernel + bias)`."""

from __future__ import annotations

from ... import activations
from .builtin import BuiltinRNN
from .cell import BaseRNNCell
from .fused import simple_rnn_sequence, simple_rnn_step


class SimpleRNNCell(BaseRNNCell):
    """One step of a fully-connected RNN: `h' = activation(x @ kernel + h @ recurrent_kernel
    + bias)`, its output being its one state `h` `(batch, units)`. Weights `kernel
    (input_dim, units)`, `recurrent_kernel (units, units)`, `bias (units,)`. Arguments as
    `SimpleRNN`'s cell arguments.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> cell = keras.layers.SimpleRNNCell(4)
        >>> keras.layers.RNN(cell)(np.ones((2, 5, 3))).shape, cell.state_size
        ((2, 4), 4)
    """

    gates = 1

    def _step(self, x_proj, states, recurrent_masks):
        h = simple_rnn_step(
            x_proj, states[0], [self.recurrent_kernel], recurrent_masks, self.activation
        )
        return h, [h]

    def _sequence(self, x_proj, states, mask, recurrent_mask, go_backwards, zero_output_for_mask):
        outputs, h = simple_rnn_sequence(
            x_proj,
            self.recurrent_kernel,
            states[0],
            mask=mask,
            recurrent_mask=recurrent_mask,
            go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask,
            activation=activations.serialize(self.activation),
        )
        return outputs, [h]


class SimpleRNN(BuiltinRNN):
    """A fully-connected RNN over a sequence `(batch, timesteps, features)`, as
    `keras.layers.SimpleRNN`: an `RNN` of one `SimpleRNNCell`.

    Args:
        units: size of the output and of the state.
        activation: tanh by default.
        use_bias, kernel_initializer, recurrent_initializer (orthogonal), bias_initializer,
        *_regularizer, *_constraint: the weights' settings.
        activity_regularizer: a regularizer on the outputs (divided by the batch size).
        dropout, recurrent_dropout: fractions of the inputs and of the recurrent state to
            drop in training (masks drawn once per call, the same at every step).
        seed: the seed of the dropout masks.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> layer = keras.layers.SimpleRNN(4, return_sequences=True)
        >>> layer(np.ones((2, 5, 3))).shape, [w.shape for w in layer.weights]
        ((2, 5, 4), [(3, 4), (4, 4), (4,)])
    """

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(locals())
