"""`BaseRNNCell`: what the built-in cells (SimpleRNNCell, LSTMCell, GRUCell) share.

Their arguments and checks, their weights (`kernel (input_dim, gates * units)`,
`recurrent_kernel (units, gates * units)`, `bias`), the dropout masks (drawn once per call
of the RNN layer and reused at every step, as Keras' `DropoutRNNCell`), their config, the
per-step `call`, and `fused_sequence`, the one place where a whole sequence is computed.
A cell class adds only its gate count, bias and recurrence (`_step`, `_sequence`).
"""

from __future__ import annotations

import numbers

from backend import ops
from backend import random as engine_random

from ... import activations, constraints, initializers, regularizers
from ..convolutional import serialize_or_none
from ..layer import Layer
from . import fused
from .common import as_list


def check_cell_args(owner: str, units, dropout, recurrent_dropout, implementation=2) -> None:
    """The argument checks a built-in cell and its layer share (`owner` names the class)."""
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
        raise ValueError(f"{owner}: `units` must be a positive integer. Received: units={units!r}")
    for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(
                f"{owner}: `{name}` must be a float in [0, 1). Received: {name}={rate!r}"
            )
    if implementation not in (1, 2):
        raise ValueError(
            f"{owner}: `implementation` must be 1 or 2. Received: implementation={implementation!r}"
        )


class BaseRNNCell(Layer):
    """The base of the built-in cells; not a cell by itself.

    Subclasses set `gates` (weight blocks per unit) and implement `_step` (one step from
    the input projection) and `_sequence` (a whole sequence through `fused.py`)."""

    gates = 1
    _activation_args = ("activation",)

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        implementation=2,
        **kwargs,
    ):
        owner = type(self).__name__
        check_cell_args(owner, units, dropout, recurrent_dropout, implementation)
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = engine_random.SeedGenerator(seed)
        # As Keras: recurrent dropout needs one mask per gate (implementation 1), and then
        # the inputs get one mask per gate too.
        self.implementation = 1 if self.recurrent_dropout else implementation
        per_gate = self.implementation == 1 and self.gates > 1
        self.dropout_mask_count = self.gates if per_gate else None
        self.state_size = self.units
        self.output_size = self.units
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    # ---- weights ---------------------------------------------------------------------------

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = tuple(input_shape)[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the feature dim of its input must be "
                f"known. Received: input_shape={tuple(input_shape)}"
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
            name="recurrent_kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                initializer=self._bias_init(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        self.input_dim = input_dim

    def get_initial_state(self, batch_size=None) -> list:
        """Zero states, one `(batch_size, units)` tensor per state."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.dtype) for size in sizes]

    # ---- dropout masks (drawn once per RNN call, reused at every step) ---------------------

    def _draw_masks(self, like, rate):
        ones = ops.ones_like(like)
        if self.dropout_mask_count is None:
            return engine_random.dropout(ones, rate, seed=self.seed_generator)
        return [
            engine_random.dropout(ones, rate, seed=self.seed_generator)
            for _ in range(self.dropout_mask_count)
        ]

    def get_dropout_mask(self, step_input):
        """The input dropout mask (one per gate with implementation 1), drawn on first use
        and kept until `reset_dropout_mask`; None when `dropout` is 0."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._draw_masks(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state):
        """The recurrent dropout mask, as `get_dropout_mask` (one per gate for LSTM/GRU)."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_masks(state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def _masks(self, step_input, state, training) -> tuple:
        """(input masks, per-gate recurrent masks): lists, or None when unused."""
        input_masks = recurrent_masks = None
        if training and self.dropout > 0:
            input_masks = as_list(self.get_dropout_mask(step_input))
        if training and self.recurrent_dropout > 0:
            recurrent_masks = as_list(self.get_recurrent_dropout_mask(state))
        return input_masks, recurrent_masks

    # ---- computing ---------------------------------------------------------------------------

    def _input_bias(self):
        return self.bias

    #: Set in the class that defines `_sequence` when that `_sequence` takes the input bias
    #: as `input_bias=` (the fused loop adds it as it reads each step): `fused_sequence` then
    #: projects without it and passes it. Read from that class only, so a subclass with its
    #: own `_sequence` gets x_proj with the bias (and its `super()._sequence` none apart).
    _sequence_adds_input_bias = False

    def project_inputs(self, inputs, input_masks=None, add_bias=True):
        """`(inputs * m) @ kernel + input bias` over the last axis, for one step `(batch,
        features)` or all steps `(batch, timesteps, features)`; with one mask per gate,
        each gate's block gets its own masked inputs. Without `add_bias`, no bias."""
        if input_masks is None:
            x_proj = ops.matmul(inputs, self.kernel)
        else:
            expand = len(inputs.shape) == 3  # a (batch, features) mask for every step
            masks = [ops.expand_dims(m, 1) if expand else m for m in input_masks]
            if len(masks) == 1:
                x_proj = ops.matmul(ops.multiply(inputs, masks[0]), self.kernel)
            else:
                blocks = ops.split(self.kernel, len(masks), axis=1)
                x_proj = ops.concatenate(
                    [
                        ops.matmul(ops.multiply(inputs, m), k)
                        for m, k in zip(masks, blocks, strict=True)
                    ],
                    axis=-1,
                )
        bias = self._input_bias() if add_bias else None
        return x_proj if bias is None else ops.add(x_proj, bias)

    def call(self, inputs, states, training=None):
        """One step: `(output, new_states)` for inputs `(batch, features)`."""
        states = as_list(states)
        input_masks, recurrent_masks = self._masks(inputs, states[0], training)
        output, new_states = self._step(
            self.project_inputs(inputs, input_masks), states, recurrent_masks
        )
        return output, new_states

    def can_fuse(self) -> bool:
        """Whether `fused_sequence` computes what stepping `call` would: a built-in cell
        whose `call` and recurrence are not overridden, with supported activations."""
        cls = type(self)
        owner = _defining_class(cls, "_sequence")
        if owner is None or _defining_class(cls, "call") is not BaseRNNCell:
            return False
        if _defining_class(cls, "_step") is not owner:
            return False
        return all(
            activations.serialize(getattr(self, arg)) in fused.SUPPORTED_ACTIVATIONS
            for arg in self._activation_args
        )

    def fused_sequence(
        self,
        sequences,
        states,
        mask=None,
        training=None,
        go_backwards=False,
        zero_output_for_mask=False,
    ):
        """The whole sequence at once: `(outputs, final_states)`, `outputs` `(batch,
        timesteps, units)` in processing order. The input projection of every step is one
        GEMM; the recurrence is `fused.py`'s function for this cell."""
        input_masks, recurrent_masks = self._masks(sequences[:, 0, :], states[0], training)
        owner = _defining_class(type(self), "_sequence")
        apart = owner.__dict__.get("_sequence_adds_input_bias", False)
        x_proj = self.project_inputs(sequences, input_masks, add_bias=not apart)
        extra = {"input_bias": self._input_bias()} if apart else {}
        recurrent_mask = None
        if recurrent_masks is not None:
            recurrent_mask = ops.stack(recurrent_masks, axis=1)  # (batch, gates, units)
        return self._sequence(
            x_proj, states, mask, recurrent_mask, go_backwards, zero_output_for_mask, **extra
        )

    def _step(self, x_proj, states, recurrent_masks):
        raise NotImplementedError

    def _sequence(self, x_proj, states, mask, recurrent_mask, go_backwards, zero_output_for_mask):
        raise NotImplementedError

    # ---- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "recurrent_regularizer": serialize_or_none(regularizers, self.recurrent_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "recurrent_constraint": serialize_or_none(constraints, self.recurrent_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def _defining_class(cls, name: str):
    """The class in `cls`'s MRO whose own dict defines `name` (None if none does)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass
    return None
