"""Keras operations in functional model configs (a layer the loaders make, not public API).

Keras 3 records `keras.ops` calls made on symbolic tensors as nodes of a functional model,
beside its layers: `{"module": "keras.src.ops.numpy", "class_name": "NotEqual", "config":
{"name": ...}}` (Keras 3.15 writes the mask a Masking or Embedding layer passes on this way,
as `NotEqual` and `Any` nodes). `KerasOperation` stands for such a node: a weightless layer
calling the kerasish op of the same meaning with the config's arguments, which writes
itself back exactly as Keras wrote it. Only the operations listed here load; another is a
ValueError naming it.
"""

from __future__ import annotations

from .. import ops
from .layer import Layer

# Keras' operation class -> (kerasish.ops function, the config keys it takes as arguments).
_OPERATIONS = {
    "Add": ("add", ()), "Subtract": ("subtract", ()), "Multiply": ("multiply", ()),
    "Divide": ("divide", ()), "TrueDivide": ("true_divide", ()), "Negative": ("negative", ()),
    "Absolute": ("abs", ()), "Abs": ("abs", ()), "Exp": ("exp", ()), "Log": ("log", ()),
    "Sqrt": ("sqrt", ()), "Square": ("square", ()), "Power": ("power", ()),
    "Maximum": ("maximum", ()), "Minimum": ("minimum", ()), "Equal": ("equal", ()),
    "NotEqual": ("not_equal", ()), "Greater": ("greater", ()),
    "GreaterEqual": ("greater_equal", ()), "Less": ("less", ()), "LessEqual": ("less_equal", ()),
    "LogicalAnd": ("logical_and", ()), "LogicalOr": ("logical_or", ()),
    "LogicalNot": ("logical_not", ()), "Where": ("where", ()), "Matmul": ("matmul", ()),
    "Tanh": ("tanh", ()), "Sigmoid": ("sigmoid", ()), "Relu": ("relu", ()),
    "Any": ("any", ("axis", "keepdims")), "All": ("all", ("axis", "keepdims")),
    "Mean": ("mean", ("axis", "keepdims")), "Sum": ("sum", ("axis", "keepdims")),
    "Max": ("max", ("axis", "keepdims")), "Min": ("min", ("axis", "keepdims")),
    "ExpandDims": ("expand_dims", ("axis",)), "Squeeze": ("squeeze", ("axis",)),
    "Reshape": ("reshape", ("newshape",)), "Transpose": ("transpose", ("axes",)),
    "Concatenate": ("concatenate", ("axis",)), "Stack": ("stack", ("axis",)),
    "Cast": ("cast", ("dtype",)), "Clip": ("clip", ("x_min", "x_max")),
    "Softmax": ("softmax", ("axis",)),
}  # fmt: skip
_MODULES = {"Cast": "keras.src.ops.core", "Softmax": "keras.src.ops.nn",
            "Relu": "keras.src.ops.nn", "Sigmoid": "keras.src.ops.nn"}  # fmt: skip


class KerasOperation(Layer):
    """A Keras operation node of a functional model (`NotEqual`, `Any`, `Add`, ...): calls
    the kerasish op of the same meaning. Made by the loaders from Keras' configs."""

    def __init__(self, operation: str, arguments: dict | None = None, name=None):
        if operation not in _OPERATIONS:
            raise ValueError(
                f"The Keras operation {operation!r} in the model config is not supported. "
                f"Supported: {sorted(_OPERATIONS)}"
            )
        function, keys = _OPERATIONS[operation]
        arguments = dict(arguments or {})
        unknown = set(arguments) - set(keys)
        if unknown:
            raise ValueError(
                f"The Keras operation {operation!r} takes {list(keys)}. Received: {sorted(unknown)}"
            )
        super().__init__(name=name)
        self.keras_class_name = operation
        self.keras_module = _MODULES.get(operation, "keras.src.ops.numpy")
        self.arguments = arguments
        self._function = getattr(ops, function)

    def call(self, *args, **kwargs):
        return self._function(*args, **kwargs, **self.arguments)

    def get_config(self) -> dict:
        return {"name": self.name, **self.arguments}

    @staticmethod
    def is_operation_config(config: dict) -> bool:
        """Whether a layer entry of a model config is a Keras operation: its module says so
        (`.keras` files), or (legacy `.h5` files, which name no module) its class is an
        operation's and its config holds only the operation's arguments, no layer settings."""
        name = config.get("class_name")
        if name not in _OPERATIONS:
            return False
        module = config.get("module")
        if isinstance(module, str):
            return module.startswith("keras.src.ops")
        inner = config.get("config")
        allowed = {"name", *_OPERATIONS[name][1]}
        return isinstance(inner, dict) and set(inner) <= allowed

    @classmethod
    def from_keras_config(cls, config: dict):
        inner = dict(config.get("config") or {})
        name = inner.pop("name", None)
        return cls(config["class_name"], inner, name=name)
