"""What a training step needs around it: whether one is running, the `trainable` flags a
model was compiled with, and checking the logs a step returns.

`trainable` follows tf.keras 2's rule for compiled steps: which weights a model's training
step updates, and whether its BatchNormalization layers run in training mode, is what the
flags were when the model was compiled. The compiled step is traced with those flags in
place (and the current ones restored after), so setting `trainable` after `compile` takes
effect at the next `compile`. Steps run with `run_eagerly=True` read the flags as they are
(Keras 3's behaviour).
"""

from __future__ import annotations

import threading

import numpy as np

from backend.tensor import SymbolicTensor, Tensor
from backend.variables import Variable


class _StepContext(threading.local):
    def __init__(self):
        self.depth = 0


_step = _StepContext()


class running_step:
    """Context manager marking a train/test/predict step as running: models called inside
    run their layers (so tapes and traces see them) rather than a cached inference Plan."""

    def __enter__(self):
        _step.depth += 1
        return self

    def __exit__(self, *exc):
        _step.depth -= 1
        return False


def in_step() -> bool:
    return _step.depth > 0


# ---- trainable flags --------------------------------------------------------------------


def _all_layers(model) -> list:
    """`model` and every layer under it, each once."""
    out, seen, stack = [], set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(reversed(layer._layers))
    return out


def trainable_state(model) -> tuple:
    """The `trainable` flags of every layer under `model` and of their weights."""
    layers = _all_layers(model)
    variables = {id(v): v for layer in layers for v in layer.weights}
    return (
        [(layer, layer._trainable) for layer in layers],
        [(v, v.trainable) for v in variables.values()],
    )


def _set_state(state: tuple) -> None:
    layers, variables = state
    for layer, flag in layers:
        layer._trainable = flag  # the raw flags: the `trainable` setter would cascade
    for variable, flag in variables:
        variable.trainable = flag


class compiled_trainable_state:
    """Context manager: the model's `trainable` flags as they were at `compile`, restored to
    the current ones on exit."""

    def __init__(self, model):
        self.state = getattr(model, "_compiled_trainable_state", None)
        self.model = model

    def __enter__(self):
        if self.state is not None:
            self.current = trainable_state(self.model)
            _set_state(self.state)
        return self

    def __exit__(self, *exc):
        if self.state is not None:
            _set_state(self.current)
        return False


# ---- logs ---------------------------------------------------------------------------------


def _is_value(x) -> bool:
    return isinstance(x, (Tensor, SymbolicTensor, Variable, np.ndarray, np.generic, int, float))


def check_logs(model, kind: str, logs) -> dict:
    """`logs` (what `train_step`/`test_step` returned) checked: a dict whose values are
    scalars or dicts of scalars (flattened into it, as Keras flattens `compile_metrics`)."""
    where = f"{type(model).__name__}.{kind}_step"
    if not isinstance(logs, dict):
        raise TypeError(
            f"{where} must return a dict of scalar metrics, such as {{'loss': loss}}. "
            f"Received: {type(logs).__name__}"
        )
    flat: dict = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            flat.update(check_logs(model, kind, value))
            continue
        if not _is_value(value) or isinstance(value, bool):
            raise TypeError(
                f"{where} must return a dict of scalar metrics. Received: {key!r}: "
                f"{type(value).__name__}"
            )
        shape = tuple(np.shape(value)) if not hasattr(value, "shape") else tuple(value.shape)
        if any(d != 1 for d in shape):
            raise ValueError(
                f"{where} must return a dict of scalar metrics. Received: {key!r} with shape "
                f"{shape}; reduce it (ops.mean) or track it with a metric."
            )
        flat[key] = value
    return flat


def to_python(logs: dict) -> dict:
    return {k: float(np.asarray(v).reshape(())) for k, v in logs.items()}
