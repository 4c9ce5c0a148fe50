"""The engine's values: eager `Tensor`, `Variable`, `SymbolicTensor`, and graph `Node`s.

A `Tensor` wraps a numpy array. A `SymbolicTensor` has a shape (dims may be None) and a
dtype but no value; ops on it record a `Node`. A `Node` is one application of a primitive
op: the op, its inputs, its attributes and its outputs. Symbolic graphs are linked through
`tensor._node`; eager tensors get a `_node` only while a GradientTape records them, and the
node remembers which tapes recorded it so a tape never sees history from before it.
"""

from __future__ import annotations

import threading
import weakref
from typing import NamedTuple

import numpy as np

from .dtypes import standardize_dtype

# The operator methods call the public op functions, which are defined after this module;
# backend.ops binds itself here when it is imported.
_ops = None


def _bind_ops(module) -> None:
    global _ops
    _ops = module


_DTYPE_NAMES: dict = {}


def dtype_name(dtype: np.dtype) -> str:
    """`dtype.name`, cached: numpy computes the name in Python on every access, and eager
    ops ask for it several times per call."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = dtype.name
    return name


class Spec(NamedTuple):
    """What shape inference knows about a value: a shape tuple (None for unknown dims)
    and a dtype string."""

    shape: tuple
    dtype: str


class _RecordingState(threading.local):
    def __init__(self):
        self.tapes = []  # active GradientTapes, innermost last
        self.symbolic_depth = 0  # > 0 while a function is being traced
        self.trace = None  # the compiler's Trace being recorded, if any
        self.building = 0  # > 0 while a layer is called on symbolic inputs (graph building)


_state = _RecordingState()


def active_tapes() -> list:
    return _state.tapes


def current_trace():
    """The compiler's Trace being recorded (Variable assignments land there), or None."""
    return _state.trace


def set_current_trace(trace) -> None:
    _state.trace = trace


def in_symbolic_scope() -> bool:
    """True while tracing: then even ops on Variables and constants record nodes."""
    return _state.symbolic_depth > 0


class symbolic_scope:
    """Context manager under which every op records a graph node instead of computing."""

    def __enter__(self):
        _state.symbolic_depth += 1
        return self

    def __exit__(self, *exc):
        _state.symbolic_depth -= 1
        return False


class building_graph:
    """Context manager the API layer enters while a layer is called on symbolic inputs (a
    functional model being built). Then a random draw whose shape has unknown dims
    (`ops.shape(x)[0]` of an `Input`) becomes a graph node instead of an error."""

    def __enter__(self):
        _state.building += 1
        return self

    def __exit__(self, *exc):
        _state.building -= 1
        return False


def is_building_graph() -> bool:
    return _state.building > 0


class Node:
    """One application of a primitive op.

    `inputs` are the values the op was applied to (eager Tensors, Variables or
    SymbolicTensors); `attrs` its static attributes; `outputs` what it produced. Eager nodes
    hold their outputs weakly: an output that nothing downstream uses cannot carry a
    gradient, and a strong reference would make a cycle holding every activation alive.
    """

    __slots__ = ("op", "inputs", "attrs", "saved", "_outputs", "_weak", "tapes")

    def __init__(self, op, inputs, attrs):
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        # What `forward` retains for `vjp` beyond inputs and outputs (a random draw, say).
        self.saved = None
        self._outputs = ()
        self._weak = False
        self.tapes = ()

    def set_outputs(self, outputs, weak: bool) -> None:
        self._weak = weak
        self._outputs = tuple(weakref.ref(o) for o in outputs) if weak else tuple(outputs)

    @property
    def outputs(self) -> tuple:
        if self._weak:
            return tuple(ref() for ref in self._outputs)
        return self._outputs

    def __repr__(self) -> str:
        return f"<Node {self.op.name} attrs={self.attrs}>"


class OperatorMixin:
    """Python operators for Tensor, Variable and SymbolicTensor, all routed through ops so
    that gradients are recorded. The high `__array_priority__` makes numpy's operators defer
    to ours, so `ndarray + tensor` calls `tensor.__radd__` (a recorded op) instead of silently
    dropping the gradient. numpy *functions* on an eager tensor (`np.exp(t)`, `np.mean(t)`)
    read its value through `__array__` and return numpy results, as Keras' JAX and TensorFlow
    backends do; those results carry no gradient. On a symbolic tensor they raise an error
    that points to `kerasish.ops`."""

    __slots__ = ()
    __array_priority__ = 1000

    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.mod(self, other)

    def __rmod__(self, other):
        return _ops.mod(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.logical_not(self)

    def __and__(self, other):
        return _ops.logical_and(self, other)

    def __rand__(self, other):
        return _ops.logical_and(other, self)

    def __or__(self, other):
        return _ops.logical_or(self, other)

    def __ror__(self, other):
        return _ops.logical_or(other, self)

    def __lt__(self, other):
        return _ops.less(self, other)

    def __le__(self, other):
        return _ops.less_equal(self, other)

    def __gt__(self, other):
        return _ops.greater(self, other)

    def __ge__(self, other):
        return _ops.greater_equal(self, other)

    def __eq__(self, other):
        return _ops.equal(self, other)

    def __ne__(self, other):
        return _ops.not_equal(self, other)

    __hash__ = object.__hash__

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def T(self):
        return _ops.transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)


class ArrayBacked(OperatorMixin):
    """What Tensor and Variable share: a numpy value in `_value` and its views."""

    __slots__ = ()

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self) -> str:
        return dtype_name(self._value.dtype)

    @property
    def size(self) -> int:
        return self._value.size

    def numpy(self) -> np.ndarray:
        """The value as a numpy array (a copy, safe to mutate)."""
        return self._value.copy()

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self._value.copy() if copy else self._value
        return self._value.astype(dtype, copy=bool(copy) or self._value.dtype != dtype)

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[0]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __index__(self) -> int:
        return self._value.__index__()


class Tensor(ArrayBacked):
    """An eager tensor: a thin wrapper over a numpy array.

    Example:
        >>> import kerasish as keras
        >>> t = keras.ops.convert_to_tensor([1.0, 2.0])
        >>> (t * 2).numpy().tolist(), t.shape, t.dtype
        ([2.0, 4.0], (2,), 'float32')
    """

    __slots__ = ("_value", "_node", "_variable", "_mask", "__weakref__")

    def __init__(self, value: np.ndarray, variable=None):
        self._value = value
        self._node = None
        self._mask = None  # the API layer's mask for this value, if any
        # Set when this tensor is a read of a Variable inside a recorded op, so gradients
        # flow to the Variable while the op keeps the value it actually used.
        self._variable = variable

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"<Tensor shape={self.shape}, dtype={self.dtype}, numpy=\n{self._value!r}>"

    def __str__(self) -> str:
        return str(self._value)


class SymbolicTensor(OperatorMixin):
    """A value known only by shape and dtype, produced by tracing or `Input`. Ops on it
    record graph nodes."""

    # `_history` and `_mask` belong to the API layer: the layer call that made this tensor
    # (for functional models) and its mask; the engine never reads them.
    __slots__ = ("shape", "dtype", "_node", "_index", "name", "_history", "_mask", "__weakref__")

    _variable = None

    def __init__(self, shape, dtype=None, node=None, index=0, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = standardize_dtype(dtype, allow_string=True)
        self._node = node
        self._index = index
        self.name = name
        self._history = None
        self._mask = None

    def numpy(self):
        raise TypeError(
            "A symbolic tensor has no value: it stands for data that flows through a traced "
            "graph. To inspect values, run the code eagerly (for models: "
            "`compile(run_eagerly=True)`)."
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A numpy function was given a symbolic tensor (inside a traced function, a model "
            "being built, or a compiled step): numpy cannot compute on values that do not exist "
            "yet. Use the same function from `kerasish.ops` (e.g. `ops.exp`, `ops.mean`), or "
            "run eagerly (for models: `compile(run_eagerly=True)`)."
        )

    def __bool__(self):
        raise TypeError(
            "Python control flow on the value of a symbolic tensor (an `if` or `while` on "
            f"a tensor of shape {self.shape}) cannot be traced. Use `ops.where` or run "
            "eagerly (for models: `compile(run_eagerly=True)`). Control flow on shapes is fine."
        )

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of a symbolic tensor with shape {self.shape} is unknown")
        return self.shape[0]

    def __repr__(self) -> str:
        name = f" name={self.name}" if self.name else ""
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}{name}>"


class eager_scope:
    """Context manager: ops compute at once even inside a trace (a Variable created while
    tracing, say by a layer built on its first call, gets a real initial value)."""

    def __enter__(self):
        self._saved = (_state.symbolic_depth, _state.trace)
        _state.symbolic_depth, _state.trace = 0, None
        return self

    def __exit__(self, *exc):
        _state.symbolic_depth, _state.trace = self._saved
        return False


def is_symbolic(x) -> bool:
    return isinstance(x, SymbolicTensor)


def spec_of(x) -> Spec:
    return Spec(tuple(x.shape), x.dtype)
