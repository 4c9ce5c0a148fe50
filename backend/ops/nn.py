"""Neural-network ops: softmax, log_softmax, one_hot, moments and the crossentropies.

softmax is a fused primitive (`softmax.py`, re-exported here); log_softmax and moments are
composites. The crossentropies from logits are fused
primitives (one stable forward, a closed-form vjp written with ops); from probabilities
they are composites following Keras: normalize (categorical), clip to
[epsilon, 1 - epsilon], log. Crossentropies are elementwise over the batch (not averaged),
as `keras.ops`.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..config import epsilon
from ..tensor import Spec, SymbolicTensor, spec_of
from .base import Op, apply, convert, normalize_axis, promote
from .elementwise import (
    add,
    cast,
    clip,
    divide,
    exp,
    log,
    multiply,
    negative,
    sigmoid,
    square,
    subtract,
)
from .reduce import (
    max_shift,
    mean,
    sum,  # noqa: A004 - the op, not the builtin
)
from .shape import expand_dims, squeeze
from .softmax import softmax

__all__ = [
    "binary_crossentropy", "categorical_crossentropy", "log_softmax", "moments", "one_hot",
    "softmax", "sparse_categorical_crossentropy",
]  # fmt: skip


def _as_float(x):
    x = convert(x)
    return x if dt.is_float(x.dtype) else cast(x, dt.config.floatx())


# ---- log_softmax -----------------------------------------------------------------------------


def log_softmax(x, axis=-1):
    """`x - logsumexp(x)` over `axis` (an int or a tuple), computed stably."""
    x = _as_float(x)
    axes = normalize_axis(axis, len(x.shape), "log_softmax")
    shifted = subtract(x, max_shift(x, axes))
    return subtract(shifted, log(sum(exp(shifted), axis=axes, keepdims=True)))


# ---- one_hot ---------------------------------------------------------------------------------


class OneHotOp(Op):
    """1 where the class index equals the label, else 0, along a new axis `axis`. Labels
    outside [0, num_classes) give all-zero rows, as TensorFlow and JAX."""

    name = "one_hot"
    differentiable = False

    def infer(self, x, *, num_classes, axis, dtype):
        shape = list(x.shape)
        shape.insert(axis, num_classes)
        return Spec(tuple(shape), dtype)

    def forward(self, ctx, x, *, num_classes, axis, dtype):
        hot = np.expand_dims(x, -1) == np.arange(num_classes)
        return np.moveaxis(hot, -1, axis).astype(dtype)

    def vjp(self, ctx, grads, needed):
        return [None]


_ONE_HOT = OneHotOp()


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encodes integer labels `x` along a new axis `axis` (floatx unless `dtype`).

    Example:
        >>> import kerasish as keras
        >>> keras.ops.one_hot([1, -1], 3).numpy().tolist()
        [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if sparse:
        raise ValueError("one_hot: sparse outputs are not supported. Received: sparse=True")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"one_hot: num_classes must be an int. Received: {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be >= 1. Received: {num_classes}")
    x = convert(x)
    (axis,) = normalize_axis(axis, len(x.shape) + 1, "one_hot")
    attrs = {"num_classes": int(num_classes), "axis": axis, "dtype": dt.standardize_dtype(dtype)}
    return apply(_ONE_HOT, (x,), attrs)


# ---- moments ---------------------------------------------------------------------------------


def moments(x, axes, keepdims=False, synchronized=False):
    """`(mean, variance)` of `x` over `axes`. float16 is computed in float32 and cast back
    (clipped to the float16 range), as Keras. `synchronized` (a cross-replica mean) is
    accepted for compatibility; with one replica it changes nothing."""
    x = _as_float(x)
    axes = normalize_axis(axes, len(x.shape), "moments")
    half = x.dtype == "float16"
    if half:
        x = cast(x, "float32")
    mean_ = mean(x, axis=axes, keepdims=True)
    variance = mean(square(subtract(x, mean_)), axis=axes, keepdims=True)
    if not keepdims:
        mean_, variance = squeeze(mean_, axes), squeeze(variance, axes)
    if half:
        limit = float(np.finfo(np.float16).max)
        mean_ = cast(clip(mean_, -limit, limit), "float16")
        variance = cast(clip(variance, -limit, limit), "float16")
    return mean_, variance


# ---- crossentropies ----------------------------------------------------------------------------


def _merge_shapes(op_name: str, target: tuple, output: tuple) -> tuple:
    """The common shape of `target` and `output`, which must match (None matches any)."""
    if len(target) != len(output) or any(
        t is not None and o is not None and t != o for t, o in zip(target, output, strict=False)
    ):
        raise ValueError(
            f"{op_name}: `target` and `output` must have the same shape. Received: "
            f"target.shape={target}, output.shape={output}"
        )
    return tuple(o if o is not None else t for t, o in zip(target, output, strict=False))


def _float_pair(op_name: str, target, output):
    target, output = promote(convert(target), convert(output), to_float=True)
    _merge_shapes(op_name, tuple(target.shape), tuple(output.shape))
    return target, output


def _check_same_dtype(op_name: str, target: Spec, output: Spec) -> None:
    if not dt.is_float(output.dtype) or target.dtype != output.dtype:
        raise TypeError(
            f"{op_name}: `target` and `output` must share one float dtype. Received: "
            f"{target.dtype} and {output.dtype}"
        )


class SigmoidCrossentropyOp(Op):
    """Binary crossentropy from logits `x`, elementwise:
    `relu(x) - x * t + log1p(exp(-|x|))`, finite for any finite logit."""

    name = "binary_crossentropy"

    def infer(self, target, logits):
        _check_same_dtype(self.name, target, logits)
        return Spec(_merge_shapes(self.name, target.shape, logits.shape), logits.dtype)

    def forward(self, ctx, t, x):
        return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))

    def vjp(self, ctx, grads, needed):
        t, x = ctx.inputs
        g = grads[0]
        d_target = negative(multiply(g, x)) if 0 in needed else None
        dx = multiply(g, subtract(sigmoid(x), t)) if 1 in needed else None
        return [d_target, dx]


_SIGMOID_CROSSENTROPY = SigmoidCrossentropyOp()


def binary_crossentropy(target, output, from_logits=False):
    """Binary crossentropy between `target` and `output` (probabilities, or logits with
    `from_logits=True`), elementwise: not averaged. Probabilities are clipped to
    `[epsilon, 1 - epsilon]`, as Keras.

    Example:
        >>> import kerasish as keras
        >>> round(keras.ops.binary_crossentropy([1.0], [0.0], from_logits=True)
        ...       .numpy().item(), 4)
        0.6931
    """
    target, output = _float_pair("binary_crossentropy", target, output)
    if from_logits:
        return apply(_SIGMOID_CROSSENTROPY, (target, output))
    eps = epsilon()
    output = clip(output, eps, 1.0 - eps)
    positive_part = multiply(target, log(output))
    negative_part = multiply(subtract(1.0, target), log(subtract(1.0, output)))
    return negative(add(positive_part, negative_part))


def _log_softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class SoftmaxCrossentropyOp(Op):
    """Categorical crossentropy from logits `x` over `axis`: `-sum(t * log_softmax(x))`.
    Its logits gradient is `g * (softmax(x) * sum(t) - t)`."""

    name = "categorical_crossentropy"

    def infer(self, target, logits, *, axis):
        _check_same_dtype(self.name, target, logits)
        shape = _merge_shapes(self.name, target.shape, logits.shape)
        return Spec(shape[:axis] + shape[axis + 1 :], logits.dtype)

    def forward(self, ctx, t, x, *, axis):
        return -np.sum(t * _log_softmax_array(x, axis), axis=axis)

    def vjp(self, ctx, grads, needed):
        t, x = ctx.inputs
        axis = ctx.attrs["axis"]
        g = expand_dims(grads[0], axis)
        d_target = dx = None
        if 0 in needed:
            d_target = negative(multiply(g, log_softmax(x, axis)))
        if 1 in needed:
            scaled = multiply(softmax(x, axis), sum(t, axis=axis, keepdims=True))
            dx = multiply(g, subtract(scaled, t))
        return [d_target, dx]


_SOFTMAX_CROSSENTROPY = SoftmaxCrossentropyOp()


def _class_axis(op_name: str, axis, rank: int) -> int:
    if rank < 1:
        raise ValueError(f"{op_name}: `output` must have rank >= 1. Received: a scalar")
    if not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{op_name}: `axis` must be an int. Received: axis={axis}")
    return normalize_axis(axis, rank, op_name)[0]


def _log_probabilities(output, axis: int):
    """Keras' probability path: normalize over `axis`, clip, log."""
    eps = epsilon()
    output = divide(output, sum(output, axis=axis, keepdims=True))
    return log(clip(output, eps, 1.0 - eps))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical crossentropy between one-hot (or soft) `target` and `output` over `axis`
    (the class axis, removed from the result). Probabilities are normalized to sum to 1
    and clipped to `[epsilon, 1 - epsilon]`, as Keras.

    Example:
        >>> import kerasish as keras
        >>> keras.ops.categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]]).shape
        (1,)
    """
    target, output = _float_pair("categorical_crossentropy", target, output)
    axis = _class_axis("categorical_crossentropy", axis, len(output.shape))
    if from_logits:
        return apply(_SOFTMAX_CROSSENTROPY, (target, output), {"axis": axis})
    picked = multiply(target, _log_probabilities(output, axis))
    return negative(sum(picked, axis=axis))


def _check_labels(op_name: str, labels: np.ndarray, num_classes: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise ValueError(
            f"{op_name}: labels must be in [0, {num_classes}) for an output with "
            f"{num_classes} classes. Received: labels such as {bad.ravel()[:5].tolist()}"
        )


class SparseSoftmaxCrossentropyOp(Op):
    """Crossentropy from logits `x` and int labels `t` (no class axis): `-log_softmax(x)`
    at the label. Its logits gradient is `g * (softmax(x) - one_hot(t))`; the labels get
    none."""

    name = "sparse_categorical_crossentropy"

    def infer(self, target, logits, *, axis):
        if not dt.is_int(target.dtype):
            raise TypeError(f"{self.name}: `target` must be int. Received: {target.dtype}")
        if not dt.is_float(logits.dtype):
            raise TypeError(f"{self.name}: `output` must be float. Received: {logits.dtype}")
        rest = logits.shape[:axis] + logits.shape[axis + 1 :]
        if logits.shape[axis] is None:
            raise ValueError(
                f"{self.name}: the class dim of `output` must be known. Received: "
                f"output.shape={logits.shape}"
            )
        try:
            return Spec(_merge_shapes(self.name, target.shape, rest), logits.dtype)
        except ValueError:
            raise ValueError(
                f"{self.name}: `target` must have the shape of `output` without its class "
                f"axis {axis}. Received: target.shape={target.shape}, "
                f"output.shape={logits.shape}"
            ) from None

    def forward(self, ctx, t, x, *, axis):
        _check_labels(self.name, t, x.shape[axis])
        log_probs = _log_softmax_array(x, axis)
        picked = np.take_along_axis(log_probs, np.expand_dims(t, axis), axis=axis)
        return -np.squeeze(picked, axis)

    def vjp(self, ctx, grads, needed):
        t, x = ctx.inputs
        axis = ctx.attrs["axis"]
        return [None, apply(_SPARSE_SOFTMAX_CROSSENTROPY_GRAD, (t, x, grads[0]), {"axis": axis})]


class SparseSoftmaxCrossentropyGradOp(Op):
    """The logits gradient of the sparse crossentropy, `g * (softmax(x) - one_hot(t))`, as
    one primitive so a compiled backward is one kernel. Its own vjp (for second order):
    `dx = g * s * (G - sum(G * s))` and `dg = sum(G * (s - one_hot(t)))` over the class
    axis, with `s = softmax(x)` and `G` the incoming gradient."""

    name = "sparse_categorical_crossentropy_grad"

    def infer(self, target, logits, g, *, axis):
        return Spec(logits.shape, logits.dtype)

    def forward(self, ctx, t, x, g, *, axis):
        probs = np.exp(_log_softmax_array(x, axis))
        hot = np.moveaxis(np.expand_dims(t, -1) == np.arange(x.shape[axis]), -1, axis)
        return np.expand_dims(g, axis) * (probs - hot)

    def vjp(self, ctx, grads, needed):
        t, x, g = ctx.inputs
        axis = ctx.attrs["axis"]
        big_g = grads[0]
        probs = softmax(x, axis)
        dx = dg = None
        if 1 in needed:
            centered = subtract(big_g, sum(multiply(big_g, probs), axis=axis, keepdims=True))
            dx = multiply(expand_dims(g, axis), multiply(probs, centered))
        if 2 in needed:
            hot = one_hot(t, x.shape[axis], axis=axis, dtype=x.dtype)
            dg = sum(multiply(big_g, subtract(probs, hot)), axis=axis)
        return [None, dx, dg]


_SPARSE_SOFTMAX_CROSSENTROPY = SparseSoftmaxCrossentropyOp()
_SPARSE_SOFTMAX_CROSSENTROPY_GRAD = SparseSoftmaxCrossentropyGradOp()


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy between integer labels `target` and `output` (probabilities, or logits
    with `from_logits=True`) over the class axis `axis`. `target` has the shape of `output`
    without that axis (a trailing size-1 dim is dropped, as Keras). Labels outside
    `[0, classes)` raise a ValueError when the values are known (eagerly).

    Example:
        >>> import kerasish as keras
        >>> round(keras.ops.sparse_categorical_crossentropy([0], [[0.0, 0.0]],
        ...       from_logits=True).numpy().item(), 4)
        0.6931
    """
    name = "sparse_categorical_crossentropy"
    output = convert(output)
    if not dt.is_float(output.dtype):
        output = cast(output, dt.config.floatx())
    target = convert(target)
    axis = _class_axis(name, axis, len(output.shape))
    if len(target.shape) == len(output.shape) and target.shape[axis] == 1:
        target = squeeze(target, axis)
    if target.dtype not in ("int32", "int64"):  # floats, bools, narrow ints (uint8 labels)
        target = cast(target, "int32")
    num_classes = output.shape[axis]
    if not isinstance(target, SymbolicTensor) and num_classes is not None:
        _check_labels(name, np.asarray(target._value), num_classes)
    if from_logits:
        return apply(_SPARSE_SOFTMAX_CROSSENTROPY, (target, output), {"axis": axis})
    # The shape check lives in the fused op's infer; run it here too for the same errors.
    _SPARSE_SOFTMAX_CROSSENTROPY.infer(spec_of(target), spec_of(output), axis=axis)
    if isinstance(target, SymbolicTensor):
        # one_hot turns an out-of-range label into a zero row, a silently wrong loss: a
        # traced graph checks the labels when it runs (the eager path checked above).
        target = apply(_CHECK_LABELS, (target,), {"num_classes": num_classes, "op_name": name})
    hot = one_hot(target, num_classes, axis=axis, dtype=output.dtype)
    return negative(sum(multiply(hot, _log_probabilities(output, axis)), axis=axis))


class CheckLabelsOp(Op):
    """The identity on integer labels that raises a ValueError, when the graph runs, for a
    label outside `[0, num_classes)`."""

    name = "check_labels"
    differentiable = False

    def infer(self, labels, *, num_classes, op_name):
        return labels

    def forward(self, ctx, labels, *, num_classes, op_name):
        _check_labels(op_name, labels, num_classes)
        return labels


_CHECK_LABELS = CheckLabelsOp()
