"""`BuiltinRNN`: what SimpleRNN, LSTM and GRU share on top of `RNN`: making their cell from
their arguments, reading those arguments back through the layer, and Keras' flat config
(the cell's arguments at the top level, no nested cell)."""

from __future__ import annotations

from ... import regularizers
from ..convolutional import serialize_or_none
from .cell import check_cell_args
from .common import own_arguments, plain_config
from .rnn import RNN

# The cell arguments a built-in layer exposes as its own attributes (`lstm.units`, ...).
CELL_ARGUMENTS = frozenset({
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint", "dropout", "recurrent_dropout", "seed", "reset_after", "implementation",
})  # fmt: skip


class BuiltinRNN(RNN):
    """An `RNN` over one built-in cell made from the layer's own arguments."""

    cell_class = None
    cell_name = None
    _exact_rank = 3

    def __init__(self, arguments: dict):
        """`arguments` is the subclass constructor's `locals()`: the cell's arguments make
        the cell, the others (`return_sequences`, ..., `name`, `dtype`) go to `RNN`."""
        arguments = own_arguments(arguments)
        cell_arguments = {k: arguments.pop(k) for k in list(arguments) if k in CELL_ARGUMENTS}
        use_cudnn = arguments.pop("use_cudnn", "auto")
        owner = type(self).__name__
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"{owner}: `use_cudnn` must be 'auto', True or False. Received: "
                f"use_cudnn={use_cudnn!r}"
            )
        check_cell_args(
            owner,
            cell_arguments["units"],
            cell_arguments["dropout"],
            cell_arguments["recurrent_dropout"],
            cell_arguments.get("implementation", 2),
        )
        cell = self.cell_class(
            **cell_arguments,
            dtype=arguments.get("dtype"),
            trainable=arguments.get("trainable", True),
            name=self.cell_name,
        )
        super().__init__(cell, **arguments)
        self.use_cudnn = use_cudnn  # there is no cuDNN here: accepted for Keras code

    def __getattr__(self, name):
        # Reached only when normal lookup fails: the cell's arguments, read through the layer.
        cell = self.__dict__.get("cell")
        if cell is not None and name in CELL_ARGUMENTS:
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self) -> dict:
        config = super().get_config()
        cell_config = dict(config.pop("cell")["config"])
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {
            **config,
            **cell_config,
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = plain_config(config)
        return cls(**config)
