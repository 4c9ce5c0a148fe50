"""Weight constraints: callables `constraint(weight) -> constrained weight` that the
optimizer applies to `variable.constraint` after each update.

Written with engine ops; names, defaults and configs are Keras 3's.

Example:
    >>> import kerasish as keras
    >>> keras.constraints.get("non_neg")([-1.0, 2.0]).numpy().tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from backend import config as engine_config
from backend import ops

from .saving.object_registry import Family, UnknownIdentifierError


class Constraint:
    """Base class: `__call__(w)` returns the constrained weight (unchanged here)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _weight(w):
    w = ops.convert_to_tensor(w)
    return w if "float" in str(w.dtype) else ops.cast(w, engine_config.floatx())


def _axis(axis):
    return tuple(axis) if isinstance(axis, list | tuple) else axis


def _norms(w, axis):
    return ops.sqrt(ops.sum(ops.square(w), axis=_axis(axis), keepdims=True))


def _rescale(w, norms, desired):
    return ops.multiply(w, ops.divide(desired, ops.add(norms, engine_config.epsilon())))


class MaxNorm(Constraint):
    """Rescales each slice along `axis` whose L2 norm exceeds `max_value` down to it
    (`axis=0` for a Dense kernel: each unit's incoming weights; `[0, 1, 2]` for a Conv2D
    kernel).

    Example:
        >>> [round(v, 4) for v in MaxNorm(max_value=1.0)([[3.0], [4.0]]).numpy().ravel().tolist()]
        [0.6, 0.8]
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _weight(w)
        norms = _norms(w, self.axis)
        return _rescale(w, norms, ops.clip(norms, 0.0, float(self.max_value)))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's L2 norm into `[min_value, max_value]`, by the fraction `rate`
    (`rate=1` enforces it strictly)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _weight(w)
        norms = _norms(w, self.axis)
        clipped = ops.clip(norms, float(self.min_value), float(self.max_value))
        desired = ops.add(ops.multiply(self.rate, clipped), ops.multiply(1 - self.rate, norms))
        return _rescale(w, norms, desired)

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}  # fmt: skip


class NonNeg(Constraint):
    """`max(w, 0)`."""

    def __call__(self, w):
        return ops.maximum(_weight(w), 0.0)


class UnitNorm(Constraint):
    """Divides each slice along `axis` by its L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _weight(w)
        return ops.divide(w, ops.add(_norms(w, self.axis), engine_config.epsilon()))

    def get_config(self) -> dict:
        return {"axis": self.axis}


# ---- resolution ----------------------------------------------------------------------------

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_ALIASES = {
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}
_FAMILY = Family("constraint", "keras.constraints", _CLASSES, _ALIASES)
register = _FAMILY.register
deserialize = _FAMILY.deserialize


def serialize(constraint) -> dict:
    """Keras 3's dict: `{"module", "class_name", "config", "registered_name"}`."""
    return _FAMILY.serialize(constraint)


def get(identifier):
    """A constraint from a name (`"max_norm"`), a config dict, an instance, a class or a
    callable; None stays None.

    Example:
        >>> get("unit_norm").get_config()
        {'axis': 0}
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
        f"Could not interpret constraint identifier: {identifier!r}", identifier
    )


# Keras' lowercase names for the classes (`keras.constraints.max_norm(2.0)`).
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

__all__ = [*_CLASSES, "deserialize", "get", "max_norm", "min_max_norm", "non_neg", "register",
           "serialize", "unit_norm"]  # fmt: skip
