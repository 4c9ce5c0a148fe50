"""What `compile` was given, to and from a file: the legacy `training_config` attribute and
the `.keras` archive's `compile_config`.

Losses and metrics are written by full name or class config, never by short alias:
Keras 3 cannot compile a legacy file that says `"mse"` ("Could not deserialize
'keras.metrics.mse'"). A
metric given by alias (`"mae"`) is written as its class config with the alias as its name,
so the logs keep their keys. `"accuracy"`, `"acc"`, `"crossentropy"` and `"ce"` stay
strings: both Keras and kerasish pick the variant from the shapes.

Reading accepts Keras 3's and tf.keras 2's forms (`"Custom>Adam"`, the `lr` key,
`MeanMetricWrapper` configs with a function name, nested lists per output).
"""

from __future__ import annotations

import warnings

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .object_registry import get_registered_object

_SHAPE_PICKED_METRICS = ("accuracy", "acc", "crossentropy", "ce")
_OPTIMIZER_KEYS_RENAMED = {"lr": "learning_rate"}


# ---- writing ------------------------------------------------------------------------------


def _per_output(value, entry):
    """`entry` applied to each loss or metric of a (possibly nested) list or dict of them."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_per_output(x, entry) for x in value]
    if isinstance(value, dict):
        return {k: _per_output(v, entry) for k, v in value.items()}
    return entry(value)


def _loss_entry(loss):
    obj = losses_module.get(loss)
    if isinstance(obj, losses_module.Loss):
        return losses_module.serialize(obj)
    name = getattr(obj, "__name__", None)
    if name in losses_module._FUNCTIONS and losses_module._FUNCTIONS[name] is obj:
        return name  # a built-in function, by its full name
    return _function_entry(obj, name)


def _function_entry(obj, name) -> dict:
    """A loss or metric function given as itself: a registered one by its registered name
    (`"package>name"`), as Keras writes it, so that loading finds it in the registry; any
    other by its name, for `custom_objects`."""
    registered = getattr(obj, "_registered_name", None)
    if registered:
        return {"module": "builtins", "class_name": "function", "config": registered,
                "registered_name": "function"}  # fmt: skip
    return {"module": getattr(obj, "__module__", None), "class_name": "function",
            "config": name, "registered_name": name}  # fmt: skip


def _metric_entry(metric):
    if isinstance(metric, str):
        if metric.lower() in _SHAPE_PICKED_METRICS or metric in metrics_module._FUNCTIONS:
            return metric
        return metrics_module.serialize(metrics_module.get(metric))
    if isinstance(metric, metrics_module.Metric):
        return metrics_module.serialize(metric)
    if isinstance(metric, type):
        return metrics_module.serialize(metric())
    name = getattr(metric, "__name__", None)
    if metrics_module._FUNCTIONS.get(name) is metric:
        return name
    return _function_entry(metric, name)


def _compile_arguments(model) -> dict | None:
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    compiled_loss = model._compile_loss
    loss_weights = None
    if compiled_loss is not None and any(w != 1.0 for w in compiled_loss.weights):
        loss_weights = list(compiled_loss.weights)
    compiled_metrics = model._compile_metrics
    return {
        "loss": _per_output(model.loss, _loss_entry),
        "loss_weights": loss_weights,
        "metrics": _per_output(compiled_metrics._ids, _metric_entry) if compiled_metrics else None,
        "weighted_metrics": (
            _per_output(compiled_metrics._weighted_ids, _metric_entry) if compiled_metrics else None
        ),
        "run_eagerly": bool(model.run_eagerly),
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def compile_config(model) -> dict | None:
    """The `.keras` archive's `compile_config` (with the optimizer, as Keras 3 writes it
    for a compiled model), or None for a model that was not compiled."""
    arguments = _compile_arguments(model)
    if arguments is None:
        return None
    return {"optimizer": optimizers_module.serialize(model.optimizer), **arguments}


def training_config(model) -> dict | None:
    """The legacy `.h5` file's `training_config`, or None for a model not compiled."""
    arguments = _compile_arguments(model)
    if arguments is None:
        return None
    optimizer = optimizers_module.serialize(model.optimizer)
    return {**arguments, "optimizer_config": {"class_name": optimizer["class_name"],
                                              "config": optimizer["config"]}}  # fmt: skip


# ---- reading ------------------------------------------------------------------------------


def _optimizer(config, custom_objects, label: str):
    if isinstance(config, str):
        return optimizers_module.get(config)
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise ValueError(f"{label}: the optimizer config is not a dict: {config!r}")
    inner = dict(config.get("config") or {})
    for old, new in _OPTIMIZER_KEYS_RENAMED.items():
        if old in inner:
            inner.setdefault(new, inner.pop(old))
    return optimizers_module.deserialize({**config, "config": inner}, custom_objects)


def _loss(entry, custom_objects):
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, list):
        return [_loss(x, custom_objects) for x in entry]
    if isinstance(entry, dict) and "class_name" not in entry:
        return {k: _loss(v, custom_objects) for k, v in entry.items()}
    found = _custom_function(entry, custom_objects)
    return found if found is not None else losses_module.deserialize(entry, custom_objects)


def _custom_function(entry, custom_objects):
    """The function a `{"class_name": "function"}` entry names, from `custom_objects` (by
    its full or its short name) or the registry; None for any other entry."""
    if not isinstance(entry, dict) or entry.get("class_name") != "function":
        return None
    name = entry.get("config")
    if not isinstance(name, str):
        return None
    custom = custom_objects or {}
    found = custom.get(name) or custom.get(name.split(">")[-1]) or get_registered_object(name)
    return found if callable(found) and not isinstance(found, type) else None


def _metric(entry, custom_objects):
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, list):
        return [_metric(x, custom_objects) for x in entry]
    if isinstance(entry, dict) and "class_name" not in entry:
        return {k: _metric(v, custom_objects) for k, v in entry.items()}
    if isinstance(entry, dict) and entry.get("class_name") == "function":
        name = entry.get("config")
        found = _custom_function(entry, custom_objects) or metrics_module._FUNCTIONS.get(name)
        if found is None:
            found = losses_module.get(name)  # a loss function used as a metric
        return found
    return metrics_module.deserialize(entry, custom_objects)


def compile_arguments(config: dict, custom_objects, label: str) -> tuple[dict, bool]:
    """`compile` arguments from a `training_config` or `compile_config`, and whether the
    file named its optimizer (without one, the default optimizer is used, as Keras)."""
    if not isinstance(config, dict):
        raise ValueError(f"{label}: the training configuration is not a dict: {config!r}")
    optimizer_config = config.get("optimizer_config", config.get("optimizer"))
    has_optimizer = optimizer_config is not None
    try:
        optimizer = (
            _optimizer(optimizer_config, custom_objects, label) if has_optimizer else ("rmsprop")
        )
        arguments = {
            "optimizer": optimizer,
            "loss": _loss(config.get("loss"), custom_objects),
            "metrics": _metric(config.get("metrics"), custom_objects),
            "weighted_metrics": _metric(config.get("weighted_metrics"), custom_objects),
            "loss_weights": config.get("loss_weights"),
        }
    except (TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"{label}: the training configuration cannot be read: {err}") from None
    if config.get("run_eagerly"):
        arguments["run_eagerly"] = True
    return arguments, has_optimizer


def compile_from_file(model, config, custom_objects, label: str) -> bool:
    """Compiles `model` as the file says; returns whether the file's optimizer state may be
    loaded into it (not when the file named no optimizer: the default one stands in)."""
    try:
        arguments, has_optimizer = compile_arguments(config, custom_objects, label)
        model.compile(**arguments)
    except ValueError as err:
        if str(err).startswith(label):
            raise
        raise ValueError(f"{label}: cannot compile the model as the file says: {err}") from None
    if not has_optimizer:
        warnings.warn(
            f"{label}: the training configuration names no optimizer, so the model was "
            f"compiled with the default ({type(model.optimizer).__name__}) and the saved "
            "optimizer state was skipped.",
            stacklevel=3,
        )
    if model.built and model.trainable_weights:
        model.optimizer.build(model.trainable_weights)
    return has_optimizer
