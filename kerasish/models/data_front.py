"""The eager front of a functional model: the calls of layers that compute on data with
numpy (TextVectorization, StringLookup, IntegerLookup) at its start.

A model such as `Input(shape=(1,), dtype="string") -> TextVectorization -> Embedding -> ...`
cannot trace its first layer (no op computes on strings). Its graph splits in two:

- the front: the data layers' calls, each on model inputs or other front outputs. They run
  eagerly, in Python, on every batch (`DataFront.run`), turning strings into integers;
- the core: every other call. It is the model's traced, compiled part; its inputs are the
  front's outputs it uses, plus the model inputs that bypass the front.

`fit`, `evaluate`, `predict` and `model(x)` run the front on each batch first, then the core
(traced into a Plan like any model), inside `feeding_core()`, which tells `Model.call` that
it receives the core's inputs. A data layer anywhere but at the front, or strings reaching
a layer of the core, are errors raised when the model is built.
"""

from __future__ import annotations

import numpy as np

from backend.dtypes import STRING
from backend.tensor import SymbolicTensor, Tensor

from ..trainers.data_adapter import is_text
from .functional import history_of, run_graph


class DataFront:
    """The front of a model (see the module docstring): `nodes` run eagerly on the model's
    inputs, `core_nodes` are the rest, fed `core_inputs`."""

    def __init__(self, model_name: str, inputs: list, outputs: list, nodes: list):
        self.model_name = model_name
        self.model_inputs = list(inputs)
        made = {id(x) for x in inputs}
        self.nodes, self.core_nodes = [], []
        for node in nodes:
            if getattr(node.layer, "runs_on_data", False):
                for tensor in node.input_tensors:
                    if id(tensor) not in made:
                        raise ValueError(_misplaced_message(model_name, node.layer, tensor))
                self.nodes.append(node)
                made.update(id(t) for t in node.output_tensors)
            else:
                self.core_nodes.append(node)
        used = {id(t) for node in self.core_nodes for t in node.input_tensors}
        used.update(id(t) for t in outputs)
        candidates = self.model_inputs + [t for n in self.nodes for t in n.output_tensors]
        self.core_inputs = []
        for tensor in candidates:
            if id(tensor) in used and all(tensor is not t for t in self.core_inputs):
                self.core_inputs.append(tensor)
        for tensor in self.core_inputs:
            if tensor.dtype == STRING:
                raise ValueError(
                    f"Model '{model_name}': strings from '{_producer(tensor)}' reach the "
                    "model's compiled layers (or its outputs), which compute on numbers. Turn "
                    "them into numbers first with TextVectorization or StringLookup."
                )
        self._feeding = 0

    @classmethod
    def find(cls, model_name: str, inputs: list, outputs: list, nodes: list):
        """The model's front, or None for a model without data layers or string inputs."""
        if any(getattr(n.layer, "runs_on_data", False) for n in nodes) or any(
            x.dtype == STRING for x in inputs
        ):
            return cls(model_name, inputs, outputs, nodes)
        return None

    # ---- running ---------------------------------------------------------------------------

    def run(self, values: list) -> list:
        """The core's input values (numpy arrays) from the model's input values."""
        if len(values) != len(self.model_inputs):
            raise ValueError(
                f"Model '{self.model_name}' expects {len(self.model_inputs)} input(s). "
                f"Received: {len(values)}"
            )
        prepared = [self._prepare(v, s) for v, s in zip(values, self.model_inputs, strict=True)]
        lookup = run_graph(self.nodes, self.model_inputs, prepared)
        return [np.asarray(lookup(t)) for t in self.core_inputs]

    def _prepare(self, value, spec: SymbolicTensor):
        """A string input's data as a numpy array of the Input's rank: a missing trailing
        axis of size 1 is added, an extra one dropped (as Keras' functional models do)."""
        if spec.dtype != STRING:
            return value
        array = np.asarray(value) if not isinstance(value, (np.ndarray, Tensor)) else value
        if isinstance(array, Tensor) or array.dtype.kind not in "USO":
            raise ValueError(
                f"Model '{self.model_name}': input '{spec.name}' takes strings. Received: "
                f"data of dtype {array.dtype} and shape {tuple(array.shape)}"
            )
        expected = tuple(spec.shape)
        if array.ndim == len(expected) - 1 and expected and expected[-1] == 1:
            array = array[..., None]
        elif array.ndim == len(expected) + 1 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim != len(expected) or any(
            e is not None and e != s for s, e in zip(array.shape, expected, strict=True)
        ):
            raise ValueError(
                f"Model '{self.model_name}': input '{spec.name}' expects shape {expected}. "
                f"Received: strings of shape {array.shape}"
            )
        return array

    def as_arrays(self, inputs, single_input: bool):
        """A model call's input structure with each string input's data (a list of str,
        say) as a numpy array, so nested lists are not taken for several inputs."""

        def to_array(value, spec):
            if spec.dtype == STRING and is_text(value):
                return np.asarray(value)
            return value

        if single_input:
            return to_array(inputs, self.model_inputs[0])
        if isinstance(inputs, dict):
            specs = {x.name: x for x in self.model_inputs}
            return {k: to_array(v, specs[k]) if k in specs else v for k, v in inputs.items()}
        if isinstance(inputs, (list, tuple)) and len(inputs) == len(self.model_inputs):
            values = [to_array(v, s) for v, s in zip(inputs, self.model_inputs, strict=True)]
            return type(inputs)(values)
        return inputs

    # ---- whether Model.call receives the model's inputs or the core's -------------------------

    @property
    def is_feeding_core(self) -> bool:
        return self._feeding > 0

    def feeding_core(self):
        """Context manager: `Model.call` receives the core's inputs (the front has run)."""
        front = self

        class _Feeding:
            def __enter__(self):
                front._feeding += 1

            def __exit__(self, *exc):
                front._feeding -= 1
                return False

        return _Feeding()


def _producer(tensor) -> str:
    layer = history_of(tensor)[0]
    return layer.name


def _misplaced_message(model_name: str, layer, tensor) -> str:
    return (
        f"Model '{model_name}': {type(layer).__name__} '{layer.name}' computes on data with "
        "numpy before the model's compiled part, so it must be called on the model's inputs "
        f"(or on another such layer's output); here it is called on the output of "
        f"'{_producer(tensor)}'. Apply it to the data before the model instead (for example "
        "`dataset = layer(data)`), or move it to the start of the model."
    )
