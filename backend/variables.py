"""`Variable`: named, mutable state (weights, optimizer slots, counters)."""

from __future__ import annotations

import numpy as np

from .dtypes import standardize_dtype, to_array
from .tensor import (
    ArrayBacked,
    SymbolicTensor,
    Tensor,
    current_trace,
    eager_scope,
    in_symbolic_scope,
)

# String initializers are resolved by the API layer (kerasish.initializers), which
# registers its resolver here; the engine itself knows only these two.
_initializer_resolver = None


def set_initializer_resolver(resolver) -> None:
    global _initializer_resolver
    _initializer_resolver = resolver


def _resolve_initializer(initializer):
    if isinstance(initializer, str):
        if _initializer_resolver is not None:
            return _initializer_resolver(initializer)
        if initializer == "zeros":
            return lambda shape, dtype=None: np.zeros(shape, dtype=dtype)
        if initializer == "ones":
            return lambda shape, dtype=None: np.ones(shape, dtype=dtype)
        raise ValueError(
            f"Unknown initializer for Variable: {initializer!r}. Pass an array, a callable "
            "`initializer(shape, dtype)`, 'zeros' or 'ones'."
        )
    return initializer


class Variable(ArrayBacked):
    """A mutable tensor with a name, as `keras.Variable`.

    Args:
        initializer: an array-like initial value, or a callable `initializer(shape, dtype)`
            (then `shape` is required), or `"zeros"`/`"ones"`.
        shape: the shape, required when `initializer` is a callable.
        dtype: the dtype; floatx when None, whatever the initial value's dtype (as Keras).
        trainable: whether GradientTape watches it automatically and optimizers update it.
        name: a name; `path` is the name prefixed by the owning layer's path, when any.

    Assigning replaces the value: a Tensor read earlier keeps the value it had.

    Example:
        >>> import kerasish as keras
        >>> v = keras.Variable([1.0, 2.0], name="w")
        >>> v.assign_add([1.0, 1.0]).numpy().tolist(), v.dtype, v.name
        ([2.0, 3.0], 'float32', 'w')
    """

    _variable = None
    _flat = None  # the FlatBuffer holding the value as a view, once an optimizer placed it

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, name=None):
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(
                f"Argument `name` must be a string without '/'. Received: name={name!r}"
            )
        self.name = name or "variable"
        self.path = self.name
        self.trainable = bool(trainable)
        self._node = None
        initializer = _resolve_initializer(initializer)
        dtype = standardize_dtype(dtype)
        if callable(initializer) and not isinstance(initializer, (Tensor, np.ndarray)):
            if shape is None:
                raise ValueError(
                    "When creating a Variable from an initializer, `shape` is required. "
                    f"Received: initializer={initializer!r}, shape=None"
                )
            with eager_scope():  # also when created while a function is traced
                value = np.asarray(initializer(tuple(shape), dtype=dtype))
        else:
            value = to_array(initializer)
            if shape is not None and tuple(shape) != value.shape:
                raise ValueError(
                    f"Variable '{self.name}': the initial value has shape {value.shape}, "
                    f"but shape={tuple(shape)} was given."
                )
        # Always a private copy, in C order: an initializer's transposed result (orthogonal)
        # would otherwise be copied into the kernels' layout at every use.
        self._value = np.array(value, dtype=dtype, order="C")

    @property
    def value(self) -> Tensor:
        """The current value as a Tensor (a snapshot: compiled steps update Variables in
        place, so the Tensor does not share the Variable's memory)."""
        return Tensor(self._value.copy())

    def _checked(self, value, what: str) -> np.ndarray:
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Variable '{self.path}' has shape {self._value.shape}; cannot {what} a value "
                f"of shape {value.shape}."
            )
        return value

    def _traced(self, value) -> bool:
        """Records the assignment in the trace being compiled, when there is one."""
        if not (in_symbolic_scope() or isinstance(value, SymbolicTensor)):
            return False
        trace = current_trace()
        if trace is None:
            raise ValueError(
                f"Variable '{self.path}': cannot assign a symbolic value outside a traced function."
            )
        trace.assign(self, value)
        return True

    def assign(self, value):
        """Replaces the value (cast to the Variable's dtype); returns the Variable.
        Inside a traced function the assignment is recorded in the graph instead."""
        if not self._traced(value):
            value = self._checked(value, "assign")
            self._value = value.astype(self._value.dtype, order="C", copy=True)
            if self._flat is not None:  # copied into the buffer before its next compiled use
                self._flat.dirty = True
        return self

    def assign_add(self, value):
        if in_symbolic_scope() or isinstance(value, SymbolicTensor):
            from .ops import add

            return self.assign(add(self, value))
        return self.assign(self._value + self._checked(value, "add"))

    def assign_sub(self, value):
        if in_symbolic_scope() or isinstance(value, SymbolicTensor):
            from .ops import subtract

            return self.assign(subtract(self, value))
        return self.assign(self._value - self._checked(value, "subtract"))

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
            f"value={self._value!r}>"
        )
