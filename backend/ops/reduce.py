"""Reductions over axes (`axis` None, an int or a tuple; `keepdims`) and scans.

Primitives: sum, prod, max/min, argmax/argmin, cumsum/cumprod, plus two engine-internal
ones (the max shift used by stable softmax/logsumexp, and the runtime count of reduced
elements). mean, var, std and logsumexp are composites of them.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, convert, normalize_axis

__all__ = [
    "all", "any", "argmax", "argmin", "cumprod", "cumsum", "logsumexp", "max", "mean", "min",
    "prod", "std", "sum", "var",
]  # fmt: skip


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _accumulator_dtype(dtype: str) -> str:
    """The dtype sums and products of `dtype` give (Keras follows JAX: small ints widen)."""
    if dtype in ("bool", "int8", "int16"):
        return "int32"
    if dtype in ("uint8", "uint16"):
        return "uint32"
    return dtype


def _cast(x, dtype):
    from .elementwise import cast

    return cast(x, dtype)


def _to_float(x):
    """`x` as a float tensor: ints and bools become floatx, as Keras."""
    return x if dt.is_float(x.dtype) else _cast(x, dt.config.floatx())


def _check_not_empty(op_name: str, shape: tuple, axes: tuple) -> None:
    if builtins.any(shape[a] == 0 for a in axes):
        raise ValueError(
            f"{op_name}: cannot reduce over an empty axis (it has no identity; pass `initial` "
            f"where the op takes one). Received: a tensor of shape {shape}, axes={axes}"
        )


# ---- engine-internal helpers -------------------------------------------------------------


def expand_reduced(x, axes: tuple):
    """`x`, the output of a reduction over `axes` without keepdims, with those dims restored
    as size 1 (engine-internal; a primitive, so unknown dims are fine)."""
    from .shape import expand_dims

    return expand_dims(x, axes) if axes else convert(x)


def squeeze_reduced(x, axes: tuple):
    """Drops the size-1 dims `axes` of a keepdims reduction (engine-internal)."""
    from .shape import squeeze

    return squeeze(x, axes) if axes else convert(x)


class MaxShiftOp(Op):
    """The max over `axes` (keepdims), non-finite maxima replaced by 0: the shift that makes
    exp in softmax and logsumexp safe. Those results do not depend on the shift, so it
    carries no gradient."""

    name = "max_shift"
    differentiable = False

    def infer(self, x, *, axes):
        return Spec(reduced_shape(x.shape, axes, True), x.dtype)

    def forward(self, ctx, x, *, axes):
        m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
        return np.where(np.isfinite(m), m, 0).astype(x.dtype)

    def vjp(self, ctx, grads, needed):
        return [None]


_MAX_SHIFT = MaxShiftOp()


def max_shift(x, axes: tuple):
    """A constant shift for stable exponentials (engine-internal): the max over `axes`."""
    return apply(_MAX_SHIFT, (convert(x),), {"axes": tuple(axes)})


class ReducedCountOp(Op):
    """The number of elements a reduction over `axes` combines, as a scalar of `dtype`:
    known only at run time when a reduced dim is unknown while tracing."""

    name = "reduced_count"
    differentiable = False

    def infer(self, x, *, axes, dtype):
        return Spec((), dtype)

    def forward(self, ctx, x, *, axes, dtype):
        return np.asarray(math.prod(x.shape[a] for a in axes), dtype=dtype)

    def vjp(self, ctx, grads, needed):
        return [None]


_REDUCED_COUNT = ReducedCountOp()


def _reduced_count(x, axes: tuple):
    dims = [x.shape[a] for a in axes]
    if None not in dims:
        return float(math.prod(dims))
    return apply(_REDUCED_COUNT, (x,), {"axes": axes, "dtype": x.dtype})


# ---- sum and prod ------------------------------------------------------------------------


class SumOp(Op):
    name = "sum"

    def infer(self, x, *, axes, keepdims):
        return Spec(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def forward(self, ctx, x, *, axes, keepdims):
        return np.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype)

    def vjp(self, ctx, grads, needed):
        from .shape import broadcast_like

        x = ctx.inputs[0]
        g = grads[0]
        if not ctx.attrs["keepdims"]:
            g = expand_reduced(g, ctx.attrs["axes"])
        return [broadcast_like(g, x)]


_SUM = SumOp()


def sum(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Sum of elements over `axis` (all axes when None). bool, int8 and int16 sums are int32
    (uint8/uint16: uint32), as Keras.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.sum([[1, 2], [3, 4]], axis=0).numpy().tolist()
        [4, 6]
    """
    x = convert(x)
    x = _cast(x, _accumulator_dtype(x.dtype))
    axes = normalize_axis(axis, len(x.shape), "sum")
    return apply(_SUM, (x,), {"axes": axes, "keepdims": bool(keepdims)})


class ProdOp(Op):
    """Product over `axes`. The gradient of each element is the product of the others,
    computed exactly when the reduced slice holds zeros (not as `prod / x`)."""

    name = "prod"

    def infer(self, x, *, axes, keepdims):
        return Spec(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def forward(self, ctx, x, *, axes, keepdims):
        return np.prod(x, axis=axes, keepdims=keepdims, dtype=x.dtype)

    def vjp(self, ctx, grads, needed):
        from .elementwise import divide, equal, multiply, where

        x = ctx.inputs[0]
        axes = ctx.attrs["axes"]
        g = grads[0] if ctx.attrs["keepdims"] else expand_reduced(grads[0], axes)
        is_zero = equal(x, 0.0)
        zeros = sum(_cast(is_zero, x.dtype), axis=axes, keepdims=True)
        safe = where(is_zero, 1.0, x)
        nonzero_product = prod(safe, axis=axes, keepdims=True)
        # With no zero in the slice, the others' product is p / x; with exactly one zero, it
        # is p (the product of the non-zeros) at the zero and 0 elsewhere; with more, 0.
        others = where(
            is_zero,
            where(equal(zeros, 1.0), nonzero_product, 0.0),
            where(equal(zeros, 0.0), divide(nonzero_product, safe), 0.0),
        )
        return [multiply(g, others)]


_PROD = ProdOp()


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product of elements over `axis` (all axes when None), computed in `dtype` when given,
    else in the input's dtype (small ints widen to int32, as for `sum`)."""
    x = convert(x)
    x = _cast(x, _accumulator_dtype(x.dtype) if dtype is None else dt.standardize_dtype(dtype))
    axes = normalize_axis(axis, len(x.shape), "prod")
    return apply(_PROD, (x,), {"axes": axes, "keepdims": bool(keepdims)})


# ---- max and min ---------------------------------------------------------------------------


class ExtremumOp(Op):
    """max or min over `axes`, optionally against an `initial` value. The gradient is split
    equally among the elements that attain the extremum (as JAX and TensorFlow); none
    reaches `x` where `initial` wins."""

    def __init__(self, name, fn):
        self.name = name
        self._fn = fn

    def infer(self, x, *, axes, keepdims, initial):
        if initial is None:
            _check_not_empty(self.name, x.shape, axes)
        return Spec(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def forward(self, ctx, x, *, axes, keepdims, initial):
        return self.forward_into(x, None, axes=axes, keepdims=keepdims, initial=initial)

    def forward_into(self, x, out, *, axes, keepdims, initial):
        # In a Plan, `out` is the step's buffer (a global max pooling writes straight into it).
        if initial is None:
            _check_not_empty(self.name, x.shape, axes)
            return self._fn(x, axis=axes, keepdims=keepdims, out=out)
        return self._fn(x, axis=axes, keepdims=keepdims, initial=initial, out=out)

    def vjp(self, ctx, grads, needed):
        from .elementwise import divide, equal, maximum, where

        x, y = ctx.inputs[0], ctx.outputs[0]
        g = grads[0]
        axes = ctx.attrs["axes"]
        if not ctx.attrs["keepdims"]:
            y, g = expand_reduced(y, axes), expand_reduced(g, axes)
        attains = equal(x, y)
        ties = sum(_cast(attains, x.dtype), axis=axes, keepdims=True)
        return [where(attains, divide(g, maximum(ties, 1.0)), 0.0)]


_MAX = ExtremumOp("max", np.max)
_MIN = ExtremumOp("min", np.min)


def _extremum(op, x, axis, keepdims, initial):
    x = convert(x)
    axes = normalize_axis(axis, len(x.shape), op.name)
    if initial is not None:
        initial = np.asarray(initial, dtype=x.dtype).item()
    return apply(op, (x,), {"axes": axes, "keepdims": bool(keepdims), "initial": initial})


def any(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Whether any element over `axis` (all axes when None) is nonzero: a bool tensor (False
    over an empty axis). No gradient.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.any([[0.0, 2.0], [0.0, 0.0]], axis=-1).numpy().tolist()
        [True, False]
    """
    return _extremum(_MAX, _cast(convert(x), "bool"), axis, keepdims, False)


def all(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Whether every element over `axis` (all axes when None) is nonzero: a bool tensor
    (True over an empty axis). No gradient.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.all([[1, 2], [0, 3]], axis=-1).numpy().tolist()
        [True, False]
    """
    return _extremum(_MIN, _cast(convert(x), "bool"), axis, keepdims, True)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - keras.ops name
    """Maximum over `axis` (all axes when None); `initial` is a lower bound on the result.
    Ties share the gradient equally."""
    return _extremum(_MAX, x, axis, keepdims, initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - keras.ops name
    """Minimum over `axis` (all axes when None); `initial` is an upper bound on the result.
    Ties share the gradient equally."""
    return _extremum(_MIN, x, axis, keepdims, initial)


# ---- argmax and argmin ---------------------------------------------------------------------


class ArgExtremumOp(Op):
    """The int32 index of the first max (or min) along one axis, or in the flattened tensor
    when `axis` is None."""

    differentiable = False

    def __init__(self, name, fn):
        self.name = name
        self._fn = fn

    def infer(self, x, *, axis, keepdims):
        axes = tuple(range(len(x.shape))) if axis is None else (axis,)
        _check_not_empty(self.name, x.shape, axes)
        if axis is None:
            return Spec((1,) * len(x.shape) if keepdims else (), "int32")
        return Spec(reduced_shape(x.shape, axes, keepdims), "int32")

    def forward(self, ctx, x, *, axis, keepdims):
        _check_not_empty(self.name, x.shape, tuple(range(x.ndim)) if axis is None else (axis,))
        return self._fn(x, axis=axis, keepdims=keepdims)

    def vjp(self, ctx, grads, needed):
        return [None]


_ARGMAX = ArgExtremumOp("argmax", np.argmax)
_ARGMIN = ArgExtremumOp("argmin", np.argmin)


def _arg_extremum(op, x, axis, keepdims):
    x = convert(x)
    if axis is not None:
        if not isinstance(axis, (int, np.integer)):
            raise ValueError(f"{op.name}: `axis` must be an int or None. Received: axis={axis}")
        (axis,) = normalize_axis(axis, len(x.shape), op.name)
    return apply(op, (x,), {"axis": axis, "keepdims": bool(keepdims)})


def argmax(x, axis=None, keepdims=False):
    """Indices (int32) of the maximum along `axis` (of the flattened tensor when None).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.argmax([[1.0, 3.0], [4.0, 2.0]], axis=1).numpy().tolist()
        [1, 0]
    """
    return _arg_extremum(_ARGMAX, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Indices (int32) of the minimum along `axis` (of the flattened tensor when None)."""
    return _arg_extremum(_ARGMIN, x, axis, keepdims)


# ---- composites: mean, var, std, logsumexp -----------------------------------------------


def _float_compute(x):
    """`x` cast to its computation dtype: ints become floatx, float16 is computed in float32
    (as Keras, for accuracy). Returns the cast tensor and the result dtype."""
    x = _to_float(convert(x))
    if x.dtype == "float16":
        return _cast(x, "float32"), "float16"
    return x, x.dtype


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis` (all axes when None); ints give floatx.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.mean([1, 2], axis=0).numpy().item()
        1.5
    """
    from .elementwise import divide

    x, out_dtype = _float_compute(x)
    axes = normalize_axis(axis, len(x.shape), "mean")
    total = sum(x, axis=axes, keepdims=keepdims)
    return _cast(divide(total, _reduced_count(x, axes)), out_dtype)


def _variance(x, axes: tuple, keepdims: bool):
    from .elementwise import square, subtract

    centered = subtract(x, mean(x, axis=axes, keepdims=True))
    return mean(square(centered), axis=axes, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    """Population variance over `axis` (all axes when None); ints give floatx."""
    x, out_dtype = _float_compute(x)
    axes = normalize_axis(axis, len(x.shape), "var")
    return _cast(_variance(x, axes, keepdims), out_dtype)


def std(x, axis=None, keepdims=False):
    """Population standard deviation over `axis` (all axes when None); ints give floatx."""
    from .elementwise import sqrt

    x, out_dtype = _float_compute(x)
    axes = normalize_axis(axis, len(x.shape), "std")
    return _cast(sqrt(_variance(x, axes, keepdims)), out_dtype)


def logsumexp(x, axis=None, keepdims=False):
    """`log(sum(exp(x)))` over `axis` (all axes when None), computed without overflow by
    shifting by the max. Its gradient is `softmax(x)`.

    Example:
        >>> import kerasish as keras
        >>> round(keras.ops.logsumexp([1000.0, 1000.0]).numpy().item(), 3)
        1000.693
    """
    from .elementwise import add, exp, log, subtract

    x = _to_float(convert(x))
    axes = normalize_axis(axis, len(x.shape), "logsumexp")
    shift = max_shift(x, axes)
    total = sum(exp(subtract(x, shift)), axis=axes, keepdims=keepdims)
    return add(log(total), shift if keepdims else squeeze_reduced(shift, axes))


# ---- scans -------------------------------------------------------------------------------


class CumsumOp(Op):
    """Cumulative sum along `axis`, from the end when `reverse`. Each direction's gradient
    is the other's scan of the incoming gradient, so it is exact and differentiable again."""

    name = "cumsum"

    def infer(self, x, *, axis, reverse):
        return x

    def forward(self, ctx, x, *, axis, reverse):
        if reverse:
            return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
        return np.cumsum(x, axis=axis, dtype=x.dtype)

    def vjp(self, ctx, grads, needed):
        return [_cumsum(grads[0], ctx.attrs["axis"], not ctx.attrs["reverse"])]


_CUMSUM = CumsumOp()


def _cumsum(x, axis: int, reverse: bool):
    return apply(_CUMSUM, (x,), {"axis": axis, "reverse": reverse})


class CumprodOp(Op):
    """Cumulative product along `axis`. The gradient `reverse_cumsum(g * y) / x` (as
    TensorFlow's) is not defined where `x` is 0."""

    name = "cumprod"

    def infer(self, x, *, axis):
        return x

    def forward(self, ctx, x, *, axis):
        return np.cumprod(x, axis=axis, dtype=x.dtype)

    def vjp(self, ctx, grads, needed):
        from .elementwise import divide, multiply

        x, y = ctx.inputs[0], ctx.outputs[0]
        axis = ctx.attrs["axis"]
        return [divide(_cumsum(multiply(grads[0], y), axis, True), x)]


_CUMPROD = CumprodOp()


def _scan_input(op_name, x, axis, dtype):
    """`x` in the scan's dtype, flattened when `axis` is None, and the axis as an int."""
    from .shape import reshape

    x = convert(x)
    if dtype is not None:
        x = _cast(x, dt.standardize_dtype(dtype))
    elif x.dtype == "bool":
        x = _cast(x, "int32")
    if axis is None:
        return reshape(x, (-1,)), 0
    if not isinstance(axis, (int, np.integer)) or not x.shape:
        raise ValueError(
            f"{op_name}: `axis` must be an int (or None to scan the flattened tensor), "
            f"within the rank. Received: axis={axis} for a tensor of shape {x.shape}"
        )
    (axis,) = normalize_axis(axis, len(x.shape), op_name)
    return x, axis


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along `axis` (over the flattened tensor when None).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.cumsum([1, 2, 3]).numpy().tolist()
        [1, 3, 6]
    """
    x, axis = _scan_input("cumsum", x, axis, dtype)
    return _cumsum(x, axis, False)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product along `axis` (over the flattened tensor when None). Its gradient
    is undefined where an element is 0."""
    x, axis = _scan_input("cumprod", x, axis, dtype)
    return apply(_CUMPROD, (x,), {"axis": axis})
