"""Lambda: wraps a Python function as a layer.

A config cannot hold Python code safely, so `get_config` records the function by name
(`{"module", "class_name": "function", "config": name, "registered_name": name}`, as
Keras writes a named function), and `from_config` only looks names up: in `custom_objects`,
among functions registered with `kerasish.saving.serialization.register`, or among
kerasish's own ops and activations for names written from a `keras`/`kerasish` module.
Loading never runs code stored in a file: a Keras `__lambda__` config (marshalled
bytecode) is refused with a `ValueError`, as is a name that none of those places has.
`load_model` runs in safe mode, where a Lambda layer does not load at all: pass
`safe_mode=False` (and the function in `custom_objects`) to load one.
"""

from __future__ import annotations

import inspect

from .. import activations, ops
from ..saving import serialization
from .layer import Layer


def _function_config(function) -> dict:
    name = getattr(function, "__name__", None)
    if name is None or name == "<lambda>":
        return {"class_name": "__lambda__", "config": {"name": "<lambda>"}}
    module = getattr(function, "__module__", None)
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def _resolve_function(config, what: str, custom_objects: dict | None, owner: str = "Lambda"):
    if config is None or callable(config):
        return config
    if isinstance(config, str):
        config = {"class_name": "function", "config": config, "module": None}
    if not isinstance(config, dict):
        raise ValueError(f"{owner}: cannot read `{what}` from a config. Received: {config!r}")
    if config.get("class_name") == "__lambda__":
        raise ValueError(
            f"{owner}: the config's `{what}` is a Python lambda. Its code is not loaded (loading "
            "never runs code from a file): define a named function and pass it in "
            "`custom_objects`, or rebuild the layer in code."
        )
    name = config.get("registered_name") or config.get("config")
    module = config.get("module") or ""
    found = (custom_objects or {}).get(name) or serialization.registered(name)
    if found is None and module.split(".")[0] in ("keras", "kerasish", "backend"):
        found = getattr(ops, name, None) or getattr(activations, name, None)
    if not callable(found):
        raise ValueError(
            f"{owner}: unknown function {name!r} for `{what}`. Loading never runs code from "
            "a file: pass the function in `custom_objects` or register it with "
            "`kerasish.saving.serialization.register`."
        )
    return found


class Lambda(Layer):
    """Calls `function(inputs, **arguments)` (also passing `mask` and `training` when the
    function takes them). `mask` is the output mask: a mask, or a function
    `mask(inputs, previous_mask)`; `output_shape` is recorded in the config.

    Example:
        >>> import numpy as np
        >>> import kerasish as keras
        >>> double = keras.layers.Lambda(lambda x, k: x * k, arguments={"k": 2.0})
        >>> double(np.ones(2)).numpy().tolist()
        [2.0, 2.0]
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(
                f"Lambda: `function` must be callable. Received: function={function!r}"
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError(
                f"Lambda: `arguments` must be a dict or None. Received: arguments={arguments!r}"
            )
        if isinstance(output_shape, list):
            output_shape = tuple(output_shape)
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments = arguments or {}
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._function_takes_mask = "mask" in params
        self._function_takes_training = "training" in params
        self.supports_masking = mask is not None  # as Keras: no `mask`, no output mask
        self.built = True

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._function_takes_mask:
            kwargs["mask"] = mask
        if self._function_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self) -> dict:
        output_shape = self.output_shape
        if callable(output_shape):
            output_shape = _function_config(output_shape)
        mask = self.mask
        if callable(mask):
            mask = _function_config(mask)
        elif mask is not None:
            raise ValueError(
                f"Lambda '{self.name}': a tensor `mask` cannot be written to a config; pass a "
                "function."
            )
        return {
            **super().get_config(),
            "function": _function_config(self.function),
            "output_shape": output_shape,
            "mask": mask,
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        if serialization.in_safe_mode():
            raise ValueError(
                f"Lambda layer {config.get('name')!r} calls a Python function, and loading in "
                "safe mode never runs code a file names. If you trust the file, load it with "
                "`safe_mode=False` and pass the function in `custom_objects`."
            )
        # Keras 2 wrote a lambda as marshalled code with function_type "lambda".
        for key, type_key in (("function", "function_type"), ("output_shape", "output_shape_type")):
            if config.pop(type_key, None) == "lambda":
                config[key] = {"class_name": "__lambda__"}
        for key in ("function", "mask"):
            config[key] = _resolve_function(config.get(key), key, custom_objects)
        shape = config.get("output_shape")
        if isinstance(shape, dict):
            config["output_shape"] = _resolve_function(shape, "output_shape", custom_objects)
        config.pop("output_shape_module", None)  # Keras 2 configs
        config.pop("module", None)
        return super().from_config(config)
