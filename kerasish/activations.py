"""Activation functions by name (the ones Dense networks need; the catalogue adds the rest).

Example:
    >>> import kerasish as keras
    >>> keras.activations.get("relu")([-1.0, 2.0]).numpy().tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from backend import ops


def linear(x):
    """The identity."""
    return ops.convert_to_tensor(x) if not hasattr(x, "shape") else x


def relu(x):
    """`max(x, 0)`."""
    return ops.relu(x)


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x))` over `axis`."""
    return ops.softmax(x, axis=axis)


_ACTIVATIONS = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
}


def get(identifier):
    """An activation from a name, a callable or None (None is `linear`)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation: {identifier!r}. Known: {sorted(_ACTIVATIONS)}")
        return _ACTIVATIONS[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation. Received: {identifier!r}")


def serialize(activation) -> str:
    """The name of a built-in activation (a custom callable serializes by its __name__)."""
    for name, fn in _ACTIVATIONS.items():
        if fn is activation:
            return name
    return getattr(activation, "__name__", repr(activation))
