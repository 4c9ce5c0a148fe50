"""`Layer`: the base of every layer and model.

A layer stores and validates its config in `__init__`, creates weights in `build` through
`add_weight`, computes with ops in `call`, and returns its arguments from `get_config`.
Calling it builds it once (from the input shapes), then calls `call`: eagerly on arrays and
Tensors (returning Tensors), or symbolically on `Input` tensors (recording the call, so a
functional `Model` can be made from it).
"""

from __future__ import annotations

import functools
import inspect
import re
import threading

import numpy as np

import backend
from backend import nest, origins
from backend.dtypes import is_float, standardize_dtype
from backend.memory import check_array_memory
from backend.ops import cast, convert_to_tensor
from backend.ops.shape import identity
from backend.tensor import SymbolicTensor, Tensor, building_graph
from backend.variables import Variable

from .. import initializers
from ..saving import budget
from ..saving.object_registry import UnknownIdentifierError
from .mask_propagation import fill_masks, set_output_masks

# ---- names -----------------------------------------------------------------------------

_name_counts: dict = {}


def to_snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()  # Conv2D -> conv2d, as Keras


def unique_name(base: str) -> str:
    """`base`, then `base_1`, `base_2`, ... as Keras names layers."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Forgets the names handed out (`kerasish.backend.clear_session` calls it)."""
    _name_counts.clear()


backend.register_clear_session_hook(reset_names)


# ---- call context: the `training` flag of the enclosing call and the weight path -----------


class _CallContext(threading.local):
    def __init__(self):
        self.training = []  # values of enclosing calls, innermost last
        self.path = []  # names of the layers being built, outermost first


_context = _CallContext()
# Ops traced inside a layer call are tagged with its path, for the NaN checks' messages.
origins.set_origin_provider(lambda: "/".join(_context.path) or None)


class layer_path:
    """Context manager: weights created inside get `name/` in front of their path."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        _context.path.append(self.name)
        return self

    def __exit__(self, *exc):
        _context.path.pop()
        return False


class CallNode:
    """One call of a layer on symbolic tensors: what a functional model is made of."""

    def __init__(self, layer, args: tuple, kwargs: dict, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [
            x for x in nest.flatten([args, kwargs]) if isinstance(x, SymbolicTensor)
        ]
        self.output_tensors = [x for x in nest.flatten(outputs) if isinstance(x, SymbolicTensor)]


class Layer:
    """The base class of layers.

    Args:
        trainable: whether the layer's weights are updated in training.
        name: a name; unique by default (`dense`, `dense_1`, ...).
        dtype: the dtype of the weights and computations (floatx by default).

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> class Scale(keras.layers.Layer):
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...     def call(self, x):
        ...         return x * self.w
        >>> Scale()(np.ones((2, 3))).shape
        (2, 3)
    """

    _losses_added = 0  # add_loss calls so far, in any layer (read by the fast call path)

    autocast = True  # float inputs are cast to the layer's dtype (an Embedding opts out)

    def __init__(self, *, trainable: bool = True, name: str | None = None, dtype=None, **kwargs):
        kwargs.pop("input_shape", None)  # accepted for Keras 2 code; Input() is the way now
        kwargs.pop("input_dim", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(
                f"A layer name must be a non-empty string without '/'. Received: name={name!r}"
            )
        object.__setattr__(self, "_layers", [])
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = standardize_dtype(
            dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype,
            allow_string=True,  # an InputLayer of text
        )
        if not isinstance(trainable, (bool, np.bool_)):
            raise TypeError(
                f"{type(self).__name__}: `trainable` must be True or False. Received: "
                f"trainable={trainable!r}"
            )
        self._trainable = bool(trainable)
        self.built = False
        self._trainable_vars: list = []
        self._non_trainable_vars: list = []
        self._regularized: list = []  # (variable, regularizer)
        self._added_losses: list = []
        self._inbound_nodes: list = []
        # As Keras: a layer with its own compute_mask supports masking unless it says not.
        self.supports_masking = type(self).compute_mask is not Layer.compute_mask
        self._warned_dropped_mask = False
        self._call_signature = inspect.signature(self.call)
        call = self._call_signature.parameters
        self._call_takes_training = "training" in call
        self._call_takes_mask = "mask" in call
        self._call_mask_params = tuple(
            p for p in call if p.endswith("_mask") and p[: -len("_mask")] in call
        )

    def __init_subclass__(cls, **kwargs):
        # A layer is built once its `build` has run, however it was called (as Keras).
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _naming_bad_identifiers(init)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_sets_built", False):

            @functools.wraps(build)
            def build_and_mark(self, *args, **kw):
                build(self, *args, **kw)
                self.built = True

            build_and_mark._sets_built = True
            cls.build = build_and_mark

    # ---- tracking ------------------------------------------------------------------------

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and name != "_self":
            if value not in self._layers:
                self._layers.append(value)
        elif (
            isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value)
        ):
            for v in value:
                if v not in self._layers:
                    self._layers.append(v)
        object.__setattr__(self, name, value)

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        # As Keras 3: freezing a layer freezes its weights and its sublayers from then on.
        self._trainable = bool(value)
        for v in self._trainable_vars:
            v.trainable = self._trainable
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self) -> list:
        """Own trainable weights, own non-trainable weights, then the sublayers' (as Keras)."""
        out = list(self._trainable_vars) + list(self._non_trainable_vars)
        for layer in self._layers:
            out.extend(w for w in layer.weights if not any(w is o for o in out))
        return out

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def trainable_variables(self) -> list:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        return self.non_trainable_weights

    # ---- the tensors of its first call (transfer learning) --------------------------------

    @property
    def input(self):
        """The input tensor(s) of the layer's first call on symbolic tensors (a list when
        several), as Keras: what `Model(base.input, base.get_layer(name).output)` reads."""
        return self._first_call_tensors("input")

    @property
    def output(self):
        """The output tensor(s) of the layer's first call on symbolic tensors."""
        return self._first_call_tensors("output")

    @output.setter
    def output(self, value) -> None:  # an InputLayer's own tensor
        self.__dict__["_own_output"] = value

    def _first_call_tensors(self, what: str):
        own = self.__dict__.get("_own_output")
        if own is not None:
            return own
        if not self._inbound_nodes:
            raise ValueError(
                f"Layer '{self.name}' has never been called on symbolic tensors (an Input or "
                f"a built model's graph), so it has no defined {what}."
            )
        node = self._inbound_nodes[0]
        tensors = node.input_tensors if what == "input" else node.output_tensors
        return tensors[0] if len(tensors) == 1 else list(tensors)

    # ---- weights -----------------------------------------------------------------------------

    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable: bool = True,
        regularizer=None,
        constraint=None,
        name: str | None = None,
        **kwargs,
    ) -> Variable:
        """Creates a weight of this layer. `initializer` defaults to glorot_uniform for
        floats and zeros otherwise; its path is `<layer path>/<name>`."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = standardize_dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if is_float(dtype) else "zeros"
        init = initializers.get(initializer)
        name = name or f"variable_{len(self._trainable_vars) + len(self._non_trainable_vars)}"
        itemsize = np.dtype(dtype).itemsize if dtype != "string" else 8
        check_array_memory(shape, itemsize, f"{type(self).__name__} '{self.name}': weight '{name}'")
        budget.charge(shape, dtype, f"{self.name}/{name}")  # while a file loads: its size
        variable = Variable(
            init, shape=shape, dtype=dtype, trainable=trainable and self._trainable, name=name
        )
        # Inside build the path holds the enclosing layers and this one: "sequential/dense".
        scope = _context.path if _context.path[-1:] == [self.name] else [self.name]
        variable.path = "/".join([*scope, name])
        variable.constraint = constraint
        (self._trainable_vars if trainable else self._non_trainable_vars).append(variable)
        if regularizer is not None:
            self._regularized.append((variable, regularizer))
        return variable

    def get_weights(self) -> list:
        """The weights' values as fresh numpy arrays, in `weights` order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: list) -> None:
        """Sets every weight from a list of arrays in `weights` order (shapes must match)."""
        own = self.weights
        if not isinstance(weights, (list, tuple)):
            raise TypeError(
                f"Layer '{self.name}': set_weights() takes a list of arrays. Received: "
                f"weights of type {type(weights).__name__}"
            )
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weights, but received {len(weights)}."
            )
        for variable, given in zip(own, weights, strict=True):
            value = np.asarray(given)
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"Layer '{self.name}': weight '{variable.path}' takes numbers. Received: an "
                    f"array of dtype {value.dtype} (from a {type(given).__name__})"
                )
            if value.shape != variable.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{variable.path}' has shape {variable.shape}, "
                    f"but the given value has shape {value.shape}."
                )
        for variable, value in zip(own, weights, strict=True):
            variable.assign(value)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet: call it on data (or build it) before "
                "count_params()."
            )
        return int(sum(np.prod(w.shape, dtype=np.int64) for w in self.weights))

    # ---- losses ------------------------------------------------------------------------------

    def add_loss(self, loss) -> None:
        """Adds a loss term (a scalar tensor) that training adds to the compiled loss."""
        self._added_losses.append(loss)
        Layer._losses_added += 1  # a model's fast call path then clears `losses` again

    @property
    def losses(self) -> list:
        """Losses added with `add_loss` during the last call, plus weight regularization."""
        out = list(self._added_losses)
        out += [reg(var) for var, reg in self._regularized]
        for layer in self._layers:
            out += layer.losses
        return out

    def _clear_losses(self) -> None:
        self._added_losses = []
        for layer in self._layers:
            layer._clear_losses()

    # ---- building and calling ----------------------------------------------------------------

    def build(self, input_shape) -> None:
        """Creates the weights; the default creates none."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs (called when `supports_masking`); by default the mask
        received, passed on unchanged. See docs/masking.md."""
        return mask if self.supports_masking else None

    def _maybe_build(self, inputs) -> None:
        if self.built:
            return
        shapes = nest.pack(inputs, iter([tuple(x.shape) for x in nest.flatten(inputs)]))
        _context.path.append(self.name)
        try:
            self.build(shapes)
        finally:
            _context.path.pop()
        self.built = True

    def _convert_inputs(self, inputs):
        def convert(x):
            if isinstance(x, (SymbolicTensor, Variable)):
                return x
            try:
                t = x if isinstance(x, Tensor) else convert_to_tensor(x)
            except (TypeError, ValueError) as error:
                raise type(error)(f"{type(self).__name__} '{self.name}': {error}") from None
            # Floating inputs are cast to the layer's dtype, as Keras autocasts.
            cast_float = self.autocast and is_float(t.dtype) and is_float(self._dtype)
            if cast_float and t.dtype != self._dtype:
                casted = cast(t, self._dtype)
                casted._mask = t._mask
                return casted
            return t

        flat = [convert(x) if _is_tensor_like(x) else x for x in nest.flatten(inputs)]
        for x in flat:
            if not isinstance(x, (str, bytes, bool, type(None))) and not hasattr(x, "shape"):
                raise TypeError(
                    f"{type(self).__name__} '{self.name}' takes tensors or arrays. Received: "
                    f"an input of type {type(x).__name__}"
                )
        return nest.pack(inputs, iter(flat))

    def __call__(self, *args, **kwargs):
        if not args:
            raise ValueError(f"Layer '{self.name}' was called without inputs.")
        if args[0] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' was called on None; it takes tensors or "
                "arrays. Received: inputs=None"
            )
        inputs = self._convert_inputs(args[0])
        args = (inputs, *args[1:])
        symbolic = any(isinstance(x, SymbolicTensor) for x in nest.flatten(inputs))
        if symbolic and not getattr(self, "runs_on_data", False):
            _reject_strings(self, inputs)
        try:
            self._maybe_build(inputs)
        except (ValueError, TypeError) as error:  # a wrapped layer's build names that layer
            named = _with_layer_name(self, error)
            if named is error:
                raise
            raise named from error
        recorded = {k: v for k, v in kwargs.items() if k != "training"}  # as the caller gave
        previous_mask = fill_masks(self, args, kwargs)
        if not _context.training:
            self._clear_losses()  # an outermost call: `losses` are those of this call
        training = kwargs.pop("training", None)
        if training is None and _context.training:
            training = _context.training[-1]
        if self._call_takes_training:
            kwargs["training"] = training
        _context.training.append(training)
        _context.path.append(self.name)
        try:
            if symbolic:
                with building_graph():
                    outputs = self.call(*args, **kwargs)
            else:
                outputs = self.call(*args, **kwargs)
        except (ValueError, TypeError) as error:
            # An op's shape error inside `call` says which layer it came from.
            named = _with_layer_name(self, error)
            if named is error:
                raise
            raise named from error
        finally:
            _context.path.pop()
            _context.training.pop()
        if symbolic:
            # A layer returning an input unchanged (Dropout in inference) still gets an
            # output of its own, so each tensor's history names one layer call.
            input_ids = {id(x) for x in nest.flatten(inputs)}
            flat = [_own(o) if id(o) in input_ids else o for o in nest.flatten(outputs)]
            outputs = nest.pack(outputs, iter(flat))
        set_output_masks(self, inputs, outputs, previous_mask)
        if symbolic:
            node = CallNode(self, args, recorded, outputs)
            index = len(self._inbound_nodes)
            self._inbound_nodes.append(node)
            for i, out in enumerate(node.output_tensors):
                out._history = (self, index, i)
        return outputs

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (a shape tuple, or a list or dict of them for
        several inputs), found by calling the layer on symbolic tensors."""
        if isinstance(input_shape, dict):
            inputs = {k: SymbolicTensor(s, self._dtype) for k, s in input_shape.items()}
        elif isinstance(input_shape, list):
            inputs = [SymbolicTensor(s, self._dtype) for s in input_shape]
        else:
            inputs = SymbolicTensor(input_shape, self._dtype)
        out = self(inputs)
        self._inbound_nodes.pop()
        if isinstance(out, SymbolicTensor):
            return tuple(out.shape)
        return [tuple(o.shape) for o in nest.flatten(out)]

    # ---- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        """The arguments `from_config` needs to make an identical (unbuilt) layer."""
        return {"name": self.name, "trainable": self.trainable, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):  # Keras 3 writes a DTypePolicy config
            config["dtype"] = dtype.get("config", {}).get("name")
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _own(x):
    """A new tensor equal to `x`, with its mask."""
    out = identity(x)
    out._mask = x._mask
    return out


def _reject_strings(layer, inputs) -> None:
    for x in nest.flatten(inputs):
        if isinstance(x, SymbolicTensor) and x.dtype == "string":
            raise ValueError(
                f"Layer '{layer.name}' computes on numbers. Received: a string input "
                f"(shape {x.shape}). Turn strings into numbers first with TextVectorization "
                "or StringLookup."
            )


def _with_layer_name(layer, error):
    """`error` again, its message prefixed with the layer's class and name, unless it names
    the layer already (or is of a subclass, whose constructor may differ)."""
    if type(error) not in (ValueError, TypeError) or f"'{layer.name}'" in str(error):
        return error
    return type(error)(f"{type(layer).__name__} '{layer.name}': {error}")


def _is_tensor_like(x) -> bool:
    return isinstance(
        x, (np.ndarray, Tensor, SymbolicTensor, Variable, np.generic, list, float, int)
    )


def _naming_bad_identifiers(init):
    """`init` whose unknown activation, initializer, regularizer or constraint names the
    argument it came from: `Dense: Unknown initializer: 'glorot'. ... Received:
    kernel_initializer='glorot'`."""

    @functools.wraps(init)
    def init_naming_arguments(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except UnknownIdentifierError as error:
            try:
                bound = inspect.signature(init).bind(self, *args, **kwargs).arguments
            except TypeError:
                raise error from None
            received = error.identifier
            names = [
                name
                for name, value in bound.items()
                if value is received or (isinstance(value, str) and value == received)
            ]
            if not names:
                raise
            raise ValueError(
                f"{type(self).__name__}: {error} Received: {names[0]}={received!r}"
            ) from None

    return init_naming_arguments
