"""`GRUCell` and `GRU`: gated recurrent units, gates z, r, h (Keras' layout)."""

from __future__ import annotations

from ... import activations
from ..arguments import check_bool
from .builtin import BuiltinRNN
from .cell import BaseRNNCell
from .common import own_arguments
from .fused import gru_kernels, gru_sequence, gru_step


class GRUCell(BaseRNNCell):
    """One step of a GRU: the cell that `RNN` (or `GRU`) runs over a sequence.

    One state `h` `(batch, units)`, `h' = z * h + (1 - z) * candidate`. Weights
    `kernel (input_dim, 3 * units)` and `recurrent_kernel (units, 3 * units)`, gate blocks
    z, r, h; with `reset_after=True` (the default) the reset gate multiplies the recurrent
    product and the bias is `(2, 3 * units)` (row 0 for the inputs, row 1 for the recurrent
    product), else it multiplies `h` before it and the bias is `(3 * units,)`.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> cell = keras.layers.GRUCell(4)
        >>> keras.layers.RNN(cell)(np.ones((2, 5, 3))).shape, cell.bias.shape
        ((2, 4), (2, 12))
    """

    gates = 3
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
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**own_arguments(locals(), "recurrent_activation", "reset_after"))
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = check_bool(type(self).__name__, "reset_after", reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def _recurrent_bias(self):
        if self.bias is None or not self.reset_after:
            return None
        return self.bias[1]

    def _step(self, x_proj, states, recurrent_masks):
        kernels = gru_kernels(self.recurrent_kernel, recurrent_masks, self.reset_after)
        h = gru_step(
            x_proj,
            states[0],
            kernels,
            self._recurrent_bias(),
            recurrent_masks,
            self.reset_after,
            self.activation,
            self.recurrent_activation,
        )
        return h, [h]

    def _sequence(self, x_proj, states, mask, recurrent_mask, go_backwards, zero_output_for_mask):
        outputs, h = gru_sequence(
            x_proj,
            self.recurrent_kernel,
            self._recurrent_bias(),
            states[0],
            mask=mask,
            recurrent_mask=recurrent_mask,
            go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask,
            reset_after=self.reset_after,
            activation=activations.serialize(self.activation),
            recurrent_activation=activations.serialize(self.recurrent_activation),
        )
        return outputs, [h]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }


class GRU(BuiltinRNN):
    """Gated recurrent units over a sequence `(batch, timesteps, features)`, as
    `keras.layers.GRU`: an `RNN` of one `GRUCell`.

    Args:
        units: size of the output and of the state.
        activation, recurrent_activation: for the candidate (tanh) and the gates (sigmoid).
        use_bias, kernel_initializer, recurrent_initializer (orthogonal), bias_initializer,
        *_regularizer, *_constraint: the weights' settings.
        activity_regularizer: a regularizer on the outputs (divided by the batch size).
        dropout, recurrent_dropout: fractions of the inputs and of the recurrent state to
            drop in training; masks drawn once per call and reused at every step (with
            `recurrent_dropout`, one mask per gate for each).
        seed: the seed of the dropout masks.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.
        reset_after: apply the reset gate after the recurrent product (True, the default,
            with a `(2, 3 * units)` bias) or before it.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> gru = keras.layers.GRU(4, reset_after=False)
        >>> gru(np.ones((2, 5, 3))).shape, [w.shape for w in gru.weights]
        ((2, 4), [(3, 12), (4, 12), (12,)])
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
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
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        **kwargs,
    ):
        super().__init__(locals())
