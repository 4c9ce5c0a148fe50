"""`DataLayer`: the base of the layers that compute on data with plain Python and numpy
(TextVectorization, StringLookup, IntegerLookup) rather than with ops.

Such a layer runs eagerly: called on arrays, lists or strings it returns its result at once
(a `Tensor` of numbers, or a numpy array of strings for an inverted StringLookup). Called on
a symbolic `Input`, it records the call and returns a symbolic tensor of its output's shape
and dtype, so a model can start with it; the model then runs these layers on each batch
before its traced, compiled part (see `kerasish/models/data_front.py`).
"""

from __future__ import annotations

import numpy as np

from backend.dtypes import STRING
from backend.tensor import SymbolicTensor, Tensor
from backend.variables import Variable

from .layer import Layer


class DataLayer(Layer):
    """A layer computing on data with numpy, eagerly, before a model's traced part.

    Subclasses set `input_dtype` (`"string"` or `"int64"`) and define `compute(array)` (the
    eager result, a numpy array) and `output_spec(input_shape)` (the output's shape and
    dtype, for symbolic calls).
    """

    runs_on_data = True  # what a model looks for to find its eager front
    input_dtype = STRING

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def build(self, input_shape) -> None:
        self.built = True

    def _convert_inputs(self, inputs):
        if isinstance(inputs, SymbolicTensor):
            return inputs
        if isinstance(inputs, (Tensor, Variable)):
            return np.asarray(inputs)
        if isinstance(inputs, (list, tuple)) and not inputs:
            return np.zeros((0,), dtype=str if self.input_dtype == STRING else np.int64)
        if isinstance(inputs, np.ndarray):
            return inputs
        try:
            return np.asarray(inputs)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' takes rectangular data: lists of "
                "different lengths need padding first (keras.utils.pad_sequences)."
            ) from None

    def call(self, inputs):
        if isinstance(inputs, SymbolicTensor):
            self._check_symbolic_input(inputs)
            shape, dtype = self.output_spec(tuple(inputs.shape))
            return SymbolicTensor(shape, dtype)
        out = self.compute(inputs)
        return out if out.dtype.kind in "US" else Tensor(out)

    def _check_symbolic_input(self, inputs: SymbolicTensor) -> None:
        wanted_string = self.input_dtype == STRING
        if (inputs.dtype == STRING) != wanted_string:
            kind = "strings" if wanted_string else "integers"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' computes on {kind}. Received: an input "
                f"of dtype {inputs.dtype} (shape {inputs.shape})"
            )

    def compute(self, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_spec(self, input_shape: tuple) -> tuple:
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return self.output_spec(tuple(input_shape))[0]


def as_string_array(layer, data, what: str, encoding: str = "utf-8") -> np.ndarray:
    """`data` (a string, a list or array of strings or bytes) as a numpy str array; a
    ValueError naming `layer` and `what` (`"adapt()"`, `"inputs"`) for anything else."""
    array = data if isinstance(data, np.ndarray) else _to_numpy(layer, data, what)
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind == "S":
        return np.char.decode(array, encoding)
    if array.dtype.kind == "O" and all(isinstance(v, (str, bytes)) for v in array.flat):
        flat = [v.decode(encoding) if isinstance(v, bytes) else v for v in array.flat]
        return np.array(flat, dtype=str).reshape(array.shape)
    if array.size == 0:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {what} is empty; it needs strings. "
            f"Received: {_describe(array)}"
        )
    raise ValueError(
        f"{type(layer).__name__} '{layer.name}': {what} must be strings. Received: "
        f"{_describe(array)}"
    )


def as_int_array(layer, data, what: str) -> np.ndarray:
    """`data` as an int64 array. Floats with integral values are accepted (Keras casts
    them); anything else raises a ValueError naming `layer` and `what`."""
    array = data if isinstance(data, np.ndarray) else _to_numpy(layer, data, what)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        return array.astype(np.int64)
    if array.dtype.kind == "O" and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in array.flat
    ):
        return array.astype(np.int64)
    raise ValueError(
        f"{type(layer).__name__} '{layer.name}': {what} must be integers. Received: "
        f"{_describe(array)}"
    )


def _to_numpy(layer, data, what: str) -> np.ndarray:
    if isinstance(data, (Tensor, Variable)):
        return np.asarray(data)
    if isinstance(data, SymbolicTensor):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {what} must be data, not a symbolic tensor."
        )
    try:
        return np.asarray(data)
    except ValueError:  # ragged nested lists
        return np.asarray(data, dtype=object)


def _describe(array: np.ndarray) -> str:
    if array.dtype.kind == "O":
        kinds = sorted({type(v).__name__ for v in array.flat})
        return f"an array of Python objects of types {kinds}"
    return f"an array of dtype {array.dtype} and shape {array.shape}"
