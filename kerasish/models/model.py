"""`Model`: a functional graph of layers (`Model(inputs, outputs)`) or a subclass with
`__init__` + `call`; `Sequential` builds on it.

Calling a built model on concrete data outside a GradientTape runs its cached inference
Plan (one compiled Plan per input signature), so `model(x)` is fast; inside a tape, or on
symbolic tensors, it runs through the layers so gradients and graphs are recorded.
"""

from __future__ import annotations

import numpy as np

from backend import compiler, nest
from backend.tensor import SymbolicTensor, Tensor, active_tapes, dtype_name, in_symbolic_scope

from ..layers.layer import Layer, unique_name
from ..saving import functional_config, serialization
from ..saving.versions import KERAS_VERSION
from ..trainers import fast_call
from ..trainers.compile_utils import output_layer_names
from ..trainers.data_adapter import reject_text
from ..trainers.step_state import in_step
from ..trainers.trainer import Trainer
from .data_front import DataFront
from .functional import map_graph, run_graph


class Model(Trainer, Layer):
    """A model: `Model(inputs, outputs, name=None)` for the functional API, or subclass it.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> inputs = keras.Input((3,))
        >>> outputs = keras.layers.Dense(2)(keras.layers.Dense(4, activation="relu")(inputs))
        >>> model = keras.Model(inputs, outputs)
        >>> [l.name.split("_")[0] for l in model.layers], model(np.ones((1, 3))).shape
        (['input', 'dense', 'dense'], (1, 2))
    """

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if len(args) > 0 else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        if inputs is not None and kwargs.get("name") is None and type(self) is Model:
            kwargs["name"] = unique_name("functional")  # Keras 3 names functional models so
        super().__init__(**kwargs)
        self._functional = inputs is not None or outputs is not None
        self._data_front = None  # the data layers run eagerly before the compiled part
        self._inference = None
        self._fast_call = None  # fast_call.FastCall: the last call's Plan, pre-bound
        self._fast_predict = None  # the same for predict_on_batch
        self.stop_training = False
        self._step_fns = {}  # compiled train/test/predict steps, by batch structure
        if self._functional:
            if inputs is None or outputs is None:
                raise ValueError("A functional Model needs both `inputs` and `outputs`.")
            self._init_graph(inputs, outputs)

    # ---- the functional graph ---------------------------------------------------------------

    def _init_graph(self, inputs, outputs) -> None:
        self._input_struct = inputs
        self._output_struct = outputs
        self.inputs = nest.flatten(inputs)
        self.outputs = nest.flatten(outputs)
        for x in self.inputs + self.outputs:
            if not isinstance(x, SymbolicTensor):
                raise TypeError(
                    f"Model inputs and outputs must be symbolic tensors (from keras.Input). "
                    f"Received: {type(x).__name__}"
                )
        self._nodes, ordered = map_graph(self.inputs, self.outputs)
        names = [layer.name for layer in ordered]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"All layers of a model need unique names. Duplicated: {duplicates}")
        self._graph_layers = ordered
        self._data_front = DataFront.find(self.name, self.inputs, self.outputs, self._nodes)
        for layer in ordered:
            if layer not in self._layers:
                self._layers.append(layer)
        # as Keras: the names of the layers that make the outputs, in the flattened order
        self.output_names = output_layer_names(self)
        self.built = True

    @property
    def layers(self) -> list:
        if self._functional:
            return list(self._graph_layers)
        return list(self._layers)

    @property
    def input(self):
        """The model's input tensor(s), in the structure it was built with."""
        return self._graph_tensors("_input_struct", "input")

    @property
    def output(self):
        """The model's output tensor(s), in the structure it was built with."""
        return self._graph_tensors("_output_struct", "output")

    def _graph_tensors(self, attr: str, what: str):
        if not self._functional:
            raise AttributeError(
                f"Model '{self.name}' has no {what} tensor: only a functional model or a built "
                "Sequential has one (a subclassed model computes in call())."
            )
        return getattr(self, attr)

    @property
    def input_shape(self):
        """The shape of the input (a list of shapes for several), once the model is built."""
        return self._shapes_of(getattr(self, "inputs", None), "input_shape")

    @property
    def output_shape(self):
        """The shape of the output (a list of shapes for several), once the model is built."""
        return self._shapes_of(getattr(self, "outputs", None), "output_shape")

    def _shapes_of(self, tensors, what: str):
        if not self._functional or not tensors:
            raise AttributeError(f"Model '{self.name}' is not built yet, so it has no {what}.")
        shapes = [tuple(t.shape) for t in tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
        """Prints Keras' table: each layer with its type, output shape and parameter count,
        then the total, trainable and non-trainable parameters."""
        from .summary import summary

        summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `layers`."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Model '{self.name}' has {len(self.layers)} layers. Received: index={index}"
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}. Layers: {[l.name for l in self.layers]}")

    def call(self, inputs, training=None):
        if not self._functional:
            raise NotImplementedError(
                f"Model '{self.name}': a subclassed Model must define call()."
            )
        front = self._data_front
        if front is not None and front.is_feeding_core:  # the front has run: core inputs
            values = nest.flatten(inputs)
            lookup = run_graph(front.core_nodes, front.core_inputs, values, training=training)
            return nest.pack(self._output_struct, iter([lookup(o) for o in self.outputs]))
        values = nest.flatten(self.align_inputs(inputs))
        if len(values) != len(self.inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.inputs)} input(s). Received: {len(values)}"
            )
        for value, spec in zip(values, self.inputs, strict=True):
            if spec.dtype != "string":  # the front checks string inputs
                _check_input_shape(self.name, value, spec)
        if front is not None:
            values = front.run(values)
            lookup = run_graph(front.core_nodes, front.core_inputs, values, training=training)
        else:
            lookup = run_graph(self._nodes, self.inputs, values, training=training)
        return nest.pack(self._output_struct, iter([lookup(o) for o in self.outputs]))

    def align_inputs(self, inputs):
        """Data given as a dict is matched to the model's inputs by key (the input's name
        when the model's inputs are a list), whatever the dict's order."""
        if not self._functional or not isinstance(inputs, dict):
            return inputs
        if isinstance(self._input_struct, dict):
            keys = list(self._input_struct)
        else:
            keys = [x.name for x in self.inputs]
        missing = [k for k in keys if k not in inputs]
        if missing:
            raise ValueError(
                f"Model '{self.name}' expects inputs named {keys}. Missing: {missing}. "
                f"Received: inputs named {list(inputs)}"
            )
        values = [inputs[k] for k in keys]
        if isinstance(self._input_struct, dict):
            return dict(zip(keys, values, strict=True))
        return values if isinstance(self._input_struct, (list, tuple)) else values[0]

    # ---- configs and saving ----------------------------------------------------------------

    def get_config(self) -> dict:
        if self._functional:
            return functional_config.functional_config(self)
        return super().get_config()

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        if functional_config.is_functional_config(config):
            return functional_config.functional_from_config(cls, config, custom_objects)
        return super().from_config(config)

    def to_json(self, **kwargs) -> str:
        """The architecture as Keras' JSON (`{"class_name", "config", ...}`)."""
        import json

        return json.dumps(
            {**serialization.serialize(self), "keras_version": KERAS_VERSION,
             "backend": "kerasish"},
            **kwargs,
        )  # fmt: skip

    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True, **kwargs):
        """Saves the model: `.keras` (Keras 3's zip) or `.h5` (the legacy HDF5 file), with
        its architecture, weights, training configuration and optimizer state. See
        `kerasish.saving.save_model`."""
        from ..saving import saving_api  # h5py loads on first use

        saving_api.save_model(self, filepath, overwrite=overwrite,
                              include_optimizer=include_optimizer, **kwargs)  # fmt: skip

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Saves the weights: `.weights.h5` in Keras 3's layout, `.h5` in the legacy one."""
        from ..saving import saving_api  # h5py loads on first use

        saving_api.save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch: bool = False, by_name: bool = False,
                     **kwargs) -> None:  # fmt: skip
        """Loads weights saved by `save_weights` or `save` (ours or Keras'): `.weights.h5`,
        `.keras`, or legacy `.h5` (by order, or `by_name`)."""
        from ..saving import saving_api  # h5py loads on first use

        saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name,
                                **kwargs)  # fmt: skip

    def get_build_config(self):
        """`{"input_shape": ...}`: what `build_from_config` needs to create the weights."""
        if self._functional:
            shapes = [list(x.shape) for x in self.inputs]
            return {"input_shape": shapes[0] if len(shapes) == 1 else shapes}
        shape = getattr(self, "_build_input_shape", None)
        return None if shape is None else {"input_shape": shape}

    def build_from_config(self, config) -> None:
        """Creates the weights of a model built from its config (a subclassed model is
        called on symbolic inputs of the recorded shape)."""
        from ..saving import saving_api  # h5py loads on first use

        saving_api.build_from_config(self, config)

    def _maybe_build(self, inputs) -> None:
        if not self.built and not self._functional:  # a subclassed model: keep its shapes
            self._build_input_shape = nest.pack(
                inputs, iter([list(x.shape) for x in nest.flatten(inputs)])
            )
        super()._maybe_build(inputs)

    # ---- calling ---------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        fast = self._fast_call
        if fast is not None and len(args) == 1 and (not kwargs or kwargs == _INFERENCE):
            x = fast.matches(args[0], self._inference)
            if x is not None:
                return fast_call.as_tensors(fast, fast.run(x))
        front = self._data_front
        if front is not None and args and not front.is_feeding_core:
            args = (front.as_arrays(args[0], len(self.inputs) == 1), *args[1:])
        if args and not isinstance(args[0], SymbolicTensor):
            reject_text(self, self.align_inputs(args[0]))
        if self._can_use_inference_plan(args, kwargs):
            return self._run_inference_plan(args[0])
        return super().__call__(*args, **kwargs)

    def _convert_inputs(self, inputs):
        if self._data_front is not None:
            return inputs  # strings stay numpy; the layers convert what they receive
        return super()._convert_inputs(inputs)

    def _can_use_inference_plan(self, args, kwargs) -> bool:
        if not self.built or len(args) != 1 or kwargs.get("training") or active_tapes():
            return False
        if in_step():  # a train/test/predict step runs the layers itself
            return False
        if in_symbolic_scope() or set(kwargs) - {"training"}:
            return False
        flat = nest.flatten(args[0])
        return all(isinstance(x, (np.ndarray, Tensor)) for x in flat)

    def _run_inference_plan(self, inputs):
        inputs = self.align_inputs(inputs)
        front = self._data_front
        if front is not None:
            core_inputs = front.run(nest.flatten(inputs))
            with front.feeding_core():
                return self._run_inference_function(core_inputs)
        return self._run_inference_function(inputs)

    def _run_inference_function(self, inputs):
        if self._inference is None:
            self._inference = {}
        key = nest.structure_key(inputs)
        function = self._inference.get(key)
        if function is None:
            structure = inputs

            def infer(*flat):
                out = Layer.__call__(self, nest.pack(structure, iter(flat)), training=False)
                added = _added_losses(self)  # add_loss values of this call, as outputs
                self._clear_losses()  # the traced ones belong to no call
                # The outputs' masks are computed in the same Plan and handed back with them.
                return out, [getattr(o, "_mask", None) for o in nest.flatten(out)], added

            function = self._inference[key] = compiler.function(infer)
        flat = [x if isinstance(x, Tensor) else np.asarray(x) for x in nest.flatten(inputs)]
        arrays = [self._cast_input(x) for x in flat]
        out, masks, added = function(*arrays)
        if len(arrays) == 1 and self._data_front is None and arrays[0] is flat[0]:
            self._fast_call = fast_call.fast_call_for(
                function, self._inference, arrays[0], out, masks, added, self._fast_call
            )
        # `model.losses` after `model(x)` holds what the layers added in this call.
        self._clear_losses()
        self._added_losses = [Tensor(np.asarray(v)) for v in added]
        tensors = [Tensor(o) for o in nest.flatten(out)]
        for tensor, mask in zip(tensors, masks, strict=True):
            if mask is not None:
                tensor._mask = Tensor(mask)
        return nest.pack(out, iter(tensors))

    def _cast_input(self, x):
        array = x._value if isinstance(x, Tensor) else x
        if array.dtype.kind == "f" and dtype_name(array.dtype) != self.dtype:
            return array.astype(self.dtype)
        return array


_INFERENCE = {"training": False}


def _added_losses(layer, seen=None) -> list:
    """The `add_loss` values of `layer` and the layers under it (each layer once)."""
    seen = set() if seen is None else seen
    if id(layer) in seen:
        return []
    seen.add(id(layer))
    out = list(layer._added_losses)
    for sub in layer._layers:
        out += _added_losses(sub, seen)
    return out


def _check_input_shape(model_name: str, value, spec) -> None:
    shape = tuple(getattr(value, "shape", np.shape(value)))
    expected = tuple(spec.shape)
    if len(shape) != len(expected) or any(
        e is not None and s is not None and e != s for s, e in zip(shape, expected, strict=True)
    ):
        raise ValueError(
            f"Model '{model_name}': input '{spec.name}' expects shape {expected}. Received: "
            f"an input of shape {shape}"
        )
