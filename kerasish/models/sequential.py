"""`Sequential`: a stack of layers, each called on the previous one's output."""

from __future__ import annotations

from backend.tensor import SymbolicTensor

from ..layers.core import InputLayer
from ..layers.layer import Layer, layer_path
from ..saving import serialization
from .model import Model


class Sequential(Model):
    """A linear stack of layers, as `keras.Sequential`.

    Built at once when it starts with `keras.Input` (or an InputLayer), else on its first
    call (deferred build). `layers` excludes the InputLayer, as Keras.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
        ...                           keras.layers.Dense(2)])
        >>> len(model.layers), model(np.ones((5, 4))).shape
        (2, (5, 2))
    """

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None):
        super().__init__(trainable=trainable, name=name)
        self._stack: list = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._rebuild()

    def add(self, layer, rebuild: bool = True) -> None:
        """Appends `layer` (a Layer, or a `keras.Input` tensor first)."""
        if isinstance(layer, SymbolicTensor) and layer._history is not None:
            layer = layer._history[0]
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(f"Sequential '{self.name}': an Input can only be the first layer.")
            self._input_layer = layer
        elif not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}' takes Layer instances. Received: {layer!r:.100} "
                f"(of type {type(layer).__name__})"
            )
        else:
            if any(existing.name == layer.name for existing in self._stack):
                raise ValueError(
                    f"All layers of a model need unique names. '{layer.name}' is already in "
                    f"Sequential '{self.name}'."
                )
            self._stack.append(layer)
            if layer not in self._layers:
                self._layers.append(layer)
        if rebuild:
            self._rebuild()

    def pop(self, rebuild: bool = True) -> Layer:
        """Removes and returns the last layer."""
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._stack.pop()
        self._layers.remove(layer)
        self.built = False
        self._functional = False
        if rebuild:
            self._rebuild()
        return layer

    @property
    def layers(self) -> list:
        return list(self._stack)

    def _rebuild(self) -> None:
        """Builds the layer graph when the input shape is known (errors surface here)."""
        if self._input_layer is None or not self._stack:
            return
        x = self._input_layer.output
        with layer_path(self.name):  # weights get paths like "sequential/dense/kernel"
            for layer in self._stack:
                x = layer(x)
        self._init_graph(self._input_layer.output, x)
        self._functional = True
        self._layers[:] = [layer for layer in self._layers if layer is not self._input_layer]
        self._inference = None

    def build(self, input_shape=None) -> None:
        if self._input_layer is None:
            if input_shape is None:
                raise ValueError(f"Sequential '{self.name}' needs an input shape to build.")
            # A first layer computing on strings (TextVectorization) gets a string Input.
            dtype = getattr(self._stack[0], "input_dtype", None) if self._stack else None
            self._input_layer = InputLayer(batch_shape=(None, *tuple(input_shape)[1:]), dtype=dtype)
        self._rebuild()
        self.built = True

    def call(self, inputs, training=None):
        if not self._functional:
            raise ValueError(f"Sequential '{self.name}' has no layers.")
        return super().call(inputs, training=training)

    def get_config(self) -> dict:
        layers = []
        if self._input_layer is not None:
            layers.append(serialization.serialize(self._input_layer))
        layers += [serialization.serialize(layer) for layer in self._stack]
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "layers": layers}  # fmt: skip
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A Sequential from its config: Keras 3's dict, Keras 2's dict (the input shape on
        the first layer as `batch_input_shape`) or Keras <= 2.2.2's bare list of layers."""
        if isinstance(config, list):
            config = {"layers": config}
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"A Sequential config needs a list of 'layers'. Received: {config!r}")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        layer_configs = config["layers"]
        first = layer_configs[0] if layer_configs else None
        first_inner = first.get("config") if isinstance(first, dict) else None
        if (
            isinstance(first_inner, dict)
            and first.get("class_name") != "InputLayer"
            and first_inner.get("batch_input_shape") is not None
        ):  # Keras 2: the model's input shape sits on its first layer
            model.add(InputLayer(batch_shape=first_inner["batch_input_shape"]), rebuild=False)
        for layer_config in layer_configs:
            model.add(serialization.deserialize(layer_config, custom_objects), rebuild=False)
        shape = config.get("build_input_shape")
        if model._input_layer is None and shape is not None:
            model.build(shape)
        else:
            model._rebuild()
        return model
