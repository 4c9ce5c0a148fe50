"""Elementwise primitives (unary, binary, where, cast) and the activations composed of them.

Binary ops promote their arguments to one dtype first (Keras' rules, Python scalars weak),
so every primitive here sees inputs of a single dtype and shapes that broadcast.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as dt
from ..tensor import Spec
from .base import Op, apply, broadcast_shapes, convert, promote

__all__ = [
    "abs", "add", "cast", "clip", "divide", "elu", "equal", "erf", "exp", "floor_divide",
    "gelu", "greater", "greater_equal", "leaky_relu", "less", "less_equal", "log", "log1p",
    "log_sigmoid",
    "logical_and", "logical_not", "logical_or", "maximum", "minimum", "mod", "multiply",
    "negative", "not_equal", "power", "relu", "relu6", "selu", "sigmoid", "sign", "silu",
    "softplus", "sqrt", "square", "subtract", "swish", "tanh", "where", "true_divide",
]  # fmt: skip


# ---- unary primitives ------------------------------------------------------------------


class UnaryOp(Op):
    """`y = fn(x)` elementwise; `grad(x, y, g)` builds dL/dx with ops."""

    def __init__(self, name, fn, grad=None, float_only=True, into=None):
        self.name = name
        self._fn = fn
        self._grad = grad
        self.differentiable = grad is not None
        self._float_only = float_only
        # `into(x, out)`: the same values written into `out` (which may be x's own buffer),
        # for an `fn` that is not a ufunc, so a compiled step allocates nothing.
        self.into = into

    def infer(self, x):
        if self._float_only and not dt.is_float(x.dtype):
            raise TypeError(f"{self.name} expects a float tensor. Received: dtype={x.dtype}")
        if x.dtype == "bool":
            raise TypeError(f"{self.name} does not accept bool tensors.")
        return x

    def forward(self, ctx, x):
        return self._fn(x)

    def vjp(self, ctx, grads, needed):
        return [self._grad(ctx.inputs[0], ctx.outputs[0], grads[0])]


def _stable_sigmoid(x):
    # 0.5 * (1 + tanh(x / 2)) never overflows, unlike 1 / (1 + exp(-x)).
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _stable_sigmoid_into(x, out):
    """`_stable_sigmoid` with the same operations in the same order, in place in `out`."""
    np.multiply(0.5, x, out=out)
    np.tanh(out, out=out)
    np.add(1.0, out, out=out)
    np.multiply(0.5, out, out=out)


_erf_scalar = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x):
    """erf elementwise: the kernel (libm's erf in float64, rounded) for a float32 or float64
    array, `math.erf` per element otherwise (float16, scalars): the same bits either way."""
    if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64) and x.ndim and x.size:
        out = np.empty(x.shape, x.dtype)
        _erf_into(np.ascontiguousarray(x), out)
        return out
    return _erf_scalar(x)


def _erf_into(x, out):
    """`_erf` written into `out` (x's own buffer, or one of its shape and dtype)."""
    kernel_ready = x.dtype in (np.float32, np.float64) and x.dtype == out.dtype and x.ndim
    if kernel_ready and x.flags.c_contiguous and out.flags.c_contiguous:
        from ..kernels import special  # Numba is imported at the first use

        special.erf_into(x, out)
    else:
        np.copyto(out, _erf_scalar(x), casting="unsafe")


_NEGATIVE = UnaryOp("negative", np.negative, lambda x, y, g: negative(g), float_only=False)
_EXP = UnaryOp("exp", np.exp, lambda x, y, g: multiply(g, y))
_LOG = UnaryOp("log", np.log, lambda x, y, g: divide(g, x))
_LOG1P = UnaryOp("log1p", np.log1p, lambda x, y, g: divide(g, add(x, 1.0)))
_SQRT = UnaryOp("sqrt", np.sqrt, lambda x, y, g: divide(g, multiply(y, 2.0)))
_TANH = UnaryOp("tanh", np.tanh, lambda x, y, g: multiply(g, subtract(1.0, multiply(y, y))))
_SIGMOID = UnaryOp(
    "sigmoid",
    _stable_sigmoid,
    lambda x, y, g: multiply(g, multiply(y, subtract(1.0, y))),
    into=_stable_sigmoid_into,
)
_RELU = UnaryOp(
    "relu",
    lambda x: np.maximum(x, 0),
    # Written with the output (relu(x) > 0 exactly where x > 0), so the forward's input
    # has one reader and the bias add before it fuses with it.
    lambda x, y, g: where(greater(y, 0), g, 0),
    float_only=False,
)
_ABS = UnaryOp("abs", np.abs, lambda x, y, g: multiply(g, sign(x)), float_only=False)
_SIGN = UnaryOp("sign", np.sign, lambda x, y, g: multiply(g, 0.0), float_only=False)
_ERF = UnaryOp(
    "erf",
    _erf,
    lambda x, y, g: multiply(g, multiply(2.0 / math.sqrt(math.pi), exp(negative(square(x))))),
    into=_erf_into,
)


def _unary_float(op, x):
    """Applies a float-only unary op; integer inputs are cast to floatx, as Keras does."""
    x = convert(x)
    if not dt.is_float(x.dtype):
        x = cast(x, dt.config.floatx())
    return apply(op, (x,))


def _unary_numeric(op, x):
    x = convert(x)
    if x.dtype == "bool":
        x = cast(x, "int32")
    return apply(op, (x,))


def negative(x):
    """Numerical negative, elementwise."""
    return _unary_numeric(_NEGATIVE, x)


def exp(x):
    """Exponential, elementwise."""
    return _unary_float(_EXP, x)


def log(x):
    """Natural logarithm, elementwise."""
    return _unary_float(_LOG, x)


def log1p(x):
    """`log(1 + x)`, accurate for small `x`."""
    return _unary_float(_LOG1P, x)


def sqrt(x):
    """Square root, elementwise."""
    return _unary_float(_SQRT, x)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return _unary_float(_TANH, x)


def sigmoid(x):
    """Logistic sigmoid `1 / (1 + exp(-x))`, computed without overflow."""
    return _unary_float(_SIGMOID, x)


def relu(x):
    """Rectified linear unit `max(x, 0)`."""
    return _unary_numeric(_RELU, x)


def abs(x):  # noqa: A001 - keras.ops name
    """Absolute value, elementwise."""
    return _unary_numeric(_ABS, x)


def sign(x):
    """-1, 0 or 1 by the sign of each element (gradient zero)."""
    return _unary_numeric(_SIGN, x)


def erf(x):
    """The Gauss error function, elementwise."""
    return _unary_float(_ERF, x)


# ---- binary primitives -----------------------------------------------------------------


class BinaryOp(Op):
    """`z = fn(a, b)` with numpy broadcasting. `grads(a, b, z, g)` returns (da, db) before
    the broadcast fix-up (done in autodiff). `out_dtype` fixes the result dtype (bool for
    comparisons)."""

    def __init__(self, name, fn, grads=None, out_dtype=None, allow_bool=True):
        self.name = name
        self._fn = fn
        self._grads = grads
        self.differentiable = grads is not None
        self._out_dtype = out_dtype
        self._allow_bool = allow_bool

    def infer(self, a, b):
        if a.dtype != b.dtype:
            raise TypeError(
                f"{self.name}: both inputs must have one dtype (the public function promotes "
                f"them). Received: {a.dtype} and {b.dtype}"
            )
        if not self._allow_bool and a.dtype == "bool":
            raise TypeError(f"{self.name} does not accept bool tensors.")
        shape = broadcast_shapes(self.name, a.shape, b.shape)
        return Spec(shape, self._out_dtype or a.dtype)

    def forward(self, ctx, a, b):
        return self._fn(a, b)

    def vjp(self, ctx, grads, needed):
        a, b = ctx.inputs
        return list(self._grads(a, b, ctx.outputs[0], grads[0], needed))


def _power_grads(a, b, z, g, needed):
    da = db = None
    if 0 in needed:
        da = multiply(g, multiply(b, power(a, subtract(b, 1.0))))
    if 1 in needed:
        # d(a**b)/db = a**b * log(a), defined as 0 where a <= 0 (as TensorFlow does).
        safe_log = where(greater(a, 0.0), log(where(greater(a, 0.0), a, 1.0)), 0.0)
        db = multiply(g, multiply(z, safe_log))
    return da, db


def _select_grads(mask_fn):
    def grads(a, b, z, g, needed):
        mask = mask_fn(a, b)
        return where(mask, g, 0.0), where(mask, 0.0, g)

    return grads


_ADD = BinaryOp("add", np.add, lambda a, b, z, g, n: (g, g))
_SUBTRACT = BinaryOp("subtract", np.subtract, lambda a, b, z, g, n: (g, negative(g)))
_MULTIPLY = BinaryOp(
    "multiply", np.multiply, lambda a, b, z, g, n: (multiply(g, b), multiply(g, a))
)
_DIVIDE = BinaryOp(
    "divide",
    np.divide,
    lambda a, b, z, g, n: (divide(g, b), negative(divide(multiply(g, z), b))),
    allow_bool=False,
)
_POWER = BinaryOp("power", np.power, _power_grads, allow_bool=False)
_MAXIMUM = BinaryOp("maximum", np.maximum, _select_grads(lambda a, b: greater_equal(a, b)))
_MINIMUM = BinaryOp("minimum", np.minimum, _select_grads(lambda a, b: less_equal(a, b)))
_FLOOR_DIVIDE = BinaryOp("floor_divide", np.floor_divide, allow_bool=False)
_MOD = BinaryOp("mod", np.mod, allow_bool=False)
_EQUAL = BinaryOp("equal", np.equal, out_dtype="bool")
_NOT_EQUAL = BinaryOp("not_equal", np.not_equal, out_dtype="bool")
_LESS = BinaryOp("less", np.less, out_dtype="bool")
_LESS_EQUAL = BinaryOp("less_equal", np.less_equal, out_dtype="bool")
_GREATER = BinaryOp("greater", np.greater, out_dtype="bool")
_GREATER_EQUAL = BinaryOp("greater_equal", np.greater_equal, out_dtype="bool")
_LOGICAL_AND = BinaryOp("logical_and", np.logical_and, out_dtype="bool")
_LOGICAL_OR = BinaryOp("logical_or", np.logical_or, out_dtype="bool")


def _binary(op, x1, x2, to_float=False):
    return apply(op, promote(x1, x2, to_float=to_float))


def add(x1, x2):
    """`x1 + x2` with broadcasting."""
    return _binary(_ADD, x1, x2)


def subtract(x1, x2):
    """`x1 - x2` with broadcasting."""
    return _binary(_SUBTRACT, x1, x2)


def multiply(x1, x2):
    """`x1 * x2` with broadcasting."""
    return _binary(_MULTIPLY, x1, x2)


def divide(x1, x2):
    """True division `x1 / x2`; integer inputs give floatx, as Keras."""
    return _binary(_DIVIDE, x1, x2, to_float=True)


true_divide = divide


def power(x1, x2):
    """`x1 ** x2` with broadcasting."""
    return _binary(_POWER, x1, x2)


def maximum(x1, x2):
    """Elementwise maximum; where equal, the gradient goes to `x1`."""
    return _binary(_MAXIMUM, x1, x2)


def minimum(x1, x2):
    """Elementwise minimum; where equal, the gradient goes to `x1`."""
    return _binary(_MINIMUM, x1, x2)


def floor_divide(x1, x2):
    """`x1 // x2` (no gradient)."""
    return _binary(_FLOOR_DIVIDE, x1, x2)


def mod(x1, x2):
    """`x1 % x2` (no gradient)."""
    return _binary(_MOD, x1, x2)


def equal(x1, x2):
    """`x1 == x2` as a bool tensor."""
    return _binary(_EQUAL, x1, x2)


def not_equal(x1, x2):
    """`x1 != x2` as a bool tensor."""
    return _binary(_NOT_EQUAL, x1, x2)


def less(x1, x2):
    """`x1 < x2` as a bool tensor."""
    return _binary(_LESS, x1, x2)


def less_equal(x1, x2):
    """`x1 <= x2` as a bool tensor."""
    return _binary(_LESS_EQUAL, x1, x2)


def greater(x1, x2):
    """`x1 > x2` as a bool tensor."""
    return _binary(_GREATER, x1, x2)


def greater_equal(x1, x2):
    """`x1 >= x2` as a bool tensor."""
    return _binary(_GREATER_EQUAL, x1, x2)


def logical_and(x1, x2):
    """Elementwise AND of the truth values of `x1` and `x2`."""
    return apply(_LOGICAL_AND, (cast(x1, "bool"), cast(x2, "bool")))


def logical_or(x1, x2):
    """Elementwise OR of the truth values of `x1` and `x2`."""
    return apply(_LOGICAL_OR, (cast(x1, "bool"), cast(x2, "bool")))


def logical_not(x):
    """Elementwise NOT of the truth values of `x`."""
    return equal(cast(x, "bool"), False)


# ---- where and cast ----------------------------------------------------------------------


class WhereOp(Op):
    name = "where"

    def infer(self, condition, x1, x2):
        if condition.dtype != "bool":
            raise TypeError(f"where: condition must be bool. Received: dtype={condition.dtype}")
        if x1.dtype != x2.dtype:
            raise TypeError(f"where: branches must share a dtype: {x1.dtype} and {x2.dtype}")
        return Spec(broadcast_shapes("where", condition.shape, x1.shape, x2.shape), x1.dtype)

    def forward(self, ctx, condition, x1, x2):
        return np.where(condition, x1, x2)

    def vjp(self, ctx, grads, needed):
        condition = ctx.inputs[0]
        g = grads[0]
        return [
            None,
            where(condition, g, 0.0) if 1 in needed else None,
            where(condition, 0.0, g) if 2 in needed else None,
        ]


_WHERE = WhereOp()


def where(condition, x1=None, x2=None):
    """Chooses `x1` where `condition` is true, else `x2` (broadcasting all three).

    With only `condition`, returns the indices of its true elements (eager only), as numpy.
    """
    if x1 is None and x2 is None:
        values = np.nonzero(np.asarray(convert(condition)))
        return tuple(convert(v.astype("int32")) for v in values)
    if x1 is None or x2 is None:
        raise ValueError("where: give both `x1` and `x2`, or neither.")
    x1, x2 = promote(x1, x2)
    return apply(_WHERE, (cast(condition, "bool"), x1, x2))


class CastOp(Op):
    name = "cast"

    def infer(self, x, *, dtype):
        return Spec(x.shape, dtype)

    def forward(self, ctx, x, *, dtype):
        return x.astype(dtype)

    def vjp(self, ctx, grads, needed):
        return [grads[0]]  # autodiff casts it back to the input's dtype


_CAST = CastOp()


def cast(x, dtype):
    """Casts `x` to `dtype` (a no-op when it already has it)."""
    dtype = dt.standardize_dtype(dtype)
    x = convert(x)
    if x.dtype == dtype:
        return x
    return apply(_CAST, (x,), {"dtype": dtype})


# ---- composites ------------------------------------------------------------------------


def square(x):
    """`x * x`, elementwise."""
    x = convert(x)
    if x.dtype == "bool":
        x = cast(x, "int32")
    return multiply(x, x)


def clip(x, x_min, x_max):
    """Clips `x` to `[x_min, x_max]`; the gradient passes where `x` is inside."""
    return minimum(maximum(x, x_min), x_max)


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return minimum(relu(x), 6.0)


def elu(x, alpha=1.0):
    """`x` if `x > 0` else `alpha * (exp(x) - 1)`."""
    x = _as_float(x)
    # exp of the clamped value keeps the unselected branch finite, so its gradient is 0.
    return where(greater(x, 0.0), x, multiply(alpha, subtract(exp(minimum(x, 0.0)), 1.0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """Scaled ELU: `scale * elu(x, alpha)` with the self-normalizing constants."""
    return multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


def gelu(x, approximate=True):
    """Gaussian error linear unit. `approximate=True` (the default, as `keras.ops.gelu`)
    uses the tanh approximation; False uses the exact erf form."""
    x = _as_float(x)
    if approximate:
        inner = multiply(math.sqrt(2.0 / math.pi), add(x, multiply(0.044715, power(x, 3.0))))
        return multiply(multiply(0.5, x), add(1.0, tanh(inner)))
    return multiply(multiply(0.5, x), add(1.0, erf(divide(x, math.sqrt(2.0)))))


def silu(x):
    """`x * sigmoid(x)` (also called swish)."""
    x = _as_float(x)
    return multiply(x, sigmoid(x))


swish = silu


def softplus(x):
    """`log(1 + exp(x))`, computed stably: `x + log1p(exp(-x))` where `x > 0`, else
    `log1p(exp(x))`. Each branch's exponent is clamped to <= 0 (so neither branch overflows
    and `where`'s gradient never meets `0 * inf`), and the gradient is `sigmoid(x)`
    everywhere, 0.5 at 0 (a form with `relu(x)` and `|x|` has kinks there whose chosen
    subgradients add up to 0)."""
    x = _as_float(x)
    positive = greater(x, 0.0)
    above, below = where(positive, x, 0.0), where(positive, 0.0, x)
    return where(positive, add(x, log1p(exp(negative(above)))), log1p(exp(below)))


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed stably as `-softplus(-x)` (finite at any finite input).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.log_sigmoid(keras.ops.convert_to_tensor([-1e4, 0.0])).numpy().tolist()
        [-10000.0, -0.6931471824645996]
    """
    return negative(softplus(negative(_as_float(x))))


def leaky_relu(x, negative_slope=0.2):
    """`x` if `x > 0` else `negative_slope * x`."""
    x = _as_float(x)
    return where(greater(x, 0.0), x, multiply(negative_slope, x))


def _as_float(x):
    x = convert(x)
    return x if dt.is_float(x.dtype) else cast(x, dt.config.floatx())
