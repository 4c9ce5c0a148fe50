"""Weight regularizers: callables `regularizer(weight) -> scalar tensor` added to the loss.

Written with engine ops, so a penalty is differentiable and works inside compiled steps.
Names, defaults and configs are Keras 3's.

Example:
    >>> import kerasish as keras
    >>> reg = keras.regularizers.get("l2")
    >>> round(float(reg(keras.ops.ones((2, 2)))), 4)
    0.04
"""

from __future__ import annotations

import math

import numpy as np

from backend import config as engine_config
from backend import ops

from .saving.object_registry import Family, UnknownIdentifierError


def validate_float_arg(value, name: str) -> float:
    """`value` as a float, if it is a finite number >= 0; else a ValueError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _as_float32(value: float) -> float:
    # Keras keeps these factors as float32 tensors, so its configs hold the float32 value.
    return float(np.float32(value))


class Regularizer:
    """Base class: `__call__(x)` returns the penalty (0 here); `get_config()` its args."""

    def __call__(self, x):
        return 0.0

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _weight(x):
    x = ops.convert_to_tensor(x)
    return x if "float" in str(x.dtype) else ops.cast(x, engine_config.floatx())


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)` (both 0 by default).

    Example:
        >>> float(L1L2(l1=0.5, l2=1.0)([1.0, -2.0]))
        6.5
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = _weight(x)
        penalty = ops.zeros((), dtype=x.dtype)
        if self.l1:
            penalty = ops.add(penalty, ops.multiply(self.l1, ops.sum(ops.abs(x))))
        if self.l2:
            penalty = ops.add(penalty, ops.multiply(self.l2, ops.sum(ops.square(x))))
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)`."""

    def __init__(self, l1=0.01):
        self.l1 = _as_float32(validate_float_arg(0.01 if l1 is None else l1, name="l1"))

    def __call__(self, x):
        return ops.multiply(self.l1, ops.sum(ops.abs(_weight(x))))

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)`."""

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        return ops.multiply(self.l2, ops.sum(ops.square(_weight(x))))

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (`mode="rows"`) or columns of a 2-D weight:
    `factor * 0.5 * mean |<v_i, v_j>|` over the pairs `i < j` of unit-normalized vectors.

    Example:
        >>> float(OrthogonalRegularizer(factor=1.0)([[1.0, 0.0], [0.0, 1.0]]))
        0.0
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _as_float32(validate_float_arg(factor, name="factor"))
        if mode not in ("rows", "columns"):
            raise ValueError(
                'Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                f"Received: mode={mode!r}"
            )
        self.mode = mode

    def __call__(self, x):
        x = _weight(x)
        if len(x.shape) != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. Received: "
                f"inputs.shape={tuple(x.shape)}"
            )
        axis = 1 if self.mode == "rows" else 0
        norm = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
        unit = ops.divide(x, ops.maximum(norm, engine_config.epsilon()))
        if self.mode == "rows":
            product = ops.matmul(unit, ops.transpose(unit))
        else:
            product = ops.matmul(ops.transpose(unit), unit)
        size = x.shape[1 - axis]
        off_diagonal = ops.multiply(product, ops.subtract(1.0, ops.eye(size, dtype=x.dtype)))
        num_pairs = size * (size - 1.0) / 2.0
        return ops.multiply(self.factor * 0.5 / num_pairs, ops.sum(ops.abs(off_diagonal)))

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


# ---- resolution ----------------------------------------------------------------------------

_CLASSES = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
_ALIASES = {
    "regularizer": Regularizer,
    "l1": L1,
    "l2": L2,
    "l1l2": L1L2,  # Keras 3's snake case of "L1L2"
    "l1_l2": L1L2,  # the Keras 2 / `keras.regularizers.l1_l2` spelling
    "orthogonal_regularizer": OrthogonalRegularizer,
}
_FAMILY = Family("regularizer", "keras.regularizers", _CLASSES, _ALIASES)
register = _FAMILY.register
deserialize = _FAMILY.deserialize


def serialize(regularizer) -> dict:
    """Keras 3's dict: `{"module", "class_name", "config", "registered_name"}`."""
    return _FAMILY.serialize(regularizer)


def get(identifier):
    """A regularizer from a name (`"l2"`), a config dict, an instance, a class or a
    callable; None stays None.

    Example:
        >>> get("l1_l2").get_config()
        {'l1': 0.0, 'l2': 0.0}
    """
    if identifier is None:
        return None
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise UnknownIdentifierError(
        f"Could not interpret regularizer identifier: {identifier!r}", identifier
    )


# Keras' lowercase names for the classes (`keras.regularizers.l2(0.01)`).
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

__all__ = [*_CLASSES, "deserialize", "get", "l1", "l1_l2", "l2", "orthogonal_regularizer",
           "register", "serialize"]  # fmt: skip
